"""Bars of a transcription: the timed chords of each voice cut at the bar lines (meter changes
restart the count), notes tied across them, every voice filled with rests where it is silent."""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.symbolic.midi_to_abc.drums import readable
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import common_denominator, ticks_of, to_ticks
from abcmidi_bgpt.symbolic.midi_to_abc.writer import Bar, Item, TrilledItem

MAX_TRANSCRIBED_BARS = 20_000  # 40,000 beats (formats.midi.MAX_MIDI_BEATS) of 2/4
MAX_VOICE_BARS = 400_000  # voices times bars: 16 voices of 20,000 bars, 400 of 1,000
NO_GRACE = Fraction(0)  # the grace length of an item without graces


def cut_bars(
    lines: list[list[Chord]],
    start: Fraction,
    phase: Fraction,
    end: Fraction,
    meter_map: list[tuple[Fraction, Meter]],
    key_map: list[tuple[Fraction, Key]],
    where: str = "",
    percussion: int | None = None,
) -> list[Bar]:
    """The tune from ``start`` cut into bars (bar lines at ``phase`` + whole bars, restarting
    at each meter change), every voice filled with rests where it is silent; the hits of the
    line ``percussion`` (the drums) end at the bar line rather than tie across it. More than
    :data:`MAX_TRANSCRIBED_BARS` bars, or voices times bars over :data:`MAX_VOICE_BARS`, is
    refused before any bar is filled."""
    meters, keys = _Changes(meter_map), _Changes(key_map)
    bounds = _bar_bounds(start, phase, end, meters, where)
    if len(lines) * len(bounds) > MAX_VOICE_BARS:
        raise ConversionError(
            f"{len(lines)} voices of {len(bounds)} bars, over the limit of "
            f"{MAX_VOICE_BARS:,} voice-bars for transcription",
            where,
        )
    bars = [Bar(s, e - s, m, keys.at(s)) for s, e, m in bounds]
    if bars and bars[0].length < bars[0].meter.bar and len(bars) > 1:
        bars[0].offset = bars[0].meter.bar - bars[0].length  # a pickup: ends on a bar line
    # Cut and filled in integer ticks (see ticks): this runs over every note and bar.
    den = common_denominator(_times(lines, bars))
    starts = ticks_of((b.start for b in bars), den)
    ends = [
        start + length
        for start, length in zip(starts, ticks_of((b.length for b in bars), den), strict=True)
    ]
    # each distinct time made a Fraction once: bars repeat the same places and lengths
    beats = functools.cache(lambda t: Fraction(t, den))
    for li, ln in enumerate(lines):
        per_bar: list[list[_Piece]] = [[] for _ in bars]
        onsets, lengths = (
            ticks_of((c.onset for c in ln), den),
            ticks_of((c.length for c in ln), den),
        )
        for c, onset, length in zip(ln, onsets, lengths, strict=True):
            if li == percussion:
                _place_hit(c, onset, length, starts, ends, per_bar, den)
            else:
                _place(c, onset, length, starts, ends, per_bar)
        for b, start, end, pieces in zip(bars, starts, ends, per_bar, strict=True):
            b.voices.append([_item(p, beats) for p in _fill_rests(pieces, end - start)])
    return bars


def _times(lines: list[list[Chord]], bars: list[Bar]):
    """Every time the chords and bars hold (for their common denominator)."""
    for ln in lines:
        for c in ln:
            yield c.onset
            yield c.length
    for b in bars:
        yield b.start
        yield b.length


