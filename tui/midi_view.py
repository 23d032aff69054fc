"""A MIDI file read for the MIDI pane: its header facts in words and its notes, and where its
bars start (for the piano roll). Nothing here imports Textual."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from abcmidi_bgpt.core.performance import Performance, key_name
from abcmidi_bgpt.formats.midi import midi_contents, read_midi


@dataclass(frozen=True, slots=True)
class MidiFacts:
    """What the MIDI pane says about a file before drawing it."""

    format: int
    tracks: int
    ticks_per_beat: int
    tempo: str  # '♩=120', '♩=120 (3 changes)'
    meter: str
    key: str
    bars: int
    seconds: float
    notes: int
    voices: int

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.seconds), 60)
        tracks = "track" if self.tracks == 1 else "tracks"
        voices = f" in {self.voices} voices" if self.voices > 1 else ""
        return (
            f"format {self.format} · {self.tracks} {tracks} · {self.ticks_per_beat} tpq · "
            f"{self.tempo} · {self.meter} · {self.key} · {self.bars} bars · "
            f"{minutes}:{seconds:02d} · {self.notes} notes{voices}"
        )


@dataclass(slots=True)
class MidiView:
    """A MIDI file read for display: its bytes, header facts and notes."""

    data: bytes
    facts: MidiFacts
    performance: Performance


def read_midi_view(data: bytes, source: str = "") -> MidiView:
    """Read MIDI bytes for the MIDI pane; raises :class:`ConversionError` on a bad file."""
    midi = read_midi(data, source)
    perf = midi_contents(midi, source).performance
    try:
        seconds = midi.length
    except (ValueError, TypeError):  # format 2 files have no single timeline
        seconds = 0.0
    facts = MidiFacts(
        format=midi.type,
        tracks=len(midi.tracks),
        ticks_per_beat=midi.ticks_per_beat,
        tempo=_changes([f"♩={t.qpm:.0f}" for t in perf.tempos], "♩=120"),
        meter=_changes([f"{m.numerator}/{m.denominator}" for m in perf.meters], "no meter"),
        key=_changes([key_name(k.fifths, k.minor) for k in perf.keys], "no key"),
        bars=len(bar_starts(perf)),
        seconds=seconds,
        notes=sum(len(v.notes) for v in perf.voices),
        voices=sum(1 for v in perf.voices if v.notes),
    )
    return MidiView(data, facts, perf)


def _changes(values: list[str], absent: str) -> str:
    if not values:
        return absent
    distinct = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    more = len(distinct) - 1
    return distinct[0] + (f" (+{more} change{'s' if more > 1 else ''})" if more else "")


def bar_starts(perf: Performance) -> list[Fraction]:
    """Onsets (in beats) of the bars of a performance, from its meters (4/4 where it has
    none), up to the end of its last note."""
    end = perf.end
    meters = sorted(perf.meters, key=lambda m: m.onset)
    starts: list[Fraction] = []
    at = Fraction(0)
    index = 0
    length = Fraction(4)
    while at < end or not starts:
        while index < len(meters) and meters[index].onset <= at:
            m = meters[index]
            length = Fraction(4 * m.numerator, m.denominator) or Fraction(4)
            index += 1
        starts.append(at)
        following = meters[index].onset if index < len(meters) else None
        at = at + length if following is None else min(at + length, following)
    return starts
