"""A piano part into the two staves a pianist reads: the right hand and the left hand.

A MIDI piano track holds both hands in one voice; lines formed by overlap alone mix them (a
held bass note under a melody, then the melody's long note under moving bass notes). Here each
note goes to a hand by its pitch against a split point that follows the music: midway between
where each hand has recently played (starting either side of middle C), so a left hand that
climbs into the treble stays the left hand. Each hand then keeps its chords, and its own lines
where its notes overlap. Only a voice that plays like a piano is split (notes sounding together
at a good share of its onsets, over more than two octaves): a melody never is.
"""

from __future__ import annotations

from collections.abc import Sequence

from abcmidi_bgpt.symbolic.midi_to_abc.quantise import TimedNote
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import common_denominator, ticks_of

PIANO_PROGRAMS = range(8)  # General MIDI's pianos (and a file without a program: 0)
MIN_TOGETHER = 0.25  # share of onsets where two or more notes sound
MIN_RANGE = 25  # semitones from the lowest note to the highest
FOLLOW = 0.3  # how fast a hand's place follows its new notes


def plays_like_a_piano(notes: Sequence[TimedNote]) -> bool:
    """Notes sounding together at a good share of onsets, over more than two octaves."""
    if not notes or max(n.pitch for n in notes) - min(n.pitch for n in notes) < MIN_RANGE:
        return False
    # in integer ticks (see ticks): sorted and compared for every note
    den = common_denominator((n.onset for n in notes), (n.offset for n in notes))
    ends = sorted(
        zip(
            ticks_of((n.onset for n in notes), den),
            ticks_of((n.offset for n in notes), den),
            strict=True,
        )
    )
    onsets = sorted({on for on, _ in ends})
    together = 0
    k = 0
    sounding: list[int] = []  # ends of the notes sounding
    for t in onsets:
        while k < len(ends) and ends[k][0] <= t:
            sounding.append(ends[k][1])
            k += 1
        sounding = [e for e in sounding if e > t]
        together += len(sounding) >= 2
    return together >= MIN_TOGETHER * len(onsets)


def split_hands(notes: Sequence[TimedNote]) -> tuple[list[TimedNote], list[TimedNote]]:
    """(right hand, left hand): each onset's notes split at the point midway between the
    hands' recent places; a chord wholly on one side stays in that hand."""
    right: list[TimedNote] = []
    left: list[TimedNote] = []
    high, low = 67.0, 53.0  # where each hand has been playing (G above, F below middle C)
    den = common_denominator(n.onset for n in notes)
    by_onset: dict[int, list[TimedNote]] = {}  # by onset in ticks (see ticks)
    for n, onset in zip(notes, ticks_of((n.onset for n in notes), den), strict=True):
        by_onset.setdefault(onset, []).append(n)
    for onset in sorted(by_onset):
        split = (high + low) / 2
        upper = [n for n in by_onset[onset] if n.pitch >= split]
        lower = [n for n in by_onset[onset] if n.pitch < split]
        right += upper
        left += lower
        if upper:
            high += FOLLOW * (sum(n.pitch for n in upper) / len(upper) - high)
        if lower:
            low += FOLLOW * (sum(n.pitch for n in lower) / len(lower) - low)
        if high - low < 7:  # the hands never meet: keep them a fifth apart
            middle = (high + low) / 2
            high, low = middle + 3.5, middle - 3.5
    return right, left
