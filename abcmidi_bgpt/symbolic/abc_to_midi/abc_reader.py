"""The native ABC reader: a tune's text straight to a score of measures
(:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.score`), which playback plays out as it does abc2xml's.

It reads what sounds in ABC 2.1 (fields in the header and inline, voices and overlays, notes
with accidentals carried through the bar, lengths, broken rhythm, tuplets, ties, grace notes,
chords, rests and multi-bar rests, bar lines, repeats and endings, parts, dynamics, chord
symbols, tempo, %%MIDI programs) and passes over the rest. It never evaluates text and never
opens a file named in a tune.

Where the standard leaves room, it does what the abc2xml path did (the converter's output must
not change with the reader behind it): times count 161,280 divisions a quarter note, note lengths
below 1/64 round to 1/64ths, grace notes are at most eighths, a tuplet does not cross a bar line,
a tie carries the accidental of its first note, and the corrections of
:mod:`abcmidi_bgpt.formats.abc.standard` hold (default L: by the meter, (5 (7 (9 in compound
meters, ending ranges, K:HP, K:... exp).

The syntax is read in :mod:`abcmidi_bgpt.formats.abc` (``voices``: the text split into voices;
``tokens`` and ``bars``: each voice's music; ``fields``: field values); this module gives it
time and pitch.

Why one module of over 400 lines: reading a voice is one pass that keeps the state abc2xml keeps
from note to note (accidentals in the bar, open ties, the tuplet being counted, grace notes
waiting for their note, the ending open); apart, that state would be passed around in pieces.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError, place_text
from abcmidi_bgpt.formats.abc.bars import Bar, Item, Stem, WrittenNote, read_bars
from abcmidi_bgpt.formats.abc.fields import (
    ALTER,
    NOTE_TYPES,
    STEP_SEMITONES,
    chord_symbol,
    ending_numbers,
    read_key,
    read_meter,
    read_tempo,
    read_unit,
)
from abcmidi_bgpt.formats.abc.text import AbcTune, include_warning
from abcmidi_bgpt.formats.abc.voices import split_voices
from abcmidi_bgpt.symbolic.abc_to_midi.score import (
    DYNAMICS,
    Measure,
    NoteEvent,
    Part,
    check_note_length,
    check_transpose,
    chord_pitches,
    place_graces,
)

DIVISIONS = 2520 * 64  # a quarter note; exact for 3-, 5-, 7- and 9-tuplets and '>>>'
MAX_LENGTH_DENOMINATOR = 1024  # 'A/1024': shorter cannot be written on any staff
# Per voice: a text that is not music says so once or twice, not a thousand times.
MAX_SYMBOL_WARNINGS = 10
UNITS = DIVISIONS * 16  # playback's units a quarter note: 16 to a division, for grace notes


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the reader played through: what, and where (line from the tune's X: line,
    column; None in the file header or where it has no one place)."""

    message: str
    line: int | None = None
    column: int | None = None
    bar: str = ""  # where it is when it has no line: 'bar 12'

    def __str__(self) -> str:
        if self.line is not None:
            return f"{place_text(self.line, self.column)}: {self.message}"
        place = f"file header, col {self.column}" if self.column is not None else self.bar
        return f"{place}: {self.message}" if place else self.message


@dataclass(slots=True)
class ReadScore:
    """A tune read into parts, ready for playback."""

    parts: list[Part]
    upq: int  # units a quarter note
    part_order: str = ""
    sections: list[str] = field(default_factory=list)
    title: str = ""
    warnings: list[str] = field(default_factory=list)
    unreadable: int = 0  # symbols that could not be read (each also a warning)
    problems: list[Problem] = field(default_factory=list)  # the warnings with their places


# --- reading -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Settings:
    """What the header sets for every voice."""

    unit: tuple[int, int] = (1, 8)
    meter_text: str = ""
    key: str = ""
    tempo: str = ""
    title: str = ""
    part_order: str = ""
    symbols: dict[str, str] = field(default_factory=dict)  # U: one letter -> decoration
    propagate: str = "octave"  # accidentals hold for: the same octave, the pitch in any, or not


