"""Bars of a transcription: the timed chords of each voice cut at the bar lines (meter changes
restart the count), notes tied across them, every voice filled with rests where it is silent."""

from __future__ import annotations

import bisect
import math
from dataclasses import replace
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord
from abcmidi_bgpt.symbolic.midi_to_abc.writer import Bar, Item

MAX_TRANSCRIBED_BARS = 20_000  # 40,000 beats (formats.midi.MAX_MIDI_BEATS) of 2/4
MAX_VOICE_BARS = 400_000  # voices times bars: 16 voices of 20,000 bars, 400 of 1,000


def cut_bars(
    lines: list[list[Chord]],
    start: Fraction,
    phase: Fraction,
    end: Fraction,
    meter_map: list[tuple[Fraction, Meter]],
    key_map: list[tuple[Fraction, Key]],
    where: str = "",
) -> list[Bar]:
    """The tune from ``start`` cut into bars (bar lines at ``phase`` + whole bars, restarting
    at each meter change), every voice filled with rests where it is silent. More than
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
    starts = [b.start for b in bars]
    for ln in lines:
        per_bar: list[list[Item]] = [[] for _ in bars]
        for c in ln:
            _place(c, bars, starts, per_bar)
        for b, items in zip(bars, per_bar, strict=True):
            b.voices.append(_fill_rests(items, b.length))
    return bars


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


def _place(c: Chord, bars: list[Bar], starts: list[Fraction], per_bar) -> None:
    i = max(0, bisect.bisect_right(starts, c.onset) - 1)
    t, remaining, first = c.onset, c.length, True
    while remaining > 0 and i < len(bars):
        b = bars[i]
        room = b.start + b.length - t
        piece = min(room, remaining)
        if piece > 0:
            per_bar[i].append(
                Item(
                    t - b.start,
                    piece,
                    c.pitches,
                    tie=piece < remaining,
                    graces=c.graces if first else (),
                    grace_length=c.grace_length if first else Fraction(0),
                    tied_in=not first,
                    staccato=c.staccato and first,
                )
            )
            first = False
        remaining -= piece
        t += piece
        i += 1


def _fill_rests(items: list[Item], length: Fraction) -> list[Item]:
    out: list[Item] = []
    t = Fraction(0)
    for it in sorted(items, key=lambda x: x.start):
        if it.start > t:
            out.append(Item(t, it.start - t))
        if it.start < t:  # overlap left by rounding: trim
            cut = t - it.start
            if cut >= it.length:
                continue
            it = replace(it, start=t, length=it.length - cut)
        out.append(it)
        t = it.start + it.length
    if t < length:
        out.append(Item(t, length - t))
    return out


def bar_ids(bars: list[Bar]) -> list[int]:
    ids: dict[tuple, int] = {}
    return [ids.setdefault(b.ident(), len(ids)) for b in bars]
