"""The symbolic MIDI -> ABC converter: a MIDI file back to the notation of its tune.

    MIDI bytes -> notes in beats (formats.midi) -> voices picked, drums one percussion
      voice (or dropped), at most 16 voices (voices) -> timing: on the grid, or performed
      (quantise: tempo tracking, swing, grids)
      -> key (keys) and meter with bar lines (meter), from the file or estimated
      -> piano hands (hands), lines, chords, graces -> bars, each played at the file's time
      (tempo) -> repeats and endings (repeats) -> ABC text (writer)

The entry point :func:`midi_to_abc` never crashes on bad input: it raises
:class:`~abcmidi_bgpt.core.errors.ConversionError` with a one-line reason, or transcribes what it can
and says what it skipped in ``warnings`` (and in the ABC header comments where it concerns the
notation: which of meter, key and tempo were estimated).

Why one module of over 400 lines: the pipeline above in its order, each step a call into its
own module, read in one sitting as the order the steps depend on.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import KeyChange, Note, Performance, TempoClock
from abcmidi_bgpt.formats.midi import MidiContents, midi_contents, read_midi_salvaged
from abcmidi_bgpt.symbolic.midi_to_abc.bars import (
    bar_ids,
    cut_bars,
)
from abcmidi_bgpt.symbolic.midi_to_abc.drums import drum_line
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key, KeyEstimate, estimate_key, signature_key
from abcmidi_bgpt.symbolic.midi_to_abc.meter import (
    FEATURES,
    Meter,
    best_phase,
    estimate_meter,
    melody_events,
    phase_features,
)
from abcmidi_bgpt.symbolic.midi_to_abc.ornaments import trill_marker
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord
from abcmidi_bgpt.symbolic.midi_to_abc.repeats import find_repeats
from abcmidi_bgpt.symbolic.midi_to_abc.tempo import span_tempi
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import (
    common_denominator,
    distinct_count,
    ticks_of,
    to_ticks,
)
from abcmidi_bgpt.symbolic.midi_to_abc.timing import Timing
from abcmidi_bgpt.symbolic.midi_to_abc.voices import (
    MAX_PLAYED_VOICES,
    by_hand,
    line_weight,
    lines_within,
    low,
    merge_by_family,
    pick_voices,
)
from abcmidi_bgpt.symbolic.midi_to_abc.writer import Bar, Header, choose_unit, write_abc

MAX_TRANSCRIBED_NOTES = 50_000  # a 1,000-bar tune has about 8,000 notes
MIN_TEMPO_SPAN = Fraction(1, 8)  # beats: a tempo event nearer a bar line is taken at it
METER_OVERRIDE_MARGIN = 2.0  # how much better (in phase score) another meter must fit than 4/4


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
    drums: bool = False  # the last voice is the drums (percussion, MIDI channel 10)


DRUMS = ("voice", "drop")  # drums (channel 10): one percussion voice, or left out with a note


def midi_to_abc(
    data: bytes,
    source: str = "",
    track: int | None = None,
    channel: int | None = None,
    drums: str = "voice",
) -> MidiToAbc:
    """Transcribe MIDI bytes to one ABC tune.

    ``track`` and ``channel`` (0-based, as mido counts) keep only the notes of that track or
    channel; by default every track and channel with pitched notes becomes an ABC voice, and
    the drums (channel 10) one percussion voice, written last (see drums), or with ``drums``
    "drop" are left out, with a note. Raises :class:`ConversionError` with a one-line reason
    for input that holds no tune.
    """
    midi, warnings = read_midi_salvaged(data, source)
    contents = midi_contents(midi, source)
    contents.warnings = warnings + contents.warnings
    return transcribe(contents, source, track=track, channel=channel, drums=drums)


def transcribe(
    contents: MidiContents,
    source: str = "",
    track: int | None = None,
    channel: int | None = None,
    drums: str = "voice",
) -> MidiToAbc:
    """Transcribe the contents of a MIDI file (see :func:`midi_to_abc`)."""
    where = source
    if drums not in DRUMS:
        raise ConversionError(f"unknown drums option {drums!r} (use {' or '.join(DRUMS)})")
    warnings = list(contents.warnings)
    perf = contents.performance
    before = len(warnings)
    voices, programs, hits = pick_voices(contents, track, channel, where, warnings, drums)
    most = MAX_PLAYED_VOICES - 1 if hits else MAX_PLAYED_VOICES  # the drums play on one
    voices, programs = merge_by_family(voices, programs, warnings, most)
    voice_notes = warnings[before:]  # drums left out, voices merged: said in the header too
    tuned = len(voices)  # pitched voices; the drums, when kept, are timed after them
    played = [*voices, hits] if hits else voices
    total = sum(len(v) for v in played)
    if total > MAX_TRANSCRIBED_NOTES:
        raise ConversionError(
            f"{total} notes, over the limit of {MAX_TRANSCRIBED_NOTES} for transcription", where
        )
    if contents.unended_notes:
        warnings.append(
            f"{contents.unended_notes} note(s) had no note-off; each ends at the next note"
        )
    melody = max(
        range(tuned or len(played)), key=lambda i: (distinct_count(n.onset for n in played[i]), -i)
    )

    # Timing: file beats -> score positions (the drums' hits too: they keep time).
    timing = Timing.of(contents, played, melody, _file_meter(perf), where)
    warnings += timing.warnings

    # Key (needs no meter), of the pitched voices.
    hint = perf.keys[0] if perf.keys and perf.keys[0].onset <= played[melody][0].onset else None
    if tuned:
        key_est = _estimated_key(perf, voices, melody, hint)
    else:  # drums alone: no key but the file's (a drum's sound is its key number)
        key_est = KeyEstimate(signature_key(hint) if hint else Key(0), estimated=hint is None)
    if key_est.message:
        warnings.append(key_est.message)

    # Meter and bar lines, on the melody.
    events = _melody_events(timing.rough[melody], played[melody], key_est.key)
    meter, phase, meter_estimated, meter_note = _meter_and_phase(contents, timing, events)
    if meter_note:
        warnings.append(meter_note)

    # Final positions, swing, durations.
    notes_per_voice, swing = timing.final(played, meter, phase, tuned if hits and tuned else None)
    drum_notes = notes_per_voice.pop() if hits else []
    notes_per_voice, limits = by_hand(notes_per_voice, programs)
    phase = (phase - timing.shift) % meter.bar
    legato = Fraction(1, 4) if timing.performed else Fraction(0)
    key_map = _key_map(perf, key_est, timing)
    meter_map = _meter_map(perf, meter, timing, meter_estimated)
    clock = TempoClock(perf.tempos)

    def seconds(onset: Fraction, length: Fraction) -> float:
        start = clock.seconds(timing.file_time(onset))
        return clock.seconds(timing.file_time(onset + length)) - start

    trills = trill_marker(meter_map, phase, key_map, seconds)
    lines, clipped = lines_within(notes_per_voice, legato, limits, trills, most)
    if clipped:
        warnings.append(
            f"{clipped} note(s) cut short: more lines overlapped than the voices can hold"
        )
    lines.sort(key=lambda ln: -line_weight(ln))  # the busiest line (the melody) first
    percussion = None
    if hits:  # the drums: one line of hits, written last
        end = _extent(lines)[1] if lines else None
        lines.append(drum_line(drum_notes, meter_map, phase, end))
        percussion = len(lines) - 1

    # Bars: whole bars of silence before the first note are dropped.
    start, end = _extent(lines)
    bar = meter.bar
    last_line = phase + ((start - phase) // bar) * bar  # the bar line at or before the start
    shift = (last_line // bar) * bar if last_line >= bar else Fraction(0)
    if shift:
        warnings.append(f"{float(shift):g} beats of silence before the first note dropped")
    bars = cut_bars(lines, shift, phase, end, meter_map, key_map, where, percussion)
    _play_bars_in_time(bars, perf, timing)
    pickup = bars[0].length if bars and bars[0].length != bars[0].meter.bar else Fraction(0)
    tied = [i for i, b in enumerate(bars) if any(v and v[-1].tie for v in b.voices)]
    sections = find_repeats(bar_ids(bars), tied)

    unit = choose_unit([c.length for c in lines[0]])
    # the file's name, not its path: the same file gives the same ABC wherever it lies
    named = source.replace("\\", "/").rsplit("/", 1)[-1] if source else "MIDI"
    comments = [f"transcribed from {named} by abcmidi-bgpt (symbolic)"]
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
    comments += voice_notes
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
        qpm=bars[0].qpm if bars and bars[0].qpm else _tempo(perf, timing),
        comments=comments,
        bass=frozenset(i for i, ln in enumerate(lines) if i != percussion and low(ln)),
        percussion=percussion,
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
        drums=percussion is not None,
    )


def _estimated_key(
    perf: Performance, voices: list[list[Note]], melody: int, hint: KeyChange | None
) -> KeyEstimate:
    """The key of the pitched voices: the file's signature when the notes agree with it."""
    all_notes = [n for v in voices for n in v]
    ending_pitch: int | None = _ending_pitch(voices[melody])
    changes = [k.onset for k in perf.keys if k.onset > 0 and hint and k.fifths != hint.fifths]
    if changes:  # the file's first key holds until its first change: judge it on those notes
        all_notes = [n for n in all_notes if n.onset < changes[0]] or all_notes
        ending_pitch = None
    return estimate_key(all_notes, hint, ending_pitch)


