"""Play out a MusicXML score: repeats and endings expanded, ties merged, graces given time.

The input is the partwise MusicXML that abc2xml writes (see :mod:`abcmidi_bgpt.formats.musicxml`); the
output is a :class:`~abcmidi_bgpt.core.performance.Performance`. Times are kept as integers in
"units" (a fixed number per quarter note, a multiple of every ``<divisions>`` in the score) so
that playback is exact and fast; they become Fractions of a beat only at the end.

Conventions, chosen to agree with abc2midi where the ABC standard leaves room (for repeats and
endings see :mod:`abcmidi_bgpt.symbolic.abc_to_midi.play_order`):
- Grace notes take a quarter of their written length each, from the note they lead into
  (abc2midi's default), never more than half of that note.

Why one module of over 400 lines: it is one pass over abc2xml's MusicXML (measures, notes,
attributes, directions, ties, graces, chord symbols); the play order is in
:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.play_order`.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import (
    DEFAULT_VELOCITY,
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
)
from abcmidi_bgpt.symbolic.abc_to_midi.play_order import (
    ordered_by_parts,
    repeat_warnings,
)

MAX_NOTE_BEATS = 256  # longer notes are taken as typos ("A99999")
MAX_PIECE_BEATS = 200_000  # about 20 hours at 160 beats a minute
# A reel at the 32 KiB limit for a tune plays about 45,000 notes with its repeats; endings such
# as [1-99 or a long P: order could otherwise multiply a small tune into more notes than
# memory holds (180,000 took 16 s to play out and write on a busy machine).
MAX_PLAYED_NOTES = 200_000
MAX_TRANSPOSE = 127  # semitones: any more moves every note off the MIDI keyboard
# MIDI stores a tempo as microseconds a quarter note in 24 bits: slower than this cannot be
# written. A Q: between 1 and this is raised to it, with a warning.
MIN_QPM = 60_000_000 / 0xFFFFFF  # 3.58 quarter notes a minute

_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_TYPE_QUARTERS = {
    "maxima": 32,
    "long": 16,
    "breve": 8,
    "whole": 4,
    "half": 2,
    "quarter": 1,
    "eighth": Fraction(1, 2),
    "16th": Fraction(1, 4),
    "32nd": Fraction(1, 8),
    "64th": Fraction(1, 16),
    "128th": Fraction(1, 32),
}
_DYNAMICS = {
    "pppp": 20,
    "ppp": 30,
    "pp": 45,
    "p": 60,
    "mp": 70,
    "mf": 80,
    "f": 95,
    "ff": 110,
    "fff": 120,
    "ffff": 127,
}
_MINOR_MODES = {"minor", "aeolian", "dorian", "phrygian", "locrian"}
# Chord-symbol kinds (MusicXML <kind>) as semitones above the root.
CHORD_INTERVALS = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "augmented": (0, 4, 8),
    "diminished": (0, 3, 6),
    "dominant": (0, 4, 7, 10),
    "major-seventh": (0, 4, 7, 11),
    "minor-seventh": (0, 3, 7, 10),
    "diminished-seventh": (0, 3, 6, 9),
    "augmented-seventh": (0, 4, 8, 10),
    "half-diminished": (0, 3, 6, 10),
    "major-minor": (0, 3, 7, 11),
    "major-sixth": (0, 4, 7, 9),
    "minor-sixth": (0, 3, 7, 9),
    "dominant-ninth": (0, 4, 7, 10, 14),
    "major-ninth": (0, 4, 7, 11, 14),
    "minor-ninth": (0, 3, 7, 10, 14),
    "suspended-second": (0, 2, 7),
    "suspended-fourth": (0, 5, 7),
    "power": (0, 7),
}


@dataclass(slots=True)
class _NoteEvent:
    pos: int  # units from the start of the measure
    voice: str
    pitch: int
    duration: int
    tie: bool  # a tie starts here
    grace: bool = False


@dataclass(slots=True)
class _Measure:
    number: str
    length: int = 0
    notes: list[_NoteEvent] = field(default_factory=list)
    tempos: list[tuple[int, float]] = field(default_factory=list)
    dynamics: list[tuple[int, int]] = field(default_factory=list)
    harmonies: list[tuple[int, tuple[int, ...] | None]] = field(default_factory=list)
    meter: tuple[int, int] | None = None
    key: tuple[int, bool] | None = None
    forward: bool = False
    backward: bool = False
    ending: frozenset[int] | None = None


@dataclass(slots=True)
class PlaybackResult:
    performance: Performance
    warnings: list[str]


def perform(
    root: ET.Element, chords: bool = False, part_order: str = "", label: str = ""
) -> PlaybackResult:
    """Play out a ``score-partwise`` element.

    With ``chords``, chord symbols become an accompaniment voice (block chords held until the
    next symbol); otherwise they are annotations and make no sound. ``part_order`` is the
    tune header's ``P:`` field ("AABB", "(AB)2C"): the sections marked with those letters in
    the body are played in that order, each with its own repeats.
    """
    where = label
    if root.tag != "score-partwise":
        raise ConversionError(f"not a partwise MusicXML score ({root.tag})", where)
    upq = _units_per_quarter(root)
    part_info = {sp.get("id"): sp for sp in root.iter("score-part")}
    parts = root.findall("part")
    read = [_read_part(p, upq, where) for p in parts]
    if not any(m.notes for measures in read for m in measures):
        raise ConversionError("the tune has no notes", where)

    # Parts written from one ABC tune share their bar structure: align them bar by bar so a
    # short bar in one voice does not shift the others.
    if len({len(ms) for ms in read}) == 1 and len(read) > 1:
        for i in range(len(read[0])):
            longest = max(ms[i].length for ms in read)
            for ms in read:
                ms[i].length = longest
    warnings: list[str] = []
    perf = Performance(
        title=(root.findtext("work/work-title") or root.findtext("movement-title") or "").strip()
    )
    voice_of: dict[tuple[int, str], Voice] = {}
    chord_events: list[tuple[int, tuple[int, ...] | None]] = []
    end_units = played_notes = 0
    sections = _section_labels(parts[0]) if part_order else []
    for pi, (part, measures) in enumerate(zip(parts, read, strict=True)):
        order = ordered_by_parts(measures, sections, part_order, where)
        if pi == 0:
            warnings += _bar_length_warnings(measures, upq) + repeat_warnings(measures)
        name, program = _part_name_and_program(part_info.get(part.get("id")))
        notes_by_voice: dict[str, list[tuple[int, int, int, int, bool]]] = {}
        velocity, t = DEFAULT_VELOCITY, 0
        meter = key = None
        for mi in order:
            m = measures[mi]
            if pi == 0:
                if m.meter and m.meter != meter:
                    meter = m.meter
                    perf.meters.append(MeterChange(Fraction(t, upq), *meter))
                if m.key and m.key != key:
                    key = m.key
                    perf.keys.append(KeyChange(Fraction(t, upq), *key))
            for pos, qpm in m.tempos:
                if qpm < MIN_QPM:
                    slow = _slow_tempo_warning(qpm)
                    warnings += [] if slow in warnings else [slow]
                    qpm = MIN_QPM
                perf.tempos.append(TempoChange(Fraction(t + pos, upq), qpm))
            played_notes += len(m.notes)
            if played_notes > MAX_PLAYED_NOTES:
                raise ConversionError(
                    f"the tune plays over {MAX_PLAYED_NOTES:,} notes with its repeats", where
                )
            dyn = iter(m.dynamics)
            next_dyn = next(dyn, None)
            for ev in m.notes:
                while next_dyn is not None and next_dyn[0] <= ev.pos:
                    velocity = next_dyn[1]
                    next_dyn = next(dyn, None)
                notes_by_voice.setdefault(ev.voice, []).append(
                    (t + ev.pos, ev.pitch, ev.duration, velocity, ev.tie)
                )
            for pos, pitches in m.harmonies:
                chord_events.append((t + pos, pitches))
            t += m.length
            if t > MAX_PIECE_BEATS * upq:
                raise ConversionError(f"the tune plays for over {MAX_PIECE_BEATS} beats", where)
        end_units = max(end_units, t)
        for vid, events in notes_by_voice.items():
            voice = Voice(name=name, program=program)
            voice.notes = _merge_ties(events, upq, len(voice_of))
            voice_of[(pi, vid)] = voice
    perf.voices = [v for v in voice_of.values() if v.notes]
    if chords and chord_events:
        perf.voices.append(_chord_voice(chord_events, end_units, upq, len(perf.voices)))
    for i, v in enumerate(perf.voices):
        v.channel = i if i < 9 else min(i + 1, 15)  # channel 9 is for drums
    perf.tempos = _dedupe_tempos(perf.tempos)
    if not perf.voices:
        raise ConversionError("the tune has no notes", where)
    return PlaybackResult(perf, warnings)


def _slow_tempo_warning(qpm: float) -> str:
    return (
        f"tempo of {qpm:g} quarter notes a minute raised to {MIN_QPM:.2f}, "
        "the slowest a MIDI file can hold"
    )


def _units_per_quarter(root: ET.Element) -> int:
    """A units-per-quarter value that every <divisions> divides, times 16 so that grace notes
    (a quarter of a written 16th or 32nd) still land on whole units."""
    values = {int(d.text) for d in root.iter("divisions") if d.text and d.text.strip().isdigit()}
    return math.lcm(*(v for v in values if v > 0)) * 16


def _read_part(part: ET.Element, upq: int, where: str) -> list[_Measure]:
    measures: list[_Measure] = []
    divisions = upq // 16
    transpose = 0
    ending: frozenset[int] | None = None
    for mel in part.iter("measure"):
        m = _Measure(mel.get("number", ""))
        pos = last_onset = longest = 0
        graces: dict[str, list[tuple[int, Fraction]]] = {}  # voice -> (pitch, written quarters)
        shift: dict[str, int] = {}  # voice -> time taken by the graces before its current chord
        scale = upq // divisions
        for el in mel:
            tag = el.tag
            if tag == "note":
                voice = el.findtext("voice") or "1"
                in_chord = el.find("chord") is not None
                pitch = _pitch(el, transpose)
                if el.find("grace") is not None:
                    if pitch is not None:
                        graces.setdefault(voice, []).append((pitch, _written_quarters(el)))
                    continue
                duration = _int(el.findtext("duration"), where, "duration") * scale
                if duration > MAX_NOTE_BEATS * upq:
                    beats = duration // upq
                    shown = f"{beats}" if beats < 10**12 else "over 10^12"  # 'A' + 4000 digits
                    raise ConversionError(
                        f"bar {m.number}: a note of {shown} beats "
                        f"(the limit is {MAX_NOTE_BEATS}); absurd duration",
                        where,
                    )
                onset = last_onset if in_chord else pos
                is_rest = el.find("rest") is not None or pitch is None
                if not in_chord:
                    shift[voice] = 0
                    lead = graces.pop(voice, None)
                    if lead and not is_rest:
                        shift[voice] = _place_graces(m, lead, onset, duration, voice, upq)
                if not is_rest and el.find("cue") is None:
                    taken = shift.get(voice, 0)
                    tie = any(t.get("type") == "start" for t in el.iter("tie"))
                    m.notes.append(_NoteEvent(onset + taken, voice, pitch, duration - taken, tie))
                if not in_chord:
                    last_onset = pos
                    pos += duration
                    longest = max(longest, pos)
            elif tag == "backup":
                pos -= _int(el.findtext("duration"), where, "backup") * scale
            elif tag == "forward":
                pos += _int(el.findtext("duration"), where, "forward") * scale
                longest = max(longest, pos)
            elif tag == "attributes":
                d = el.findtext("divisions")
                if d and d.strip().isdigit() and int(d) > 0:
                    divisions = int(d)
                    scale = upq // divisions
                transpose = _read_attributes(el, m, transpose, where)
            elif tag == "direction":
                _read_direction(el, m, pos, scale)
            elif tag == "harmony":
                offset = _int(el.findtext("offset") or "0", where, "offset") * scale
                m.harmonies.append((pos + offset, _harmony_pitches(el)))
            elif tag == "barline":
                ending = _read_barline(el, m, ending)
            elif tag == "sound":
                _read_sound(el, m, pos)
        m.length = max(longest, 0)
        if m.ending is None and ending is not None:
            m.ending = ending  # a measure inside a multi-bar ending
        m.notes.sort(key=lambda e: (e.pos, e.pitch))
        m.dynamics.sort(key=lambda d: d[0])
        measures.append(m)
    return measures


def _int(text: str | None, where: str, what: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ConversionError(f"bad MusicXML {what}: {text!r}", where) from None


def _pitch(note: ET.Element, transpose: int) -> int | None:
    p = note.find("pitch")
    if p is None:
        return None
    alter = p.findtext("alter")
    semis = round(float(alter)) if alter else 0
    midi = 12 * (int(p.findtext("octave")) + 1) + _STEP[p.findtext("step")] + semis + transpose
    return midi if 0 <= midi <= 127 else None


def _written_quarters(note: ET.Element) -> Fraction:
    value = Fraction(_TYPE_QUARTERS.get(note.findtext("type") or "eighth", Fraction(1, 2)))
    dot = value
    for _ in note.iter("dot"):
        dot /= 2
        value += dot
    return value


def _place_graces(m: _Measure, lead, onset: int, duration: int, voice: str, upq: int) -> int:
    """Put grace notes before the note at ``onset``; return the time they take from it."""
    lengths = [max(1, int(q * upq / 4)) for _, q in lead]
    total = sum(lengths)
    if total > duration // 2:  # never more than half the main note
        each = max(1, (duration // 2) // len(lead))
        lengths = [each] * len(lead)
        total = each * len(lead)
        if total >= duration:
            return 0  # no room at all: drop the graces
    t = onset
    for (pitch, _), length in zip(lead, lengths, strict=True):
        m.notes.append(_NoteEvent(t, voice, pitch, length, False, grace=True))
        t += length
    return total


def _read_attributes(el: ET.Element, m: _Measure, transpose: int, where: str = "") -> int:
    key = el.find("key")
    if key is not None and key.findtext("fifths") is not None:
        fifths = max(-7, min(7, int(key.findtext("fifths"))))
        m.key = (fifths, (key.findtext("mode") or "major") in _MINOR_MODES)
    time = el.find("time")
    if time is not None and time.find("senza-misura") is None:
        beats, beat_type = time.findtext("beats"), time.findtext("beat-type")
        try:
            numerator = sum(int(b) for b in beats.split("+"))
            denominator = int(beat_type)
        except (AttributeError, ValueError):
            pass
        else:
            if denominator > 0 and denominator & (denominator - 1) == 0 and 0 < numerator < 256:
                m.meter = (numerator, denominator)
    tr = el.find("transpose")
    if tr is not None:
        chromatic = _small_int(tr.findtext("chromatic") or "0")
        octaves = _small_int(tr.findtext("octave-change") or "0")
        if chromatic is None or octaves is None or abs(chromatic + 12 * octaves) > MAX_TRANSPOSE:
            shown = (tr.findtext("chromatic") or "0").strip()[:20]
            raise ConversionError(
                f"transposition by {shown} semitones is out of range "
                f"(at most {MAX_TRANSPOSE} either way)",
                where,
            )
        transpose = chromatic + 12 * octaves
    return transpose


def _small_int(text: str, digits: int = 6) -> int | None:
    """An integer of at most ``digits`` digits, None for anything else (Python refuses to
    read integers of over 4,300 digits with an error of its own)."""
    text = text.strip()
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isdigit() and len(body) <= digits else None


def _read_direction(el: ET.Element, m: _Measure, pos: int, scale: int) -> None:
    offset = el.findtext("offset")
    if offset and offset.strip().lstrip("-").isdigit():
        pos += int(offset) * scale
    sound = el.find("sound")
    if sound is not None:
        _read_sound(sound, m, pos)
    for dyn in el.iter("dynamics"):
        for mark in dyn:
            if mark.tag in _DYNAMICS:
                m.dynamics.append((pos, _DYNAMICS[mark.tag]))


def _read_sound(sound: ET.Element, m: _Measure, pos: int) -> None:
    try:
        qpm = float(sound.get("tempo", ""))
    except ValueError:
        return
    if 1 <= qpm <= 2000:
        m.tempos.append((pos, qpm))


def _read_barline(el: ET.Element, m: _Measure, ending: frozenset[int] | None):
    """Note repeat signs and endings on the measure; return the ending still open after it."""
    rep = el.find("repeat")
    if rep is not None:
        if rep.get("direction") == "forward":
            m.forward = True
        elif rep.get("direction") == "backward":
            m.backward = True
    end = el.find("ending")
    if end is not None:
        kind = end.get("type")
        numbers = _ending_numbers(end.get("number", ""))
        if kind == "start":
            ending = numbers
            m.ending = numbers
        elif kind in ("stop", "discontinue"):
            m.ending = m.ending or ending or numbers
            ending = None
    return ending


def _ending_numbers(text: str) -> frozenset[int]:
    """'1', '1,3', '1-3', '1 2' -> the passes an ending is played on."""
    numbers: set[int] = set()
    for part in text.replace(" ", ",").split(","):
        if "-" in part:
            lo, _, hi = part.partition("-")
            first, last = _unsigned_int(lo), _unsigned_int(hi)
            if first is not None and last is not None and last - first < 100:
                numbers.update(range(first, last + 1))
        elif (number := _unsigned_int(part)) is not None:
            numbers.add(number)
    return frozenset(numbers) or frozenset({1})


def _unsigned_int(text: str) -> int | None:
    """Plain ASCII digits, at most six of them (a seven-digit ending number is no ending)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _section_labels(part: ET.Element) -> list[str]:
    """For each measure, the part letter (rehearsal mark) it belongs to, '' before the first.

    A mark after the last note of a measure (``A2 [P:B]|``) starts the next measure."""
    labels, current = [], ""
    for mel in part.iter("measure"):
        own = trailing = None
        for el in mel:
            if el.tag == "direction":
                mark = el.find("direction-type/rehearsal")
                if mark is not None and (mark.text or "").strip():
                    trailing = mark.text.strip()
            elif el.tag == "note" and trailing is not None:
                own = own or trailing
                trailing = None
        labels.append(own or current)
        current = trailing or own or current
    return labels


