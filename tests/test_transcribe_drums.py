"""MIDI -> ABC with drums (MIDI channel 10): one percussion voice, as midi2abc and ABC editors
write them (``clef=perc``, ``%%MIDI channel 10``), or left out with a note (``drums="drop"``).

The input is shaped as band files are: a reel's melody (examples/reels.abc rendered to MIDI)
with a drum kit track beside it, a kick/snare/hi-hat groove with a crash at each phrase and a
fill of sixteenths on the snare and toms at its end, each hit a few ticks long."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from fractions import Fraction as F
from pathlib import Path

import mido
import pytest

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import DRUM_CHANNEL, read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.paths import EXAMPLES

REEL = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0].full_text
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
TOMS = (50, 48, 47, 45)


def groove(bars: int) -> list[tuple[F, int]]:
    """(onset in beats, drum) of a rock groove in 4/4 over ``bars`` bars: kick on 1 and 3 (and
    the and of 3), snare on 2 and 4, closed hi-hat eighths (open on the last one of every
    fourth bar), a crash with the kick on each eight-bar phrase, a fill on its last bar."""
    hits = []
    for bar in range(bars):
        at = F(4 * bar)
        if bar % 8 == 7:  # the fill: two beats of groove, then sixteenths round the kit
            hits += [(at, KICK), (at, CLOSED_HAT), (at + F(1, 2), CLOSED_HAT), (at + 1, SNARE)]
            hits += [(at + 1, CLOSED_HAT), (at + F(3, 2), CLOSED_HAT)]
            for k in range(8):
                hits.append((at + 2 + F(k, 4), SNARE if k < 2 else TOMS[(k - 2) // 2 % 4]))
            continue
        for e in range(8):
            t = at + F(e, 2)
            hits.append((t, OPEN_HAT if e == 7 and bar % 4 == 3 else CLOSED_HAT))
            if e in (0, 4, 5):
                hits.append((t, KICK))
            if e in (2, 6):
                hits.append((t, SNARE))
        if bar % 8 == 0:
            hits.append((at, CRASH))
    return sorted(hits)


def with_drums(
    melody: bool = True, bars: int | None = None, tracks: list[mido.MidiTrack] = ()
) -> tuple[bytes, list[tuple[F, int]]]:
    """The reel as MIDI (format 1) with a drum track (and ``tracks`` besides), and the drum
    hits it holds; without ``melody`` the drums alone, with the reel's tempo and signatures."""
    midi = mido.MidiFile(file=io.BytesIO(abc_to_midi(REEL).midi))
    tpb = midi.ticks_per_beat
    length = max(sum(m.time for m in t) for t in midi.tracks) / tpb
    head = midi.tracks[0]
    midi.type = 1
    midi.tracks = [head] if melody else [mido.MidiTrack(m for m in head if m.is_meta)]
    midi.tracks += tracks
    hits = groove(int(length // 4) if bars is None else bars)
    events = []
    for k, (onset, pitch) in enumerate(hits):
        tick = round(onset * tpb)
        events.append((tick, 1, mido.Message("note_on", channel=9, note=pitch, velocity=100)))
        off = tick + (0 if k % 5 == 0 else 3)  # a drum machine's note-offs: at once, or soon
        order = 2 if off == tick else 0  # (a hit's note-off after its note-on)
        events.append((off, order, mido.Message("note_off", channel=9, note=pitch)))
    track, now = mido.MidiTrack([mido.MetaMessage("track_name", name="Drum Kit")]), 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    midi.tracks.append(track)
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue(), hits


def drum_voice(abc: str) -> str:
    """The body of the percussion voice: the ABC after its ``%%MIDI channel 10`` line."""
    return abc.split("%%MIDI channel 10\n", 1)[1]


def notes_of(notes: list[Note]) -> list[tuple[F, int]]:
    return sorted((n.onset, n.pitch) for n in notes)


def as_notes(hits: list[tuple[F, int]]) -> list[Note]:
    return [Note(onset, pitch, F(1, 4)) for onset, pitch in hits]


def test_drums_become_one_percussion_voice_played_back_on_channel_10():
    data, hits = with_drums()
    out = midi_to_abc(data, "band.mid")
    assert out.drums and out.voices == 2
    assert out.abc.count("clef=perc") == 1 and out.abc.count("%%MIDI channel 10") == 1
    assert re.search(r'^V:2 name="Drums" clef=perc$', out.abc, re.M)
    assert "drum note(s)" not in out.abc and not out.warnings
    played = abc_to_midi(out.abc).performance
    drums = [n for v in played.voices if v.channel == DRUM_CHANNEL for n in v.notes]
    others = [n for v in played.voices if v.channel != DRUM_CHANNEL for n in v.notes]
    assert [v.channel for v in played.voices].count(DRUM_CHANNEL) == 1
    assert note_f1(as_notes(hits), drums).f1 == 1.0
    assert notes_of(drums) == hits  # every hit at its onset, with its drum
    assert notes_of(others) == notes_of(abc_to_midi(REEL).performance.notes())


def test_drum_pitches_are_exact_whatever_the_key():
    """The reel is in D (F and C sharp): the kick (C) and the hi-hat (F sharp) are written
    against the key, a natural where the key would sharpen the drum."""
    data, _ = with_drums()
    out = midi_to_abc(data)
    assert out.key.abc == "D"
    body = drum_voice(out.abc)
    assert "=C,," in body  # the kick, C2, not the key's C sharp (a side stick)
    assert "^F,," not in body.split("|")[0]  # the closed hat is the key's F sharp


def test_drum_lengths_are_readable_without_ties():
    """A hit lasts until the next one (at most a beat), in one written note: no ties in the
    drum voice, no lengths but plain and dotted ones, and no bar longer than its meter."""
    data, _ = with_drums()
    out = midi_to_abc(data)
    body = drum_voice(out.abc)
    assert "-" not in body and "(" not in body
    lengths = set(re.findall(r"[\]A-Ga-gz,'](\d*/?\d*)", body))
    assert lengths <= {"", "/", "2", "3", "3/2", "/2"}, lengths


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_abc2midi_plays_the_drum_voice_on_channel_10(tmp_path: Path):
    data, hits = with_drums()
    out = midi_to_abc(data)
    (tmp_path / "t.abc").write_text(out.abc)
    subprocess.run(
        ["abc2midi", "t.abc", "-o", "t.mid", "-silent"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    perf = read_performance((tmp_path / "t.mid").read_bytes())
    drums = [n for v in perf.voices if v.channel == DRUM_CHANNEL for n in v.notes]
    others = [n for v in perf.voices if v.channel != DRUM_CHANNEL for n in v.notes]
    assert note_f1(as_notes(hits), drums).f1 == 1.0
    assert note_f1(abc_to_midi(REEL).performance.notes(), others).f1 == 1.0


def test_a_drums_only_file_is_a_tune_of_its_percussion_voice():
    data, hits = with_drums(melody=False, bars=16)
    out = midi_to_abc(data, "drums.mid")
    assert out.drums and out.voices == 1 and out.meter.abc == "4/4"
    assert re.search(r'^V:1 name="Drums" clef=perc$', out.abc, re.M)
    played = abc_to_midi(out.abc).performance
    assert [v.channel for v in played.voices] == [DRUM_CHANNEL]
    assert notes_of(played.notes()) == hits
    last = out.abc.rstrip().rsplit("\n", 1)[-1]
    assert not re.search(r"\| z\d* \|]$", last)  # no bar of rest after the last hit


def test_drums_can_be_left_out_with_a_note():
    data, _ = with_drums()
    out = midi_to_abc(data, drums="drop")
    assert not out.drums and out.voices == 1 and "clef=perc" not in out.abc
    assert "drum note(s) (channel 10) left out" in out.abc
    plain = midi_to_abc(with_drums(melody=True, bars=0)[0], drums="drop")
    assert out.abc.split("K:", 1)[1] == plain.abc.split("K:", 1)[1]  # the same tune
    alone, _ = with_drums(melody=False, bars=8)
    with pytest.raises(ConversionError, match="only drum notes"):
        midi_to_abc(alone, drums="drop")


def test_the_engine_option_leaves_drums_out(tmp_path: Path):
    data, _ = with_drums()
    kept = EngineSpec.of("symbolic").build().midi_to_abc(data)
    dropped = EngineSpec.of("symbolic", drums="drop").build().midi_to_abc(data)
    assert b"clef=perc" in kept.data and b"clef=perc" not in dropped.data


def test_sixteen_instruments_and_drums_are_fifteen_voices_and_the_drums():
    """16 tracks of 16 instrument families and a drum kit: 17 voices where MIDI (and abc2midi)
    play 16, the drums one of them: the melodic ones become 15, with a note; the drums stay."""
    tracks = []
    played = set()
    for t in range(16):
        track = mido.MidiTrack()
        channel = t if t < DRUM_CHANNEL else t + 1 if t < 15 else 0
        track.append(mido.Message("program_change", program=8 * t + 1, channel=channel))
        for beat in range(16):
            pitch = 48 + (t * 5 + beat * 3) % 36
            played.add((F(beat), pitch))
            track.append(mido.Message("note_on", note=pitch, velocity=80, channel=channel))
            track.append(mido.Message("note_off", note=pitch, channel=channel, time=120))
        tracks.append(track)
    data, hits = with_drums(melody=False, bars=4, tracks=tracks)
    out = midi_to_abc(data)
    assert out.drums and out.voices == 16
    assert "% 16 voices merged into 15 by instrument family" in out.abc
    assert "at most 15 are played beside the drums" in out.abc
    perf = abc_to_midi(out.abc).performance
    assert len(perf.voices) == 16
    assert [v.channel for v in perf.voices].count(DRUM_CHANNEL) == 1
    drums = [n for v in perf.voices if v.channel == DRUM_CHANNEL for n in v.notes]
    others = [n for v in perf.voices if v.channel != DRUM_CHANNEL for n in v.notes]
    assert notes_of(drums) == hits and {(n.onset, n.pitch) for n in others} == played


def test_drum_transcription_is_deterministic():
    data, _ = with_drums()
    assert midi_to_abc(data, "a.mid").abc == midi_to_abc(data, "a.mid").abc