def read_tune(tune: AbcTune) -> ReadScore:
    """Read one tune (its file header included) into a score."""
    label = tune.label
    header, voices = split_voices(tune.full_text)
    settings = _Settings()
    titles = []
    for letter, value in header:
        if not value:
            continue
        if letter == "T":
            titles.append(value)
        elif letter == "L":
            settings.unit = read_unit(value)
        elif letter == "M":
            settings.meter_text = value
        elif letter == "K":
            settings.key = value
        elif letter == "Q":
            settings.tempo = value
        elif letter == "P":
            settings.part_order = value
        elif letter == "U":
            symbol = re.fullmatch(r"\s*([H-Wh-w~])\s*=\s*[!+]?([^!+]*)[!+]?\s*", value)
            if symbol:
                settings.symbols[symbol.group(1)] = symbol.group(2).strip()
        elif letter == "I":
            settings.propagate = _propagation(value) or settings.propagate
    settings.title = titles[0] if titles else ""
    if not any(letter == "L" and value for letter, value in header):
        numbers = re.match(r"\s*(\d{1,6})\s*/\s*(\d+)", settings.meter_text)
        if numbers and int(numbers.group(1)) / max(1, int(numbers.group(2))) < 0.75:
            settings.unit = (1, 16)
    warnings = [w for w in map(include_warning, tune.full_text.splitlines()) if w]
    places = _Places(tune)
    readers = []
    for index, (_vid, music) in enumerate(voices):
        reader = _VoiceReader(settings, label, warnings, first=index == 0)
        reader.read(music.text, lambda start, w=music.where: places.at(w[start]))
        readers.append(reader)
    durations = [e.duration for r in readers for raw in r.raw for e in raw.events]
    if not any(e.pitch is not None for r in readers for raw in r.raw for e in raw.events):
        raise ConversionError("the tune has no notes", label)
    deler = math.gcd(21, *durations)
    upq = UNITS // deler
    parts = [
        Part(_measures(r.raw, deler, upq, label), r.name, r.program, r.percussion) for r in readers
    ]
    # a body P: line belongs to the voice last named, but marks the part for all of them
    sections = max((r.sections for r in readers), key=lambda s: len(set(s) - {""}), default=[])
    unreadable = sum(r.unreadable for r in readers)
    problems = [p for r in readers for p in r.problems]
    return ReadScore(
        parts, upq, settings.part_order, sections, settings.title, warnings, unreadable, problems
    )


def _propagation(directive: str) -> str:
    """'octave', 'pitch' or 'not' from a propagate-accidentals directive; '' for any other."""
    m = re.fullmatch(r"\s*propagate-accidentals\s+(not|octave|pitch)\s*", directive)
    return m.group(1) if m else ""


class _Places:
    """Offsets in a tune's text (its file header first) as a reader names them: 'line 3, col
    7', lines counted from the tune's X: line (the file header's lines before it)."""

    def __init__(self, tune: AbcTune):
        text = tune.full_text
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.first = len(self.starts) - len(tune.text.split("\n"))  # the X: line's index

    def at(self, offset: int) -> tuple[int | None, int]:
        """(line, column), 1-based; the line None in the file header."""
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        column = offset - self.starts[index] + 1
        return (None if index < self.first else index - self.first + 1), column