def _ending_pitch(notes: list[Note]) -> int:
    """The lowest pitch at the last onset (in ticks, see ticks: Fractions compare slowly)."""
    den = common_denominator(n.onset for n in notes)
    onsets = ticks_of((n.onset for n in notes), den)
    last = max(onsets)
    return min(n.pitch for n, on in zip(notes, onsets, strict=True) if on == last)


def _extent(lines: list[list[Chord]]) -> tuple[Fraction, Fraction]:
    """The first onset and the last end of the lines' chords (in ticks, as _ending_pitch)."""
    chords = [c for ln in lines for c in ln]
    den = common_denominator((c.onset for c in chords), (c.length for c in chords))
    onsets = ticks_of((c.onset for c in chords), den)
    ends = [
        on + length
        for on, length in zip(onsets, ticks_of((c.length for c in chords), den), strict=True)
    ]
    return Fraction(min(onsets), den), Fraction(max(ends), den)


def _stem(source: str) -> str:
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


# --- meter and key --------------------------------------------------------------------------------


def _melody_events(rough: Sequence[Fraction], notes: Sequence[Note], key: Key):
    # Positions in integer ticks (see ticks): hashed and sorted for every note.
    den = common_denominator(rough, (n.duration for n in notes))
    chords: dict[int, list[Note]] = {}
    exact: dict[int, Fraction] = {}
    for pos, tick, n in zip(rough, ticks_of(rough, den), notes, strict=True):
        chords.setdefault(tick, []).append(n)
        exact.setdefault(tick, pos)
    ticks = sorted(chords)
    onsets = [exact[t] for t in ticks]
    triad = {key.tonic_pc, (key.tonic_pc + (3 if key.minor else 4)) % 12, (key.tonic_pc + 7) % 12}
    offsets, vels, sizes, tonal, tops = [], [], [], [], []
    for on in ticks:
        group = chords[on]
        offsets.append(Fraction(on + max(to_ticks(n.duration, den) for n in group), den))
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


