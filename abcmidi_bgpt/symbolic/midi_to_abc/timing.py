"""Timing of a transcription: file beats to score positions for every voice. A file on a
grid (notation exports, sequenced files) is snapped to it; a performance has its beats tracked
(tempo curve, swing) before its notes are quantised (``quantise``)."""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.formats.midi import MidiContents
from abcmidi_bgpt.symbolic.midi_to_abc.meter import (
    Meter,
)
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import (
    BEAT_FRAMES,
    CANONICAL_TICKS,
    CHORD_SPREAD,
    GRID_PARTS,
    MAX_TRACKED_BEATS,
    SNAPPED_DENOMINATOR,
    TIMING_SIGMA,
    TimedNote,
    beats_to_positions,
    common_lead,
    detect_swing,
    estimate_scale,
    find_graces,
    grace_length,
    grid_beat,
    offset_steps,
    on_grid,
    snap_exact,
    snap_exact_all,
    snap_near_grid,
    snap_to_beats,
    snap_voice,
    sounds_swung,
    track_beats,
    tracked_swing,
    tracking_frames,
    unswing_map,
)
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import (
    common_denominator,
    distinct_count,
    round_half_even,
    ticks_of,
    to_ticks,
)

NEAR_GRID = Fraction(1, 32)  # beats: how early a note may end and still end on the grid
# beats: a performed end this far past the next onset (or half the time to it) is legato
LEGATO_REACH = Fraction(1, 4)
QUARTER_BEATS = Meter(4, 4)  # for swing while tracking: any meter counted in quarter notes


