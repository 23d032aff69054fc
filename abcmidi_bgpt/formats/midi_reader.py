"""MIDI bytes -> a ``mido.MidiFile``, event by event, within limits.

mido's own reader (``mido.MidiFile(file=...)``) reads a file whole or not at all, and trusts
it: a variable-length number of a megabyte takes it minutes (each byte shifts a growing
integer), and a 16 MiB file of note events becomes several GB of messages.
This reader frames the events itself, checks the limits as it goes, and builds every message
with mido's own builders, so that a file mido reads gives the same tracks here. It also says
where damage is, so that a transcription can keep the events before it (see
``formats.midi.read_midi_salvaged``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import mido
from mido.messages.specs import SPEC_BY_STATUS
from mido.midifiles.meta import KeySignatureError, build_meta_message

from abcmidi_bgpt.core.errors import InputTooLarge, first_line

# A piano performance with its pedalling has about 100,000 events; a million take about 12 s
# and 400 MB to read.
MAX_MIDI_EVENTS = 1_000_000
MAX_VARINT_BYTES = 4  # the standard's limit: times up to 0x0FFFFFFF ticks
MAX_EVENT_BYTES = 1_000_000  # mido's limit on one event's data
META, SYSEX, SYSEX_ESCAPE = 0xFF, 0xF0, 0xF7
# What mido's builders raise for well-framed bytes that mean nothing: a key signature of 9
# sharps, a time signature without its bytes, a channel message of the wrong length.
_BUILD_ERRORS = (ValueError, TypeError, KeyError, IndexError, KeySignatureError)


class MidiDamage(Exception):
    """Bytes that cannot be read as MIDI; the message says what and where, on one line."""


@dataclass(slots=True)
class MidiRead:
    """A file as far as it could be read."""

    midi: mido.MidiFile
    damage: str = ""  # the first thing that could not be read; "" when everything was read
    tracks_dropped: int = 0  # declared tracks after the damage, not read
    meta_skipped: int = 0  # meta events whose bytes meant nothing (kept as unknown meta)


def read_midi_events(data: bytes, salvage: bool = False) -> MidiRead:
    """The file's header and tracks as mido objects.

    Strict (``salvage`` False), the first damage raises :class:`MidiDamage`. Salvaging, the
    damaged track ends before the event that could not be read and later tracks are left out;
    a meta event whose content means nothing (a key signature of 9 sharps) is kept as an
    unknown meta event, so that the times after it stay right. Over
    :data:`MAX_MIDI_EVENTS` events raises :class:`InputTooLarge` either way.
    """
    cursor = _Cursor(data)
    file_format, declared, division = cursor.header()
    midi = mido.MidiFile(ticks_per_beat=division, clip=True)
    midi.type = file_format  # mido keeps any format it reads; transcription judges it
    result = MidiRead(midi)
    for index in range(max(declared, 0)):  # signed, as mido reads it: negative is none
        try:
            end = cursor.track_chunk(index, declared)
            track = mido.MidiTrack()
            midi.tracks.append(track)
            _read_track(cursor, end, track, result, salvage)
        except MidiDamage as damage:
            if not salvage:
                raise
            result.damage = str(damage)
            result.tracks_dropped = declared - len(midi.tracks)
            break
    return result


class _Cursor:
    """A position in the file's bytes, and the count of events read."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.events = 0
        self.track = 0  # 1-based, for messages

    def header(self) -> tuple[int, int, int]:
        """Format, declared track count and division, signed as mido reads them."""
        if len(self.data) < 14:
            raise MidiDamage("file ends inside its header")
        (size,) = struct.unpack(">I", self.data[4:8])
        if size < 6:
            raise MidiDamage(f"header chunk of {size} bytes (6 needed)")
        self.pos = 8 + size
        return struct.unpack(">hhh", self.data[8:14])

    def track_chunk(self, index: int, declared: int) -> int:
        """Step over a track chunk's header; where its events end."""
        self.track = index + 1
        head = self.data[self.pos : self.pos + 8]
        if len(head) < 8:
            raise MidiDamage(f"file ends before track {self.track} of {declared}")
        if head[:4] != b"MTrk":
            raise MidiDamage(f"no MTrk header at the start of track {self.track}")
        self.pos += 8
        return self.pos + struct.unpack(">I", head[4:])[0]

    def damage(self, what: str, at: int) -> MidiDamage:
        return MidiDamage(f"{what} (track {self.track}, byte {at})")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.damage("file ends inside a track", self.pos)
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        """A variable-length number: 7 bits a byte, the high bit set on all but the last."""
        start, value = self.pos, 0
        for _ in range(MAX_VARINT_BYTES):
            byte = self.byte()
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value
        raise self.damage(f"variable-length number over {MAX_VARINT_BYTES} bytes", start)

    def take(self, count: int) -> list[int]:
        if self.pos + count > len(self.data):
            raise self.damage("file ends inside an event", self.pos)
        self.pos += count
        return list(self.data[self.pos - count : self.pos])

    def payload(self) -> list[int]:
        """The data of a meta or sysex event: its length, then that many bytes."""
        at = self.pos
        length = self.varint()
        if length > MAX_EVENT_BYTES:
            raise self.damage(f"event of {length} bytes, over {MAX_EVENT_BYTES}", at)
        return self.take(length)

    def count_event(self) -> None:
        self.events += 1
        if self.events > MAX_MIDI_EVENTS:
            raise InputTooLarge(f"over {MAX_MIDI_EVENTS:,} MIDI events, the limit for a file")


