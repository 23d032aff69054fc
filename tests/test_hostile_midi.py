"""Hostile MIDI: files that make MIDI -> ABC do work out of all proportion to their size, crash
the reader, or write ABC that the project cannot read back. Each case is the input that
exposed the problem; every one must convert or be refused with a one-line ConversionError,
quickly and within bounded memory.

:func:`fuzz_one_midi` is the check the fuzz test runs on each mutated file (what
``abcmidi-bgpt convert x.mid --to abc`` does with one file); a long-running fuzzer can call it
on bytes of its own, inside :func:`tests.support.limits.memory_limit`.
"""

from __future__ import annotations

import io
import struct
import time
from datetime import timedelta
from fractions import Fraction

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats import midi_reader
from abcmidi_bgpt.formats.abc.text import decode_abc, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import (
    MAX_MIDI_BEATS,
    read_midi,
    read_midi_salvaged,
    variable_length,
)
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.bars import MAX_TRANSCRIBED_BARS, MAX_VOICE_BARS
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import find_graces
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from abcmidi_bgpt.symbolic.midi_to_abc.writer import MAX_FIELD_CHARS, Header, write_abc
from tests.support.limits import TooSlow, memory_limit, time_limit
from tests.support.paths import EXAMPLES

# --- MIDI written byte by byte -------------------------------------------------------------


def chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack(">I", len(body)) + body


def midi_file(*tracks: bytes, ticks_per_beat: int = 480, file_format: int | None = None) -> bytes:
    fmt = (0 if len(tracks) == 1 else 1) if file_format is None else file_format
    header = chunk(b"MThd", struct.pack(">hhh", fmt, len(tracks), ticks_per_beat))
    return header + b"".join(chunk(b"MTrk", t) for t in tracks)


END_OF_TRACK = b"\x00\xff\x2f\x00"


def note(pitch: int, length: int, wait: int = 0, channel: int = 0) -> bytes:
    """A note after ``wait`` ticks, ``length`` ticks long."""
    on, off = 0x90 | channel, 0x80 | channel
    return (
        variable_length(wait)
        + bytes([on, pitch, 64])
        + variable_length(length)
        + bytes([off, pitch, 0])
    )


def meta(kind: int, data: bytes, wait: int = 0) -> bytes:
    return variable_length(wait) + bytes([0xFF, kind]) + variable_length(len(data)) + data


def time_signature(numerator: int, denominator_power: int, wait: int = 0) -> bytes:
    return meta(0x58, bytes([numerator, denominator_power, 24, 8]), wait)


def scale(ticks: int = 480, count: int = 16) -> bytes:
    return b"".join(note(60 + (i * 2) % 12, ticks) for i in range(count))


def reel_midi() -> bytes:
    """A real tune (Silver Spear, a reel) as the project renders it."""
    return abc_to_midi(split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0]).midi


def refused(data: bytes, match: str, kind: type[ConversionError] = ConversionError) -> str:
    """The one-line reason ``data`` is refused with, naming the file."""
    with memory_limit(), time_limit(30), pytest.raises(kind, match=match) as err:
        midi_to_abc(data, "hostile.mid")
    message = str(err.value)
    assert "\n" not in message and message.startswith("hostile.mid: ")
    return message


# --- item 4: work out of proportion to the file's size --------------------------------------


def test_one_note_of_2_28_ticks_at_one_tick_a_beat_is_refused_before_any_work():
    # 8 GB in the meter estimate before: a sounding array of four entries a beat
    data = midi_file(note(60, 0x0FFFFFFF) + END_OF_TRACK, ticks_per_beat=1)
    assert len(data) == 37
    message = refused(data, "over the limit of", InputTooLarge)
    assert "268,435,455" in message and f"{MAX_MIDI_BEATS:,} beats" in message


def test_a_few_notes_hours_apart_are_refused_before_any_work():
    gap = meta(0x01, b"x", wait=0x0FFFFFFF)  # a text event 2^28 ticks later
    track = b"".join(note(60 + i, 480) + gap for i in range(8)) + END_OF_TRACK
    data = midi_file(track)
    assert len(data) < 300
    refused(data, "notes go on to beat", InputTooLarge)


def test_a_meter_of_1_32_over_a_long_silence_is_refused_by_the_bar_limit():
    # 40,000 beats of 1/32 are 320,000 bars: 63 s and 960 KB of rests before
    track = time_signature(1, 5) + note(60, 480) + note(62, 480, wait=39_990 * 480) + END_OF_TRACK
    message = refused(midi_file(track), "bars, the limit")
    assert f"{MAX_TRANSCRIBED_BARS:,}" in message


