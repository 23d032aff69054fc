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

import bisect
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mido

from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge
from abcmidi_bgpt.core.performance import (
    DEFAULT_QPM,
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
    key_name,
)
from abcmidi_bgpt.formats.midi_reader import MidiDamage, MidiRead, read_midi_events

TICKS_PER_QUARTER = 120
MAX_MIDI_FILE_BYTES = 16 * 1024 * 1024  # a long orchestral MIDI file is a few MB
# Where the last note may end, in beats (quarter notes): 5.5 hours at 120 a minute. Work on a
# file (bars, the meter estimate, the beat tracker) grows with its length, which a few bytes
# of MIDI can make anything up to 2^28 ticks an event.
MAX_MIDI_BEATS = 40_000
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
    tracks = []
    for i, voice in enumerate(voices or [Voice()]):
        events = list(meta) if i == 0 else []
        if i > 0 and voice.name:
            events.append((0, 0, 0, "track_name", {"name": _latin1(voice.name)}))
        if voice.program is not None:
            fields = {"channel": voice.channel, "program": voice.program}
            events.append((0, 1, 0, "program_change", fields))
        events += _note_events(voice)
        events.sort(key=lambda e: e[:3])
        tracks.append(_track_bytes(events))
    header = struct.pack(">4sLhhh", b"MThd", 6, 0 if len(tracks) <= 1 else 1, len(tracks),
                         TICKS_PER_QUARTER)  # fmt: skip
    return header + b"".join(tracks)


# The bytes of a track are written here, not by mido: building a mido message object for every
# event was over half of the ABC -> MIDI rendering time (measured on 300 of O'Neill's tunes).
# The bytes are those mido's MidiFile.save writes for the same events, running status included
# (tests/test_midi_writer.py holds the two side by side).


def _track_bytes(events: list[_Event]) -> bytes:
    data = bytearray()
    now = 0
    running = None  # the status byte a channel message may leave out
    for tick, group, _, kind, fields in events:
        data += variable_length(tick - now)
        now = tick
        if group == 0:
            body = _meta_body(kind, fields)
            data += bytes((0xFF, _META_TYPES[kind])) + variable_length(len(body)) + body
            running = None
            continue
        channel = fields["channel"]
        if kind == "note_on":
            status, rest = 0x90 | channel, (fields["note"], fields["velocity"])
        else:  # program_change
            status, rest = 0xC0 | channel, (fields["program"],)
        if status != running:
            data.append(status)
            running = status
        data += bytes(rest)
    data += b"\x00\xff\x2f\x00"  # end of track
    return b"MTrk" + struct.pack(">L", len(data)) + bytes(data)


_META_TYPES = {"track_name": 0x03, "set_tempo": 0x51, "time_signature": 0x58,
               "key_signature": 0x59}  # fmt: skip


def _meta_body(kind: str, fields: dict) -> bytes:
    if kind == "track_name":
        return fields["name"].encode("latin-1")
    if kind == "set_tempo":
        return fields["tempo"].to_bytes(3, "big")
    if kind == "time_signature":
        # clocks per click and 32nd notes per beat: MIDI's (and mido's) defaults, 24 and 8
        return bytes((fields["numerator"], fields["denominator"].bit_length() - 1, 24, 8))
    fifths, minor = _KEY_FIFTHS[fields["key"]]
    return bytes((fifths & 0xFF, int(minor)))


