"""Read abc2xml's MusicXML into a score (:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.score`) and
play it out: the ABC -> MusicXML -> MIDI path (see :mod:`abcmidi_bgpt.formats.musicxml`).

Grace notes take a quarter of their written length each, from the note they lead into
(abc2midi's default), never more than half of that note.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.fields import ending_numbers
from abcmidi_bgpt.symbolic.abc_to_midi.playback import PlaybackResult, play
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
_MINOR_MODES = {"minor", "aeolian", "dorian", "phrygian", "locrian"}


def perform(
    root: ET.Element, chords: bool = False, part_order: str = "", label: str = ""
) -> PlaybackResult:
    """Play out a ``score-partwise`` element (see :func:`~abcmidi_bgpt.symbolic.abc_to_midi.playback.play`)."""
    if root.tag != "score-partwise":
        raise ConversionError(f"not a partwise MusicXML score ({root.tag})", label)
    upq = _units_per_quarter(root)
    part_info = {sp.get("id"): sp for sp in root.iter("score-part")}
    xml_parts = root.findall("part")
    parts = []
    for xml_part in xml_parts:
        name, program = _part_name_and_program(part_info.get(xml_part.get("id")))
        parts.append(Part(_read_part(xml_part, upq, label), name, program))
    if not any(m.notes for part in parts for m in part.measures):
        raise ConversionError("the tune has no notes", label)
    sections = _section_labels(xml_parts[0]) if part_order else []
    title = (root.findtext("work/work-title") or root.findtext("movement-title") or "").strip()
    return play(parts, upq, chords, part_order, sections, title, label)


def _units_per_quarter(root: ET.Element) -> int:
    """A units-per-quarter value that every <divisions> divides, times 16 so that grace notes
    (a quarter of a written 16th or 32nd) still land on whole units."""
    values = {int(d.text) for d in root.iter("divisions") if d.text and d.text.strip().isdigit()}
    return math.lcm(*(v for v in values if v > 0)) * 16


def _read_part(part: ET.Element, upq: int, where: str) -> list[Measure]:
    measures: list[Measure] = []
    divisions = upq // 16
    transpose = 0
    ending: frozenset[int] | None = None
    for mel in part.iter("measure"):
        m = Measure(mel.get("number", ""))
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
                check_note_length(duration, upq, m.number, where)
                onset = last_onset if in_chord else pos
                is_rest = el.find("rest") is not None or pitch is None
                if not in_chord:
                    shift[voice] = 0
                    lead = graces.pop(voice, None)
                    if lead and not is_rest:
                        shift[voice] = place_graces(m, lead, onset, duration, voice, upq)
                if not is_rest and el.find("cue") is None:
                    taken = shift.get(voice, 0)
                    tie = any(t.get("type") == "start" for t in el.iter("tie"))
                    m.notes.append(NoteEvent(onset + taken, voice, pitch, duration - taken, tie))
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


def _read_attributes(el: ET.Element, m: Measure, transpose: int, where: str = "") -> int:
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
        total = None if chromatic is None or octaves is None else chromatic + 12 * octaves
        transpose = check_transpose(total, tr.findtext("chromatic") or "0", where)
    return transpose


def _small_int(text: str, digits: int = 6) -> int | None:
    """An integer of at most ``digits`` digits, None for anything else (Python refuses to
    read integers of over 4,300 digits with an error of its own)."""
    text = text.strip()
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isdigit() and len(body) <= digits else None


def _read_direction(el: ET.Element, m: Measure, pos: int, scale: int) -> None:
    offset = el.findtext("offset")
    if offset and offset.strip().lstrip("-").isdigit():
        pos += int(offset) * scale
    sound = el.find("sound")
    if sound is not None:
        _read_sound(sound, m, pos)
    for dyn in el.iter("dynamics"):
        for mark in dyn:
            if mark.tag in DYNAMICS:
                m.dynamics.append((pos, DYNAMICS[mark.tag]))


def _read_sound(sound: ET.Element, m: Measure, pos: int) -> None:
    try:
        qpm = float(sound.get("tempo", ""))
    except ValueError:
        return
    if 1 <= qpm <= 2000:
        m.tempos.append((pos, qpm))


def _read_barline(el: ET.Element, m: Measure, ending: frozenset[int] | None):
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
        numbers = ending_numbers(end.get("number", ""))
        if kind == "start":
            ending = numbers
            m.ending = numbers
        elif kind in ("stop", "discontinue"):
            m.ending = m.ending or ending or numbers
            ending = None
    return ending


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


def _harmony_pitches(el: ET.Element) -> tuple[int, ...] | None:
    kind = (el.findtext("kind") or "major").strip()
    step = el.findtext("root/root-step")
    if kind == "none" or step not in _STEP:
        return None  # N.C.
    root = _STEP[step] + round(float(el.findtext("root/root-alter") or 0))
    bass_step = el.findtext("bass/bass-step")
    bass = None
    if bass_step in _STEP:
        bass = _STEP[bass_step] + round(float(el.findtext("bass/bass-alter") or 0))
    return chord_pitches(root, kind, bass)


def _part_name_and_program(score_part: ET.Element | None) -> tuple[str, int | None]:
    if score_part is None:
        return "", None
    name = (score_part.findtext("part-name") or "").strip()
    prog = score_part.findtext("midi-instrument/midi-program")
    program = int(prog) - 1 if prog and prog.strip().isdigit() and 1 <= int(prog) <= 128 else None
    return name, program
