"""The percussion voice of a transcription: the drum notes (MIDI channel 10) as one line of
hits, as midi2abc and ABC editors write drums.

A drum's sound is its MIDI key (36 a kick, 38 a snare, 42 a closed hi-hat...): the pitches are
written exactly, whatever the key (the writer spells every note against the key and the bar).
Drums struck together are one chord. A drum's note-off says nothing of the music (most are a
tick long), so a hit is written as lasting until the next hit, at most a beat, and never past
a bar line (:func:`~abcmidi_bgpt.symbolic.midi_to_abc.bars.cut_bars` cuts it there, not tied
on): in a length written as one note (:func:`readable`), never a tie to a sliver.

The voice goes through the same timing, bars and writer as the melodic ones; it is written
last, as ``V:n name="Drums" clef=perc`` with ``%%MIDI channel 10`` (abc2midi plays it on
channel 10 and the other voices on the rest; so does this project's ABC reader).
"""

from __future__ import annotations

import bisect
from fractions import Fraction

from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter, is_binary
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord, TimedNote, grid_beat
from abcmidi_bgpt.symbolic.midi_to_abc.writer import single_length

DRUM_GRID = (8, 6)  # parts of a beat a hit is written on: 32nds, triplet eighths


def drum_line(
    notes: list[TimedNote],
    meter_map: list[tuple[Fraction, Meter]],
    phase: Fraction,
    end: Fraction | None,
) -> list[Chord]:
    """The hits of the drum voice as one line of chords: each hit lasting until the next one,
    at most a beat of the meter at its onset (each onset on the drum grid, see
    :func:`on_drum_grid`); the last one until ``end`` (where the other
    voices end) when that is sooner, else to its beat's end (beats counted from the bar line
    at ``phase``, and from each meter change), so that a last hit adds no bar of rests."""
    by_onset: dict[Fraction, list[TimedNote]] = {}
    for n in notes:
        by_onset.setdefault(on_drum_grid(n.onset), []).append(n)
    onsets = sorted(by_onset)
    changes = [at for at, _ in meter_map]
    line = []
    for k, onset in enumerate(onsets):
        i = max(bisect.bisect_right(changes, onset) - 1, 0)
        beat = grid_beat(meter_map[i][1])
        if k + 1 < len(onsets):
            stop = onsets[k + 1]
        elif end is not None and end > onset:
            stop = end
        else:
            origin = phase if i == 0 else changes[i]
            stop = origin + ((onset - origin) // beat + 1) * beat
        group = by_onset[onset]
        chord = Chord(
            onset,
            min(stop - onset, beat),
            tuple(sorted({n.pitch for n in group})),
            max(n.velocity for n in group),
        )
        lead = next((n for n in group if n.graces), None)
        if lead is not None:  # a flam, a drag: played as grace notes (performed input)
            chord.graces, chord.grace_length = lead.graces, lead.grace_length
        line.append(chord)
    return line


def readable(length: Fraction) -> Fraction:
    """The longest length not above ``length`` (in beats) that is written as one note, plain
    or dotted; a tuplet's length (not binary) as it is."""
    if length <= 0 or not is_binary(length) or single_length(length):
        return length
    piece = Fraction(1, length.denominator)
    while piece * 2 <= length:
        piece *= 2
    return piece * 3 / 2 if piece * 3 / 2 <= length else piece


def on_drum_grid(t: Fraction) -> Fraction:
    """An onset on the drum grid, 32nds or triplet eighths (sixths) of a beat: a hit just off
    it (a flam's first stroke, a crash pushed a few ticks early) is written at the nearest
    point, the binary one when both are as near, rather than in a tuplet of 64ths."""
    if (t * DRUM_GRID[0]).denominator == 1 or (t * DRUM_GRID[1]).denominator == 1:
        return t
    points = [Fraction(round(t * d), d) for d in DRUM_GRID]
    return min(points, key=lambda p: abs(p - t))  # (min keeps the first of equals: binary)