def variable_length(value: int) -> bytes:
    """A MIDI variable-length quantity: seven bits a byte, the high bit set on all but the
    last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


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
    """Parse MIDI bytes (as mido does, within the limits of :mod:`midi_reader`), turning
    every parse failure into a one-line error."""
    _check_header(data, source)
    return _read_events(data, source, salvage=False).midi


def read_midi_file(path: str | Path) -> bytes:
    """The bytes of a MIDI file; a file over the size limit is refused before it is read."""
    path = Path(path)
    check_midi_file_size(path.stat().st_size, str(path))
    return path.read_bytes()


def check_midi_file_size(size: int, where: str = "") -> None:
    """Refuse a MIDI file of ``size`` bytes over :data:`MAX_MIDI_FILE_BYTES`."""
    if size > MAX_MIDI_FILE_BYTES:
        raise InputTooLarge(
            f"file is {size / 2**20:.1f} MiB, over the "
            f"{MAX_MIDI_FILE_BYTES // 2**20} MiB limit for MIDI files",
            where,
        )


def _check_header(data: bytes, source: str) -> None:
    where = source
    check_midi_file_size(len(data), where)
    if not data:
        raise ConversionError("empty file", where)
    if not data.startswith(b"MThd"):
        raise ConversionError("not a MIDI file (no MThd header)", where)


def read_midi_salvaged(data: bytes, source: str = "") -> tuple[mido.MidiFile, list[str]]:
    """Like :func:`read_midi`, but a file cut short or damaged inside a track keeps what can be
    read: the damaged track ends before the bad bytes and later tracks are dropped, and a meta
    event whose bytes mean nothing (a key signature of 9 sharps) is ignored, each with a
    warning. For transcription, where half a tune beats none; validation stays strict. A file
    damaged before its first note is corrupt."""
    _check_header(data, source)
    read = _read_events(data, source, salvage=True)
    warnings = []
    if read.damage:
        if not _has_notes(read.midi):
            raise ConversionError(f"corrupt MIDI file: {read.damage}", source)
        dropped = read.tracks_dropped
        more = f", {dropped} later track(s) dropped" if dropped else ""
        warnings.append(f"damaged MIDI file ({read.damage}): read up to the damage{more}")
    if read.meta_skipped:
        warnings.append(f"{read.meta_skipped} meta event(s) with unreadable contents ignored")
    return read.midi, warnings


def _read_events(data: bytes, source: str, salvage: bool) -> MidiRead:
    try:
        return read_midi_events(data, salvage)
    except MidiDamage as damage:  # anywhere when strict; in the header when salvaging
        raise ConversionError(f"corrupt MIDI file: {damage}", source) from None
    except InputTooLarge as err:
        raise InputTooLarge(f"{err}", source) from None


def _has_notes(midi: mido.MidiFile) -> bool:
    return any(m.type == "note_on" and m.velocity > 0 for track in midi.tracks for m in track)


@dataclass(slots=True)
class MidiContents:
    """A MIDI file as read: its performance in beats, and what the file said about itself.

    ``voice_tracks[i]`` is the track that voice ``i`` of the performance came from. For SMPTE
    files (time in frames, not beats) times are in beats at an assumed 120 beats a minute.
    """

    performance: Performance
    file_format: int
    ticks_per_beat: int
    voice_tracks: list[int] = field(default_factory=list)
    smpte: bool = False
    unended_notes: int = 0  # note-ons that never got a note-off
    warnings: list[str] = field(default_factory=list)


def read_performance(data: bytes, source: str = "") -> Performance:
    """The notes and meta events of MIDI bytes, in beats (see :func:`midi_contents`)."""
    return midi_contents(read_midi(data, source), source).performance


def midi_contents(midi: mido.MidiFile, source: str = "") -> MidiContents:
    """The notes and meta events of a parsed MIDI file, in beats.

    Each (track, channel) with notes becomes a voice, in file order. A note-on with velocity 0
    ends a note, as a note-off does; overlapping notes of one pitch on one channel are paired
    first-in, first-out; a note that never gets its note-off ends at the next later note-on on
    its channel, or at the end of its track. Tempo changes to 0 are ignored with a warning;
    notes ending after :data:`MAX_MIDI_BEATS` raise :class:`InputTooLarge`.
    """
    division = midi.ticks_per_beat
    smpte = division < 0
    if smpte:
        # SMPTE division: the high byte is minus the frames per second, the low byte the ticks
        # per frame. Time is in seconds; take 120 beats a minute, two beats a second.
        frames = -(division >> 8)
        per_frame = division & 0xFF
        per_second = frames * per_frame
        if per_second <= 0:
            raise ConversionError(f"bad SMPTE time division {division}", source)
        beat_ticks = Fraction(per_second, 2)
    else:
        if division == 0:
            raise ConversionError("bad time division 0 ticks per beat", source)
        beat_ticks = Fraction(division)
    contents = MidiContents(Performance(), midi.type, round(beat_ticks), smpte=smpte)
    perf = contents.performance
    zero_tempos = 0

    def beats(tick: int) -> Fraction:
        return tick / beat_ticks

    for track_index, track in enumerate(midi.tracks):
        tick = 0
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = {}
        spans: dict[int, list[tuple[int, int, int, int, bool]]] = {}  # on, off, pitch, vel, ended
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
                    spans.setdefault(msg.channel, []).append((on, tick, msg.note, vel, True))
            elif kind == "set_tempo" and not smpte:
                if msg.tempo > 0:
                    perf.tempos.append(TempoChange(beats(tick), mido.tempo2bpm(msg.tempo)))
                else:  # no time a beat: no tempo at all
                    zero_tempos += 1
            elif kind == "time_signature":
                perf.meters.append(MeterChange(beats(tick), msg.numerator, msg.denominator))
            elif kind == "key_signature":
                fifths, minor = _KEY_FIFTHS.get(msg.key, (0, False))
                perf.keys.append(KeyChange(beats(tick), fifths, minor))
            elif kind == "track_name" and not name:
                name = msg.name.strip()
            elif kind == "program_change":
                programs.setdefault(msg.channel, msg.program)
        for (channel, pitch), started in sounding.items():
            for on, vel in started:
                spans.setdefault(channel, []).append((on, tick, pitch, vel, False))
                contents.unended_notes += 1
        if name and not perf.title:
            perf.title = name
        for channel in sorted(spans):
            items = _end_unended(sorted(spans[channel]))
            index = len(perf.voices)
            voice_notes = sorted(
                Note(beats(on), pitch, beats(max(off - on, 0)), vel, index)
                for on, off, pitch, vel, _ in items
            )
            perf.voices.append(Voice(voice_notes, name, programs.get(channel), channel))
            contents.voice_tracks.append(track_index)
    if perf.end > MAX_MIDI_BEATS:
        raise InputTooLarge(
            f"notes go on to beat {float(perf.end):,.0f}, over the limit of "
            f"{MAX_MIDI_BEATS:,} beats for a MIDI file",
            source,
        )
    if zero_tempos:
        contents.warnings.append(f"{zero_tempos} tempo change(s) to 0 microseconds a beat ignored")
    for events in (perf.tempos, perf.meters, perf.keys):
        events.sort(key=lambda e: e.onset)
    if smpte:
        perf.tempos = [TempoChange(Fraction(0), DEFAULT_QPM)]
    return contents


def _end_unended(spans: list[tuple[int, int, int, int, bool]]) -> list[tuple]:
    """Notes without a note-off (they run to the end of the track) end at the next later
    note-on of their channel instead: the reading a player's ear makes of a melody line. The
    last ones, with nothing after them, last as long as the typical note before them."""
    if all(ended for *_, ended in spans):
        return spans
    onsets = sorted({s[0] for s in spans})
    gaps = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else 1
    out = []
    for on, off, pitch, vel, ended in spans:
        if not ended:
            later = bisect.bisect_right(onsets, on)
            if later < len(onsets):
                off = min(off, onsets[later])
            elif off <= on:
                off = on + typical
        out.append((on, off, pitch, vel, ended))
    return out
