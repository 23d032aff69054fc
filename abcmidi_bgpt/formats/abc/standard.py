"""ABC rewritten into equivalent forms that abc2xml reads the way the ABC 2.1 standard means.

abc2xml (the parser behind the symbolic converter and the corpus normalisation) departs from
the standard, and from abc2midi, in a few places. Rather than patch its grammar, each case is
rewritten in the text into a form it does read correctly:

- no ``L:`` field: the default unit length depends on the meter (3.1.7);
- ``(5``, ``(7``, ``(9`` take the time of three notes in compound meters (4.13);
- ending ranges ``[1-3`` mean endings 1, 2 and 3 (abc2xml reads "1,3");
- ``K:HP`` / ``K:Hp`` (highland pipes) play F# and C# (abc2xml plays naturals);
- ``K:D exp ^f``: with ``exp`` the listed accidentals are the whole signature (abc2xml adds
  them to D major's);
- stray non-field lines in the header, and blank lines straight after ``K:``, which abc2xml
  reads as the end of the header or of the tune.
"""

from __future__ import annotations

import re

from abcmidi_bgpt.formats.abc.fields import MAX_ENDING_NUMBERS
from abcmidi_bgpt.formats.abc.text import field_line

# Code in a body line: quoted strings, decorations and comments are passed over.
_SKIP = r'"[^"\n]*"|![^!\n]*!|%.*'
_MUSIC_SCAN = re.compile(
    rf"{_SKIP}"
    r"|\[M:(?P<meter>[^\]]*)\]"  # inline meter
    r"|\((?P<tuplet>[579])(?![\d:])"  # (5 (7 (9 without an explicit ratio
    r"|(?<=[\[|])(?P<ending>\d+(?:\s*[,-]\s*\d+)*-\d+(?:\s*[,-]\s*\d+)*)"  # ending with a range
)
_KEY_FIELD = re.compile(r"(?P<head>(?:^[ \t]*|\[)K:[ \t]*)(?P<value>[^\]\n%]*)", re.M)


def standardise_abc(abc_text: str) -> tuple[str, list[str]]:
    """All the rewrites, in order; returns the text and warnings about what was dropped."""
    text, warnings = header_without_stray_lines(abc_text)
    text = explicit_unit_length(text)
    text = _rewrite_keys(text)
    return _rewrite_music(text), warnings


def header_without_stray_lines(abc_text: str) -> tuple[str, list[str]]:
    """Drop lines between ``X:`` and ``K:`` that are neither fields, comments nor directives,
    and blank lines straight after ``K:``.

    A tune header holds only those (ABC 2.1, 3.1); abc2xml ends the header at the first other
    line and then reads the remaining fields as music, while abc2midi skips such a line.
    """
    header_end = re.search(r"^[ \t]*K:", abc_text, re.M)
    if not header_end:
        return abc_text, []
    header, body = abc_text[: header_end.start()], abc_text[header_end.start() :]
    # Blank lines right after K: would end the tune before its music; sloppy files have them.
    body = re.sub(r"\A([^\n]*\n)(?:[ \t]*\n)+", r"\1", body)
    kept, dropped = [], []
    for line in header.split("\n"):
        if not line.strip() or re.match(r"[ \t]*([A-Za-z+]:|%)", line):
            kept.append(line)
        else:
            dropped.append(line.strip())
    tidy = "\n".join(kept) + body
    if not dropped:
        return tidy, []
    return tidy, [f"skipped a header line that is not a field: {dropped[0]!r}"]


def explicit_unit_length(abc_text: str) -> str:
    """Add ``L:1/16`` to a header that has no L: field and a meter below 3/4 (2/4, 3/8)."""
    header_end = re.search(r"^[ \t]*K:", abc_text, re.M)
    if not header_end:
        return abc_text
    header = abc_text[: header_end.start()]
    if re.search(r"^[ \t]*L:", header, re.M):
        return abc_text
    meters = re.findall(r"^[ \t]*M:[ \t]*(\d{1,6})\s*/\s*(\d+)", header, re.M)
    if not meters or int(meters[-1][0]) / max(1, int(meters[-1][1])) >= 0.75:
        return abc_text
    return f"{header}L:1/16\n{abc_text[header_end.start() :]}"


def _rewrite_keys(abc_text: str) -> str:
    if "K:" not in abc_text:
        return abc_text

    def key(m: re.Match) -> str:
        value = m.group("value")
        value = re.sub(r"^H[Pp](?![A-Za-z])", "Amix", value)  # the pipes' scale: F#, C#, G
        # 'exp': exactly the accidentals listed; the tonic and mode say nothing more.
        value = re.sub(r"^[A-G][#b]?(?:\s*(?!exp\b)[A-Za-z]+)?\s+exp\b", "C", value)
        return m.group("head") + value

    return _KEY_FIELD.sub(key, abc_text)


def _rewrite_music(abc_text: str) -> str:
    if not re.search(r"\([579]|[\[|]\d+(?:\s*,\s*\d+)*-\d", abc_text):
        return abc_text
    compound = False
    lines = abc_text.split("\n")
    for i, line in enumerate(lines):
        field = field_line(line)
        if field:
            if field.group(1) == "M":
                compound = _is_compound(field.group(2))
            continue

        def rewrite(m: re.Match) -> str:
            nonlocal compound
            if m.group("meter") is not None:
                compound = _is_compound(m.group("meter"))
            elif m.group("tuplet") and compound:
                return f"({m.group('tuplet')}:3"
            elif m.group("ending"):
                numbers = _expand_numbers(m.group("ending"))
                if len(numbers) > MAX_ENDING_NUMBERS:
                    return m.group(0)  # absurd: written out it would multiply the text
                return ",".join(str(n) for n in numbers)
            return m.group(0)

        lines[i] = _MUSIC_SCAN.sub(rewrite, line)
    return "\n".join(lines)


def _expand_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*,\s*", text.strip()):
        lo, _, hi = part.partition("-")
        first, last = _small_number(lo), _small_number(hi)
        if hi and first is not None and last is not None and last - first < 100:
            numbers += range(first, last + 1)
        elif first is not None:
            numbers.append(first)
        if len(numbers) > MAX_ENDING_NUMBERS:
            break
    return numbers


def _small_number(text: str) -> int | None:
    """ASCII digits, at most six (Python will not even read an integer of 4,300 digits)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _is_compound(meter: str) -> bool:
    """6/8, 9/8, 12/8 (and 6/4, ...): a numerator that is a multiple of 3 above 3."""
    m = re.match(r"\s*(\d{1,6})\s*/\s*(\d+)", meter)
    return bool(m) and int(m.group(1)) % 3 == 0 and int(m.group(1)) > 3