def _read_track(
    cursor: _Cursor, end: int, track: mido.MidiTrack, result: MidiRead, salvage: bool
) -> None:
    """Read one track chunk's events into ``track``, as mido's reader does."""
    running: int | None = None  # running status: the last status byte other than meta
    while cursor.pos != end:
        start = cursor.pos
        if start > end:
            raise cursor.damage("an event runs past the end of its track", start)
        cursor.count_event()
        delta = cursor.varint()
        status = cursor.byte()
        peek: list[int] = []
        if status < 0x80:
            if running is None:
                raise cursor.damage("running status without a status byte", start)
            peek, status = [status], running
        elif status != META:
            running = status
        if status == META:
            kind = cursor.byte()
            track.append(_meta(cursor, kind, cursor.payload(), delta, start, result, salvage))
        elif status in (SYSEX, SYSEX_ESCAPE):
            track.append(_sysex(cursor, cursor.payload(), delta, start))
        else:
            spec = SPEC_BY_STATUS.get(status)
            if spec is None:
                raise cursor.damage(f"undefined status byte 0x{status:02x}", start)
            count = max(spec["length"] - 1 - len(peek), 0)
            values = [min(b, 127) for b in peek + cursor.take(count)]  # mido's clip=True
            message = _build(cursor, mido.Message.from_bytes, [status, *values], delta, start)
            track.append(message)


def _meta(cursor, kind: int, payload: list[int], delta: int, start: int, result, salvage: bool):
    try:
        return build_meta_message(kind, payload, delta)
    except _BUILD_ERRORS as err:
        if not salvage:
            what = f"unreadable meta event 0x{kind:02x}: {first_line(err)}"
            raise cursor.damage(what, start) from None
        result.meta_skipped += 1
        return mido.UnknownMetaMessage(kind, data=tuple(payload), time=delta)


def _sysex(cursor, payload: list[int], delta: int, start: int) -> mido.Message:
    # As mido reads it: without its F0 and F7 bytes, data clipped to 0..127.
    if payload and payload[0] == SYSEX:
        payload = payload[1:]
    if payload and payload[-1] == SYSEX_ESCAPE:
        payload = payload[:-1]
    return _build(cursor, mido.Message, "sysex", delta, start, data=[min(b, 127) for b in payload])


def _build(cursor, make, first, delta: int, start: int, **fields):
    try:
        return make(first, time=delta, **fields)
    except _BUILD_ERRORS as err:
        raise cursor.damage(f"unreadable event: {first_line(err)}", start) from None
