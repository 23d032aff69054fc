"""Normalised ABC: what xml2abc writes, stripped of natural language, as IrishMAN was made.

The ABC half of every training pair, and what the bGPT engine feeds the model: the corpus
builder and the converter both call :func:`normalise_abc` (or its two halves, around a
transposition of the MusicXML), so the model always reads ABC in one form.

IrishMAN (Wu et al., the bGPT authors' corpus) was made by converting every tune to MusicXML and
back with W. G. Vree's abc2xml/xml2abc (``xml2abc.py -m 2 -c 6 -x``: unit length chosen by
xml2abc, no line breaks) and then deleting the lines of natural-language fields. The corpus does
the same with ``musicxml_to_abc(root, unit_length=0, line_breaks=False)`` followed by
:func:`strip_natural_language`, which keeps only what the music needs:

- header: ``X:1`` (the reference number is replaced), ``L:``, ``M:``, ``Q:`` (tempo, without
  its text), ``P:``, ``K:``; voice lines ``V:`` only when the tune has several voices (their
  names dropped) together with ``%%score``;
- dropped: titles, composer, origin, area, book, discography, file, group, history, notes,
  rhythm, remarks, source, transcriber, words and lyrics (``T: C: O: A: B: D: F: G: H: N: R: r:
  S: Z: W: w:``), instructions (``I:``), comments and other directives, and text annotations
  in the music (``"^text"``, ``"_text"``, ``"<text"``, ``">text"``, ``"@text"``);
- chord symbols (``"Am7"``) stay, unless ``keep_chords`` is false.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from abcmidi_bgpt.formats.abc.text import AbcTune, field_line
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml, musicxml_to_abc

KEPT_HEADER_FIELDS = frozenset("LMQPK")
_INLINE_TEXT = re.compile(r'"[\^_<>@][^"\n]*"')
_CHORD_SYMBOL = re.compile(r'"[^"\n]*"')
_VOICE_NAME = re.compile(r'\s+(?:nm|snm|name|subname)="[^"]*"')
_COMMENT = re.compile(r"(?<!\\)%.*$")


_TEXT_ELEMENTS = ("work", "movement-number", "movement-title", "identification", "credit", "lyric")


def strip_musicxml_text(root: ET.Element, keep_chords: bool = True) -> ET.Element:
    """Remove natural language from a MusicXML tree, in place, before xml2abc writes it.

    Done on the tree rather than on xml2abc's output because xml2abc wraps lines at 100
    characters counting the text: removing it afterwards would leave line breaks that depend on
    the words, and two copies of one tune would no longer be the same text.
    """
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in _TEXT_ELEMENTS or (child.tag == "harmony" and not keep_chords):
                parent.remove(child)
            elif child.tag == "direction":
                for kind in list(child.findall("direction-type")):
                    if kind.find("words") is not None or kind.find("rehearsal") is not None:
                        child.remove(kind)
                if child.find("direction-type") is None:
                    parent.remove(child)
    for tag in ("part-name", "part-abbreviation", "instrument-name"):
        for element in root.iter(tag):
            element.text = ""
    return root


def strip_natural_language(abc: str, keep_chords: bool = True) -> str:
    """Keep the music of one tune as xml2abc wrote it (see the module notes); LF line ends,
    no blank lines, ending with a newline."""
    lines = abc.replace("\r\n", "\n").split("\n")
    voices = {m.group(1) for ln in lines if (m := re.match(r"^V:\s*(\S+)", ln))}
    several_voices = len(voices) > 1
    out = ["X:1"]
    in_header = True
    for line in lines:
        if line.startswith("%%score") and several_voices and in_header:
            out.append(line.rstrip())
            continue
        line = _COMMENT.sub("", line).rstrip()
        if not line.strip():
            continue
        field = field_line(line)
        if field:
            letter, value = field.group(1), field.group(2).strip()
            if letter == "K" and in_header:
                in_header = False
                out.append(f"K:{value}")
            elif letter == "V":
                if several_voices:
                    out.append("V:" + _VOICE_NAME.sub("", value).strip())
            elif letter == "Q":
                tempo = re.sub(r'"[^"]*"', "", value).strip()
                if tempo:
                    out.append(f"Q:{tempo}")
            elif letter in KEPT_HEADER_FIELDS:
                out.append(f"{letter}:{value}")
            continue
        if in_header:
            continue  # free text before K: is not music
        music = _INLINE_TEXT.sub("", line)
        if not keep_chords:
            music = _CHORD_SYMBOL.sub("", music)
        music = music.rstrip()
        if music.strip():
            out.append(music)
    return "\n".join(out) + "\n"


def normalised_score(abc_text: str, label: str = "", keep_chords: bool = True) -> ET.Element:
    """The tune read into MusicXML by abc2xml, natural language removed."""
    return strip_musicxml_text(abc_to_musicxml(abc_text, label).root, keep_chords)


def write_normalised(root: ET.Element, keep_chords: bool = True, unit_length: int = 0) -> str:
    """A normalised score written as ABC: xml2abc (its own unit length unless given, one line
    per voice), then only the music's fields kept."""
    abc = musicxml_to_abc(root, unit_length=unit_length, line_breaks=False)
    return strip_natural_language(abc, keep_chords=keep_chords)


def normalise_abc(abc: AbcTune | str, label: str = "", keep_chords: bool = True) -> str:
    """One tune in the corpus's normal form: an :class:`AbcTune` (with its file header; named
    by its label) or the text of one tune, header included (named by ``label``). The bgpt
    engine brings its ABC inputs to this form too."""
    if isinstance(abc, AbcTune):
        abc, label = abc.full_text, label or abc.label
    return write_normalised(normalised_score(abc, label, keep_chords), keep_chords)
