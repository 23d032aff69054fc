"""The symbolic MIDI -> ABC converter: a MIDI file back to the notation of its tune.

    MIDI bytes -> notes in beats (formats.midi) -> voices picked, drums dropped
      -> timing: on the grid, or performed (quantise: tempo tracking, swing, per-beat grids)
      -> key (keys) and meter with bar lines (meter), from the file or estimated
      -> lines, chords, graces -> bars -> repeats and endings (repeats) -> ABC text (writer)

The entry point :func:`midi_to_abc` never crashes on bad input: it raises
:class:`~abcmidi_bgpt.core.errors.ConversionError` with a one-line reason, or transcribes what it can
and says what it skipped in ``warnings`` (and in the ABC header comments where it concerns the
notation: which of meter, key and tempo were estimated).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note, Performance
from abcmidi_bgpt.formats.midi import DRUM_CHANNEL, MidiContents, midi_contents, read_midi_salvaged
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key, KeyEstimate, estimate_key, signature_key
from abcmidi_bgpt.symbolic.midi_to_abc.meter import (
    FEATURES,
    Meter,
    best_phase,
    estimate_meter,
    melody_events,
    phase_features,
)
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import (
    BEAT_FRAMES,
    CANONICAL_TICKS,
    CHORD_SPREAD,
    MAX_TRACKED_BEATS,
    TIMING_SIGMA,
    Chord,
    TimedNote,
    absorb_graces,
    beats_to_positions,
    detect_swing,
    estimate_scale,
    find_graces,
    grace_length,
    on_grid,
    snap_exact,
    snap_exact_all,
    snap_near_grid,
    snap_offset,
    snap_to_beats,
    sounds_swung,
    split_lines,
    track_beats,
    tracked_swing,
    tracking_frames,
    unswing_map,
)
from abcmidi_bgpt.symbolic.midi_to_abc.repeats import find_repeats
from abcmidi_bgpt.symbolic.midi_to_abc.writer import Bar, Header, Item, choose_unit, write_abc

MAX_TRANSCRIBED_NOTES = 50_000  # a 1,000-bar tune has about 8,000 notes
# Bars and voices cost time and text whether or not notes fill them: a few notes far apart in
# a meter of 1/32, or a thousand tracks of one note each, are refused before they are written.
MAX_TRANSCRIBED_BARS = 20_000  # 40,000 beats (formats.midi.MAX_MIDI_BEATS) of 2/4
MAX_VOICE_BARS = 400_000  # voices times bars: 16 voices of 20,000 bars, 400 of 1,000
NEAR_GRID = Fraction(1, 32)  # beats: how early a note may end and still end on the grid
METER_OVERRIDE_MARGIN = 2.0  # how much better (in phase score) another meter must fit than 4/4
QUARTER_BEATS = Meter(4, 4)  # for swing while tracking: any meter counted in quarter notes


@dataclass(slots=True)
class MidiToAbc:
    """A transcription: the ABC text, warnings, and what was decided on the way."""

    abc: str
    warnings: list[str] = field(default_factory=list)
    meter: Meter = Meter(4, 4)
    key: Key = Key(0)
    pickup: Fraction = Fraction(0)  # length of the first, partial bar (0: none)
    meter_estimated: bool = False
    key_estimated: bool = False
    swing: float | None = None
    performed: bool = False  # timing was performed (tracked and snapped), not on the grid
    repeats: int = 0  # repeated sections written with |: :|
    endings: int = 0  # of those, sections with first and second endings
    voices: int = 1
    shift: Fraction = Fraction(0)  # beats of leading silence dropped


def midi_to_abc(
    data: bytes, source: str = "", track: int | None = None, channel: int | None = None
) -> MidiToAbc:
    """Transcribe MIDI bytes to one ABC tune.

    ``track`` and ``channel`` (0-based, as mido counts) keep only the notes of that track or
    channel; by default every track and channel with pitched notes becomes an ABC voice
    (drums, channel 10, are left out). Raises :class:`ConversionError` with a one-line reason
    for input that holds no tune.
    """
    midi, warnings = read_midi_salvaged(data, source)
    contents = midi_contents(midi, source)
    contents.warnings = warnings + contents.warnings
    return transcribe(contents, source, track=track, channel=channel)


def transcribe(
    contents: MidiContents,
    source: str = "",
    track: int | None = None,
    channel: int | None = None,
) -> MidiToAbc:
    """Transcribe the contents of a MIDI file (see :func:`midi_to_abc`)."""
    where = source
    warnings = list(contents.warnings)
    perf = contents.performance
    voices = _pick_voices(contents, track, channel, where, warnings)
    total = sum(len(v) for v in voices)
    if total > MAX_TRANSCRIBED_NOTES:
        raise ConversionError(
            f"{total} notes, over the limit of {MAX_TRANSCRIBED_NOTES} for transcription", where
        )
    if contents.unended_notes:
        warnings.append(
            f"{contents.unended_notes} note(s) had no note-off; each ends at the next note"
        )
    melody = max(range(len(voices)), key=lambda i: (len({n.onset for n in voices[i]}), -i))

    # Timing: file beats -> score positions.
    timing = _Timing.of(contents, voices, melody, _file_meter(perf), where)
    warnings += timing.warnings

    # Key (needs no meter).
    all_notes = [n for v in voices for n in v]
    last_onset = max(n.onset for n in voices[melody])
    ending_pitch = min(n.pitch for n in voices[melody] if n.onset == last_onset)
    hint = perf.keys[0] if perf.keys and perf.keys[0].onset <= voices[melody][0].onset else None
    changes = [k.onset for k in perf.keys if k.onset > 0 and hint and k.fifths != hint.fifths]
    if changes:  # the file's first key holds until its first change: judge it on those notes
        all_notes = [n for n in all_notes if n.onset < changes[0]] or all_notes
        ending_pitch = None
    key_est = estimate_key(all_notes, hint, ending_pitch)
    if key_est.message:
        warnings.append(key_est.message)

    # Meter and bar lines, on the melody.
    events = _melody_events(timing.rough[melody], voices[melody], key_est.key)
    meter, phase, meter_estimated, meter_note = _meter_and_phase(contents, timing, events)
    if meter_note:
        warnings.append(meter_note)

    # Final positions, swing, durations.
    notes_per_voice, swing = timing.final(voices, meter, phase)
    phase = (phase - timing.shift) % meter.bar
    legato = Fraction(1, 4) if timing.performed else Fraction(0)
    lines: list[list[Chord]] = []
    clipped = 0
    for notes in notes_per_voice:
        voice_lines, cut = split_lines(notes, legato)
        clipped += cut
        lines += [absorb_graces(line) for line in voice_lines if line]
    if clipped:
        warnings.append(f"{clipped} note(s) cut short: more than 4 notes overlapped in a voice")
    lines.sort(key=lambda ln: -_line_weight(ln))  # the busiest line (the melody) first

    # Bars: whole bars of silence before the first note are dropped.
    start = min(c.onset for ln in lines for c in ln)
    end = max(c.offset for ln in lines for c in ln)
    bar = meter.bar
    last_line = phase + ((start - phase) // bar) * bar  # the bar line at or before the start
    shift = (last_line // bar) * bar if last_line >= bar else Fraction(0)
    if shift:
        warnings.append(f"{float(shift):g} beats of silence before the first note dropped")
    key_map = _key_map(perf, key_est, timing)
    meter_map = _meter_map(perf, meter, timing, meter_estimated)
    bars = _cut_bars(lines, shift, phase, end, meter_map, key_map, where)
    pickup = bars[0].length if bars and bars[0].length != bars[0].meter.bar else Fraction(0)
    tied = [i for i, b in enumerate(bars) if any(v and v[-1].tie for v in b.voices)]
    sections = find_repeats(_bar_ids(bars), tied)

    unit = choose_unit([c.length for c in lines[0]])
    comments = [f"transcribed from {source or 'MIDI'} by abcmidi-bgpt (symbolic)"]
    estimated = [
        name
        for name, flag in (
            ("meter", meter_estimated),
            ("key", key_est.estimated),
            ("tempo", not perf.tempos or contents.smpte or timing.scale != 1.0),
        )
        if flag
    ]
    if estimated:
        comments.append("estimated (not in the file): " + ", ".join(estimated))
    if swing:
        comments.append(
            f"played with swing (off-beats at {swing:.2f} of the beat), written straight"
        )
    if timing.performed:
        comments.append("performed timing: quantised to the meter's grid")
    header = Header(
        title=perf.title or _stem(source) or "Untitled",
        meter=meter,
        key=key_est.key,
        unit=unit,
        qpm=_tempo(perf, timing),
        comments=comments,
    )
    abc = write_abc(header, bars, sections)
    repeats = [s for s in sections if s.repeat]
    return MidiToAbc(
        abc=abc,
        warnings=warnings,
        meter=meter,
        key=key_est.key,
        pickup=pickup,
        meter_estimated=meter_estimated,
        key_estimated=key_est.estimated,
        swing=swing,
        performed=timing.performed,
        repeats=len(repeats),
        endings=sum(1 for s in repeats if s.endings),
        voices=len(lines),
        shift=shift,
    )


def _stem(source: str) -> str:
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


# --- voices -------------------------------------------------------------------------------------


def _pick_voices(contents: MidiContents, track, channel, where, warnings) -> list[list[Note]]:
    perf = contents.performance
    candidates = []
    drums = 0
    for v, tr in zip(perf.voices, contents.voice_tracks, strict=True):
        if not v.notes:
            continue
        if v.channel == DRUM_CHANNEL:
            drums += len(v.notes)
            continue
        candidates.append((tr, v))
    if not candidates:
        if drums:
            raise ConversionError("only drum notes (channel 10): no tune to transcribe", where)
        raise ConversionError("no notes in the MIDI file", where)
    if contents.file_format == 2:
        first = candidates[0][0]
        if any(tr != first for tr, _ in candidates):
            warnings.append("format 2 file (independent sequences): only the first one read")
        candidates = [(tr, v) for tr, v in candidates if tr == first]
    chosen = [
        (tr, v)
        for tr, v in candidates
        if (track is None or tr == track) and (channel is None or v.channel == channel)
    ]
    if not chosen:
        have = ", ".join(f"track {tr} channel {v.channel}" for tr, v in candidates)
        wanted = " ".join(
            x
            for x in (
                f"track {track}" if track is not None else "",
                f"channel {channel}" if channel is not None else "",
            )
            if x
        )
        raise ConversionError(f"no notes on {wanted} (notes are on: {have})", where)
    if drums and track is None and channel is None:
        warnings.append(f"{drums} drum note(s) (channel 10) left out")
    out = []
    for _, v in chosen:
        notes = [n for n in v.notes if n.duration > 0] or v.notes
        out.append(sorted(notes, key=lambda n: (n.onset, -n.pitch)))
    return out


def _line_weight(line: Sequence[Chord]) -> float:
    return len(line) + 0.001 * (sum(max(c.pitches) for c in line) / max(1, len(line)))


# --- timing ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Timing:
    """File beats -> score positions, for every voice."""

    performed: bool
    ticks_per_beat: int
    canonical: bool
    scale: float = 1.0
    tracked: tuple = ()  # performed: (beat times, beat length, score position of the origin)
    shift: Fraction = Fraction(0)  # performed: taken off snapped times so the tune starts at 0
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
    ) -> _Timing:
        tpq = contents.ticks_per_beat
        onsets = [n.onset for v in voices for n in v]
        performed = contents.smpte or not on_grid(onsets, tpq)
        t = cls(performed, tpq, tpq == CANONICAL_TICKS and not contents.smpte)
        if not performed:
            for v in voices:
                snapped = snap_exact_all([n.onset for n in v], tpq, t.canonical)
                t.rough.append(
                    [n.onset if x is None else x for x, n in zip(snapped, v, strict=True)]
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

    def _snap(self, x: Fraction) -> Fraction:
        snapped = snap_exact(x, self.ticks_per_beat, self.canonical)
        # No simple fraction fits: keep the tick itself, so that lengths still add up.
        return x if snapped is None else snapped

    def map(self, x: Fraction) -> float:
        """A file time (a note end) in score beats, before snapping."""
        if not self.performed:
            return float(x)
        return float(self.map_many([x])[0])

    def score_time(self, x: Fraction) -> Fraction:
        """A file time (a meta event) in score beats, on the 1/12 grid when performed."""
        if not self.performed:
            return self._snap(x)
        return Fraction(round(self.map(x) * 12), 12) - self.shift

    def final(
        self, voices: list[list[Note]], meter: Meter, phase: Fraction
    ) -> tuple[list[list[TimedNote]], float | None]:
        """Notated onsets and ends of every note, and the swing ratio if the tune swings."""
        floats = self.positions if self.performed else [[float(x) for x in r] for r in self.rough]
        melody = max(range(len(voices)), key=lambda i: len(set(self.rough[i])))
        swing = None
        if not self.performed:
            swing = detect_swing(sorted(set(floats[melody])), meter, phase)
        # A swing straightened while tracking the beats is gone from the positions; it is
        # still reported.
        reported = swing if swing is not None else self.tracked_swing
        out: list[list[TimedNote]] = []
        for vi, notes in enumerate(voices):
            if swing is None and not self.performed:
                out.append(self._durations(notes, self.rough[vi], meter, phase))
                continue
            pos = floats[vi]
            ends = [self.map(n.onset + n.duration) for n in notes]
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
            onsets, grids = snap_to_beats([pos[i] for i in keep], meter, phase, sigma)
            timed = self._durations(
                [notes[i] for i in keep], onsets, meter, phase, [ends[i] for i in keep], grids
            )
            if graces:
                timed = _with_graces(timed, keep, graces, notes, ends, pos)
            out.append(timed)
        if self.performed:
            first = min((t.onset for v in out for t in v), default=Fraction(0))
            first = Fraction(math.floor(first * 4), 4)  # stay on the sixteenth grid
            self.shift = first
            out = [
                [replace(t, onset=t.onset - first, offset=t.offset - first) for t in v] for v in out
            ]
        return out, reported

    def _durations(self, notes, onsets, meter, phase, ends=None, grids=None) -> list[TimedNote]:
        """Note ends: exact on the grid; performed (or swung) ones snapped to the sixteenth
        grid, then a small overlap with the next note cut (legato) and a gap of at most half
        the time to the next note closed (staccato is articulation, not a rest)."""
        distinct = sorted(set(onsets))
        following_of = {x: distinct[i + 1] for i, x in enumerate(distinct[:-1])}
        snapped_of = {n.onset: on for n, on in zip(notes, onsets, strict=True)}
        out = []
        for k, (n, on) in enumerate(zip(notes, onsets, strict=True)):
            following = following_of.get(on)
            if ends is None:
                # A note ending where (or a few ticks before) another starts ends there; other
                # ends go to the plain grid when near it (a sequencer's shortened notes), else
                # to the simplest fraction within a tick.
                end = n.onset + n.duration
                if end in snapped_of:
                    off = snapped_of[end]
                elif following is not None and 0 < following - end <= NEAR_GRID:
                    off = following
                else:
                    off = snap_near_grid(end, NEAR_GRID) or self._snap(end)
                if off <= on:
                    off = on + Fraction(1, 64)
                out.append(TimedNote(on, off, n.pitch, n.velocity))
                continue
            off = snap_offset(ends[k], meter, phase, grids)
            if following is not None:
                ioi = following - on
                legato = following < off <= following + max(Fraction(1, 4), ioi / 2)
                staccato = off <= following and following - off <= ioi / 2
                if legato or staccato:
                    off = following
            if off <= on:
                off = following if following is not None else on + meter.subdivision
            out.append(TimedNote(on, off, n.pitch, n.velocity))
        return out


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


# --- meter and key --------------------------------------------------------------------------------


def _melody_events(rough: Sequence[Fraction], notes: Sequence[Note], key: Key):
    chords: dict[Fraction, list[Note]] = {}
    for pos, n in zip(rough, notes, strict=True):
        chords.setdefault(pos, []).append(n)
    onsets = sorted(chords)
    triad = {key.tonic_pc, (key.tonic_pc + (3 if key.minor else 4)) % 12, (key.tonic_pc + 7) % 12}
    offsets, vels, sizes, tonal, tops = [], [], [], [], []
    for on in onsets:
        group = chords[on]
        offsets.append(on + max(n.duration for n in group))
        vels.append(max(n.velocity for n in group))
        sizes.append(len({n.pitch for n in group}))
        tonal.append(1.0 if any(n.pitch % 12 in triad for n in group) else 0.0)
        tops.append(max(n.pitch for n in group))
    return melody_events(onsets, offsets, vels, sizes, tonal, tops)


def _file_meter(perf: Performance) -> Meter | None:
    for m in perf.meters:
        if m.onset > 0:
            break
        if 1 <= m.numerator <= 32 and m.denominator in (1, 2, 4, 8, 16, 32):
            return Meter(m.numerator, m.denominator)
    return None


def _meter_and_phase(contents: MidiContents, timing: _Timing, events):
    """The meter (the file's unless the notes clearly say otherwise) and the bar phase."""
    perf = contents.performance
    meter = _file_meter(perf)
    if meter is None:
        est, phase, _ = estimate_meter(events)
        return est, phase, True, ""
    # A later meter change in the file marks a bar line: the phase follows from it.
    for change in perf.meters:
        if change.onset > 0:
            at = timing.score_time(change.onset)
            return meter, at % meter.bar, False, ""
    phase, score = best_phase(events, meter)
    if meter != Meter(4, 4):
        return meter, phase, False, ""
    # 4/4 is what sequencers write when nobody chose a meter: a jig or a waltz stamped 4/4
    # is taken for what its notes say. Only when 4/4 fits badly (notes held across its bar
    # lines and beats, as a jig's quarter notes are, or long notes off its strong beats) and
    # another meter fits much better: the estimate (every candidate meter) is skipped otherwise.
    f = dict(zip(FEATURES, phase_features(events, meter, phase), strict=True))
    if f["lines_crossed"] + f["beats_crossed"] < 0.15 and f["strength_corr"] >= 0:
        return meter, phase, False, ""
    est, est_phase, est_score = estimate_meter(events)
    if est.bar % meter.bar and meter.bar % est.bar and est_score - score > METER_OVERRIDE_MARGIN:
        note = f"the time signature 4/4 does not fit the notes; meter estimated as {est.abc}"
        return est, est_phase, True, note
    return meter, phase, False, ""


def _key_map(perf: Performance, est: KeyEstimate, timing: _Timing) -> list[tuple[Fraction, Key]]:
    out = [(Fraction(0), est.key)]
    if est.estimated:
        return out
    for change in perf.keys[1:]:
        at = timing.score_time(change.onset)
        key = signature_key(change)
        if at > 0 and key.fifths != out[-1][1].fifths:
            out.append((at, key))
    return out


def _meter_map(perf: Performance, meter: Meter, timing: _Timing, estimated: bool):
    out = [(Fraction(0), meter)]
    if estimated:
        return out
    for change in perf.meters:
        at = timing.score_time(change.onset)
        m = Meter(change.numerator, change.denominator)
        # a numerator of 0 would make bars of no length: never a usable meter
        if (
            at > 0
            and m != out[-1][1]
            and m.numerator >= 1
            and m.denominator in (1, 2, 4, 8, 16, 32)
        ):
            out.append((at, m))
    return out


def _tempo(perf: Performance, timing: _Timing) -> float:
    """Quarter notes a minute: the file's tempo (the one in force for the most beats when it
    changes), MIDI's default of 120 when it has none; scaled where the file's beats were not
    the music's (SMPTE files, recordings without a click)."""
    if not perf.tempos:
        return 120.0 * timing.scale
    spans: dict[float, float] = {}
    ends = [t.onset for t in perf.tempos[1:]] + [perf.end]
    for t, e in zip(perf.tempos, ends, strict=True):
        spans[round(t.qpm)] = spans.get(round(t.qpm), 0.0) + float(max(e - t.onset, 0))
    return max(spans, key=lambda q: (spans[q], -q)) * timing.scale


# --- bars -------------------------------------------------------------------------------------------


def _cut_bars(
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


def _bar_ids(bars: list[Bar]) -> list[int]:
    ids: dict[tuple, int] = {}
    return [ids.setdefault(b.ident(), len(ids)) for b in bars]


__all__ = ["MidiToAbc", "midi_to_abc", "transcribe"]
