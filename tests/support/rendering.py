"""ABC rendered to MIDI bytes and read back: the whole path, as a user gets it."""

from __future__ import annotations

from fractions import Fraction

from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi


def rendered(abc: str, **options):
    """Render ABC to MIDI bytes and read the bytes back: the whole path, as a user gets it."""
    result = abc_to_midi(abc, **options)
    return result, read_performance(result.midi)


def note_triples(
    abc: str, voice: int | None = 0, **options
) -> list[tuple[int, Fraction, Fraction]]:
    """(pitch, onset, duration) in beats of one voice (all voices with ``voice=None``), as
    read back from the rendered MIDI file."""
    _, perf = rendered(abc, **options)
    notes = perf.notes() if voice is None else perf.voices[voice].notes
    return [(n.pitch, n.onset, n.duration) for n in sorted(notes)]