@dataclass(slots=True)
class Timing:
    """File beats -> score positions, for every voice."""

    performed: bool
    ticks_per_beat: int
    canonical: bool
    scale: float = 1.0
    tracked: tuple = ()  # performed: (beat times, beat length, score position of the origin)
    shift: Fraction = Fraction(0)  # performed: taken off snapped times so the tune starts at 0
    lead: Fraction = Fraction(0)  # on the grid: how late every note is (taken off all times)
    tracked_swing: float | None = None  # performed: swing found (and straightened) while tracking
    straight: object = None  # performed and swung: the function that straightened the onsets
    rough: list[list[Fraction]] = field(default_factory=list)  # per voice, per note
    positions: list[list[float]] = field(default_factory=list)  # performed, before snapping
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        contents: MidiContents,
        voices: list[list[Note]],
        melody: int,
        meter: Meter | None,
        where: str = "",
    ) -> Timing:
        tpq = contents.ticks_per_beat
        onsets = [n.onset for v in voices for n in v]
        performed = contents.smpte or not on_grid(onsets, tpq)
        t = cls(performed, tpq, tpq == CANONICAL_TICKS and not contents.smpte)
        if not performed:
            t.lead = common_lead(onsets, tpq)
            for v in voices:
                # (most files have no lead: a Fraction subtraction less for every note)
                times = [n.onset - t.lead for n in v] if t.lead else [n.onset for n in v]
                snapped = snap_exact_all(times, tpq, t.canonical)
                t.rough.append(
                    [x if x is not None else y for x, y in zip(snapped, times, strict=True)]
                )
            return t
        t.scale = estimate_scale(np.array([float(n.onset) for n in voices[melody]]))
        # One beat track for all voices; a chord spread in time is one onset.
        notes = sorted((float(n.onset), n) for v in voices for n in v)
        merged: list[float] = []
        strength: list[float] = []
        for x, n in notes:
            if not merged or x - merged[-1] > CHORD_SPREAD:
                merged.append(x)
                strength.append(n.velocity)
            else:
                strength[-1] = max(strength[-1], n.velocity)
        scaled = np.array(merged) * t.scale
        weights = _onset_weights(scaled, np.array(strength, dtype=float))
        # Beats are tracked at the eighth note, the pulse of dance music; a swung performance's
        # eighths are uneven, so there at the quarter note (a dotted quarter in 6/8).
        period = (1.5 if meter and meter.compound else 1.0) if sounds_swung(scaled) else 0.5
        if tracking_frames(scaled, period) > MAX_TRACKED_BEATS * BEAT_FRAMES:
            raise ConversionError(
                f"performed timing (not on a grid) over {MAX_TRACKED_BEATS:,} tracked "
                "beats long, the limit of the beat tracker",
                where,
            )
        beats, _ = track_beats(scaled, weights, period)
        # The origin: the tracked beat at or before the first note (a performance's first
        # note is as late or early as any other); once the notes are snapped, time is
        # shifted again so that the first note starts the tune (see final()).
        first = float(beats_to_positions(scaled[:1], beats)[0]) * period
        t.tracked = (beats, period, math.floor(first / period + 0.25) * period)
        t.tracked_swing = tracked_swing(beats)
        t.warnings.append("performed timing (not on a grid): beats tracked and quantised")
        t.positions = [list(t.map_many([n.onset for n in v])) for v in voices]
        # Swing, straightened before the meter is estimated (beats tracked at the quarter
        # note are on-beats, so the swung off-beats sit late in each).
        swung = detect_swing(sorted(set(t.positions[melody])), QUARTER_BEATS, Fraction(0))
        if swung is not None:
            t.straight = unswing_map(t.positions[melody], QUARTER_BEATS, Fraction(0), swung)
            t.positions = [[t.straight(p) for p in pos] for pos in t.positions]
            t.tracked_swing = swung
        # Rough positions for the meter and key: each beat of the tracked grid snapped to its
        # best grid (the bar phase is not known yet; the tracked beats are beats).
        rough_meter = meter if meter is not None else QUARTER_BEATS
        t.rough = [snap_to_beats(pos, rough_meter, Fraction(0))[0] for pos in t.positions]
        return t

    def map_many(self, xs) -> np.ndarray:
        beats, period, origin = self.tracked
        x = np.array([float(x) for x in xs]) * self.scale
        return beats_to_positions(x, beats) * period - origin

    def file_time(self, position: Fraction) -> float:
        """A score position (as the notated onsets give it) back to file beats: where the file
        plays it (when performed, through the tracked beats, at their tempo beyond them)."""
        if not self.performed:
            return float(position + self.lead)
        beats, period, origin = self.tracked
        k = (float(position + self.shift) + origin) / period
        if len(beats) < 2:
            return (k + (beats[0] if len(beats) else 0.0)) / self.scale
        last = len(beats) - 1
        if k < 0:
            time = beats[0] + k * (beats[1] - beats[0])
        elif k > last:
            time = beats[-1] + (k - last) * (beats[-1] - beats[-2])
        else:
            time = float(np.interp(k, np.arange(len(beats), dtype=float), beats))
        return float(time) / self.scale

    def _snap(self, x: Fraction) -> Fraction:
        x = x - self.lead
        snapped = snap_exact(x, self.ticks_per_beat, self.canonical)
        # No simple fraction fits: keep the tick itself, so that lengths still add up.
        return x if snapped is None else snapped

    def map(self, x: Fraction) -> float:
        """A file time (a note end) in score beats, before snapping."""
        if not self.performed:
            return float(x - self.lead)
        return float(self.map_many([x])[0])

    def map_ends(self, notes: list[Note]) -> list[float]:
        """:meth:`map` of every note's end, to the same floats: the ends as exact ratios of
        integers (see ticks), and one numpy pass through the tracked beats (whose
        interpolation takes each time alone) rather than one a note."""
        den = common_denominator((n.onset for n in notes), (n.duration for n in notes))
        den = math.lcm(den, self.lead.denominator)
        lead = to_ticks(self.lead, den)
        onsets, lengths = (
            ticks_of((n.onset for n in notes), den),
            ticks_of((n.duration for n in notes), den),
        )
        # (an int / int division is rounded once, as float() of the Fraction is)
        ends = [(on + length - lead) / den for on, length in zip(onsets, lengths, strict=True)]
        return self.map_many(ends).tolist() if self.performed else ends

    def score_time(self, x: Fraction) -> Fraction:
        """A file time (a meta event) in score beats, on the 1/12 grid when performed."""
        if not self.performed:
            return self._snap(x)
        return Fraction(round(self.map(x) * 12), 12) - self.shift

    def final(
        self, voices: list[list[Note]], meter: Meter, phase: Fraction, tuned: int | None = None
    ) -> tuple[list[list[TimedNote]], float | None]:
        """Notated onsets and ends of every note, and the swing ratio if the tune swings (as
        the busiest of the first ``tuned`` voices plays: all of them by default; the drums,
        last, are not the melody)."""
        floats = self.positions if self.performed else [[float(x) for x in r] for r in self.rough]
        among = range(len(voices) if tuned is None else tuned)
        melody = max(among, key=lambda i: distinct_count(self.rough[i]))
        swing = None
        if not self.performed:
            swing = detect_swing(sorted(set(floats[melody])), meter, phase)
        # A swing straightened while tracking the beats is gone from the positions; it is
        # still reported.
        reported = swing if swing is not None else self.tracked_swing
        out: list[list[TimedNote]] = []
        for vi, notes in enumerate(voices):
            if swing is None and not self.performed:
                out.append(self._exact_ends(notes, self.rough[vi]))
                continue
            pos = floats[vi]
            ends = self.map_ends(notes)
            if self.straight is not None:
                ends = [self.straight(e) for e in ends]
            graces: dict[int, int] = {}
            if self.performed:
                graces = find_graces(pos, ends)
            if swing is not None:
                straight = unswing_map(pos, meter, phase, swing)
                pos, ends = [straight(p) for p in pos], [straight(e) for e in ends]
            keep = [i for i in range(len(notes)) if i not in graces]
            sigma = TIMING_SIGMA if self.performed else 0.01
            kept = [pos[i] for i in keep]
            # (a performance's tuplets are judged for the voice as a whole: see snap_voice)
            snap = snap_voice if self.performed else snap_to_beats
            onsets, grids = snap(kept, meter, phase, sigma)
            timed = self._played_ends(
                [notes[i] for i in keep], onsets, meter, phase, [ends[i] for i in keep], grids
            )
            if graces:
                timed = _with_graces(timed, keep, graces, notes, ends, pos)
            out.append(timed)
        if self.performed:
            first = min((t.onset for v in out for t in v), default=Fraction(0))
            first = Fraction(math.floor(first * 4), 4)  # stay on the sixteenth grid
            self.shift = first
            if first:  # (0 most often: nothing to shift)
                out = [
                    [replace(t, onset=t.onset - first, offset=t.offset - first) for t in v]
                    for v in out
                ]
        return out, reported

    def _exact_ends(self, notes: list[Note], onsets: list[Fraction]) -> list[TimedNote]:
        """Note ends on the grid. A note ending where (or a few ticks before) another starts
        ends there; other ends go to the plain grid when near it (a sequencer's shortened
        notes), else to the simplest fraction within a tick."""
        # In integer ticks (see ticks), on a denominator that holds every time snapping gives:
        # this runs for every note.
        times = (onsets, (n.onset for n in notes), (n.duration for n in notes), (self.lead,))
        den = math.lcm(common_denominator(*times), SNAPPED_DENOMINATOR)
        lead = to_ticks(self.lead, den)
        starts = ticks_of(onsets, den)
        distinct = sorted(set(starts))
        following_of = dict(itertools.pairwise(distinct))
        grid = _onset_grid(distinct, den)
        played = ticks_of((n.onset for n in notes), den)  # the file's onsets
        lengths = ticks_of((n.duration for n in notes), den)
        snapped_of = {at - lead: on for at, on in zip(played, starts, strict=True)}
        near = to_ticks(NEAR_GRID, den)
        beats = functools.cache(lambda t: Fraction(t, den))  # (ends repeat: made once each)
        out = []
        for n, on, start, at, length in zip(notes, onsets, starts, played, lengths, strict=True):
            following = following_of.get(start)
            end = at + length - lead
            if end in snapped_of:
                off = snapped_of[end]
            elif following is not None and 0 < following - end <= near:
                off = following
            else:
                end_beats = Fraction(end, den)
                off = to_ticks(
                    snap_near_grid(end_beats, NEAR_GRID) or self._snap(end_beats + self.lead), den
                )
            if off <= start:
                off = start + den // 64
            staccato = False
            detached = grid and off * grid % den != 0
            if following is not None and start < off < following and detached:
                # An end where no note of the voice starts: a sequencer's detached note. Not a
                # tied sliver and a rest, but the note to the next one with a dot, or (far
                # from it) a length on the voice's grid and a rest.
                if 2 * (following - off) < following - start:
                    off, staccato = following, True
                else:
                    steps = max(round_half_even((off - start) * grid, den), 1)
                    off = start + steps * (den // grid)
            out.append(TimedNote(on, beats(off), n.pitch, n.velocity, staccato=staccato))
        return out

    def _played_ends(self, notes, onsets, meter, phase, ends, grids) -> list[TimedNote]:
        """Performed (or swung) note ends snapped to the grid of their beat's onsets, then a
        small overlap with the next note cut (legato) and a gap of at most half the time to
        the next note closed (staccato is articulation, not a rest)."""
        # In integer ticks (see ticks), on a denominator that also holds every step of a
        # beat's grid: this runs for every note.
        beat = grid_beat(meter)
        times = (phase, meter.subdivision, LEGATO_REACH)
        den = math.lcm(common_denominator(onsets, times), beat.denominator * GRID_PARTS)
        phase_ticks, beat_ticks = to_ticks(phase, den), to_ticks(beat, den)
        reach, subdivision = to_ticks(LEGATO_REACH, den), to_ticks(meter.subdivision, den)
        starts = ticks_of(onsets, den)
        following_of = dict(itertools.pairwise(sorted(set(starts))))
        beats = functools.cache(lambda t: Fraction(t, den))  # (ends repeat: made once each)
        out = []
        for n, on, start, end in zip(notes, onsets, starts, ends, strict=True):
            following = following_of.get(start)
            steps, divisions = offset_steps(end, meter, phase, grids)
            off = phase_ticks + steps * (beat_ticks // divisions)
            if following is not None:
                ioi = following - start
                # (doubled: the halves of ioi in whole ticks)
                legato = following < off and 2 * off <= 2 * following + max(2 * reach, ioi)
                staccato = off <= following and 2 * (following - off) <= ioi
                if legato or staccato:
                    off = following
            if off <= start:
                off = following if following is not None else start + subdivision
            out.append(TimedNote(on, beats(off), n.pitch, n.velocity))
        return out


MAX_GRID = 48  # parts of a beat: a finer grid of onsets is not a notation's grid


def _onset_grid(onsets: list[int], den: int) -> int:
    """The parts of a beat every onset (in ticks of 1/``den``) falls on (the least common
    multiple of their denominators); 0 past :data:`MAX_GRID` (no grid: no end is taken for
    off it)."""
    grid = 1
    for x in onsets:
        grid = math.lcm(grid, den // math.gcd(x, den))
        if grid > MAX_GRID:
            return 0
    return grid


def _with_graces(timed, keep, graces, notes, ends, pos) -> list[TimedNote]:
    """Attach performed grace notes to the notes they lead into."""
    lead: dict[int, list[int]] = {}
    for g, main in graces.items():
        lead.setdefault(main, []).append(g)
    out = []
    for k, t in zip(keep, timed, strict=True):
        if k in lead:
            gs = sorted(lead[k], key=lambda g: pos[g])[:4]
            length = grace_length(min(ends[g] - pos[g] for g in gs))
            t = replace(t, graces=tuple(notes[g].pitch for g in gs), grace_length=length)
        out.append(t)
    return out


def _onset_weights(onsets: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """How much each onset says "a beat is here": longer notes and accents say more."""
    ioi = np.diff(np.append(onsets, onsets[-1] + 1.0))
    ioi = np.maximum(ioi, 0.02)
    w = 1.0 + 0.5 * np.clip(np.log2(ioi / np.median(ioi)), -1.0, 2.0)
    if velocities.std() > 1.0:
        w += 0.5 * np.clip((velocities - velocities.mean()) / velocities.std(), -2.0, 2.0)
    return np.maximum(w, 0.1)
