"""A tune's text as abc2xml splits it before parsing: the header's fields, then the music of
each voice as one string, fields after K: written inline, comments, lyrics, text blocks and
continuations dealt with, multi-bar rests written out bar by bar."""

from __future__ import annotations

import re

_FIELD_LINE = re.compile(r"([A-Zw]):(.*)|\[([A-Zw]):([^\]]*)\]")
_DIRECTIVE = re.compile(r"^%%(?=[^%])")
_TEXT_BLOCK = re.compile(r"%%(begin|end)(?:text|ps)\b")
_VOICE_FIELD = re.compile(r"\[V:\s*(\S*?)(?:[ \]]|$)")


def split_voices(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The tune's header fields up to K: (letter, value), and each voice's music as one string
    of tokens, fields after K: written inline, in the order the voices first appear."""
    music_lines: list[str] = []
    pending_field = ""
    current = ""
    started = False
    in_block = False
    after_first_key = False  # blank lines straight after the first K: line do not end the tune
    seen_key = False
    for raw in text.splitlines():
        line = raw.strip()
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
        line = line.split("%", 1)[0] if "%" in line else line
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
                current += _inline(pending_field)
            pending_field = (line[1:-1] if line.startswith("[") else line).rstrip("\\")
            continue
        if not started:
            continue
        if pending_field:
            current += _inline(pending_field)
            pending_field = ""
        continues = line.endswith("\\")
        current += line.rstrip("\\")
        if not continues:
            music_lines.append(current)
            current = ""
    if pending_field:
        current += _inline(pending_field)
    if current:
        music_lines.append(current)
    if not music_lines:
        return [], []
    first = music_lines[0]
    key = re.search(r"\[K:[^\]]*\]", first)
    if key is None:
        header_text, music_lines[0] = first, ""
    else:
        header_text, music_lines[0] = first[: key.end()], first[key.end() :]
    header: list[tuple[str, str]] = []
    voice_defs = []
    for m in re.finditer(r"\[([A-Za-z]):([^\]]*)\]", header_text):
        letter, value = m.group(1), m.group(2).replace("%5d", "]")
        if letter == "V" or (letter == "I" and value.startswith(("MIDI", "percmap"))):
            voice_defs.append(m.group(0))
        else:
            header.append((letter, value.strip()))
    body = "".join(voice_defs) + "\n".join(music_lines)
    return header, _voices(body)


def _inline(field_text: str) -> str:
    return "[" + field_text.replace("]", "%5d") + "]"


def _voices(body: str) -> list[tuple[str, str]]:
    pieces = re.split(r"(\[V:[^\]]*\])", body)
    if len(pieces) == 1 or re.sub(r"\[[A-Z]:[^\]]*\]", "", pieces[0]).strip():
        pieces = re.split(r"(\[V:[^\]]*\])", "[V:1]" + body)
    leading = pieces[0]
    parts_marks = "".join(re.findall(r"\[P:.\]", leading))
    music: dict[str, list[str]] = {}
    for i in range(1, len(pieces), 2):
        field_text, text = pieces[i], pieces[i + 1]
        m = _VOICE_FIELD.match(field_text + " ")
        vid = m.group(1) if m and m.group(1) else "1"
        if not music and parts_marks:
            text = parts_marks + text
        music.setdefault(vid, []).extend([field_text, text])
    return [(vid, _multi_bar_rests("".join(chunks))) for vid, chunks in music.items()]


def _multi_bar_rests(music: str) -> str:
    """'Z4' -> 'Z|Z|Z|Z', as abc2xml reads multi-bar rests; spaces inside bar lines closed up."""
    music = re.sub(r"([XZ])(\d+)", lambda m: "|".join([m.group(1)] * min(int(m.group(2)), 1000)),
                   music)  # fmt: skip
    return re.sub(r"([:|][ |\[\]]+[:|])", lambda m: m.group(1).replace(" ", ""), music)