def test_a_thousand_tracks_far_apart_become_at_most_sixteen_voices_in_bounded_time():
    # a thousand voices of 7,500 bars each were 7.5 million voice-bars to fill (refused by
    # MAX_VOICE_BARS); past 16 voices those of one instrument family are merged first
    far = note(64, 480, wait=30_000 * 480)
    tracks = [note(60, 480, channel=k % 9) + far + END_OF_TRACK for k in range(1000)]
    with time_limit(60):
        out = midi_to_abc(midi_file(*tracks), "thousand.mid")
    assert out.voices <= 16
    assert MAX_VOICE_BARS >= 16 * MAX_TRANSCRIBED_BARS  # the voice-bar limit holds for 16


def test_a_meter_change_to_0_beats_a_bar_is_ignored_not_looped_on():
    # cut into bars of no length, for ever, before
    track = time_signature(4, 2) + scale(count=8) + time_signature(0, 2) + scale(count=8)
    with time_limit(30):
        out = midi_to_abc(midi_file(track + END_OF_TRACK), "zero.mid")
    assert "M:4/4" in out.abc and "0/4" not in out.abc
    assert len(abc_to_midi(out.abc).performance.notes()) == 16


def test_a_performance_hours_long_is_refused_before_the_beat_tracker():
    # performed (off the grid): the tracker's frames grow with the length, not the notes
    played = b"".join(note(60 + i % 12, 200, wait=(200 if i else 0) + i % 7) for i in range(64))
    track = played + note(60, 200, wait=15_000 * 480) + played + END_OF_TRACK
    refused(midi_file(track), "limit of the beat tracker")


def test_a_chord_of_thousands_of_short_notes_is_not_scanned_once_a_note():
    # performed grace notes: each short note looked for the next onset among all the others
    positions = [1.0] * 40_000 + [1.1]
    ends = [1.01] * 40_000 + [3.0]
    with time_limit(10):
        graces = find_graces(positions, ends)
    assert len(graces) == 40_000 and set(graces.values()) == {40_000}


def test_a_bar_of_thousands_of_quintuplets_is_written_in_time():
    # a meter change to 255/1 makes a bar of 1,020 beats: each tuplet span in it scanned all
    # its notes, a minute for these
    quintuplets = b"".join(note(60 + i % 12, 96) for i in range(3000))
    track = time_signature(4, 2) + scale(count=4) + time_signature(255, 0) + quintuplets
    with time_limit(30):
        out = midi_to_abc(midi_file(track + END_OF_TRACK), "quintuplets.mid")
    assert out.abc.count("(5") > 500
    assert len(abc_to_midi(out.abc).performance.notes()) == 3004


# --- item 8: reasons, not internal errors ---------------------------------------------------


def test_a_tempo_of_0_is_ignored_with_a_warning():
    track = meta(0x51, b"\x00\x00\x00") + scale() + END_OF_TRACK  # ZeroDivisionError before
    out = midi_to_abc(midi_file(track), "tempo0.mid")
    assert "1 tempo change(s) to 0 microseconds a beat ignored" in out.warnings
    assert "Q:1/4=120" in out.abc


def test_a_real_tune_cut_inside_its_key_signature_is_corrupt():
    # mido's KeySignatureError escaped the salvage (it cut the event to 2 junk bytes)
    data = reel_midi()
    cut = data.index(b"\xff\x59\x02") + 4
    for damaged in (data[:cut], data[: cut + 1]):
        with pytest.raises(ConversionError, match="corrupt MIDI file") as err:
            midi_to_abc(damaged, "cut.mid")
        assert str(err.value).startswith("cut.mid: ") and "\n" not in str(err.value)


def test_a_key_signature_of_9_sharps_is_ignored_when_transcribing_and_corrupt_when_validating():
    data = bytearray(reel_midi())
    data[data.index(b"\xff\x59\x02") + 3] = 9
    with pytest.raises(ConversionError, match="corrupt MIDI file: unreadable meta event 0x59"):
        read_midi(bytes(data), "sharp.mid")
    _, warnings = read_midi_salvaged(bytes(data), "sharp.mid")
    assert warnings == ["1 meta event(s) with unreadable contents ignored"]
    out = midi_to_abc(bytes(data), "sharp.mid")
    want = abc_to_midi(midi_to_abc(reel_midi(), "reel.mid").abc).performance.notes()
    assert abc_to_midi(out.abc).performance.notes() == want