def _merge_ties(events, upq: int, voice_index: int) -> list[Note]:
    """Join tied notes: a note whose tie starts joins the next note of the same pitch that
    begins where it ends (also across a repeat or into an ending)."""
    events.sort(key=lambda e: (e[0], e[1]))
    merged: list[list] = []  # [onset, pitch, duration, velocity, tie]
    open_tie: dict[int, list] = {}  # pitch -> the note waiting for its continuation
    for onset, pitch, duration, velocity, tie in events:
        held = open_tie.pop(pitch, None)
        if held is not None and held[0] + held[2] == onset:
            held[2] += duration
            if tie:
                open_tie[pitch] = held
            continue
        note = [onset, pitch, duration, velocity, tie]
        merged.append(note)
        if tie:
            open_tie[pitch] = note
    return [Note(Fraction(o, upq), p, Fraction(d, upq), v, voice_index) for o, p, d, v, _ in merged]


def _harmony_pitches(el: ET.Element) -> tuple[int, ...] | None:
    kind = (el.findtext("kind") or "major").strip()
    step = el.findtext("root/root-step")
    if kind == "none" or step not in _STEP:
        return None  # N.C.
    root = _STEP[step] + round(float(el.findtext("root/root-alter") or 0))
    pitches = [48 + (root % 12) + iv for iv in CHORD_INTERVALS.get(kind, (0, 4, 7))]
    bass = el.findtext("bass/bass-step")
    if bass in _STEP:
        pitches.insert(
            0, 36 + (_STEP[bass] + round(float(el.findtext("bass/bass-alter") or 0))) % 12
        )
    return tuple(pitches)


