"""Tempo of a transcription: the file's tempo map, or a performance's tracked beat, written as
``Q:`` fields, so that the ABC plays each bar when the file plays it.

The music is cut into spans: bars, and (for a file on a grid with at most one tempo event a
bar) also at each of its tempo events, which are then written where they are. A tempo is
written at the start of a span where keeping the one in force would put the span's end more than
:data:`MAX_DRIFT` seconds from where the file plays it: a steady tune gets one ``Q:``, a
ritardando its own, an expressive piano roll (hundreds of tempo events) one change every few
bars rather than one per event. Each tempo is the one the ``Q:`` field writes (whole beats a
minute), so that the drift is measured on what a player will play.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

MAX_DRIFT = 0.02  # seconds
MIN_QPM, MAX_QPM = 8.0, 1000.0  # quarter notes a minute that a Q: field is given


def written_qpm(qpm: float, beat: Fraction) -> float:
    """The tempo a ``Q:`` field in beats of ``beat`` quarters can write: whole beats a minute."""
    per_minute = max(1, round(min(max(qpm, MIN_QPM), MAX_QPM) / float(beat)))
    return per_minute * float(beat)


def span_tempi(
    lengths: Sequence[Fraction], beats: Sequence[Fraction], bounds: Sequence[float]
) -> list[float]:
    """The tempo (quarter notes a minute, as written) of each span: ``lengths`` in quarters,
    ``beats`` the meter's beat in each span (in quarters), ``bounds`` the seconds at which the
    file plays each span's start and the last one's end (one more than the spans)."""
    tempi: list[float] = []
    qpm = 0.0
    at = bounds[0] if bounds else 0.0  # where the ABC plays the span's start
    for length, beat, end in zip(lengths, beats, bounds[1:], strict=False):
        quarters = float(length)
        played = at + quarters * 60 / qpm if qpm else None
        if played is None or abs(played - end) > MAX_DRIFT:
            span = end - at
            qpm = written_qpm(quarters * 60 / span if span > 0 else MAX_QPM, beat)
            played = at + quarters * 60 / qpm
        tempi.append(qpm)
        at = played
    return tempi
