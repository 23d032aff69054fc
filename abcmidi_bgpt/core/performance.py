"""The shared currency of the converters: a piece played out in time.

A :class:`Performance` is what a score sounds like once repeats are played out and ties merged:
notes with onsets and durations in beats (quarter notes, as in MIDI), grouped into voices, plus
the tempo, meter and key in force over time. ABC->MIDI renders a Performance to MIDI bytes;
MIDI->ABC reads one from MIDI bytes; the metrics compare the note lists of two of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

DEFAULT_QPM = 120.0
DEFAULT_VELOCITY = 80


@dataclass(frozen=True, slots=True, order=True)
class Note:
    """One sounding note. Times are in beats (quarter notes) from the start of the piece."""

    onset: Fraction
    pitch: int
    duration: Fraction
    velocity: int = DEFAULT_VELOCITY
    voice: int = 0

    @property
    def offset(self) -> Fraction:
        return self.onset + self.duration


@dataclass(frozen=True, slots=True)
class TempoChange:
    onset: Fraction
    qpm: float  # quarter notes per minute


@dataclass(frozen=True, slots=True)
class MeterChange:
    onset: Fraction
    numerator: int
    denominator: int


@dataclass(frozen=True, slots=True)
class KeyChange:
    onset: Fraction
    fifths: int  # -7..7, sharps positive
    minor: bool = False


@dataclass(slots=True)
class Voice:
    """One melodic line; becomes one MIDI track on its own channel."""

    notes: list[Note] = field(default_factory=list)
    name: str = ""
    program: int | None = None  # General MIDI program 0-127, None for the default
    channel: int = 0


@dataclass(slots=True)
class Performance:
    voices: list[Voice] = field(default_factory=list)
    tempos: list[TempoChange] = field(default_factory=list)
    meters: list[MeterChange] = field(default_factory=list)
    keys: list[KeyChange] = field(default_factory=list)
    title: str = ""

    def notes(self) -> list[Note]:
        """All notes of all voices, sorted by onset, then pitch."""
        return sorted(n for v in self.voices for n in v.notes)

    @property
    def end(self) -> Fraction:
        return max((n.offset for v in self.voices for n in v.notes), default=Fraction(0))


def key_name(fifths: int, minor: bool) -> str:
    """The key's name as MIDI tools write it: 'D', 'Em', 'Bb', 'F#m'."""
    majors = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]
    minors = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"]
    names = minors if minor else majors
    return names[fifths + 7] + ("m" if minor else "")
