"""Meters for transcription: where the bar lines go, and which meter, when the MIDI file does
not say (or says wrong).

MIDI has no bar lines. Given a meter, the bar phase (where the first bar line falls, i.e. the
length of the pickup) is chosen by how well a metrical template fits the melody: long and loud
notes and chord tones on strong beats, bar lines articulated and seldom tied across, the last
note on a downbeat, no pickup or a short one. The meter itself, when the file has no time
signature, is the candidate whose best phase fits best, with a small prior for the meters of
dance music (4/4 reels and hornpipes, 6/8 jigs, 3/4 waltzes...).
"""

from __future__ import annotations

import collections
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from abcmidi_bgpt.symbolic.midi_to_abc.ticks import common_denominator, is_binary_ticks, to_ticks

EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Meter:
    numerator: int
    denominator: int

    @property
    def bar(self) -> Fraction:
        """Bar length in beats (quarter notes)."""
        return _lengths(self.numerator, self.denominator)[0]

    @property
    def compound(self) -> bool:
        return _compound(self.numerator, self.denominator)

    @property
    def beat(self) -> Fraction:
        """The counted beat in quarter notes: a dotted quarter in 6/8, a half note in 2/2."""
        return _lengths(self.numerator, self.denominator)[1]

    @property
    def subdivision(self) -> Fraction:
        return _lengths(self.numerator, self.denominator)[2]

    @property
    def abc(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    def beats_per_bar(self) -> int:
        return int(self.bar / self.beat) if self.bar % self.beat == 0 else self.numerator


@functools.lru_cache(maxsize=256)  # (a file has a few meters)
def _lengths(numerator: int, denominator: int) -> tuple[Fraction, Fraction, Fraction]:
    """A meter's bar, beat and subdivision, made once: they are asked for at every note."""
    bar = Fraction(4 * numerator, denominator)
    unit = Fraction(4, denominator)
    if _compound(numerator, denominator):
        return bar, 3 * unit, unit
    return bar, unit, unit / 2


def _compound(numerator: int, denominator: int) -> bool:
    return numerator % 3 == 0 and numerator > 3 and denominator >= 8


def is_binary(x: Fraction) -> bool:
    """Whether a time or length has a power-of-two denominator: on the binary grid of halves,
    quarters, eighths... of a beat, with no tuplet in it."""
    d = x.denominator
    return d & (d - 1) == 0


# Candidates when the file has no time signature, with their priors. Fitted with
# METER_WEIGHTS (below) on 500 tunes of O'Neill's collection; on 442 held-out tunes of
# Ryan's and Aird's with the time and key signatures removed, 49.8 % get their written meter
# and 94.6 % one of the same beat and bar up to a factor of two (mostly 4/4 for a reel written
# in 2/4: collections differ there, the notes do not). Measured with `scripts/bench_symbolic.py
# --direction reverse --parts estimation --collections ryansMammoth airdsAirs
# --estimation-sample 400`.
METER_PRIOR = {
    Meter(4, 4): 1.6,
    Meter(6, 8): 1.6,
    Meter(3, 4): 1.2,
    Meter(2, 4): 0.0,
    Meter(9, 8): 0.4,
    Meter(12, 8): -1.4,
    Meter(3, 2): -0.5,
}


@dataclass(frozen=True, slots=True)
class MelodyEvents:
    """One melody line as the meter estimate sees it: one entry per onset (a chord is one)."""

    onsets: np.ndarray  # beats from the start of the piece (float), sorted
    offsets: np.ndarray  # latest end of the notes starting there
    strengths: np.ndarray  # log length to the next onset, plus accent from velocity and chords
    tonal: np.ndarray  # 1 where a note of the tonic triad sounds, else 0
    pitches: np.ndarray  # the highest pitch at each onset
    exact: list[Fraction]  # the onsets as exact fractions (quantised)
    # Made once for the phase features of every candidate bar line:
    ends: np.ndarray  # where each onset's sound gives way: the next onset, the last offset
    rounded: np.ndarray  # the distinct onsets rounded to 1e-6 beats, sorted
    leaps: np.ndarray  # the leap into each onset's top note, in octaves (0 into the first)
    sounding: np.ndarray  # the top pitch sounding at each sixteenth note (-1: none)


def melody_events(
    onsets: Sequence[Fraction],
    offsets: Sequence[Fraction],
    velocities: Sequence[float],
    sizes: Sequence[int],
    tonal: Sequence[float],
    pitches: Sequence[int],
) -> MelodyEvents:
    """Build :class:`MelodyEvents` from onset-sorted chords of one line."""
    on = np.array([float(x) for x in onsets])
    off = np.array([float(x) for x in offsets])
    if len(on) == 0:
        empty = np.zeros(0)
        return MelodyEvents(empty, empty, empty, empty, empty, [], empty, empty, empty, empty)
    ioi = np.diff(np.append(on, max(off[-1], on[-1] + 1e-3)))
    ioi = np.maximum(ioi, 1e-3)
    med = float(np.median(ioi))
    strength = np.clip(np.log2(ioi / med), -2.0, 3.0)
    vel = np.array(velocities, dtype=float)
    if vel.std() > 1.0:  # accents carry the meter in performed or abc2midi files
        strength = strength + 0.8 * np.clip((vel - vel.mean()) / vel.std(), -2.0, 2.0)
    strength = strength + 0.3 * (np.array(sizes, dtype=float) - 1.0)
    tops = np.array(pitches)
    return MelodyEvents(
        on,
        off,
        strength,
        np.array(tonal, dtype=float),
        tops,
        list(onsets),
        ends=np.append(on[1:], off[-1]),
        rounded=np.unique(np.round(on, 6)),
        leaps=np.abs(np.diff(tops.astype(float), prepend=tops[0])) / 12.0,
        sounding=_sounding(on, off, tops),
    )


def _sounding(onsets: np.ndarray, offsets: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """The pitch sounding at each sixteenth note: each one's until the next onset (-1: none)."""
    grid = np.round(onsets * 4).astype(int).tolist()
    end = int(np.ceil(offsets.max() * 4))
    sounding = np.full(end + 1, -1)
    for k, (at, pitch) in enumerate(zip(grid, pitches.tolist(), strict=True)):
        stop = grid[k + 1] if k + 1 < len(grid) else end
        sounding[at : max(stop, at + 1)] = pitch
    return sounding


def _template(pos: np.ndarray, meter: Meter) -> np.ndarray:
    """Metrical weight of positions within the bar (0 <= pos < bar): downbeat, half bar, beat,
    subdivisions."""
    bar, beat = float(meter.bar), float(meter.beat)
    sub = float(meter.subdivision)

    nudged = pos + EPS  # (positive: np.fmod, twice as fast, is np.mod there)

    def on(step: float) -> np.ndarray:
        return np.fmod(nudged, step) < 2 * EPS

    w = np.zeros_like(pos)
    w[on(sub / 2)] = 0.5
    w[on(sub)] = 1.5
    w[on(beat)] = 2.5
    beats = meter.beats_per_bar()
    if beats % 2 == 0 and beats >= 4:
        w[on(bar / 2)] = 3.0
    w[on(bar)] = 4.0
    return w


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    """The correlation of two float arrays (0 when either is flat): ``np.corrcoef(a, b)[0, 1]``
    worked out as numpy 2 does it (the same steps, to the same last bit), without the general
    function's checks, which took half its time: this runs twice for every candidate phase."""
    if len(a) < 3 or a.std() < EPS or b.std() < EPS:
        return 0.0
    x = np.concatenate((a[None, :], b[None, :]), axis=0)
    x -= x.mean(axis=1)[:, None]
    c = np.dot(x, x.T) * (1 / (len(a) - 1))  # the covariance matrix
    sd = np.sqrt(np.diag(c))
    return float(np.clip(c[0, 1] / sd[0] / sd[1], -1.0, 1.0))


# Features of a bar phase and their weights, fitted (conditional logit: the written bar phase
# against the other candidates) on 600 tunes of O'Neill's 1850 collection rendered by this
# project (no_pickup raised by hand, see there); on 400 held-out tunes of Ryan's Mammoth and
# Aird's Airs 75 % get their written bar lines (the misses are mostly half a bar off: 6/8 and
# 2/2 without accents are ambiguous).
PHASE_WEIGHTS = {
    "strength_corr": 2.79,  # metrical weight of each onset vs its length and accent
    "tonal_corr": 0.39,  # metrical weight vs tonic-triad notes
    "downbeat_strength": 0.30,  # mean strength on downbeats minus on other beats
    "downbeat_tonal": 0.31,  # share of tonic-triad notes on downbeats minus on other beats
    "bar_end_strength": -0.96,  # strength of the note that ends at a bar line minus elsewhere
    "lines_hit": 1.49,  # share of bar lines with an onset
    "lines_crossed": -1.42,  # share of bar lines a note is held across
    "beats_crossed": -1.48,  # share of beats a note is held across
    "last_on_downbeat": 0.49,
    "last_on_beat": 1.31,
    "no_pickup": 1.20,  # fitted 0.80; raised so that short or plain tunes start on a downbeat
    "pickup_to_beat": 1.26,  # a pickup of at most one beat
    "pickup_to_half": -0.14,  # longer, up to half a bar
    "pickup_long": -1.92,  # more than half a bar
    "end_on_line": 0.50,  # the last note ends on a bar line
    "bars_repeated": 1.03,  # share of bars whose notes recur in another bar
    "first_strength": 0.52,  # the first note's strength, signed: + without a pickup, - with one
    "downbeat_leap": 0.85,  # mean leap (semitones / 12) into downbeats minus into other beats
    "downbeat_pitch": 0.01,  # mean pitch (octaves) on downbeats minus on other beats
}
FEATURES = tuple(PHASE_WEIGHTS)
WEIGHTS = np.array(list(PHASE_WEIGHTS.values()))


def phase_features(ev: MelodyEvents, meter: Meter, phase: Fraction) -> np.ndarray:
    """The features of bar lines at ``phase + k * bar`` (see :data:`FEATURES`)."""
    bar, beat = float(meter.bar), float(meter.beat)
    ph = float(phase)
    pos = np.mod(ev.onsets - ph, bar)
    pos[np.abs(pos - bar) < EPS] = 0.0
    w = _template(pos, meter)
    first, last = ev.onsets[0], ev.onsets[-1]
    f = np.zeros(len(FEATURES))
    f[0] = _corr(w, ev.strengths)
    f[1] = _corr(w, ev.tonal)
    down = w >= 4.0
    other_beats = (w >= 2.5) & ~down
    if down.any() and other_beats.any():
        f[2] = ev.strengths[down].mean() - ev.strengths[other_beats].mean()
        f[3] = ev.tonal[down].mean() - ev.tonal[other_beats].mean()
    ends = np.mod(ev.ends - ph, bar)
    at_line = (ends < EPS) | (np.abs(ends - bar) < EPS)
    if at_line.any() and (~at_line).any():
        f[4] = ev.strengths[at_line].mean() - ev.strengths[~at_line].mean()
    lines = _grid_lines(first, last, ph, bar)
    beats = _grid_lines(first, last, ph, beat)
    if len(lines):
        f[5] = _at_onsets(ev, lines).mean()
        f[6] = _crossed(ev, lines).mean()
    if len(beats):
        f[7] = _crossed(ev, beats).mean()
    last_pos = float(np.mod(last - ph, bar))
    if min(last_pos, bar - last_pos) < EPS:
        f[8] = 1.0
    elif min(last_pos % beat, beat - last_pos % beat) < EPS:
        f[9] = 1.0
    pickup = float(np.mod(ph - first, bar))
    if pickup < EPS:
        f[10] = 1.0
    elif pickup <= beat + EPS:
        f[11] = 1.0
    elif pickup <= bar / 2 + EPS:
        f[12] = 1.0
    else:
        f[13] = 1.0
    end_pos = float(np.mod(ev.offsets.max() - ph, bar))
    f[14] = 1.0 if min(end_pos, bar - end_pos) < EPS else 0.0
    f[15] = _bars_repeated(ev, ph, bar)
    f[16] = ev.strengths[0] * (1.0 if f[10] else -1.0)
    if down.any() and other_beats.any():
        f[17] = ev.leaps[down].mean() - ev.leaps[other_beats].mean()
        f[18] = (ev.pitches[down].mean() - ev.pitches[other_beats].mean()) / 12.0
    return f


def _at_onsets(ev: MelodyEvents, lines: np.ndarray) -> np.ndarray:
    """Whether each grid line falls on an onset, to 1e-6 beats (as ``np.isin`` of the rounded
    times, by bisection in the onsets rounded once)."""
    at = np.round(lines, 6)
    i = np.minimum(np.searchsorted(ev.rounded, at), len(ev.rounded) - 1)
    return ev.rounded[i] == at


def _bars_repeated(ev: MelodyEvents, ph: float, bar: float) -> float:
    """The share of bars whose notes (places in the bar and pitches) recur in another bar."""
    index = np.floor((ev.onsets - ph) / bar + EPS).astype(int)
    rel = np.round(ev.onsets - ph - index * bar, 4) + 0.0  # (+ 0.0: -0.0 is the place 0.0)
    # Each bar's notes (places and pitches) as bytes, compared at once: this runs for every
    # phase of every meter. The onsets are sorted, so each bar's notes are one run of them.
    places = rel.tobytes()
    pitches = ev.pitches.astype(np.int64).tobytes()
    bounds = [0, *(np.flatnonzero(np.diff(index)) + 1).tolist(), len(index)]
    if len(bounds) < 3:  # fewer than two bars
        return 0.0
    keys = [(places[8 * a : 8 * b], pitches[8 * a : 8 * b]) for a, b in itertools.pairwise(bounds)]
    counts = collections.Counter(keys)
    return sum(1 for k in keys if counts[k] > 1) / len(keys)


def phase_score(ev: MelodyEvents, meter: Meter, phase: Fraction) -> float:
    """How well bar lines at ``phase + k * bar`` fit the melody (higher is better)."""
    return float(WEIGHTS @ phase_features(ev, meter, phase))


def _grid_lines(first: float, last: float, phase: float, step: float) -> np.ndarray:
    k0 = np.ceil((first - phase) / step - EPS)
    k1 = np.floor((last - phase) / step + EPS)
    if k1 < k0:
        return np.zeros(0)
    return phase + step * np.arange(k0, k1 + 1)


def _crossed(ev: MelodyEvents, lines: np.ndarray) -> np.ndarray:
    """For each grid line, whether a note sounds across it (starts before, ends after)."""
    starts = np.searchsorted(ev.onsets, lines - EPS)  # onsets strictly before the line
    out = np.zeros(len(lines), dtype=bool)
    # Vectorised: a long silence has a grid line every beat, however few its notes.
    after = starts > 0
    last, at = starts[after] - 1, lines[after]
    out[after] = (ev.offsets[last] > at + 0.02) & (ev.onsets[last] < at - EPS)
    return out


def phase_candidates(ev: MelodyEvents, meter: Meter) -> list[Fraction]:
    """Where a bar line may fall, modulo the bar: at some note's onset on the sixteenth grid,
    but never inside a tuplet (between two onsets that are off the binary grid)."""
    # In integer ticks (see ticks): this runs for every candidate meter over every onset.
    den = common_denominator(ev.exact, (meter.bar,))
    bar = to_ticks(meter.bar, den)
    times = sorted({to_ticks(x, den) for x in ev.exact})
    binary = [is_binary_ticks(t, den) for t in times]
    inside = {
        times[i] % bar for i in range(1, len(times) - 1) if not binary[i - 1] and not binary[i + 1]
    }
    on_grid = {t % bar for t in times if 4 * t % den == 0}
    return [Fraction(t, den) for t in sorted((on_grid | {0}) - inside)] or [Fraction(0)]


def best_phase(ev: MelodyEvents, meter: Meter) -> tuple[Fraction, float]:
    """The bar phase that fits best, and its score."""
    if len(ev.onsets) == 0:
        return Fraction(0), 0.0
    best, best_score = Fraction(0), float("-inf")
    for phase in phase_candidates(ev, meter):
        s = phase_score(ev, meter, phase)
        if s > best_score + 1e-9:
            best, best_score = phase, s
    return best, best_score


def repetition(ev: MelodyEvents, lag: Fraction) -> float:
    """How much of the melody recurs ``lag`` beats later (same pitch sounding at the same
    point, on a sixteenth grid): tunes repeat by bars, phrases of 4 and parts of 8 bars."""
    if len(ev.onsets) == 0:
        return 0.0
    sounding = ev.sounding
    step = int(lag * 4)
    if step <= 0 or step >= len(sounding):
        return 0.0
    a, b = sounding[:-step], sounding[step:]
    both = (a >= 0) & (b >= 0)
    return float(np.mean(a[both] == b[both])) if both.any() else 0.0


# Weights of the meter choice: the best phase's score, plus how much the melody repeats after
# 4 and 8 bars of the meter (phrases and parts), plus a prior per meter (METER_PRIOR).
METER_WEIGHTS = {"phase_score": 1.0, "repeat_4_bars": 4.0, "repeat_8_bars": 3.0}


def meter_features(
    ev: MelodyEvents, meter: Meter, best: tuple[Fraction, float] | None = None
) -> tuple[Fraction, np.ndarray]:
    """The best phase of a meter and the features of the meter choice (METER_WEIGHTS);
    ``best``: the meter's best phase and its score, when they are known already."""
    phase, score = best or best_phase(ev, meter)
    return phase, np.array([score, repetition(ev, 4 * meter.bar), repetition(ev, 8 * meter.bar)])


def estimate_meter(
    ev: MelodyEvents, known: dict[Meter, tuple[Fraction, float]] | None = None
) -> tuple[Meter, Fraction, float]:
    """The meter and bar phase that fit best among the usual meters of dance tunes; ``known``:
    the best phases (and scores) of meters already tried (see :func:`best_phase`)."""
    weights = np.array(list(METER_WEIGHTS.values()))
    best = (Meter(4, 4), Fraction(0), float("-inf"))
    for meter, prior in METER_PRIOR.items():
        phase, features = meter_features(ev, meter, (known or {}).get(meter))
        score = float(weights @ features) + prior
        if score > best[2]:
            best = (meter, phase, score)
    return best
