"""Play out a score (:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.score`): repeats and endings
expanded, ties merged, voices on their channels, chord symbols played where asked.

Times stay integers in "units" (a fixed number per quarter note, given by the reader) so that
playback is exact and fast; they become Fractions of a beat only at the end. For repeats and
endings see :mod:`~abcmidi_bgpt.symbolic.abc_to_midi.play_order`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import (
    DEFAULT_VELOCITY,
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
)
from abcmidi_bgpt.formats.midi import DRUM_CHANNEL
from abcmidi_bgpt.symbolic.abc_to_midi.play_order import ordered_by_parts, repeat_warnings
from abcmidi_bgpt.symbolic.abc_to_midi.score import Measure, Part

MAX_PIECE_BEATS = 200_000  # about 20 hours at 160 beats a minute
# A reel at the 32 KiB limit for a tune plays about 45,000 notes with its repeats; endings such
# as [1-99 or a long P: order could otherwise multiply a small tune into more notes than
# memory holds (180,000 took 16 s to play out and write on a busy machine).
MAX_PLAYED_NOTES = 200_000
# MIDI stores a tempo as microseconds a quarter note in 24 bits: slower than this cannot be
# written. A Q: between 1 and this is raised to it, with a warning.
MIN_QPM = 60_000_000 / 0xFFFFFF  # 3.58 quarter notes a minute


@dataclass(slots=True)
class PlaybackResult:
    performance: Performance
    warnings: list[str]


def play(
    parts: list[Part],
    upq: int,
    chords: bool = False,
    part_order: str = "",
    sections: list[str] | None = None,
    title: str = "",
    label: str = "",
    align_bars: bool = True,
) -> PlaybackResult:
    """Play out a score read into :class:`Part` s of measures, ``upq`` units a quarter note.

    With ``chords``, chord symbols become an accompaniment voice (block chords held until the
    next symbol); otherwise they are annotations and make no sound. ``part_order`` is the
    tune header's ``P:`` field ("AABB", "(AB)2C"): the sections marked with those letters in
    the body are played in that order, each with its own repeats; ``sections`` gives the part
    letter of each measure of the first part.
    """
    where = label
    read = [part.measures for part in parts]
    if not any(m.notes for measures in read for m in measures):
        raise ConversionError("the tune has no notes", where)

    # MusicXML parts share their bar structure (``align_bars``): align them bar by bar so a
    # short bar in one voice does not shift the others. ABC voices are timed each on its own,
    # as abc2midi times them: an overfull bar in one voice does not pad the others.
    if align_bars and len({len(ms) for ms in read}) == 1 and len(read) > 1:
        for i in range(len(read[0])):
            longest = max(ms[i].length for ms in read)
            for ms in read:
                ms[i].length = longest
    warnings: list[str] = []
    perf = Performance(title=title)
    voice_of: dict[tuple[int, str], Voice] = {}
    drums: set[int] = set()  # the voices of percussion parts
    chord_events: list[tuple[int, tuple[int, ...] | None]] = []
    end_units = played_notes = 0
    sections = sections or []
    for pi, (part, measures) in enumerate(zip(parts, read, strict=True)):
        order = ordered_by_parts(measures, sections, part_order, where)
        if pi == 0:
            warnings += _bar_length_warnings(measures, upq) + repeat_warnings(measures)
        name, program = part.name, part.program
        notes_by_voice: dict[str, list[tuple[int, int, int, int, bool]]] = {}
        velocity, t = DEFAULT_VELOCITY, 0
        meter = key = None
        for mi in order:
            m = measures[mi]
            if pi == 0:
                if m.meter and m.meter != meter:
                    meter = m.meter
                    perf.meters.append(MeterChange(Fraction(t, upq), *meter))
                if m.key and m.key != key:
                    key = m.key
                    perf.keys.append(KeyChange(Fraction(t, upq), *key))
            for pos, qpm in m.tempos:
                if qpm < MIN_QPM:
                    slow = _slow_tempo_warning(qpm)
                    warnings += [] if slow in warnings else [slow]
                    qpm = MIN_QPM
                perf.tempos.append(TempoChange(Fraction(t + pos, upq), qpm))
            played_notes += len(m.notes)
            if played_notes > MAX_PLAYED_NOTES:
                raise ConversionError(
                    f"the tune plays over {MAX_PLAYED_NOTES:,} notes with its repeats", where
                )
            dyn = iter(m.dynamics)
            next_dyn = next(dyn, None)
            for ev in m.notes:
                while next_dyn is not None and next_dyn[0] <= ev.pos:
                    velocity = next_dyn[1]
                    next_dyn = next(dyn, None)
                notes_by_voice.setdefault(ev.voice, []).append(
                    (t + ev.pos, ev.pitch, ev.duration, velocity, ev.tie)
                )
            for pos, pitches in m.harmonies:
                chord_events.append((t + pos, pitches))
            t += m.length
            if t > MAX_PIECE_BEATS * upq:
                raise ConversionError(f"the tune plays for over {MAX_PIECE_BEATS} beats", where)
        end_units = max(end_units, t)
        for vid, events in notes_by_voice.items():
            voice = Voice(name=name, program=program)
            voice.notes = _merge_ties(events, upq, len(voice_of))
            voice_of[(pi, vid)] = voice
            if part.percussion:
                drums.add(id(voice))
    perf.voices = [v for v in voice_of.values() if v.notes]
    if chords and chord_events:
        perf.voices.append(_chord_voice(chord_events, end_units, upq, len(perf.voices)))
    melodic = 0
    for v in perf.voices:
        if id(v) in drums:
            v.channel, v.program = DRUM_CHANNEL, None
        else:
            v.channel = melodic if melodic < DRUM_CHANNEL else min(melodic + 1, 15)
            melodic += 1
    perf.tempos = _dedupe_tempos(perf.tempos)
    if not perf.voices:
        raise ConversionError("the tune has no notes", where)
    return PlaybackResult(perf, warnings)


def _slow_tempo_warning(qpm: float) -> str:
    return (
        f"tempo of {qpm:g} quarter notes a minute raised to {MIN_QPM:.2f}, "
        "the slowest a MIDI file can hold"
    )


def _merge_ties(events, upq: int, voice_index: int) -> list[Note]:
    """Join tied notes: a note whose tie starts joins the next note of the same pitch that
    begins where it ends (also across a repeat or into an ending)."""
    events.sort(key=lambda e: (e[0], e[1]))
    merged: list[list] = []  # [onset, pitch, duration, velocity, tie]
    open_tie: dict[int, list] = {}  # pitch -> the note waiting for its continuation
    for onset, pitch, duration, velocity, tie in events:
        held = open_tie.pop(pitch, None)
        if held is not None and held[0] + held[2] == onset:
            held[2] += duration
            if tie:
                open_tie[pitch] = held
            continue
        note = [onset, pitch, duration, velocity, tie]
        merged.append(note)
        if tie:
            open_tie[pitch] = note
    return [Note(Fraction(o, upq), p, Fraction(d, upq), v, voice_index) for o, p, d, v, _ in merged]


def _chord_voice(events, end: int, upq: int, index: int) -> Voice:
    events = sorted(events, key=lambda e: e[0])
    notes = []
    for k, (onset, pitches) in enumerate(events):
        stop = events[k + 1][0] if k + 1 < len(events) else end
        if pitches and stop > onset:
            for p in pitches:
                notes.append(Note(Fraction(onset, upq), p, Fraction(stop - onset, upq), 64, index))
    return Voice(sorted(notes), name="Chords", program=None)


def _bar_length_warnings(measures: list[Measure], upq: int) -> list[str]:
    """Bars whose length differs from the meter, pickups and bars next to repeat signs or
    endings excepted (they often complete each other)."""
    bad = []
    meter = None
    for i, m in enumerate(measures):
        meter = m.meter or meter
        if meter is None or i == 0 or i == len(measures) - 1 or not m.length:
            continue
        if m.forward or m.backward or m.ending or measures[i - 1].backward:
            continue
        if i + 1 < len(measures) and (measures[i + 1].forward or measures[i + 1].ending):
            continue
        if m.length * meter[1] != upq * 4 * meter[0]:
            bad.append(m.number)
    if not bad:
        return []
    shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
    return [f"{len(bad)} bar(s) differ from the meter (bar {shown})"]


def _dedupe_tempos(tempos: list[TempoChange]) -> list[TempoChange]:
    out: list[TempoChange] = []
    for t in sorted(tempos, key=lambda t: t.onset):
        if out and out[-1].onset == t.onset:
            out[-1] = t
        elif not out or out[-1].qpm != t.qpm:
            out.append(t)
    return out