DAMAGED = [
    # (what, the damaged bytes, what the reason says)
    ("undefined status byte", b"\x00\xf4" + scale(), "undefined status byte 0xf4"),
    ("long number", b"\x00" + b"\xff" * 300_000 + b"\x7f\x90\x3c\x40", "over 4 bytes"),
    ("meta over 1 MB", b"\x00\xff\x01\x83\xff\xff\x7f", "over 1000000"),
]


@pytest.mark.parametrize(("what", "body", "reason"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_damage_before_the_first_note_is_corrupt(what, body, reason):
    # a number of 300,000 bytes took mido 14 s (each byte shifts a growing integer)
    with time_limit(10):
        message = refused(midi_file(body + END_OF_TRACK), "corrupt MIDI file")
    assert reason in message


def test_running_status_without_a_status_byte_is_corrupt():
    message = refused(midi_file(b"\x00\x3c\x40" + scale() + END_OF_TRACK), "corrupt MIDI")
    assert "running status without a status byte (track 1, byte 22)" in message


@pytest.mark.parametrize(("what", "body", "reason"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_damage_after_notes_keeps_the_notes_before_it(what, body, reason):
    good = scale(count=8)
    with time_limit(10):
        out = midi_to_abc(midi_file(good + body + END_OF_TRACK), "damaged.mid")
    assert out.warnings[0].startswith("damaged MIDI file (") and reason in out.warnings[0]
    assert len(abc_to_midi(out.abc).performance.notes()) >= 8


def test_headers_mido_cannot_use_are_corrupt_or_refused_with_a_reason():
    track = scale() + END_OF_TRACK
    cases = [
        (midi_file(track, ticks_per_beat=0), "bad time division 0 ticks per beat"),
        (midi_file(track, ticks_per_beat=-256), "bad SMPTE time division"),  # 0 a frame
        (b"MThd\x00\x00\x00\x02\x00\x00" + chunk(b"MTrk", track), "header chunk of 2 bytes"),
        (midi_file(track)[:12], "file ends inside its header"),
        (midi_file(track).replace(b"MTrk", b"MTrx"), "no MTrk header"),
    ]
    for data, reason in cases:
        with pytest.raises(ConversionError, match=reason) as err:
            midi_to_abc(data, "head.mid")
        assert "\n" not in str(err.value)


def test_unknown_meta_events_odd_time_signatures_and_data_bytes_are_read_past():
    track = (
        meta(0x60, b"\x01\x02\x03")  # no such meta type
        + time_signature(3, 255)  # 3/2^255
        + meta(0x58, b"\x04")  # a time signature of one byte
        + b"\x00\x90\x3c\xc8\x83\x60\x80\x3c\x00"  # a velocity of 200: read as 127
        + scale()
        + END_OF_TRACK
    )
    out = midi_to_abc(midi_file(track), "odd.mid")
    assert "1 meta event(s) with unreadable contents ignored" in out.warnings
    notes = abc_to_midi(out.abc).performance.notes()
    assert len(notes) == 17


def test_over_the_event_limit_is_refused_as_too_large(monkeypatch):
    monkeypatch.setattr(midi_reader, "MAX_MIDI_EVENTS", 100)
    refused(midi_file(scale(count=60) + END_OF_TRACK), "over 100 MIDI events", InputTooLarge)


def test_the_reader_gives_mido_s_own_tracks_for_a_real_file():
    data = reel_midi()
    ours = read_midi(data)
    theirs = mido.MidiFile(file=io.BytesIO(data), clip=True)
    assert (ours.type, ours.ticks_per_beat) == (theirs.type, theirs.ticks_per_beat)
    assert [list(t) for t in ours.tracks] == [list(t) for t in theirs.tracks]


# --- item 10: text from the file in the ABC --------------------------------------------------


def readable_abc(abc: str, play: bool = True) -> None:
    """The ABC reads back through the project's own readers as one tune (with notes, when
    ``play``: the ABC -> MIDI conversion, which takes longer)."""
    text = decode_abc(abc.encode("utf-8"), "out.abc")
    tunes = split_tunes(text, "out.abc")
    assert len(tunes) == 1
    if play:
        assert abc_to_midi(tunes[0]).performance.notes()


def test_control_characters_and_newlines_in_a_track_name_stay_out_of_the_abc():
    name = b"Reel\x00\x1b[31m\x07 of\r\nX:2\nT:\x85evil\x9b %%MIDI program 1\\"
    track = meta(0x03, name) + meta(0x05, b"la\x00\x01") + scale() + END_OF_TRACK
    out = midi_to_abc(midi_file(track), "named.mid")
    title = out.abc.splitlines()[1]
    assert title == "T:Reel [31m of X:2 T: evil \uff05\uff05MIDI program 1"
    assert out.abc.count("\nX:") == 0 and out.abc.count("\nT:") == 1
    readable_abc(out.abc)


def test_titles_and_comments_from_any_text_are_one_bounded_line():
    for title in ["x" * 5000, "\u2028line\u2029 \u202eflipped", "back\\", "a\\ % b", "\udcff"]:
        header = Header(title, Meter(4, 4), Key(0), Fraction(1, 8), comments=[f"from {title}"])
        abc = write_abc(header, [], []) + "CDEF GABc|]\n"
        head = abc.split("K:C")[0]
        assert all(len(line) <= MAX_FIELD_CHARS + 2 for line in head.splitlines())
        assert not any(line.endswith("\\") for line in head.splitlines())
        readable_abc(abc)


# --- fuzzing ----------------------------------------------------------------------------------


def fuzz_one_midi(data: bytes, time_limit_s: float = 20.0) -> str:
    """Convert MIDI bytes to ABC as ``abcmidi-bgpt convert x.mid --to abc`` does (the
    symbolic engine, UTF-8 out). Returns "ok" or the one-line reason it was refused; raises
    AssertionError when it raises anything else, runs over ``time_limit_s`` seconds, or
    writes ABC the project cannot split into one tune. Run it inside :func:`memory_limit`."""
    engine = EngineSpec().build()
    start = time.monotonic()
    try:
        with time_limit(time_limit_s):
            out = engine.midi_to_abc(data, source="fuzz.mid")
            readable_abc(out.data.decode("utf-8"), play=False)
    except ConversionError as err:
        message = str(err)
        assert "\n" not in message.strip(), "a message of many lines"
        return message
    except TooSlow:
        raise AssertionError(f"ran over {time_limit_s} s") from None
    except AssertionError:
        raise
    except Exception as err:
        raise AssertionError(f"raised {type(err).__name__}: {err}") from err
    assert time.monotonic() - start < time_limit_s
    return "ok"


def _seed_files() -> list[bytes]:
    reel = reel_midi()
    jig = abc_to_midi(split_tunes(read_abc_file(EXAMPLES / "jigs.abc"))[0], chords=True).midi
    two_voices = midi_file(scale(240) + END_OF_TRACK, scale(480, 8) + END_OF_TRACK)
    return [reel, jig, two_voices]


SEEDS = _seed_files()
# (position, kind, value): what a mutation does where, kept simple for shrinking
MUTATION = st.tuples(
    st.integers(0, 4000),
    st.sampled_from(["flip", "cut", "varint", "meta", "byte", "header"]),
    st.integers(0, 2**32 - 1),
)


def mutated(seed: bytes, mutations: list[tuple[int, str, int]]) -> bytes:
    """``seed`` with bit flips, a cut, inserted big numbers and meta events, bytes
    overwritten, and header fields (format, tracks, division) set to anything."""
    data = bytearray(seed)
    for position, kind, value in mutations:
        at = position % (len(data) + 1)
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << (value % 8)
        elif kind == "cut":
            del data[max(at, 14) :]
        elif kind == "varint":
            data[at:at] = b"\xff" * (value % 6) + bytes([value % 128])
        elif kind == "meta":
            length = value % 9
            data[at:at] = bytes([0, 0xFF, (value >> 8) % 128, length]) + bytes(length)
        elif kind == "byte" and at < len(data):
            data[at] = value % 256
        elif kind == "header" and len(data) >= 14:
            field = 8 + 2 * (value % 3)
            data[field : field + 2] = struct.pack(">H", (value >> 8) % 65536)
    return bytes(data)


@settings(
    max_examples=120,
    deadline=timedelta(seconds=20),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.sampled_from(SEEDS), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_midi_converts_or_is_refused_with_a_reason(seed, mutations):
    with memory_limit():
        fuzz_one_midi(mutated(seed, mutations))