def _chord_voice(events, end: int, upq: int, index: int) -> Voice:
    events = sorted(events, key=lambda e: e[0])
    notes = []
    for k, (onset, pitches) in enumerate(events):
        stop = events[k + 1][0] if k + 1 < len(events) else end
        if pitches and stop > onset:
            for p in pitches:
                notes.append(Note(Fraction(onset, upq), p, Fraction(stop - onset, upq), 64, index))
    return Voice(sorted(notes), name="Chords", program=None)


def _part_name_and_program(score_part: ET.Element | None) -> tuple[str, int | None]:
    if score_part is None:
        return "", None
    name = (score_part.findtext("part-name") or "").strip()
    prog = score_part.findtext("midi-instrument/midi-program")
    program = int(prog) - 1 if prog and prog.strip().isdigit() and 1 <= int(prog) <= 128 else None
    return name, program


def _bar_length_warnings(measures: list[_Measure], upq: int) -> list[str]:
    """Bars whose length differs from the meter, pickups and bars next to repeat signs or
    endings excepted (they often complete each other)."""
    bad = []
    meter = None
    for i, m in enumerate(measures):
        meter = m.meter or meter
        if meter is None or i == 0 or i == len(measures) - 1 or not m.length:
            continue
        if m.forward or m.backward or m.ending or measures[i - 1].backward:
            continue
        if i + 1 < len(measures) and (measures[i + 1].forward or measures[i + 1].ending):
            continue
        if m.length * meter[1] != upq * 4 * meter[0]:
            bad.append(m.number)
    if not bad:
        return []
    shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
    return [f"{len(bad)} bar(s) differ from the meter (bar {shown})"]


def _dedupe_tempos(tempos: list[TempoChange]) -> list[TempoChange]:
    out: list[TempoChange] = []
    for t in sorted(tempos, key=lambda t: t.onset):
        if out and out[-1].onset == t.onset:
            out[-1] = t
        elif not out or out[-1].qpm != t.qpm:
            out.append(t)
    return out
