"""The shared currency of the converters: a piece played out in time.

A :class:`Performance` is what a score sounds like once repeats are played out and ties merged:
notes with onsets and durations in beats (quarter notes, as in MIDI), grouped into voices, plus
the tempo, meter and key in force over time. ABC->MIDI renders a Performance to MIDI bytes;
MIDI->ABC reads one from MIDI bytes; the metrics compare the note lists of two of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
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


class TempoClock:
    """Beats to seconds through a tempo map (MIDI's 120 quarter notes a minute before the first
    change): what a player makes of the beats."""

    def __init__(self, tempos: Sequence[TempoChange]):
        changes = sorted((float(t.onset), t.qpm) for t in tempos if t.qpm > 0)
        if not changes or changes[0][0] > 0:
            changes.insert(0, (0.0, DEFAULT_QPM))
        self.onsets = [onset for onset, _ in changes]
        self.qpms = [qpm for _, qpm in changes]
        self.starts = [0.0]  # seconds at each change
        for i in range(1, len(changes)):
            span = self.onsets[i] - self.onsets[i - 1]
            self.starts.append(self.starts[-1] + span * 60 / self.qpms[i - 1])

    def seconds(self, beat: float) -> float:
        i = max(bisect.bisect_right(self.onsets, beat) - 1, 0)
        return self.starts[i] + (beat - self.onsets[i]) * 60 / self.qpms[i]

    def beat(self, seconds: float) -> float:
        """The inverse of :meth:`seconds`: the beat sounding at this time."""
        i = max(bisect.bisect_right(self.starts, seconds) - 1, 0)
        return self.onsets[i] + (seconds - self.starts[i]) * self.qpms[i] / 60


def key_name(fifths: int, minor: bool) -> str:
    """The key's name as MIDI tools write it: 'D', 'Em', 'Bb', 'F#m'."""
    majors = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]
    minors = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"]
    names = minors if minor else majors
    return names[fifths + 7] + ("m" if minor else "")
