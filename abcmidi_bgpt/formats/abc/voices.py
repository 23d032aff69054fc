"""A tune's text as abc2xml splits it before parsing: the header's fields, then the music of
each voice as one string, fields after K: written inline, comments, lyrics, text blocks and
continuations dealt with, multi-bar rests written out bar by bar.

Each voice's music keeps, for every character, where in the tune's text it came from
(:class:`Traced`), so that what the reader cannot read is reported at its line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from abcmidi_bgpt.formats.abc.guard import MAX_REST_BARS


@dataclass(slots=True)
class Traced:
    """Text, and for each of its characters the offset in the source it came from (a character
    made up here, such as an inline field's bracket, has the offset of what it stands for)."""

    text: str
    where: list[int]

    @classmethod
    def of(cls, text: str, start: int) -> Traced:
        return cls(text, list(range(start, start + len(text))))

    @classmethod
    def made(cls, text: str, at: int) -> Traced:
        return cls(text, [at] * len(text))

    def __add__(self, other: Traced) -> Traced:
        return Traced(self.text + other.text, self.where + other.where)

    def __getitem__(self, part: slice) -> Traced:
        return Traced(self.text[part], self.where[part])

    def sub(self, pattern: re.Pattern, replace: Callable[[re.Match], str]) -> Traced:
        """``pattern.sub(replace, text)``, each replacement traced to its match's start."""
        pieces, last = [], 0
        for m in pattern.finditer(self.text):
            pieces.append(self[last : m.start()])
            pieces.append(Traced.made(replace(m), self.where[m.start()]))
            last = m.end()
        pieces.append(self[last:])
        return concatenate(pieces)


def concatenate(pieces: list[Traced]) -> Traced:
    """The pieces one after the other (in linear time, however many there are)."""
    return Traced("".join(p.text for p in pieces), [w for p in pieces for w in p.where])


def join(pieces: list[Traced], separator: str) -> Traced:
    out: list[Traced] = []
    for i, piece in enumerate(pieces):
        if i:
            previous = out[-1].where[-1] if out and out[-1].where else 0
            out.append(Traced.made(separator, previous))
        out.append(piece)
    return concatenate(out)


_FIELD_LINE = re.compile(r"([A-Zw]):(.*)|\[([A-Zw]):([^\]]*)\]")
_DIRECTIVE = re.compile(r"^%%(?=[^%])")
_TEXT_BLOCK = re.compile(r"%%(begin|end)(?:text|ps)\b")
_VOICE_FIELD = re.compile(r"\[V:\s*([^\s\]]*)")


def split_voices(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, Traced]]]:
    """The tune's header fields up to K: (letter, value), and each voice's music as one string
    of tokens, fields after K: written inline, in the order the voices first appear."""
    music_lines: list[Traced] = []
    pending_field, field_at = "", 0
    current: list[Traced] = []  # the pieces of the music line being read
    started = False
    in_block = False
    after_first_key = False  # blank lines straight after the first K: line do not end the tune
    seen_key = False
    offset = 0
    for raw in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(raw)
        raw = raw.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        line = raw.strip()
        start = line_start + len(raw) - len(raw.lstrip())
        if not line and started:
            if after_first_key:
                continue
            break  # an empty line ends the tune
        after_first_key = False
        if started and not seen_key and re.match(r"K:", line):
            seen_key = after_first_key = True
        block = _TEXT_BLOCK.match(line)
        if block:
            in_block = block.group(1) == "begin"
            continue
        if in_block:  # typeset text or PostScript, not music
            continue
        if line.startswith("X:"):
            if started:
                break
            started = True
        line = _DIRECTIVE.sub("I:", line)
        line = line.split("%", 1)[0].rstrip() if "%" in line else line
        while line.endswith("*") and not line.startswith(("w:", "+:")):
            line = line[:-1]
        if not line or line.startswith("W:"):
            continue
        if line.startswith("+:"):
            pending_field += line[2:]
            continue
        field_match = _FIELD_LINE.fullmatch(line)
        if field_match:
            if pending_field:
                current.append(_inline(pending_field, field_at))
            pending_field = (line[1:-1] if line.startswith("[") else line).rstrip("\\")
            field_at = start
            continue
        if not started:
            continue
        if pending_field:
            current.append(_inline(pending_field, field_at))
            pending_field = ""
        continues = line.endswith("\\")
        current.append(Traced.of(line.rstrip("\\"), start))
        if not continues:
            music_lines.append(concatenate(current))
            current = []
    if pending_field:
        current.append(_inline(pending_field, field_at))
    if current:
        music_lines.append(concatenate(current))
    if not music_lines:
        return [], []
    first = music_lines[0]
    key = re.search(r"\[K:[^\]]*\]", first.text)
    if key is None:
        header_text, music_lines[0] = first.text, Traced("", [])
    else:
        header_text, music_lines[0] = first.text[: key.end()], first[key.end() :]
    header: list[tuple[str, str]] = []
    voice_defs: list[Traced] = []
    for m in re.finditer(r"\[([A-Za-z]):([^\]]*)\]", header_text):
        letter, value = m.group(1), m.group(2).replace("%5d", "]")
        if letter == "V" or (letter == "I" and value.startswith(("MIDI", "percmap"))):
            voice_defs.append(first[m.start() : m.end()])
        else:
            header.append((letter, value.strip()))
    body = concatenate([*voice_defs, join(music_lines, "\n")])
    return header, _voices(body)


def _inline(field_text: str, at: int) -> Traced:
    return Traced.made("[" + field_text.replace("]", "%5d") + "]", at)


_VOICE_SPLIT = re.compile(r"\[V:[^\]]*\]")


def _voices(body: Traced) -> list[tuple[str, Traced]]:
    fields = list(_VOICE_SPLIT.finditer(body.text))
    before = body.text[: fields[0].start()] if fields else body.text
    if not fields or re.sub(r"\[[A-Z]:[^\]]*\]", "", before).strip():
        body = Traced.made("[V:1]", body.where[0] if body.where else 0) + body
        fields = list(_VOICE_SPLIT.finditer(body.text))
    leading = body.text[: fields[0].start()]
    parts_marks = "".join(re.findall(r"\[P:.\]", leading))
    music: dict[str, list[Traced]] = {}
    for i, field_match in enumerate(fields):
        end = fields[i + 1].start() if i + 1 < len(fields) else len(body.text)
        piece = body[field_match.start() : end]
        m = _VOICE_FIELD.match(field_match.group(0) + " ")
        vid = m.group(1) if m and m.group(1) else "1"
        if not music and parts_marks:
            field_len = field_match.end() - field_match.start()
            piece = piece[:field_len] + Traced.made(parts_marks, piece.where[0]) + piece[field_len:]
        music.setdefault(vid, []).append(piece)
    return [(vid, _multi_bar_rests(concatenate(pieces))) for vid, pieces in music.items()]


_MULTI_BAR_REST = re.compile(r"([XZ])(\d+)")
_SPACED_BAR = re.compile(r"([:|][ |\[\]]+[:|])")


def _multi_bar_rests(music: Traced) -> Traced:
    """'Z4' -> 'Z|Z|Z|Z', as abc2xml reads multi-bar rests; spaces inside bar lines closed up."""

    def bars(m: re.Match) -> str:  # at most 1,000 (guard refuses more); never a huge int()
        count = int(m.group(2)) if len(m.group(2)) <= 4 else MAX_REST_BARS
        return "|".join([m.group(1)] * min(count, MAX_REST_BARS))

    music = music.sub(_MULTI_BAR_REST, bars)
    return music.sub(_SPACED_BAR, lambda m: m.group(1).replace(" ", ""))
