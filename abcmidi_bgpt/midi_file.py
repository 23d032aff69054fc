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
import io
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mido

from .errors import ConversionError, InputTooLarge, first_line
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
    _check_header(data, source)
    try:
        return mido.MidiFile(file=io.BytesIO(data), clip=True)
    except _PARSE_ERRORS as err:
        where = f"{source}: " if source else ""
        raise ConversionError(f"{where}corrupt MIDI file: {first_line(err)}") from None


_PARSE_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error)
_END_OF_TRACK = b"\x00\xff\x2f\x00"
_SALVAGE_TRIES = 64  # bytes cut from a broken track's end, one at a time, before giving up


def read_midi_file(path: str | Path) -> bytes:
    """The bytes of a MIDI file; a file over the size limit is refused before it is read."""
    path = Path(path)
    _check_file_size(path.stat().st_size, f"{path}: ")
    return path.read_bytes()


def _check_file_size(size: int, where: str) -> None:
    if size > MAX_MIDI_FILE_BYTES:
        raise InputTooLarge(
            f"{where}file is {size / 2**20:.1f} MiB, over the "
            f"{MAX_MIDI_FILE_BYTES // 2**20} MiB limit for MIDI files"
        )


def _check_header(data: bytes, source: str) -> None:
    where = f"{source}: " if source else ""
    _check_file_size(len(data), where)
    if not data:
        raise ConversionError(f"{where}empty file")
    if not data.startswith(b"MThd"):
        raise ConversionError(f"{where}not a MIDI file (no MThd header)")


def read_midi_salvaged(data: bytes, source: str = "") -> tuple[mido.MidiFile, list[str]]:
    """Like :func:`read_midi`, but a file cut short or damaged inside a track keeps what can be
    read: the damaged track is cut before the bad bytes and later tracks are dropped, with a
    warning. For transcription, where half a tune beats none; validation stays strict."""
    _check_header(data, source)
    try:
        return mido.MidiFile(file=io.BytesIO(data), clip=True), []
    except _PARSE_ERRORS as err:
        first_error = first_line(err)
    where = f"{source}: " if source else ""
    chunks = _track_chunks(data)
    if chunks is None:
        raise ConversionError(f"{where}corrupt MIDI file: {first_error}")
    header, tracks = chunks
    # mido reads tracks in order: find the first one it cannot read, keep those before it.
    good: list[bytes] = []
    for body in tracks:
        if _parses(header, [*good, body], len(good) + 1):
            good.append(body)
            continue
        for cut in range(1, min(_SALVAGE_TRIES, len(body)) + 1):
            trimmed = body[: len(body) - cut] + _END_OF_TRACK
            if _parses(header, [*good, trimmed], len(good) + 1):
                good.append(trimmed)
                break
        break
    if not good:
        raise ConversionError(f"{where}corrupt MIDI file: {first_error}")
    midi = mido.MidiFile(file=io.BytesIO(_assemble(header, good, len(good))), clip=True)
    dropped = len(tracks) - len(good)
    more = f", {dropped} later track(s) dropped" if dropped else ""
    return midi, [f"damaged MIDI file ({first_error}): read up to the damage{more}"]


def _track_chunks(data: bytes) -> tuple[bytes, list[bytes]] | None:
    """The header chunk's payload and the payloads of the MTrk chunks, the last one cut short
    if the file is; None when the header itself is broken."""
    if len(data) < 14:
        return None
    (header_len,) = struct.unpack(">I", data[4:8])
    if header_len < 6:
        return None
    header = data[8 : 8 + header_len]
    pos = 8 + header_len
    tracks = []
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"MTrk":
            tracks.append(body)
        pos += 8 + length
    if pos < len(data) and tracks == []:
        return None
    return header, tracks


def _assemble(header: bytes, tracks: list[bytes], count: int) -> bytes:
    head = header[:2] + struct.pack(">h", count) + header[4:6]
    out = [b"MThd", struct.pack(">I", 6), head]
    for body in tracks:
        out += [b"MTrk", struct.pack(">I", len(body)), body]
    return b"".join(out)


def _parses(header: bytes, tracks: list[bytes], count: int) -> bool:
    try:
        mido.MidiFile(file=io.BytesIO(_assemble(header, tracks, count)), clip=True)
    except _PARSE_ERRORS:
        return False
    return True


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
    its channel, or at the end of its track.
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
            where = f"{source}: " if source else ""
            raise ConversionError(f"{where}bad SMPTE time division {division}")
        beat_ticks = Fraction(per_second, 2)
    else:
        if division == 0:
            where = f"{source}: " if source else ""
            raise ConversionError(f"{where}bad time division 0 ticks per beat")
        beat_ticks = Fraction(division)
    contents = MidiContents(Performance(), midi.type, round(beat_ticks), smpte=smpte)
    perf = contents.performance

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
                perf.tempos.append(TempoChange(beats(tick), mido.tempo2bpm(msg.tempo)))
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
