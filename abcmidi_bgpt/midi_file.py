"""Performances to canonical MIDI bytes, and MIDI bytes back to performances (with mido).

Canonical MIDI is the symbolic converter's output and half of every training pair, so it is
deterministic and compact:
- 120 ticks per quarter note: every note value down to a 32nd, triplets and quintuplets land on
  whole ticks, and the common durations (up to a quarter note) fit in one delta-time byte;
- format 0 for a single voice, format 1 with one track per voice otherwise (meta events in the
  first track);
- meta events at tick 0 in a fixed order: track name (the title, when there is one), time
  signature, key signature, tempo; then notes as note-on / note-on with velocity 0, which mido
  writes with running status;
- at equal times note-offs come before note-ons, each in pitch order.
"""

from __future__ import annotations

import io
from fractions import Fraction

import mido

from .errors import ConversionError, InputTooLarge
from .performance import (
    DEFAULT_QPM,
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
    key_name,
)

TICKS_PER_QUARTER = 120
MAX_MIDI_FILE_BYTES = 16 * 1024 * 1024  # a long orchestral MIDI file is a few MB
DRUM_CHANNEL = 9

_KEY_FIFTHS = {key_name(f, minor): (f, minor) for f in range(-7, 8) for minor in (False, True)}


# An event before it becomes a message: (tick, group, order, type, fields). Sorting on the first
# three puts meta events first at each tick, then note-offs, then note-ons, each by pitch.
_Event = tuple[int, int, int, str, dict]


def render_midi(perf: Performance) -> bytes:
    """Write a performance as canonical MIDI bytes (see the module notes)."""
    meta: list[_Event] = []
    if perf.title:
        meta.append((0, 0, 0, "track_name", {"name": _latin1(perf.title)}))
    for m in perf.meters:
        fields = {"numerator": m.numerator, "denominator": m.denominator}
        meta.append((_tick(m.onset), 0, 1, "time_signature", fields))
    for k in perf.keys:
        meta.append((_tick(k.onset), 0, 2, "key_signature", {"key": key_name(k.fifths, k.minor)}))
    tempos = perf.tempos
    if not tempos or tempos[0].onset != 0:
        tempos = [TempoChange(Fraction(0), DEFAULT_QPM), *tempos]
    for t in tempos:
        meta.append((_tick(t.onset), 0, 3, "set_tempo", {"tempo": round(60_000_000 / t.qpm)}))

    voices = [v for v in perf.voices if v.notes]
    midi = mido.MidiFile(type=0 if len(voices) <= 1 else 1, ticks_per_beat=TICKS_PER_QUARTER)
    for i, voice in enumerate(voices or [Voice()]):
        events = list(meta) if i == 0 else []
        if i > 0 and voice.name:
            events.append((0, 0, 0, "track_name", {"name": _latin1(voice.name)}))
        if voice.program is not None:
            fields = {"channel": voice.channel, "program": voice.program}
            events.append((0, 1, 0, "program_change", fields))
        events += _note_events(voice)
        events.sort(key=lambda e: e[:3])
        midi.tracks.append(_track(events))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def _track(events: list[_Event]) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for tick, group, _, kind, fields in events:
        if group == 0:
            track.append(mido.MetaMessage(kind, time=tick - now, **fields))
        else:
            # Fields are in range by construction; mido's per-message checks cost a third of
            # the rendering time, so they are skipped.
            track.append(mido.Message(kind, skip_checks=True, time=tick - now, **fields))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _tick(beats: Fraction) -> int:
    return round(beats * TICKS_PER_QUARTER)