def _bar_bounds(
    start: Fraction, phase: Fraction, end: Fraction, meters: _Changes, where: str
) -> list[tuple[Fraction, Fraction, Meter]]:
    """(start, end, meter) of each bar from ``start`` to ``end``."""
    bounds: list[tuple[Fraction, Fraction, Meter]] = []
    t = start
    meter = meters.at(t)
    line = phase + -((phase - t) // meter.bar) * meter.bar  # the first bar line at or after t
    if line > t:
        bounds.append((t, min(line, end), meter))
        t = line
    while t < end:
        if len(bounds) >= MAX_TRANSCRIBED_BARS:
            raise ConversionError(
                f"over {MAX_TRANSCRIBED_BARS:,} bars, the limit for transcription", where
            )
        meter = meters.at(t)
        stop = min(t + meter.bar, meters.next_after(t), end)
        bounds.append((t, stop, meter))
        t = stop
    return bounds


class _Changes:
    """Meter or key changes (time, value) in time order: the value at a time, found by
    bisection (a file may change meter at every event)."""

    def __init__(self, changes: list[tuple[Fraction, object]]):
        changes = sorted(changes, key=lambda c: c[0])  # stable: equal times keep their order
        self.times = [at for at, _ in changes]
        self.values = [value for _, value in changes]

    def at(self, t: Fraction):
        """The value of the last change at or before ``t`` (the first one's before it)."""
        return self.values[max(bisect.bisect_right(self.times, t) - 1, 0)]

    def next_after(self, t: Fraction) -> Fraction | float:
        """The time of the first change after ``t``; infinity when there is none."""
        i = bisect.bisect_right(self.times, t)
        return self.times[i] if i < len(self.times) else math.inf


@dataclass(frozen=True, slots=True)
class _Piece:
    """The part of a chord (or a rest: no chord) in one bar, in ticks from the bar's start."""

    start: int
    length: int
    chord: Chord | None = None
    first: bool = True  # the chord's first piece (its graces and staccato go there)
    tie: bool = False  # tied on into the next bar


def _place(c: Chord, onset: int, length: int, starts: list[int], ends: list[int], per_bar) -> None:
    """A chord (``onset`` and ``length`` in ticks) cut at the bar lines it crosses."""
    i = max(0, bisect.bisect_right(starts, onset) - 1)
    t, remaining, first = onset, length, True
    while remaining > 0 and i < len(starts):
        piece = min(ends[i] - t, remaining)
        if piece > 0:
            per_bar[i].append(_Piece(t - starts[i], piece, c, first, piece < remaining))
            first = False
        remaining -= piece
        t += piece
        i += 1


def _place_hit(
    c: Chord, onset: int, length: int, starts: list[int], ends: list[int], per_bar, den: int
) -> None:
    """A drum hit (see drums) in its bar: cut at the bar line, not tied on, and as long as
    the longest note value that fits (a rest after it, not a tied sliver)."""
    i = max(0, bisect.bisect_right(starts, onset) - 1)
    piece = min(ends[i] - onset, length)
    if piece > 0:
        piece = to_ticks(readable(Fraction(piece, den)), den)
        per_bar[i].append(_Piece(onset - starts[i], piece, c))


def _fill_rests(pieces: list[_Piece], length: int) -> list[_Piece]:
    out: list[_Piece] = []
    t = 0
    for p in sorted(pieces, key=lambda x: x.start):
        if p.start > t:
            out.append(_Piece(t, p.start - t))
        if p.start < t:  # overlap left by rounding: trim
            cut = t - p.start
            if cut >= p.length:
                continue
            p = replace(p, start=t, length=p.length - cut)
        out.append(p)
        t = p.start + p.length
    if t < length:
        out.append(_Piece(t, length - t))
    return out


def _item(p: _Piece, beats: Callable[[int], Fraction]) -> Item:
    """The item of a piece, its times in beats."""
    start, length = beats(p.start), beats(p.length)
    c = p.chord
    if c is None:
        return Item(start, length)
    return (TrilledItem if c.trill and p.first else Item)(
        start,
        length,
        c.pitches,
        tie=p.tie,
        graces=c.graces if p.first else (),
        grace_length=c.grace_length if p.first else NO_GRACE,
        tied_in=not p.first,
        staccato=c.staccato and p.first,
    )


def bar_ids(bars: list[Bar]) -> list[int]:
    ids: dict[tuple, int] = {}
    return [ids.setdefault(b.ident(), len(ids)) for b in bars]
