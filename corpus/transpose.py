"""Transposing a MusicXML score (as abc2xml writes it) by an interval, spelled by key.

Written by hand on the ElementTree because music21's ``Score.transpose`` plus MusicXML export
costs over 100 ms per tune, while the corpus transposes ~10^5 tunes; this edits the few elements
that carry pitch in ~1 ms: note pitches and their written accidentals, key signatures (also the
non-traditional ``key-step``/``key-alter`` form), and chord-symbol roots and basses.

An interval is a number of diatonic steps and of semitones, so spelling follows the key: moving
from G major (one sharp) up a fourth gives C major, and every F# in the tune becomes a B. A shift
of a number of semitones is spelled so that the new key signature has the fewest accidentals.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from abcmidi_bgpt.core.errors import ConversionError

STEPS = "CDEFGAB"
NATURAL_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
ACCIDENTAL_NAMES = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}
SHIFTS = tuple(s for s in range(-5, 7) if s != 0)  # the eleven other keys, within a tritone


class TranspositionError(ConversionError):
    """A score that cannot be transposed as asked (microtones, triple accidentals, range)."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A transposition: diatonic steps (letter names) and semitones, both signed."""

    steps: int
    semitones: int

    @classmethod
    def from_fifths(cls, fifths: int, semitones: int) -> Interval:
        """The interval that moves a key signature by ``fifths`` and pitches by ``semitones``
        (which must agree with it modulo an octave)."""
        if (7 * fifths - semitones) % 12:
            raise ValueError(f"{fifths} fifths is not a shift of {semitones} semitones")
        steps, semis = 4 * fifths, 7 * fifths  # a fifth is 4 steps and 7 semitones
        octaves = steps // 7
        steps, semis = steps - 7 * octaves, semis - 12 * octaves
        octaves = (semitones - semis) // 12
        return cls(steps + 7 * octaves, semis + 12 * octaves)

    def pitch(self, step: str, alter: int, octave: int) -> tuple[str, int, int]:
        """(step, alter, octave) of a pitch moved by this interval."""
        index = STEPS.index(step)
        midi = 12 * (octave + 1) + NATURAL_SEMITONES[index] + alter + self.semitones
        moved = octave * 7 + index + self.steps
        new_index, new_octave = moved % 7, moved // 7
        new_alter = midi - 12 * (new_octave + 1) - NATURAL_SEMITONES[new_index]
        return STEPS[new_index], new_alter, new_octave


def key_fifths(root: ET.Element) -> int:
    """The first key signature of the score in fifths (sharps positive); 0 when none."""
    text = root.findtext(".//attributes/key/fifths")
    return int(text) if text and text.strip().lstrip("-").isdigit() else 0


def shift_interval(fifths: int, semitones: int) -> Interval:
    """The spelling of a shift by ``semitones`` from a key of ``fifths`` that gives the new key
    the fewest accidentals (flats on a tie: E flat minor rather than D sharp minor)."""
    base = (7 * semitones) % 12  # the fifths change is this, modulo 12
    change = min((base, base - 12), key=lambda d: (abs(fifths + d), fifths + d > 0))
    return Interval.from_fifths(change, semitones)


def transpose_score(root: ET.Element, interval: Interval) -> ET.Element:
    """A transposed copy of a MusicXML ``score-partwise`` tree; ``root`` is left as it is."""
    score = copy.deepcopy(root)
    if interval.semitones == 0 and interval.steps == 0:
        return score
    fifths_change = _fifths_change(interval)
    for key in score.iter("key"):
        fifths = key.find("fifths")
        if fifths is not None:
            fifths.text = str(int(fifths.text) + fifths_change)
            if abs(int(fifths.text)) > 7:
                raise TranspositionError(f"key signature of {fifths.text} fifths")
        _transpose_key_steps(key, interval)
    for note in score.iter("note"):
        pitch = note.find("pitch")
        if pitch is not None:
            _transpose_note(note, pitch, interval)
    for harmony in score.iter("harmony"):
        for part in ("root", "bass"):
            _transpose_named(harmony.find(part), f"{part}-step", f"{part}-alter", interval)
    return score


def _fifths_change(interval: Interval) -> int:
    """Fifths that an interval moves a key signature by: C moved by it, read as a key."""
    step, alter, _ = interval.pitch("C", 0, 4)
    # A key's tonic at fifths f: F=-1, C=0, G=1 ... plus 7 per sharp in the tonic's alteration.
    return {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}[step] + 7 * alter


def _read_pitch(pitch: ET.Element) -> tuple[str, int, int]:
    step = (pitch.findtext("step") or "").strip()
    alter_text = (pitch.findtext("alter") or "0").strip()
    try:
        alter = float(alter_text)
        octave = int(pitch.findtext("octave") or "")
    except ValueError:
        raise TranspositionError(f"unreadable pitch {step}{alter_text}") from None
    if step not in STEPS or alter != int(alter):
        raise TranspositionError(f"cannot transpose the pitch {step} alter {alter_text}")
    return step, int(alter), octave


def _transpose_note(note: ET.Element, pitch: ET.Element, interval: Interval) -> None:
    step, alter, octave = interval.pitch(*_read_pitch(pitch))
    midi = 12 * (octave + 1) + NATURAL_SEMITONES[STEPS.index(step)] + alter
    if not 0 <= midi <= 127:
        raise TranspositionError(f"a note would fall outside the MIDI range ({midi})")
    if abs(alter) > 2:
        raise TranspositionError(f"{step} would need a triple accidental")
    pitch.find("step").text = step
    pitch.find("octave").text = str(octave)
    _set_alter(pitch, "alter", alter, index=1)
    accidental = note.find("accidental")
    if accidental is not None:
        # xml2abc writes the notated accidental over the sounding one, so it moves too.
        accidental.text = ACCIDENTAL_NAMES[alter]


def _transpose_named(element: ET.Element | None, step_tag: str, alter_tag: str, interval) -> None:
    """A pitch class without octave (chord root or bass)."""
    if element is None or element.find(step_tag) is None:
        return
    step = (element.findtext(step_tag) or "").strip()
    try:
        alter = int(float(element.findtext(alter_tag) or "0"))
    except ValueError:
        raise TranspositionError(f"unreadable {alter_tag}") from None
    if step not in STEPS:
        raise TranspositionError(f"unreadable {step_tag} {step!r}")
    new_step, new_alter, _ = interval.pitch(step, alter, 4)
    element.find(step_tag).text = new_step
    index = list(element).index(element.find(step_tag)) + 1
    _set_alter(element, alter_tag, new_alter, index)


def _transpose_key_steps(key: ET.Element, interval: Interval) -> None:
    """Non-traditional keys (``K:D exp ^f _b``): pairs of key-step and key-alter."""
    children = list(key)
    for i, child in enumerate(children):
        if child.tag != "key-step":
            continue
        alter_el = children[i + 1] if i + 1 < len(children) else None
        has_alter = alter_el is not None and alter_el.tag == "key-alter"
        alter = int(float(alter_el.text)) if has_alter else 0
        step, new_alter, _ = interval.pitch(child.text.strip(), alter, 4)
        child.text = step
        if has_alter:
            alter_el.text = str(new_alter)
        else:
            new = ET.Element("key-alter")
            new.text = str(new_alter)
            key.insert(list(key).index(child) + 1, new)


def _set_alter(parent: ET.Element, tag: str, alter: int, index: int) -> None:
    element = parent.find(tag)
    if alter == 0:
        if element is not None:
            parent.remove(element)
        return
    if element is None:
        element = ET.Element(tag)
        parent.insert(index, element)
    element.text = str(alter)
