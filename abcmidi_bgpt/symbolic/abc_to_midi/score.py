"""A score as a reader hands it to playback: parts of measures, each measure with its notes at
integer positions ("units", a fixed number per quarter note), its repeat marks and endings, and
the tempo, dynamics, meter, key and chord symbols in it. Both ABC readers (the native one and
the MusicXML one behind abc2xml) produce this, so they play out by one set of rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from abcmidi_bgpt.core.errors import ConversionError

MAX_NOTE_BEATS = 256  # longer notes are taken as typos ("A99999")
MAX_TRANSPOSE = 127  # semitones: any more moves every note off the MIDI keyboard

# Dynamics marks as MIDI velocities.
DYNAMICS = {
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
class NoteEvent:
    pos: int  # units from the start of the measure
    voice: str
    pitch: int
    duration: int
    tie: bool  # a tie starts here
    grace: bool = False


@dataclass(slots=True)
class Measure:
    number: str
    length: int = 0
    notes: list[NoteEvent] = field(default_factory=list)
    tempos: list[tuple[int, float]] = field(default_factory=list)
    dynamics: list[tuple[int, int]] = field(default_factory=list)
    harmonies: list[tuple[int, tuple[int, ...] | None]] = field(default_factory=list)
    meter: tuple[int, int] | None = None
    key: tuple[int, bool] | None = None
    forward: bool = False
    backward: bool = False
    ending: frozenset[int] | None = None


@dataclass(slots=True)
class Part:
    """One part (an ABC voice): its measures, name and General MIDI program; a percussion
    part (clef=perc, %%MIDI channel 10) plays on MIDI channel 10, its notes as drum sounds."""

    measures: list[Measure]
    name: str = ""
    program: int | None = None
    percussion: bool = False


def place_graces(m: Measure, lead, onset: int, duration: int, voice: str, upq: int) -> int:
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
        m.notes.append(NoteEvent(t, voice, pitch, length, False, grace=True))
        t += length
    return total


def chord_pitches(root: int, kind: str, bass: int | None = None) -> tuple[int, ...]:
    """A chord symbol's notes: ``root`` and ``bass`` as pitch classes (C = 0), ``kind`` as
    MusicXML names it; the chord from C3, the bass below it."""
    pitches = [48 + (root % 12) + iv for iv in CHORD_INTERVALS.get(kind, (0, 4, 7))]
    if bass is not None:
        pitches.insert(0, 36 + bass % 12)
    return tuple(pitches)


def check_note_length(duration: int, upq: int, bar: str, where: str) -> None:
    """Refuse a note longer than :data:`MAX_NOTE_BEATS` (``duration`` in units, ``upq`` a
    quarter note), as a reader finds it in bar ``bar``."""
    if duration > MAX_NOTE_BEATS * upq:
        beats = duration // upq
        shown = f"{beats}" if beats < 10**12 else "over 10^12"  # 'A' + 4000 digits
        raise ConversionError(
            f"bar {bar}: a note of {shown} beats (the limit is {MAX_NOTE_BEATS}); absurd duration",
            where,
        )


def check_transpose(semitones: int | None, written: str, where: str) -> int:
    """``semitones`` (None: unreadable) if within :data:`MAX_TRANSPOSE`; refused otherwise."""
    if semitones is None or abs(semitones) > MAX_TRANSPOSE:
        raise ConversionError(
            f"transposition by {written.strip()[:20]} semitones is out of range "
            f"(at most {MAX_TRANSPOSE} either way)",
            where,
        )
    return semitones
