"""The transcriber's fast paths give exactly what the plain computations they replace give:
integer ticks for Fraction arithmetic, Python floats for numpy on a few elements, a cached or
precomputed value for one worked out each time. (Transcriptions must not change when they get
faster: the same ABC bytes for every file.)"""

from __future__ import annotations

import random
from dataclasses import fields, replace
from fractions import Fraction as F

import numpy as np
import pytest

from abcmidi_bgpt.symbolic.midi_to_abc.meter import (
    Meter,
    _at_onsets,
    _bars_repeated,
    _corr,
    is_binary,
    melody_events,
    phase_candidates,
)
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import (
    COARSE_DENOMINATORS,
    grid_beat,
    grid_cost,
    offset_steps,
    snap_near_grid,
)
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import (
    common_denominator,
    distinct_count,
    is_binary_ticks,
    round_half_even,
    ticks_of,
    to_ticks,
)
from abcmidi_bgpt.symbolic.midi_to_abc.writer import Item


def random_times(rng: random.Random, n: int) -> list[F]:
    return [
        F(rng.randint(-500, 5000), rng.choice((1, 2, 3, 4, 6, 8, 12, 96, 120, 480)))
        for _ in range(n)
    ]


def test_ticks_keep_order_sums_and_kinds_of_times():
    rng = random.Random(1)
    for _ in range(200):
        times = random_times(rng, 20)
        den = common_denominator(times)
        ticks = ticks_of(times, den)
        assert ticks == [to_ticks(x, den) for x in times]
        assert [F(t, den) for t in ticks] == times
        assert sorted(range(20), key=ticks.__getitem__) == sorted(range(20), key=times.__getitem__)
        assert distinct_count(times) == len(set(times))
        assert [is_binary_ticks(t, den) for t in ticks] == [is_binary(x) for x in times]
    assert common_denominator() == 1


def test_round_half_even_is_round():
    rng = random.Random(2)
    for _ in range(2000):
        a, b = rng.randint(-1000, 1000), rng.randint(1, 40)
        assert round_half_even(a, b) == round(F(a, b))


def test_snap_near_grid_is_the_nearest_lattice_point_within_the_tolerance():
    def plain(t: F, tolerance: F) -> F | None:
        for d in COARSE_DENOMINATORS:
            p = F(round(t * d), d)
            if abs(p - t) <= tolerance:
                return p
        return None

    rng = random.Random(3)
    for t in random_times(rng, 2000):
        assert snap_near_grid(t, F(1, 32)) == plain(t, F(1, 32))


@pytest.mark.parametrize("meter", [Meter(4, 4), Meter(6, 8), Meter(3, 2), Meter(7, 8)])
def test_offset_steps_is_the_rounded_fraction(meter):
    rng = random.Random(4)
    beat = grid_beat(meter)
    grids = {b: rng.choice((2, 3, 4, 6, 8, 9, 12)) for b in range(-2, 40)}
    for _ in range(500):
        x, phase = rng.uniform(-1, 40), F(rng.randint(0, 11), 4)
        steps, divisions = offset_steps(x, meter, phase, grids)
        b = (F(x) - phase) // beat
        expected = grids.get(b, 6 if meter.compound else 4)
        step = beat / expected
        assert divisions == expected
        assert steps == round((F(x) - phase) / step)


def test_grid_cost_is_numpy_to_the_last_bit():
    def plain(rel, divisions, fbeat, sigma):
        r = np.array(rel)
        err = np.abs(r * divisions - np.round(r * divisions)) / divisions * fbeat
        return float(np.sum((err / sigma) ** 2))

    rng = random.Random(5)
    for _ in range(5000):
        rel = [rng.uniform(-0.1, 1.1) for _ in range(rng.randint(1, 12))]
        args = (rng.choice((2, 3, 4, 6, 8, 9, 12)), rng.choice((0.5, 1.0, 1.5)), 0.045)
        assert grid_cost(rel, *args) == plain(rel, *args)


def test_corr_is_corrcoef_to_the_last_bit():
    rng = np.random.default_rng(6)
    for _ in range(500):
        n = int(rng.integers(3, 2000))
        a = rng.choice([0.0, 0.5, 1.5, 2.5, 3.0, 4.0], size=n)
        b = rng.normal(size=n)
        assert _corr(a, b) == float(np.corrcoef(a, b)[0, 1])


def test_item_key_tells_apart_items_that_differ_in_any_field():
    item = Item(F(1, 3), F(2, 3), (60, 64), graces=(62,), grace_length=F(1, 8))
    changed = {
        "start": F(1, 2),
        "length": F(1),
        "pitches": (60,),
        "tie": True,
        "graces": (),
        "grace_length": F(1, 16),
        "tied_in": True,
        "staccato": True,
    }
    assert set(changed) == {f.name for f in fields(Item)}  # a new field needs a place in key()
    assert replace(item).key() == item.key()
    for name, value in changed.items():
        assert replace(item, **{name: value}).key() != item.key()


def random_events(rng: random.Random):
    """A melody's events: eighth notes, some bars alike, with a few triplets among them."""
    eighths = {F(k, 2) for k in range(64)}
    onsets = sorted(eighths | {F(rng.randint(0, 96), 3) for _ in range(rng.randint(0, 8))})
    offsets = [on + F(rng.randint(1, 4), 4) for on in onsets]
    n = len(onsets)
    pitches = [60 if rng.random() < 0.8 else 62 for _ in range(n)]
    tonal = [float(rng.random() < 0.5) for _ in range(n)]
    return melody_events(onsets, offsets, [80] * n, [1] * n, tonal, pitches)


def test_phase_candidates_and_features_as_worked_out_plainly():
    def candidates(ev, meter):
        bar, times = meter.bar, sorted(set(ev.exact))
        inside = {
            x % bar
            for i, x in enumerate(times[1:-1], start=1)
            if not is_binary(times[i - 1]) and not is_binary(times[i + 1])
        }
        on_grid = {x % bar for x in times if (x * 4).denominator == 1}
        return sorted((on_grid | {F(0)}) - inside) or [F(0)]

    def bars_repeated(ev, ph, bar):
        index = np.floor((ev.onsets - ph) / bar + 1e-6).astype(int)
        rel = np.round(ev.onsets - ph - index * bar, 4)
        bars: dict[int, list] = {}
        for i, r, p in zip(index, rel, ev.pitches, strict=True):
            bars.setdefault(int(i), []).append((float(r), int(p)))
        keys = [tuple(v) for v in bars.values()]
        if len(keys) < 2:
            return 0.0
        return sum(1 for k in keys if keys.count(k) > 1) / len(keys)

    rng = random.Random(7)
    for _ in range(20):
        ev = random_events(rng)
        for meter in (Meter(4, 4), Meter(6, 8), Meter(3, 4)):
            phases = phase_candidates(ev, meter)
            assert phases == candidates(ev, meter)
            for phase in phases[:4]:
                ph, bar = float(phase), float(meter.bar)
                assert _bars_repeated(ev, ph, bar) == bars_repeated(ev, ph, bar)
                lines = ph + float(meter.beat) * np.arange(-2, 200)
                found = np.isin(np.round(lines, 6), np.round(ev.onsets, 6))
                assert (_at_onsets(ev, lines) == found).all()