def _measures(raws: list[_RawMeasure], deler: int, upq: int, label: str) -> list[Measure]:
    """The measures in playback's units (16 to a division, over the durations' common divisor,
    as abc2xml reduces its divisions), grace notes given their time as playback gives it."""
    measures = []
    for raw in raws:
        m = raw.measure
        m.length = raw.length * 16 // deler
        m.tempos = [(p * 16 // deler, q) for p, q in m.tempos]
        m.dynamics = sorted(((p * 16 // deler, v) for p, v in m.dynamics), key=lambda d: d[0])
        m.harmonies = [(p * 16 // deler, h) for p, h in m.harmonies]
        shift: dict[str, int] = {}
        for ev in raw.events:
            onset, duration = ev.pos * 16 // deler, ev.duration * 16 // deler
            check_note_length(duration, upq, m.number, label)
            if not ev.in_chord:
                shift[ev.voice] = 0
                if ev.lead and ev.pitch is not None:
                    shift[ev.voice] = place_graces(m, ev.lead, onset, duration, ev.voice, upq)
            if ev.pitch is not None:
                taken = shift.get(ev.voice, 0)
                m.notes.append(
                    NoteEvent(onset + taken, ev.voice, ev.pitch, duration - taken, ev.tie)
                )
        m.notes.sort(key=lambda e: (e.pos, e.pitch))
        measures.append(m)
    return measures


# --- one voice: bars into measures -----------------------------------------------------------


@dataclass(slots=True)
class _Event:
    """A note or rest placed in its measure, in divisions, before grace notes take their time."""

    pos: int
    voice: str
    pitch: int | None  # None: a rest (or a note outside the MIDI range, which is silent)
    duration: int
    tie: bool
    in_chord: bool  # a chord note after the first (it does not move time on)
    lead: list[tuple[int, Fraction]] | None = None  # grace notes before it: (pitch, quarters)


@dataclass(slots=True)
class _RawMeasure:
    measure: Measure
    events: list[_Event] = field(default_factory=list)
    length: int = 0  # divisions


class _VoiceReader:
    """Reads one voice into measures (see the module notes for the conventions)."""

    def __init__(self, settings: _Settings, label: str, warnings: list[str], first: bool):
        self.settings = settings
        self.label = label
        self.warnings = warnings
        self.first = first
        self.unit = settings.unit
        self.bar_length = (4, 4)  # a whole bar, for measure rests (Z, X)
        self.key_alts: dict[str, int] = {}
        self.gtrans = 0  # octaves, from the clef
        self.transpose = 0  # semitones, from transpose=
        self.shift = 0  # semitones, from sound= or shift=
        self.measure_alts: dict[tuple[str, int], int] = {}
        self.ties: dict[tuple[str, int, int], int] = {}  # (step as written, marks, overlay)
        self.raw: list[_RawMeasure] = []
        self.sections: list[str] = []
        self.section = ""
        self.program: int | None = None
        self.percussion = False  # clef=perc or %%MIDI channel 10: drum sounds on channel 10
        self.name = ""
        self.ending: frozenset[int] | None = None  # the ending open now
        self.meter_text = settings.meter_text
        self.propagate = settings.propagate
        self.unreadable = 0
        self.problems: list[Problem] = []

    def read(self, music: str, place=lambda start: (None, None)) -> list[_RawMeasure]:
        """Read the music of the voice; ``place(start)`` says where in the tune a character of
        it was written: (line, column), the line None in the file header."""
        self.place = place
        bars = read_bars(music)
        overlay = 0
        previous: Bar | None = None
        for index, bar in enumerate(bars):
            overlay = overlay + 1 if previous is not None and previous.right == "&" else 0
            fields = self._first_fields() if index == 0 else []
            self._bar(bar, fields, overlay)
            previous = bar
        return self.raw

    def _first_fields(self) -> list[tuple[str, str]]:
        s = self.settings
        fields = [("K", s.key or "C treble"), ("M", s.meter_text or "4/4")]
        if self.first and s.tempo:
            fields.append(("Q", s.tempo))
        return fields

    # -- one bar --

    def _bar(self, bar: Bar, first_fields: list[tuple[str, str]], overlay: int) -> None:
        if overlay and self.raw:
            raw = self.raw[-1]
        else:
            raw = _RawMeasure(Measure(str(len(self.raw) + 1)))
            self.raw.append(raw)
        m = raw.measure
        voice = str(overlay + 1)
        self.measure_alts = {}
        _broken_rhythm(bar.items)
        tuplet_left, tuplet = -1, (1, 1)
        pos = last_onset = 0
        lead: list[tuple[int, Fraction]] = []
        own_label = trailing_label = None
        events: list[_Event] = []
        for letter, value in first_fields:
            self._field(letter, value, m, pos)
        if bar.forward or bar.ending:
            if bar.forward:
                m.forward = True
            self.ending = ending_numbers(bar.ending) if bar.ending else None
            if bar.ending:
                m.ending = self.ending
        current: Item | None = None
        try:
            for item in bar.items:
                current = item
                kind = item.kind
                if kind == "stem":
                    stem = item.stem
                    first = True
                    if trailing_label is not None:
                        own_label, trailing_label = own_label or trailing_label, None
                    for note, num, den in _stem_notes(stem):
                        if first and tuplet_left >= 0:
                            tuplet_left -= 1
                        length = self._divisions(num, den, stem.kind == "measure-rest")
                        check_note_length(length, DIVISIONS, m.number, self.label)  # placed
                        if tuplet_left >= 0:
                            length = length * tuplet[1] // tuplet[0]
                        pitch, alter = self._pitch(note, overlay) if note is not None else (None, 0)
                        self._tie(note, alter, overlay, stem if first else None)
                        onset = pos if first else last_onset
                        event = _Event(
                            onset, voice, pitch, length, bool(note and note.tie), not first
                        )
                        if first:
                            if lead and note is not None:
                                event.lead = lead
                            lead = []
                            last_onset = pos
                            pos += length
                        events.append(event)
                        first = False
                elif kind == "graces":
                    if trailing_label is not None:
                        own_label, trailing_label = own_label or trailing_label, None
                    for grace in item.graces:
                        for note, num, den in _stem_notes(grace):
                            if note is None:
                                continue
                            pitch, alter = self._pitch(note, overlay)
                            self._tie(note, alter, overlay, None)
                            if pitch is not None:
                                lead.append((pitch, _grace_quarters(num, den, self.unit)))
                elif kind == "tuplet":
                    p, q, r = item.value
                    if p:
                        if not q:
                            q = 3 if p in (2, 4, 8) else 2
                            if p in (5, 7, 9) and self._compound():
                                q = 3
                        tuplet, tuplet_left = (p, q), r or p
                elif kind == "field":
                    letter, value = item.value
                    if letter == "P":
                        trailing_label = value
                    self._field(letter, value, m, pos)
                elif kind == "text":
                    chord = chord_symbol(item.value)
                    if chord is not None:
                        m.harmonies.append((pos, chord_pitches(*chord)))
                elif kind == "deco":
                    name = str(item.value)
                    velocity = DYNAMICS.get(self.settings.symbols.get(name, name))
                    if velocity is not None:
                        m.dynamics.append((pos, velocity))
                elif kind == "junk":
                    self.unreadable += 1
                    if self.unreadable <= MAX_SYMBOL_WARNINGS:
                        line, column = self.place(item.start) if item.start >= 0 else (None, None)
                        message = f"cannot read {item.value!r}; skipped"
                        self.problems.append(Problem(message, line, column, f"bar {m.number}"))
        except ConversionError as err:
            raise self._located(err, current) from None
        if overlay and not any(e.pitch is not None for e in events):
            events, pos = [], 0  # an overlay of rests only is dropped, as abc2xml drops it
        raw.events.extend(events)
        raw.length = max(raw.length, pos)
        if not overlay:
            self.sections.append(own_label or self.section)
            self.section = trailing_label or own_label or self.section
        right = bar.right
        if ":" in right:
            m.backward = True
        if own_label is not None and not bar.ending:
            self.ending = None  # a new part closes an ending left open
        if self.ending is not None:
            m.ending = m.ending or self.ending
        if right and right != "|" and right != "&":  # a bar line with a style ends an ending
            self.ending = None

    def _located(self, err: ConversionError, item: Item | None) -> ConversionError:
        """``err`` with the line and column of the item it arose at, where it has none."""
        located = type(err) is ConversionError  # a time limit or a size limit stays as it is
        if located and err.line is None and item is not None and item.start >= 0:
            line, column = self.place(item.start)
            if line is not None:
                err = ConversionError(err.reason, err.where, line, column)
        return err

    def _compound(self) -> bool:
        """6/8, 9/8, 12/8 (and 6/4, ...): where (5, (7 and (9 take the time of three notes."""
        m = re.match(r"\s*(\d{1,6})\s*/", self.meter_text)
        return bool(m) and int(m.group(1)) % 3 == 0 and int(m.group(1)) > 3

    def _divisions(self, num: int, den: int, measure_rest: bool) -> int:
        if measure_rest:
            num, den = self.bar_length
        else:
            if den > MAX_LENGTH_DENOMINATOR:
                raise ConversionError(
                    f"a note of 1/{den if den < 10**9 else 'over 10^9'} of L: "
                    "(the shortest is 1/1024); absurd duration",
                    self.label,
                )
            num, den = _simplify(num * self.unit[0], den * self.unit[1])
            if den > 64:
                num, den = _simplify(max(round(64 * num / den), 1), 64)
        return (4 * DIVISIONS * num) // den

    def _pitch(self, note: WrittenNote, overlay: int) -> tuple[int | None, int]:
        """The note's MIDI pitch (None outside 0-127) and its alteration: carried by a tie,
        written, carried through the bar, or the key's."""
        step = note.step.upper()
        octave = (4 if step == note.step else 5) + note.octave + self.gtrans
        tied = self.ties.get((note.step, note.octave, overlay))
        # %%propagate-accidentals: in the same octave (the default), in every octave, or not
        held = (step, octave if self.propagate == "octave" else 0)
        keep = self.propagate != "not"
        if tied is not None:
            alter = tied
            if note.accidental and keep:
                self.measure_alts[held] = ALTER[note.accidental]
        elif note.accidental:
            alter = ALTER[note.accidental]
            if keep:
                self.measure_alts[held] = alter
        elif held in self.measure_alts:
            alter = self.measure_alts[held]
        else:
            alter = self.key_alts.get(step, 0)
        midi = 12 * (octave + 1) + STEP_SEMITONES[step] + alter + self.transpose + self.shift
        return (midi if 0 <= midi <= 127 else None), alter

    def _tie(self, note: WrittenNote | None, alter: int, overlay: int, chord: Stem | None) -> None:
        """Close the tie that ends on this note and open the one that starts on it. A note
        that starts a stem also closes the open ties it cannot continue (abc2xml makes them
        slurs): a rest closes them all."""
        if chord is not None:
            keep = {(n.step, n.octave, overlay) for n in chord.notes}
            for key in [k for k in self.ties if k[2] == overlay and k not in keep]:
                del self.ties[key]
        if note is None:
            return
        key = (note.step, note.octave, overlay)
        self.ties.pop(key, None)
        if note.tie:
            self.ties[key] = alter

    def _field(self, letter: str, value: str, m: Measure, pos: int) -> None:
        if not value:
            return
        if letter == "K":
            key, alts = read_key(value)
            if alts is not None:
                self.key_alts = alts
            if key is not None:
                m.key = key
            self._clef(value, m)
        elif letter == "M":
            meter, bar = read_meter(value)
            if value.strip() != "none":
                self.bar_length = bar
                self.meter_text = value
            if meter is not None:
                m.meter = meter
        elif letter == "L":
            self.unit = read_unit(value)
        elif letter == "Q":
            qpm = read_tempo(value, self.unit)
            if qpm is not None and 1 <= qpm <= 2000:
                m.tempos.append((pos, qpm))
        elif letter == "V":
            name = re.search(r'(?:name|nm)="([^"]*)"', value)
            if name and not self.name:
                self.name = name.group(1)
            self._clef(value, m)
        elif letter == "I" and _propagation(value):
            self.propagate = _propagation(value)
        elif letter == "I" and value.lower().startswith("midi"):
            program = re.search(r"program *(\d*) +(\d{1,3})\b", value)
            if program and self.program is None and int(program.group(2)) < 128:
                self.program = int(program.group(2))
            transpose = re.search(r"transpose[^-\d]*(-?\d+)", value)
            if transpose:
                self._transpose(transpose.group(1))
            if re.search(r"channel *10\b", value):
                self.percussion = True

    def _clef(self, value: str, m: Measure) -> None:
        value = re.sub(r'(?:name|nm|subname|snm|sname)="[^"]*"', "", value)
        clef = re.search(r"alto1|alto2|alto4|alto|tenor|bass3|bass|treble|perc|none|tab", value)
        if clef and clef.group() == "perc":
            self.percussion = True
        middle = re.search(r"(?:^m=| m=|middle=)([A-Ga-g])([,']*)", value)
        octave = re.search(r"octave=([-+]?\d)", value)
        transpose = re.search(r"(?:^t=| t=|transpose=)(-?[\d]+)", value)
        # ABC 2.2's sound=/shift= (abcm2ps, abc2midi): played from the first note to the second
        shift = re.search(r"(?:sound|shift)=([_^=]*[A-Ga-g][,']*)([_^=]*[A-Ga-g][,']*)", value)
        if shift:
            self.shift = _semitones(shift.group(2)) - _semitones(shift.group(1))
        octave_mark = re.search(r"([+-^_])(8|15)", value)
        gtrans = 0
        if middle:
            step, marks = middle.groups()
            number = (4 if step.upper() == step else 5) + (
                len(marks) if "'" in marks else -len(marks)
            )
            gtrans = (3 if step.upper() in "AFD" else 4) - number
        if clef or middle:
            self.gtrans = gtrans
            if octave_mark and octave_mark.group(1) in "+-" and clef:
                shift = (-1 if octave_mark.group(1) == "-" else 1) * (
                    2 if octave_mark.group(2) == "15" else 1
                )
                self.gtrans += shift
        if octave:
            self.gtrans = gtrans + int(octave.group(1))
        if transpose:
            self._transpose(transpose.group(1))

    def _transpose(self, text: str) -> None:
        semitones = int(text) if len(text) <= 6 else None
        self.transpose = check_transpose(semitones, text, self.label)


def _semitones(note: str) -> int:
    """A note written as in ABC ('^F', 'c', 'B,,') in semitones from middle C."""
    m = re.fullmatch(r"([_^=]*)([A-Ga-g])([,']*)", note)
    assert m is not None
    accidentals, letter, marks = m.groups()
    octave = (0 if letter.isupper() else 1) + marks.count("'") - marks.count(",")
    alter = accidentals.count("^") - accidentals.count("_")
    return 12 * octave + STEP_SEMITONES[letter.upper()] + alter


def _stem_notes(stem: Stem):
    """(note or None for a rest, length num, den) of each note of a stem, the first one
    first; a chord note's length is its own times the chord's."""
    if stem.kind in ("rest", "measure-rest"):
        yield None, stem.num, stem.den
        return
    for note in stem.notes:
        yield note, *_simplify(note.num * stem.num, note.den * stem.den)


def _simplify(a: int, b: int) -> tuple[int, int]:
    g = math.gcd(a, b) or 1
    return a // g, b // g


def _grace_quarters(num: int, den: int, unit: tuple[int, int]) -> Fraction:
    """A grace note's written length in quarter notes, as abc2xml writes its type: never
    longer than an eighth."""
    num, den = _simplify(num * unit[0], den * unit[1])
    if den > 64:
        num, den = _simplify(max(round(64 * num / den), 1), 64)
    num, den = _simplify(num, den * 4)
    dots = 0
    if num == 3:
        dots, den = 1, den // 2
    elif num == 7:
        dots, den = 2, den // 4
    if den <= 16:
        den = 32
    if den not in NOTE_TYPES:
        larger = [d for d in NOTE_TYPES if d > den]
        den = min(larger) if larger else 256
    quarters = Fraction(16, den)
    return quarters * (1 + Fraction(dots > 0, 2) + Fraction(dots == 2, 4))


def _broken_rhythm(items: list[Item]) -> None:
    """'A>B': the first note 3/2 of its length, the second 1/2; n signs 2 - 1/2^n and 1/2^n;
    grace notes stepped over; a note that ends a pair does not start another."""
    prev: Stem | None = None
    sign = ""
    for item in items:
        if item.kind == "stem":
            if sign:
                if prev is not None:
                    n = len(sign)
                    den = 2**n
                    a, b = (2 * den - 1, 1) if sign[0] == ">" else (1, 2 * den - 1)
                    prev.num, prev.den = _simplify(a * prev.num, den * prev.den)
                    second = item.stem
                    second.num, second.den = _simplify(b * second.num, den * second.den)
                sign, prev = "", None
            else:
                prev = item.stem
        elif item.kind == "broken":
            sign = str(item.value)