def _meter_and_phase(contents: MidiContents, timing: Timing, events):
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
    est, est_phase, est_score = estimate_meter(events, known={meter: (phase, score)})
    if est.bar % meter.bar and meter.bar % est.bar and est_score - score > METER_OVERRIDE_MARGIN:
        note = f"the time signature 4/4 does not fit the notes; meter estimated as {est.abc}"
        return est, est_phase, True, note
    return meter, phase, False, ""


def _key_map(perf: Performance, est: KeyEstimate, timing: Timing) -> list[tuple[Fraction, Key]]:
    out = [(Fraction(0), est.key)]
    if est.estimated:
        return out
    for change in perf.keys[1:]:
        at = timing.score_time(change.onset)
        key = signature_key(change)
        if at > 0 and key.fifths != out[-1][1].fifths:
            out.append((at, key))
    return out


def _meter_map(perf: Performance, meter: Meter, timing: Timing, estimated: bool):
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


def _play_bars_in_time(bars: list[Bar], perf: Performance, timing: Timing) -> None:
    """Give each bar the tempo that plays it when the file plays it, and the tempo changes
    inside it (see :mod:`~abcmidi_bgpt.symbolic.midi_to_abc.tempo`)."""
    if not bars:
        return
    end = bars[-1].start + bars[-1].length
    cuts = {b.start for b in bars}
    starts_set = set(cuts)
    if not timing.performed and len(perf.tempos) <= len(bars):
        cuts |= {
            at for t in perf.tempos if bars[0].start < (at := timing.score_time(t.onset)) < end
        }
    points: list[Fraction] = []
    for p in sorted(cuts):  # an event a few ticks from a bar line is at the bar line
        if not points or p - points[-1] >= MIN_TEMPO_SPAN or p in starts_set:
            if points and p - points[-1] < MIN_TEMPO_SPAN:
                points.pop()
            points.append(p)
    points.append(end)
    clock = TempoClock(perf.tempos)
    bounds = [clock.seconds(timing.file_time(p)) for p in points]
    starts = [b.start for b in bars]
    owner = [max(bisect.bisect_right(starts, p) - 1, 0) for p in points[:-1]]
    lengths = [b - a for a, b in zip(points, points[1:], strict=False)]
    tempi = span_tempi(lengths, [bars[i].meter.beat for i in owner], bounds)
    for p, i, qpm in zip(points, owner, tempi, strict=False):
        b = bars[i]
        if p == b.start:
            b.qpm = qpm
        else:
            b.tempi.append((p - b.start, qpm))


def _tempo(perf: Performance, timing: Timing) -> float:
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


__all__ = ["MidiToAbc", "midi_to_abc", "transcribe"]
