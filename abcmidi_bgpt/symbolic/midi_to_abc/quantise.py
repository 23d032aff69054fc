"""Quantisation for transcription: performed times in beats -> notated times on the meter's grid.

Two kinds of input, told apart by their onsets:
- *on the grid*: sequenced files, this project's canonical MIDI, abc2midi's output (a tick late
  and a few early, at most). Times are snapped to the simplest fraction of a beat within a tick
  (for canonical MIDI: the simplest fraction that renders back to the same tick), so triplets,
  quintuplets and grace notes come back exactly.
- *performed*: timing jitter, rubato, legato and staccato. A phase-locked loop follows the
  tempo through the onsets that fall near eighth notes, then each beat picks the simplest grid
  (eighths, sixteenths, triplets...) that explains its onsets. A ternary grid has to earn its
  place against a binary one, so straight eighths played loosely do not become triplets (the
  failure of music21's quantiser); and the tuplets of a voice are judged together
  (snap_voice): where, taken together, they fit only a little better than plain notes (a
  pianist's freedom with straight sixteenths), only the beats a tuplet fits far better keep
  one. A recording's nominal tempo is not trusted to make its most common note value a
  triplet (estimate_scale).

Swing, which both kinds may have (abc2midi swings hornpipes 2:1), is detected per tune and
written straight: the notation a fiddler reads, with a note in the header.

Why one module of over 400 lines: grid snapping, beat tracking, swing, chords and grace notes
all act on the same timed notes and each feeds the next; the orchestration is in
:mod:`~abcmidi_bgpt.symbolic.midi_to_abc.timing`.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter, is_binary
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import (
    common_denominator,
    round_half_even,
    ticks_of,
    to_ticks,
)

CANONICAL_TICKS = 120  # formats.midi.TICKS_PER_QUARTER: times that render back to the same tick
# Denominators (of a quarter note) tried in order when snapping a time on the grid: the
# simplest first; sevenths and ninths last, as at 120 ticks a 32nd lands on the tick of a 28th.
EXACT_DENOMINATORS = (
    1,
    2,
    4,
    3,
    8,
    6,
    16,
    12,
    5,
    10,
    32,
    24,
    20,
    64,
    48,
    40,
    96,
    7,
    14,
    28,
    9,
    18,
    36,
)
COARSE_DENOMINATORS = (1, 2, 4, 3, 8, 6, 16, 12, 5, 10)
# Every time snapping can give (snap_exact, snap_near_grid) is a whole number of these.
SNAPPED_DENOMINATOR = math.lcm(*EXACT_DENOMINATORS, *COARSE_DENOMINATORS)
ON_GRID_SHARE = 0.8  # share of onsets near the coarse grid for a file to count as sequenced
MAX_EXACT_ERROR = 0.0125  # beats: a tick at 96 per beat, 6 ms at 120 beats a minute
TIMING_SIGMA = 0.045  # beats: the timing spread the performed-grid choice expects
BEAT_FRAMES = 24  # time steps per beat for the beat tracker
# The tracker's time and memory grow with the length of the performance, not its notes (a
# frame costs about 30 us and 300 bytes): 20,000 tracked beats (eighth notes, quarter notes
# when swung), 83 minutes of straight eighths at 120 quarter notes a minute, take about 15 s
# and 150 MB.
MAX_TRACKED_BEATS = 20_000
TEMPO_TIGHTNESS = 60.0  # how much the beat tracker resists a change of tempo from beat to beat
TEMPO_PULL = 10.0  # ... and a tempo away from the file's
SWING_RANGE = (0.555, 0.725)  # where a swung off-beat eighth falls within its beat
MIN_SWUNG_BEATS = 6
EARLY = 0.1  # of a beat: an onset this early belongs to the beat it anticipates
CHORD_SPREAD = 0.035  # beats: onsets closer than this in one line form one chord


@dataclass(frozen=True, slots=True)
class Grid:
    """A subdivision of one beat: ``divisions`` equal steps, with a complexity cost."""

    divisions: int
    cost: float


# Per-beat grids for performed timing, with what each costs (in squared timing errors of
# TIMING_SIGMA): 32nds and sextuplets are rare in dance music and cost most.
SIMPLE_GRIDS = (Grid(2, 0.0), Grid(4, 1.0), Grid(3, 2.5), Grid(6, 6.0), Grid(8, 8.0))
COMPOUND_GRIDS = (Grid(3, 0.0), Grid(6, 1.0), Grid(2, 3.5), Grid(12, 8.0), Grid(9, 8.0))
# A beat's grid (and offset_steps' default, 4 or 6) divides a beat into a divisor of this.
GRID_PARTS = math.lcm(*(g.divisions for g in SIMPLE_GRIDS + COMPOUND_GRIDS))


def snap_exact(t: Fraction, ticks_per_beat: int, canonical: bool) -> Fraction | None:
    """The simplest fraction of a beat within a tick of ``t`` (for canonical MIDI, the simplest
    one that renders to the same tick); None when there is none."""
    fits = (_fits(t, d, ticks_per_beat, canonical) for d in EXACT_DENOMINATORS)
    return next((p for p in fits if p is not None), None)


def _fits(t: Fraction, d: int, ticks_per_beat: int, canonical: bool) -> Fraction | None:
    """``t`` on the lattice of ``d`` per beat, when that is within a tick (see snap_exact).

    In integers (this runs for every note and lattice; Fraction arithmetic was a fifth of a
    transcription's time), with the same results: Python's round() rounds halves to even, and
    the tolerance is compared exactly."""
    num, den = t.numerator, t.denominator
    k = round_half_even(num * d, den)  # p = k / d
    if canonical and (num * ticks_per_beat) % den == 0:
        tick = num * ticks_per_beat // den
        return Fraction(k, d) if round_half_even(k * CANONICAL_TICKS, d) == tick else None
    tol_num, tol_den = _tolerance(ticks_per_beat)
    # |k/d - num/den| <= tol_num/tol_den
    if abs(k * den - num * d) * tol_den <= tol_num * d * den:
        return Fraction(k, d)
    return None


@functools.cache
def _tolerance(ticks_per_beat: int) -> tuple[int, int]:
    """How far (in beats, as an exact ratio) a lattice point may be from a time on a grid."""
    tol = min(max(1.01 / ticks_per_beat, 0.006), MAX_EXACT_ERROR)
    return Fraction(tol).as_integer_ratio()


def snap_exact_all(times: Sequence[Fraction], ticks_per_beat: int, canonical: bool) -> list:
    """:func:`snap_exact` over many times, with one lattice for all the times in a beat: the
    simplest that fits them all (a nine-note tuplet must not come back as a mix of 40ths and
    64ths that happen to land on the same ticks). None where nothing fits."""
    by_beat: dict[int, list[int]] = {}
    for i, t in enumerate(times):
        by_beat.setdefault(math.floor(t), []).append(i)
    out: list[Fraction | None] = [None] * len(times)
    for idx in by_beat.values():
        for d in EXACT_DENOMINATORS:
            common = []
            for i in idx:  # the first time off this lattice rules it out
                fit = _fits(times[i], d, ticks_per_beat, canonical)
                if fit is None:
                    break
                common.append(fit)
            else:
                for i, c in zip(idx, common, strict=True):
                    out[i] = c
                break
        else:
            for i in idx:
                out[i] = snap_exact(times[i], ticks_per_beat, canonical)
    return out


def snap_near_grid(t: Fraction, tolerance: Fraction) -> Fraction | None:
    """The nearest point of the plain grid (eighths, sixteenths, triplets) within
    ``tolerance`` of ``t``, None when there is none."""
    num, den = t.numerator, t.denominator
    for d in COARSE_DENOMINATORS:
        k = round_half_even(num * d, den)  # in integers, as _fits: p = k / d
        # |k/d - num/den| <= tolerance
        if abs(k * den - num * d) * tolerance.denominator <= tolerance.numerator * d * den:
            return Fraction(k, d)
    return None


def on_grid(onsets: Sequence[Fraction], ticks_per_beat: int) -> bool:
    """Whether a file's onsets are sequenced (on the grid) rather than performed: most of them
    on the plain grid, to within a tick where ticks are fine (abc2midi's are a tick late) and
    exactly where they are coarse (at 96 a beat, a tick either side of every sixteenth or
    triplet would take in half of all ticks)."""
    if not onsets:
        return True
    tol = min(1.01 / ticks_per_beat, 0.004)
    t = np.array([float(x) for x in onsets])
    near = np.zeros(len(t), dtype=bool)
    for d in COARSE_DENOMINATORS:  # (np.round, as round(), takes halves to even)
        near |= np.abs(t * d - np.round(t * d)) <= tol * d
    return int(near.sum()) >= ON_GRID_SHARE * len(onsets)


LEAD_SHARE = 0.9  # of the onsets: on the grid but for one and the same few ticks


def common_lead(onsets: Sequence[Fraction], ticks_per_beat: int) -> Fraction:
    """How late (in beats) every note of a sequenced file is, when nearly all of them
    (:data:`LEAD_SHARE`) sit the same few ticks after the sixteenth or triplet grid (a file
    shifted as a whole); 0 when they sit on it. Up to a 32nd note either way; a single tick is
    left to exact snapping (abc2midi's notes are a tick late and come back exact already)."""
    if not onsets:
        return Fraction(0)
    ticks = []
    for t in onsets:
        tick, off_tick = divmod(t.numerator * ticks_per_beat, t.denominator)
        if off_tick:
            return Fraction(0)
        ticks.append(tick)
    for parts in (4, 12):  # sixteenths, then triplet sixteenths
        if ticks_per_beat % parts:
            continue
        step = ticks_per_beat // parts
        counts: dict[int, int] = {}
        for x in ticks:
            counts[x % step] = counts.get(x % step, 0) + 1
        residue, count = max(counts.items(), key=lambda kv: kv[1])
        if count < LEAD_SHARE * len(ticks):
            continue
        lead = residue if residue <= step // 2 else residue - step
        if 1 < abs(lead) <= ticks_per_beat // 8:
            return Fraction(lead, ticks_per_beat)
        return Fraction(0)
    return Fraction(0)


# --- performed input: scale and tempo ---------------------------------------------------------

# Note values (in file beats) that the most common time between onsets may be for the file's
# beat to be taken as the notated one, within TATUM_REACH (a performance with a click wanders a
# few per cent from it). A third (or two thirds) of the beat must be nearer, TERNARY_REACH: a
# recording without a click keeps its file's nominal tempo, and its tatum lands within 12 % of
# a third of that beat about as often as of a quarter; taken as the file's triplet, straight
# sixteenths come out as triplets everywhere (a Bach fugue whose sixteenths last 0.30 of the
# file's beat: half of its notes were in tuplets). A triplet is seldom a piece's most common
# note value; swung eighths (uneven pairs, which look like thirds) are recognised below by
# their pairs.
_TATUMS = (1 / 4, 1 / 2, 3 / 4, 1.0)
_TERNARY_TATUMS = (1 / 3, 2 / 3)
TATUM_REACH = 1.12
TERNARY_REACH = 1.05


def tatum(onsets: np.ndarray) -> float | None:
    """The most common time between onsets (its mode on a log scale), in file beats."""
    iois = np.diff(np.unique(np.round(onsets, 3)))
    iois = iois[iois > 0.04]
    if len(iois) < 4:
        return None
    logs = np.log(iois)
    centres = np.linspace(logs.min(), logs.max(), 200) if np.ptp(logs) > 0 else logs[:1]
    density = [np.sum(np.exp(-0.5 * ((logs - c) / 0.06) ** 2)) for c in centres]
    return float(np.exp(centres[int(np.argmax(density))]))


def estimate_scale(onsets: np.ndarray) -> float:
    """Score beats per file beat: 1 when the most common time between onsets is a plain note
    value in the file's beats (the usual case: a binary one, or a triplet only when it is very
    near, see _TATUMS); otherwise (SMPTE files, recordings without a click) the scale that
    makes it a sixteenth or an eighth, whichever is nearer."""
    m = tatum(onsets)
    if (
        m is None
        or min(abs(math.log(m / v)) for v in _TATUMS) < math.log(TATUM_REACH)
        or min(abs(math.log(m / v)) for v in _TERNARY_TATUMS) < math.log(TERNARY_REACH)
    ):
        return 1.0
    # Swung eighths are uneven but come in pairs that make up a beat.
    iois = np.diff(np.unique(np.round(np.asarray(onsets, dtype=float), 4)))
    pairs = iois[:-1] + iois[1:]
    if len(pairs) and np.mean(np.abs(pairs - 1.0) < 0.12) >= 0.3:
        return 1.0
    target = min((1 / 4, 1 / 2), key=lambda v: abs(math.log(m / v)))
    return target / m


def track_beats(
    onsets: np.ndarray, weights: np.ndarray, period: float = 1.0
) -> tuple[np.ndarray, float]:
    """Beat times of a performance (file beats), by dynamic programming over a fine time grid
    (after Ellis, "Beat tracking by dynamic programming", 2007, on note onsets, not audio).

    The beats maximise the onset weight that falls on them, less a penalty for each change of
    the time between beats (squared log ratio to the previous one) and a weak pull towards
    ``period``: the tempo may drift (rubato, a ritardando) but not jump. Each beat time is
    then smoothed against its neighbours, as a tempo curve is smooth and timing jitter is not.
    Returns the beat times and the mean onset weight on a beat (how well the beats fit).
    """
    x = np.asarray(onsets, dtype=float)
    res = period / BEAT_FRAMES
    start = x[0]
    n = tracking_frames(x, period)
    envelope = np.zeros(n)
    idx = np.clip(np.round((x - start) / res).astype(int), 0, n - 1)
    np.add.at(envelope, idx, weights)
    # spread each onset over its neighbouring frames: timing jitter of a few hundredths
    envelope = np.convolve(envelope, [0.25, 0.6, 1.0, 0.6, 0.25], mode="same")
    lags = np.arange(int(BEAT_FRAMES * 0.7), int(BEAT_FRAMES * 1.45) + 1)
    log_lag = np.log(lags / BEAT_FRAMES)
    change = TEMPO_TIGHTNESS * (log_lag[:, None] - log_lag[None, :]) ** 2  # [new, previous]
    drift = TEMPO_PULL * log_lag**2
    m = len(lags)
    score = np.full((n, m), -np.inf)
    back = np.full((n, m), -1, dtype=np.int64)
    score[:, :] = envelope[:, None] - drift[None, :]  # a first beat may start anywhere
    # A beat looks back at least lags[0] frames: that many frames at a time depend only on
    # frames already scored, and are scored together (one numpy step, not one per frame).
    step = int(lags[0])
    for first in range(step, n, step):
        frames = np.arange(first, min(first + step, n))
        prev = frames[:, None] - lags[None, :]  # [frame, new lag]: the previous beat's frame
        cand = score[np.maximum(prev, 0)] - change[None]  # [frame, new lag, previous lag]
        cand[prev < 0] = -np.inf
        j = np.argmax(cand, axis=2)
        best = np.take_along_axis(cand, j[..., None], axis=2)[..., 0]
        total = best + envelope[frames][:, None] - drift[None, :]  # in the order of one frame
        better = total > score[frames]
        score[frames] = np.where(better, total, score[frames])
        back[frames] = np.where(better, j, back[frames])
    tail = max(0, n - BEAT_FRAMES - 1)
    t, lag = np.unravel_index(int(np.argmax(score[tail:])), score[tail:].shape)
    t += tail
    beats = [int(t)]
    while back[t, lag] >= 0:
        t, lag = t - int(lags[lag]), int(back[t, lag])
        beats.append(int(t))
    frames = np.array(beats[::-1])
    times = start + frames.astype(float) * res
    return _smooth_beats(times), float(envelope[frames].mean())


def tracking_frames(onsets: np.ndarray, period: float) -> int:
    """The time steps :func:`track_beats` takes for sorted onsets: check it against
    ``MAX_TRACKED_BEATS * BEAT_FRAMES`` before tracking."""
    return int(np.ceil((onsets[-1] - onsets[0]) / (period / BEAT_FRAMES))) + BEAT_FRAMES + 1


def _smooth_beats(times: np.ndarray, half_width: int = 3) -> np.ndarray:
    """Each beat time replaced by a local straight-line fit over its neighbours."""
    if len(times) < 2 * half_width + 1:
        return times
    k = np.arange(len(times), dtype=float)
    out = times.copy()
    for i in range(len(times)):
        a, b = max(0, i - half_width), min(len(times), i + half_width + 1)
        slope, icept = np.polyfit(k[a:b], times[a:b], 1)
        out[i] = slope * i + icept
    return out


def beats_to_positions(x: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """File times -> score positions (beats counted from the first tracked beat), linear
    between beats and at the nearest beat's tempo beyond them."""
    x = np.asarray(x, dtype=float)
    if len(beats) < 2:
        return x - (beats[0] if len(beats) else 0.0)
    k = np.arange(len(beats), dtype=float)
    pos = np.interp(x, beats, k)
    before = x < beats[0]
    after = x > beats[-1]
    pos[before] = (x[before] - beats[0]) / (beats[1] - beats[0])
    pos[after] = k[-1] + (x[after] - beats[-1]) / (beats[-1] - beats[-2])
    return pos


def grid_beat(meter: Meter) -> Fraction:
    """The beat that grids and swing are counted in: the meter's beat, but a quarter note in
    2/2 and 3/2 (a reel in 2/2 still swings and subdivides its quarter notes)."""
    return Fraction(1) if not meter.compound and meter.beat > 1 else meter.beat


# --- swing --------------------------------------------------------------------------------------


def detect_swing(positions: Sequence[float], meter: Meter, phase: Fraction) -> float | None:
    """The swing ratio (off-beat eighth position within the beat) when the tune's eighth pairs
    are consistently swung, else None. Only simple meters of two or four beats swing here (a
    hornpipe, a reel): in three beats (a polska, a mazurka) the uneven pairs are the rhythm
    itself and are written as played. Dotted rhythms (off-beat at 3/4) and real triplets (three
    onsets in a beat) are not swing."""
    if meter.compound or meter.numerator % 2:
        return None
    beat = float(grid_beat(meter))
    per_beat: dict[int, list[float]] = {}
    for p in positions:
        b = math.floor((p - float(phase)) / beat + EARLY)
        per_beat.setdefault(b, []).append((p - float(phase)) / beat - b)
    pairs = [
        u[1] for u in per_beat.values() if len(u) == 2 and abs(u[0]) < 0.1 and 0.3 < u[1] < 0.85
    ]
    if len(pairs) < MIN_SWUNG_BEATS:
        return None
    pairs_arr = np.array(pairs)
    swung = (pairs_arr > SWING_RANGE[0]) & (pairs_arr < SWING_RANGE[1])
    if swung.mean() < 0.75:
        return None
    return float(np.median(pairs_arr[swung]))


def sounds_swung(onsets: np.ndarray) -> bool:
    """Whether runs of eighth notes alternate long and short (swing) in a performance: most
    pairs of consecutive gaps that make up about a beat are split unevenly."""
    iois = np.diff(np.unique(np.round(np.asarray(onsets, dtype=float), 4)))
    a, b = iois[:-1], iois[1:]
    total = a + b
    pairs = (a > 0.2) & (b > 0.2) & (total > 0.8) & (total < 1.25)
    if pairs.sum() < 2 * MIN_SWUNG_BEATS:
        return False
    share = a[pairs] / total[pairs]
    return bool(np.mean(np.abs(share - 0.5) > 0.07) >= 0.6)


def tracked_swing(beats: np.ndarray) -> float | None:
    """Swing that an eighth-note beat track followed: its beats alternate long and short. The
    share of the long one in the pair, when at least three pairs in four agree."""
    d = np.diff(np.asarray(beats, dtype=float))
    pairs = len(d) // 2
    if pairs < MIN_SWUNG_BEATS * 2:
        return None
    for first in (0, 1):
        a, b = d[first : first + 2 * (pairs - 1) : 2], d[first + 1 : first + 2 * (pairs - 1) : 2]
        share = a / (a + b)
        swung = (share > SWING_RANGE[0]) & (share < SWING_RANGE[1])
        if swung.mean() >= 0.75:
            return float(np.median(share[swung]))
    return None


def unswing_map(onsets: Sequence[float], meter: Meter, phase: Fraction, ratio: float):
    """A function moving swung times back to straight ones: in a beat with one or two onsets
    the swung off-beat goes back to the half beat, and the times around it with it; beats
    with three or more onsets (triplets, sixteenths) are left alone."""
    beat = float(grid_beat(meter))
    counts: dict[int, int] = {}
    for p in onsets:
        b = math.floor((p - float(phase)) / beat + EARLY)
        counts[b] = counts.get(b, 0) + 1

    def straight(p: float) -> float:
        rel = (p - float(phase)) / beat
        b = math.floor(rel + EARLY)
        u = rel - b
        if counts.get(b, 0) > 2 or u < 1e-6:
            return p
        new = u * 0.5 / ratio if u < ratio else 0.5 + (u - ratio) * 0.5 / (1 - ratio)
        return float(phase) + (b + new) * beat

    return straight


# --- the per-beat grid ----------------------------------------------------------------------------


def snap_to_beats(
    positions: Sequence[float], meter: Meter, phase: Fraction, sigma: float = TIMING_SIGMA
) -> tuple[list[Fraction], dict[int, int]]:
    """Performed positions snapped beat by beat to the grid that explains them best; also
    the divisions chosen for each beat (by its index from the phase)."""
    out, chosen, _ = _snap_beats(positions, meter, phase, sigma, 0.0)
    return out, chosen


# Tuplets for a whole voice (see snap_voice): a voice's tuplet beats are believed when the
# median of their margins (how much better, in squared timing errors of TIMING_SIGMA, the
# tuplet grid explains a beat than the best plain one) is at least TUPLET_EVIDENCE; otherwise
# every tuplet grid costs TUPLET_DOUBT more, and only beats that a tuplet fits far better stay
# tuplets. A played triplet (three onsets a third of a beat apart) wins by about 5; a beat of
# straight sixteenths or a dotted rhythm played unevenly now and then wins by 1 or 2, the
# median of a piano performance's chance tuplets.
TUPLET_EVIDENCE = 2.5
TUPLET_DOUBT = 4.0
# ... judged so only over this many tuplet beats or more: a median of a few is no judgement (a
# fiddle tune with three triplets played loosely keeps them, beat by beat).
TUPLETS_JUDGED = 8


def snap_voice(
    positions: Sequence[float], meter: Meter, phase: Fraction, sigma: float = TIMING_SIGMA
) -> tuple[list[Fraction], dict[int, int]]:
    """:func:`snap_to_beats` for the notes of one voice, deciding for the voice as a whole
    whether its tuplets are meant.

    Beat by beat, a tuplet grid is taken wherever it fits a little better than a plain one
    (eighths, sixteenths in simple time; eighths and sixteenths of the dotted beat in
    compound time): right for a tune whose triplets are played as triplets, but in a piece
    played with a pianist's freedom, straight sixteenths and dotted rhythms fit a tuplet grid
    a little better now and then by chance, and a score would be full of tuplets. So the
    choice is made twice: if the tuplet beats of the voice (:data:`TUPLETS_JUDGED` or more),
    taken together, are not clearly tuplets (the median margin by which they won is below
    :data:`TUPLET_EVIDENCE`), the voice
    is snapped again with tuplets dearer (:data:`TUPLET_DOUBT`): only the beats that are
    clearly tuplets stay so."""
    out, chosen, margins = _snap_beats(positions, meter, phase, sigma, 0.0)
    if len(margins) >= TUPLETS_JUDGED and float(np.median(margins)) < TUPLET_EVIDENCE:
        out, chosen, _ = _snap_beats(positions, meter, phase, sigma, TUPLET_DOUBT)
    return out, chosen


def is_tuplet_grid(divisions: int, compound: bool) -> bool:
    """Whether notes on a beat's grid of ``divisions`` are written as tuplets: the plain
    grids halve the beat (simple time) or its thirds (compound time) again and again."""
    natural = 3 if compound else 1
    if divisions % natural:
        return True
    rest = divisions // natural
    return rest & (rest - 1) != 0


def _snap_beats(
    positions: Sequence[float], meter: Meter, phase: Fraction, sigma: float, doubt: float
) -> tuple[list[Fraction], dict[int, int], list[float]]:
    """:func:`snap_to_beats`, with ``doubt`` added to the cost of every tuplet grid; also the
    margin of each beat where a tuplet grid won (the best plain grid's cost less its own)."""
    beat = grid_beat(meter)
    grids = COMPOUND_GRIDS if meter.compound else SIMPLE_GRIDS
    tuplet = [is_tuplet_grid(g.divisions, meter.compound) for g in grids]
    fbeat, fphase = float(beat), float(phase)
    early = 0.5 / max(g.divisions for g in grids)  # a position this little before a beat...
    out: list[Fraction | None] = [None] * len(positions)
    groups: dict[int, list[int]] = {}
    chosen: dict[int, int] = {}
    margins: list[float] = []
    for i, p in enumerate(positions):
        b = math.floor((p - fphase) / fbeat + early)  # ... belongs to that beat
        groups.setdefault(b, []).append(i)
    steps: dict[tuple[int, int], Fraction] = {}  # (k, divisions) -> k steps of the grid
    for b, idx in groups.items():
        start = phase + b * beat
        fstart = float(start)
        rel = [(float(positions[i]) - fstart) / fbeat for i in idx]
        inside = sum(1 for u in rel if 0.12 < u < 0.88)
        best: tuple[float, Grid] | None = None
        best_tuplet = math.inf
        best_plain = math.inf
        for g, is_tuplet in zip(grids, tuplet, strict=True):
            if g.divisions % 3 == 0 and not meter.compound and inside < 2:
                continue  # one stray onset is not a triplet: it takes two to make one
            if g.divisions % 2 == 0 and meter.compound and g.divisions != 6 and inside < 2:
                continue
            cost = grid_cost(rel, g.divisions, fbeat, sigma) + g.cost
            if is_tuplet:
                best_tuplet = min(best_tuplet, cost)
                cost += doubt
            else:
                best_plain = min(best_plain, cost)
            if best is None or cost < best[0] - 1e-9:
                best = (cost, g)
        assert best is not None
        d = best[1].divisions
        chosen[b] = d
        if best_tuplet < best_plain:
            margins.append(best_plain - best_tuplet)
        for i, u in zip(idx, rel, strict=True):
            k = round(u * d)
            if (k, d) not in steps:
                steps[k, d] = beat * Fraction(k, d)
            out[i] = start + steps[k, d]
    return [p for p in out if p is not None], chosen, margins


def grid_cost(rel: Sequence[float], divisions: int, fbeat: float, sigma: float) -> float:
    """The squared timing errors (in ``sigma``) of onsets at ``rel`` (parts of a beat from
    its start) against a grid of ``divisions`` a beat.

    A beat holds a few onsets, and numpy's overhead on arrays of a few elements was most of
    the time of snapping a performance: they are added in Python floats, with the operations
    in numpy's order, and added one by one as numpy's sum does below 8 elements (its pairwise
    sum adds in 8 lanes from there), to the same result to the last bit. A beat of 8 or more
    onsets goes through numpy."""
    if len(rel) >= 8:
        r = np.array(rel)
        err = np.abs(r * divisions - np.round(r * divisions)) / divisions * fbeat
        return float(np.sum((err / sigma) ** 2))
    total = 0.0
    for u in rel:
        e = abs(u * divisions - round(u * divisions)) / divisions * fbeat / sigma
        total += e * e
    return total


def offset_steps(x: float, meter: Meter, phase: Fraction, grids: dict[int, int]) -> tuple[int, int]:
    """A performed note end, snapped to the grid its beat's onsets were snapped to (``grids``,
    from :func:`snap_to_beats`: so that a note of a triplet ends on the triplet grid), else to
    sixteenths: ``(steps, divisions)``, the end ``phase + steps * grid_beat(meter) / divisions``."""
    beat = grid_beat(meter)
    # (x - phase) / beat as the integers num / den (this runs for every performed note)
    xn, xd = x.as_integer_ratio()  # (a float's exact value)
    num = (xn * phase.denominator - phase.numerator * xd) * beat.denominator
    den = xd * phase.denominator * beat.numerator
    divisions = grids.get(num // den, 6 if meter.compound else 4)
    return round_half_even(num * divisions, den), divisions  # round(y / step), in steps


# --- lines, chords and graces -------------------------------------------------------------------


@dataclass(slots=True)
class Chord:
    """One event of a notated line: a note or chord (one pitch or several, one length), with
    the grace notes that lead into it."""

    onset: Fraction
    length: Fraction
    pitches: tuple[int, ...]
    velocity: int = 80
    graces: tuple[int, ...] = ()
    grace_length: Fraction = Fraction(0)  # sounding length of each grace note
    staccato: bool = False
    trill: bool = False  # a fast alternation with the note above, written as one note (ornaments)

    @property
    def offset(self) -> Fraction:
        return self.onset + self.length


@dataclass(frozen=True, slots=True)
class TimedNote:
    """A note with notated onset and end (after quantisation), before lines are formed."""

    onset: Fraction
    offset: Fraction
    pitch: int
    velocity: int
    graces: tuple[int, ...] = ()  # grace notes leading into this one (performed input)
    grace_length: Fraction = Fraction(0)
    staccato: bool = False  # played short of the next note: written to it, with a dot


def split_lines(
    notes: Sequence[TimedNote], legato: Fraction, max_lines: int = 4
) -> tuple[list[list[Chord]], int]:
    """Notes of one MIDI voice -> monophonic lines of chords.

    Notes starting together and ending together form a chord. A note overlapping the next
    onset by at most ``legato`` is cut there (legato playing); a longer overlap is a second
    line (a held note under a moving one). Returns the lines and the number of notes cut short
    because more than ``max_lines`` would have been needed.
    """
    # Times in integer ticks (see ticks): every note is checked against every line.
    den = common_denominator((n.onset for n in notes), (n.offset for n in notes), (legato,))
    most_legato = to_ticks(legato, den)
    by_onset: dict[int, dict[int, list[TimedNote]]] = {}
    onsets, offsets = (
        ticks_of((n.onset for n in notes), den),
        ticks_of((n.offset for n in notes), den),
    )
    for n, on, off in zip(notes, onsets, offsets, strict=True):
        by_onset.setdefault(on, {}).setdefault(off, []).append(n)
    lines: list[list[Chord]] = []
    tails: list[tuple[int, int]] = []  # per line: onset and end (ticks) of its last chord
    clipped = 0
    beats = functools.cache(lambda t: Fraction(t, den))  # (lengths repeat: made once each)

    def cut_last(i: int, end: int) -> None:
        """The last chord of line ``i`` ends at ``end`` (ticks)."""
        lines[i][-1].length = beats(end - tails[i][0])
        tails[i] = (tails[i][0], end)

    for onset in sorted(by_onset):
        groups = list(by_onset[onset].items())
        if len(groups) > 1:
            groups.sort(key=lambda kv: -max(n.pitch for n in kv[1]))
        for offset, group in groups:
            pitches = tuple(sorted({n.pitch for n in group}))
            length = beats(offset - onset)
            chord = Chord(group[0].onset, length, pitches, max(n.velocity for n in group))
            chord.staccato = all(n.staccato for n in group)
            lead = next((n for n in group if n.graces), None)
            if lead is not None:
                chord.graces, chord.grace_length = lead.graces, lead.grace_length
            placed = False
            for i, line in enumerate(lines):
                last_onset, last_end = tails[i]
                if last_onset == onset:
                    continue
                overlap = last_end - onset
                if (
                    overlap <= 0
                    or overlap <= most_legato
                    or overlap < last_end - last_onset
                    and bool(set(line[-1].pitches) & set(pitches))  # the same pitch
                ):
                    if overlap > 0:
                        cut_last(i, onset)
                    line.append(chord)
                    tails[i] = (onset, offset)
                    placed = True
                    break
            if not placed:
                if len(lines) < max_lines:
                    lines.append([chord])
                    tails.append((onset, offset))
                else:
                    i = min(range(len(lines)), key=lambda k: tails[k][1])
                    if tails[i][0] < onset:
                        cut_last(i, min(tails[i][1], onset))
                        lines[i].append(chord)
                        tails[i] = (onset, offset)
                    clipped += 1
    return lines, clipped


GRACE_MAX = 0.09  # beats: a performed note this short, right before a longer one, is a grace
GRACE_LEAD = 0.13  # beats: ... when the next note starts within this


def find_graces(positions: Sequence[float], ends: Sequence[float]) -> dict[int, int]:
    """Performed grace notes: index of each grace -> index of the note it leads into."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    in_order = [positions[i] for i in order]
    out: dict[int, int] = {}
    for a, i in enumerate(order):
        if ends[i] - positions[i] >= GRACE_MAX:
            continue
        # the first note after it by more than 5 ms (by bisection: a chord of thousands of
        # short notes at one time must not be scanned once for each of them)
        later = bisect.bisect_right(in_order, positions[i] + 0.005, lo=a + 1)
        nxt = order[later] if later < len(order) else None
        if nxt is None or positions[nxt] - positions[i] > GRACE_LEAD:
            continue
        if ends[nxt] - positions[nxt] > 0.2:
            out[i] = nxt
    # a grace leading into another grace leads into that one's main note
    for i, j in list(out.items()):
        while j in out:
            j = out[j]
        out[i] = j
    return out


def grace_length(seconds_in_beats: float) -> Fraction:
    """The sounding length of a performed grace, as this project's playback gives one: an
    eighth, sixteenth or 32nd of a beat."""
    return min(
        (Fraction(1, 8), Fraction(1, 16), Fraction(1, 32)),
        key=lambda g: abs(math.log(max(seconds_in_beats, 1e-3) / float(g))),
    )


MAX_GRACE = Fraction(1, 8)  # beats: the longest note absorb_graces takes for a grace


def absorb_graces(line: list[Chord]) -> list[Chord]:
    """Fold runs of very short notes that lead into a longer one into grace notes.

    A grace note in ABC (``{g}A``) takes its time from the note after it: in this project's
    playback a quarter of its written length. A run of up to four equal notes of at most an
    eighth of a beat, starting on the sixteenth (or triplet) grid and pushing the main note
    off it (or leading into a note at least three times as long as them), becomes graces
    written four times as long, when they take no more than half of the main note: then the
    ABC renders back to the same notes.
    """
    out: list[Chord] = []
    i = 0
    while i < len(line):
        j = i
        while (
            j < len(line)
            and j - i < 4
            and len(line[j].pitches) == 1
            and line[j].length <= MAX_GRACE
            and line[j].length == line[i].length
            and (j == i or line[j - 1].offset == line[j].onset)
        ):
            j += 1
        if j > i and j < len(line):
            main = line[j]
            total = main.onset - line[i].onset
            each = line[i].length
            pushed = not _on_plain_grid(main.onset) or main.length >= 3 * total
            fits = (
                line[j - 1].offset == main.onset
                and total == each * (j - i)
                and main.length >= total
                and _on_plain_grid(line[i].onset)
                and pushed
                and is_binary(each * 4)
                and not line[i].graces
            )
            if fits:
                out.append(
                    Chord(
                        line[i].onset,
                        main.length + total,
                        main.pitches,
                        main.velocity,
                        tuple(c.pitches[0] for c in line[i:j]),
                        each,
                    )
                )
                i = j + 1
                continue
        out.append(line[i])
        i += 1
    return out


def _on_plain_grid(t: Fraction) -> bool:
    return (t * 4).denominator == 1 or (t * 6).denominator == 1
