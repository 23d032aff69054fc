"""The symbolic (rule-based) ABC -> MIDI converter: ABC -> MusicXML -> performance -> MIDI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from abcmidi_bgpt.core.errors import ConversionError, NoKeyField
from abcmidi_bgpt.core.performance import Performance
from abcmidi_bgpt.formats.abc.guard import check_abc_text
from abcmidi_bgpt.formats.abc.text import AbcTune, check_tune_size, field_lines, split_tunes
from abcmidi_bgpt.formats.midi import render_midi
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml
from abcmidi_bgpt.symbolic.abc_to_midi.abc_reader import Problem, read_tune
from abcmidi_bgpt.symbolic.abc_to_midi.musicxml_reader import perform
from abcmidi_bgpt.symbolic.abc_to_midi.playback import play

_JUNK_WARNING = re.compile(r"^(?:misplaced symbol|unhandled note decorations: (\[.*\]))")


@dataclass(slots=True)
class AbcToMidi:
    """A rendered tune: canonical MIDI bytes, the performance they encode, and warnings."""

    midi: bytes
    performance: Performance
    warnings: list[str] = field(default_factory=list)
    # Of the warnings: those the native reader gives with their places in the tune (an editor
    # marks them there), and the others, which have none of their own.
    problems: list[Problem] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)


READERS = ("abc2xml", "native")
DEFAULT_READER = "native"


def abc_to_midi(tune: AbcTune | str, chords: bool = False, reader: str = "") -> AbcToMidi:
    """Render one ABC tune to canonical MIDI.

    ``tune`` is an :class:`AbcTune` or the text of a single tune. With ``chords``, chord symbols
    ("G", "Am7") are played as an accompaniment track. ``reader``: ``abc2xml`` (through
    MusicXML) or ``native`` (:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.abc_reader`, being
    brought to the same notes); '' is :data:`DEFAULT_READER`. Raises :class:`ConversionError` with a one-line reason when
    the tune cannot be rendered.
    """
    if isinstance(tune, str):
        tunes = split_tunes(tune)
        if len(tunes) != 1:
            raise ConversionError(f"expected one tune, found {len(tunes)}")
        tune = tunes[0]
    label = tune.label
    check_tune_size(tune)
    text = tune.full_text
    native = (reader or DEFAULT_READER) == "native"
    check_abc_text(text, label)  # before anything else reads it (abc_to_musicxml checks too)
    key_line = next((f for f in field_lines(text) if f.group(1) == "K"), None)
    if not key_line:
        raise NoKeyField("no K: field (the key line that ends the tune header)", label)
    header, body = text[: key_line.start()], text[key_line.end() :].split("\n", 1)[-1]
    words = _prose_words(body)
    if len(words) >= 3:
        raise ConversionError(
            f"not ABC music: the tune body reads as text ({', '.join(words[:3])}, ...)", label
        )
    if native:
        read = read_tune(tune)
        played = play(read.parts, read.upq, chords, read.part_order, read.sections, read.title,
                      label, align_bars=False)  # fmt: skip
        score_warnings = [str(p) for p in read.problems] + read.warnings
        junk = read.unreadable
    else:
        score = abc_to_musicxml(text, label)
        part_order = _header_field(header, "P")
        played = perform(score.root, chords=chords, part_order=part_order, label=label)
        score_warnings = score.warnings
        junk = _junk_symbols(score_warnings)  # abc2xml says what it skipped only in words
    notes = sum(len(v.notes) for v in played.performance.voices)
    if junk > max(8, notes):
        raise ConversionError(
            f"not ABC music: {junk} symbols could not be read, against {notes} notes", label
        )
    warnings = _summarise(score_warnings) + played.warnings
    problems = read.problems if native else []
    unplaced = (_summarise(read.warnings) + played.warnings) if native else warnings
    midi = render_midi(played.performance)
    return AbcToMidi(midi, played.performance, warnings, problems, unplaced)


def _header_field(header: str, letter: str) -> str:
    """The first value of a field in the tune header (the text before the K: line), '' when
    absent."""
    m = re.search(rf"^[ \t]*{letter}:[ \t]*(.*)$", header, re.M)
    return m.group(1).split("%")[0].strip() if m else ""


# Music code of a body line: quoted strings, decorations, comments and inline fields removed.
_NOT_CODE = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|%.*|\[[A-Za-z]:[^\]\n]*\]')
_WORD = re.compile(r"[A-Za-z]{4,}")
_TEXT_ONLY = set("hijklmnopqrstw")  # letters that are not notes, rests or standard symbols


def _prose_words(body: str) -> list[str]:
    """Words in the tune body (the lines after the K: line, up to the blank line that ends the
    tune) that cannot be music: runs of four or more letters with at least two different
    letters that ABC gives no meaning (one can be a U: symbol, as in Ryan's Mammoth's
    'kgBkaB'). Text blocks (%%begintext ... %%endtext) are not music and not prose."""
    words = []
    in_text = False
    for line in body.lstrip("\n").split("\n"):
        if not line.strip():
            break
        if re.match(r"[ \t]*%%(?:begin|end)(?:text|ps)", line):
            in_text = "%%begin" in line
            continue
        if in_text or re.match(r"[ \t]*[A-Za-z+]:", line):
            continue
        for word in _WORD.findall(_NOT_CODE.sub(" ", line)):
            if len(_TEXT_ONLY & set(word.lower())) >= 2:
                words.append(word)
    return words


def _junk_symbols(warnings: list[str]) -> int:
    count = 0
    for w in warnings:
        m = _JUNK_WARNING.match(w)
        if m:
            count += w.count("'") // 2 if m.group(1) else 1
    return count


def _summarise(warnings: list[str]) -> list[str]:
    """abc2xml's messages, one line each, repeated ones counted once."""
    seen: dict[str, int] = {}
    for w in warnings:
        line = w.splitlines()[0][:160]
        seen[line] = seen.get(line, 0) + 1
    return [f"{w} (x{n})" if n > 1 else w for w, n in seen.items()]
