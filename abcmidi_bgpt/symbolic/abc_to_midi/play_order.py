"""The order bars are played in: repeats and first/second endings expanded, and a ``P:``
field's part order (``(AB)2C``) followed, within limits that keep a short tune from playing for
ever. Works on any list of bars that carry their repeat marks (:class:`RepeatMarks`).

Conventions, chosen to agree with abc2midi where the ABC standard leaves room:
- ``:|`` without ``|:`` repeats from the start of the tune, or from the end of the last
  repeated section or set of endings (a double bar does not start a section).
- With endings, a section is played as many times as its highest ending number; a lone
  ``[1`` ending with nothing after it still plays the section twice.
"""

from __future__ import annotations

from typing import Protocol

from abcmidi_bgpt.core.errors import ConversionError

MAX_PLAYED_MEASURES = 100_000
MAX_PART_ORDER = 256  # parts a P: field may play in all ('(AB)2C' is 5)
MAX_PART_ORDER_DEPTH = 4  # parentheses inside parentheses in a P: field


class RepeatMarks(Protocol):
    """What play order reads of a bar."""

    number: str  # as the score numbers it, for messages
    forward: bool  # a start-repeat sign at its start
    backward: bool  # an end-repeat sign at its end
    ending: frozenset[int] | None  # the passes an ending bar is played on


def play_order(measures: list[RepeatMarks], where: str = "") -> list[int]:
    """The order measures are played in, repeats and endings expanded (see module notes)."""
    order: list[int] = []
    n = len(measures)
    i = start = 0
    passno = 1
    in_endings = False
    while i < n:
        m = measures[i]
        if m.forward and i != start:
            start, passno, in_endings = i, 1, False
        if m.ending is not None:
            if passno not in m.ending:
                i += 1
                continue
            in_endings = True
        elif in_endings:  # past the last ending: a new section starts here
            start, passno, in_endings = i, 1, False
        order.append(i)
        if len(order) > MAX_PLAYED_MEASURES:
            raise ConversionError(f"repeats play more than {MAX_PLAYED_MEASURES} bars", where)
        if m.backward:
            if _repeat_again(measures, start, i, passno):
                passno += 1
                i, in_endings = start, False
                continue
            start, passno, in_endings = i + 1, 1, False
        i += 1
    return order


def parse_part_order(text: str, where: str = "") -> list[str]:
    """Expand a ``P:`` header field: 'ABAC' -> A B A C, 'A2B' -> A A B, '(AB)2C' -> A B A B C;
    dots and spaces separate and mean nothing, a repeat count is at most 16.

    Refused before anything is expanded: more than :data:`MAX_PART_ORDER` parts in all, or
    parentheses nested deeper than :data:`MAX_PART_ORDER_DEPTH` (each level multiplies).
    """
    tokens = _part_order_tokens(text)
    parts, depth = _part_order_size(tokens)
    if depth > MAX_PART_ORDER_DEPTH:
        raise ConversionError(
            f"P: field nests parentheses {depth} deep (the limit is {MAX_PART_ORDER_DEPTH})", where
        )
    if parts > MAX_PART_ORDER:
        raise ConversionError(
            f"P: field plays over {MAX_PART_ORDER} parts (the limit); it is {text[:40]!r}", where
        )
    out: list[str] = []
    stack: list[list[str]] = [out]
    for symbol, count in tokens:
        if symbol == "(":
            stack.append([])
        elif symbol == ")":
            if len(stack) > 1:
                group = stack.pop()
                stack[-1].extend(group * count)
        else:
            stack[-1].extend([symbol] * count)
    while len(stack) > 1:  # unclosed parenthesis
        group = stack.pop()
        stack[-1].extend(group)
    return out


def _part_order_tokens(text: str) -> list[tuple[str, int]]:
    """'(AB)2C' -> ('(', 1) ('A', 1) ('B', 1) (')', 2) ('C', 1): parentheses and part letters
    with the count written after them (at most 16); anything else is passed over."""
    tokens = []
    text = text.strip()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "(" or c == ")" or (c.isalpha() and c.isupper()):
            j = i + 1
            while j < len(text) and text[j].isascii() and text[j].isdigit():
                j += 1
            digits = text[i + 1 : j] if c != "(" else ""
            written = 16 if len(digits.lstrip("0")) > 2 else int(digits or 1)
            tokens.append((c, min(written, 16)))
            i = j if c != "(" else i + 1
        else:
            i += 1
    return tokens


def _part_order_size(tokens: list[tuple[str, int]]) -> tuple[int, int]:
    """How many parts the tokens expand to (counted up to just over the limit, never
    expanded) and how deep their parentheses nest."""
    counts = [0]
    depth = 0
    for symbol, count in tokens:
        if symbol == "(":
            counts.append(0)
            depth = max(depth, len(counts) - 1)
        elif symbol == ")":
            if len(counts) > 1:
                group = counts.pop()
                counts[-1] = min(counts[-1] + group * count, MAX_PART_ORDER + 1)
        else:
            counts[-1] = min(counts[-1] + count, MAX_PART_ORDER + 1)
    return min(sum(counts), MAX_PART_ORDER + 1), depth


def ordered_by_parts(measures, sections: list[str], part_order: str, where: str) -> list[int]:
    """Play order of the measures, following the header's part order where there is one."""
    order_letters = parse_part_order(part_order, where) if part_order else []
    if (
        not order_letters
        or len(sections) != len(measures)
        or not set(order_letters) & set(sections)
    ):
        return play_order(measures, where)
    order: list[int] = []
    for letter in order_letters:
        index = [i for i, lab in enumerate(sections) if lab == letter]
        if index:
            section = [measures[i] for i in index]
            order += [index[k] for k in play_order(section, where)]
            if len(order) > MAX_PLAYED_MEASURES:
                raise ConversionError(
                    f"the part order plays more than {MAX_PLAYED_MEASURES} bars", where
                )
    return order


def _repeat_again(measures: list[RepeatMarks], start: int, i: int, passno: int) -> bool:
    numbers: set[int] = set()
    for m in measures[start : i + 1]:
        if m.ending:
            numbers |= m.ending
    j = i + 1
    while j < len(measures) and measures[j].ending is not None and not measures[j].forward:
        numbers |= measures[j].ending
        j += 1
    if not numbers:
        return passno < 2
    return passno + 1 in numbers or (passno == 1 and max(numbers) == 1)


def repeat_warnings(measures: list[RepeatMarks]) -> list[str]:
    """Start-repeat signs that no end-repeat closes (they are played once)."""
    unclosed, open_at = [], None
    for m in measures:
        if m.forward:
            if open_at is not None:
                unclosed.append(open_at)
            open_at = m.number
        if m.backward:
            open_at = None
    if open_at is not None:
        unclosed.append(open_at)
    return [f"unbalanced repeat: |: in bar {n} has no matching :|" for n in unclosed]