def _latin1(text: str) -> str:
    """mido writes text meta events in Latin-1; other characters become '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _note_events(voice: Voice) -> list[_Event]:
    """Note-on/off events of one voice, with overlapping notes of the same pitch cut so that
    every note-on has its own note-off."""
    spans: dict[int, list[list[int]]] = {}  # pitch -> [on, off, velocity]
    for n in sorted(voice.notes):
        on, off = _tick(n.onset), _tick(n.offset)
        off = max(off, on + 1)
        same = spans.setdefault(n.pitch, [])
        if same and same[-1][1] > on:
            if same[-1][0] >= on:  # a duplicate at the same time: keep the longer
                same[-1][1] = max(same[-1][1], off)
                continue
            same[-1][1] = on
        same.append([on, off, max(1, min(127, n.velocity))])
    ch = voice.channel
    events: list[_Event] = []
    for pitch, items in spans.items():
        for on, off, vel in items:
            events.append(
                (on, 3, pitch, "note_on", {"channel": ch, "note": pitch, "velocity": vel})
            )
            events.append((off, 2, pitch, "note_on", {"channel": ch, "note": pitch, "velocity": 0}))
    return events


def read_midi(data: bytes, source: str = "") -> mido.MidiFile:
    """Parse MIDI bytes with mido, turning every parse failure into a one-line error."""
    where = f"{source}: " if source else ""
    if len(data) > MAX_MIDI_FILE_BYTES:
        raise InputTooLarge(
            f"{where}file is {len(data) / 2**20:.1f} MiB, over the "
            f"{MAX_MIDI_FILE_BYTES // 2**20} MiB limit for MIDI files"
        )
    if not data:
        raise ConversionError(f"{where}empty file")
    if not data.startswith(b"MThd"):
        raise ConversionError(f"{where}not a MIDI file (no MThd header)")
    try:
        return mido.MidiFile(file=io.BytesIO(data), clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as err:
        raise ConversionError(f"{where}corrupt MIDI file: {err or type(err).__name__}") from None


def read_performance(data: bytes, source: str = "") -> Performance:
    """The notes and meta events of MIDI bytes, in beats.

    Each (track, channel) with notes becomes a voice, in file order. A note-on with velocity 0
    ends a note; notes still sounding at the end of their track end there; overlapping notes of
    one pitch on one channel are paired first-in, first-out.
    """
    midi = read_midi(data, source)
    tpq = midi.ticks_per_beat
    if tpq <= 0:
        raise ConversionError(
            f"{source + ': ' if source else ''}SMPTE time division is not supported"
        )
    perf = Performance()
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = {}
        notes: dict[int, list[Note]] = {}
        programs: dict[int, int] = {}
        name = ""
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif kind in ("note_off", "note_on"):
                started = sounding.get((msg.channel, msg.note))
                if started:
                    on, vel = started.pop(0)
                    notes.setdefault(msg.channel, []).append(_note(on, tick, msg.note, vel, tpq))
            elif kind == "set_tempo":
                perf.tempos.append(TempoChange(Fraction(tick, tpq), mido.tempo2bpm(msg.tempo)))
            elif kind == "time_signature":
                perf.meters.append(MeterChange(Fraction(tick, tpq), msg.numerator, msg.denominator))
            elif kind == "key_signature":
                fifths, minor = _KEY_FIFTHS.get(msg.key, (0, False))
                perf.keys.append(KeyChange(Fraction(tick, tpq), fifths, minor))
            elif kind == "track_name" and not name:
                name = msg.name.strip()
            elif kind == "program_change":
                programs.setdefault(msg.channel, msg.program)
        for (channel, pitch), started in sounding.items():
            for on, vel in started:
                notes.setdefault(channel, []).append(_note(on, tick, pitch, vel, tpq))
        if name and not perf.title:
            perf.title = name
        for channel in sorted(notes):
            index = len(perf.voices)
            voice_notes = sorted(
                Note(n.onset, n.pitch, n.duration, n.velocity, index) for n in notes[channel]
            )
            perf.voices.append(Voice(voice_notes, name, programs.get(channel), channel))
    for events in (perf.tempos, perf.meters, perf.keys):
        events.sort(key=lambda e: e.onset)
    return perf


def _note(on: int, off: int, pitch: int, velocity: int, tpq: int) -> Note:
    return Note(Fraction(on, tpq), pitch, Fraction(max(off - on, 0), tpq), velocity)
