"""MIDI -> ABC on MIDI the project did not write: bad input, and the MIDI constructs other
converters get wrong (/work/shared/HARD-CASES.md, "MIDI -> ABC")."""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
from fractions import Fraction as F
from pathlib import Path

import mido
import pytest

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.checks.validate import validate_abc
from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge
from abcmidi_bgpt.core.performance import Note, TempoClock
from abcmidi_bgpt.engines.batch import convert_paths
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import MAX_MIDI_FILE_BYTES, read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.paths import EXAMPLES

REEL = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0].full_text
JIG = split_tunes(read_abc_file(EXAMPLES / "jigs.abc"))[0].full_text


def score_notes(abc: str) -> list[Note]:
    return abc_to_midi(abc).performance.notes()


def rendered_notes(abc_text: str) -> list[Note]:
    return abc_to_midi(abc_text).performance.notes()


def exact(notes) -> list[tuple[F, int]]:
    return sorted((n.onset, n.pitch) for n in notes)


def midi_bytes(
    notes,
    ticks_per_beat: int = 480,
    note_off: str = "velocity0",
    meta: bool = True,
    tempos=((0, 120.0),),
    file_type: int = 0,
    late: int = 0,
    early: int = 0,
    time_signature: tuple[int, int] = (4, 4),
) -> bytes:
    """A MIDI file of (onset, pitch, duration) in beats, written by hand: note-offs as
    velocity-0 note-ons, note_off messages or missing; onsets ``late`` ticks late and ends
    ``early`` ticks early."""
    midi = mido.MidiFile(type=file_type, ticks_per_beat=ticks_per_beat)
    meta_track = mido.MidiTrack()
    if meta:
        numerator, denominator = time_signature
        meta_track.append(
            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)
        )
        meta_track.append(mido.MetaMessage("key_signature", key="D"))
    events = []
    for beat, qpm in tempos:
        events.append(
            (
                round(beat * ticks_per_beat),
                0,
                mido.MetaMessage("set_tempo", tempo=round(60e6 / qpm)),
            )
        )
    note_events = []
    for onset, pitch, duration in notes:
        on = round(onset * ticks_per_beat) + late
        off = round((onset + duration) * ticks_per_beat) - early
        note_events.append((on, 2, mido.Message("note_on", note=pitch, velocity=90)))
        if note_off == "velocity0":
            note_events.append((off, 1, mido.Message("note_on", note=pitch, velocity=0)))
        elif note_off == "note_off":
            note_events.append((off, 1, mido.Message("note_off", note=pitch, velocity=64)))
    if file_type == 0:
        events += note_events
        tracks = [meta_track]
    else:
        tracks = [meta_track, mido.MidiTrack()]
    for track, evs in ((tracks[0], events), (tracks[-1], note_events if file_type else [])):
        now = 0
        for tick, _, msg in sorted(evs, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
    midi.tracks += tracks
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


# --- bad input ----------------------------------------------------------------------------------


def test_truncated_file_keeps_what_was_read_with_a_warning():
    data = abc_to_midi(REEL).midi
    out = midi_to_abc(data[: len(data) // 2], "cut.mid")
    assert any("damaged MIDI file" in w for w in out.warnings)
    got = exact(rendered_notes(out.abc))
    want = exact(score_notes(REEL))
    assert len(got) > 20 and got == want[: len(got)]


def test_corrupt_and_empty_files_fail_with_one_line():
    for data, reason in [
        (b"", "empty file"),
        (b"RIFF....", "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60garbage-garbage", "corrupt MIDI file"),
    ]:
        with pytest.raises(ConversionError) as err:
            midi_to_abc(data, "bad.mid")
        assert reason in str(err.value) and "\n" not in str(err.value)
        assert str(err.value).startswith("bad.mid: ")


def test_files_over_the_size_limit_are_refused():
    with pytest.raises(InputTooLarge, match="limit for MIDI files"):
        midi_to_abc(b"MThd" + bytes(MAX_MIDI_FILE_BYTES), "huge.mid")


def test_no_notes_fail_clearly_and_drums_only_are_a_percussion_tune():
    """No notes: a one-line reason. Drum notes only (channel 10): a tune of one percussion
    voice (see test_transcribe_drums), or with the drums left out, the reason."""
    empty = mido.MidiFile(type=0)
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    buf = io.BytesIO()
    empty.save(file=buf)
    with pytest.raises(ConversionError, match="no notes in the MIDI file"):
        midi_to_abc(buf.getvalue(), "empty.mid")
    drums = mido.MidiFile(type=0)
    track = mido.MidiTrack()
    for i in range(16):
        track.append(mido.Message("note_on", channel=9, note=36 + i % 3, velocity=100, time=120))
        track.append(mido.Message("note_off", channel=9, note=36 + i % 3, velocity=0, time=60))
    drums.tracks.append(track)
    buf = io.BytesIO()
    drums.save(file=buf)
    out = midi_to_abc(buf.getvalue(), "drums.mid")
    assert out.drums and out.voices == 1 and "clef=perc" in out.abc
    assert sorted({n.pitch for n in rendered_notes(out.abc)}) == [36, 37, 38]
    with pytest.raises(ConversionError, match="only drum notes"):
        midi_to_abc(buf.getvalue(), "drums.mid", drums="drop")


def test_drums_beside_a_melody_are_a_voice_or_left_out():
    midi = mido.MidiFile(file=io.BytesIO(abc_to_midi(JIG).midi))
    for _ in range(8):
        midi.tracks[0].insert(-1, mido.Message("note_on", channel=9, note=42, velocity=90, time=0))
    buf = io.BytesIO()
    midi.save(file=buf)
    out = midi_to_abc(buf.getvalue())
    assert out.voices == 2 and out.drums and not any("drum note(s)" in w for w in out.warnings)
    out = midi_to_abc(buf.getvalue(), drums="drop")
    assert out.voices == 1 and any("drum note(s)" in w for w in out.warnings)


def test_format_2_is_read_as_its_first_sequence():
    first = mido.MidiFile(file=io.BytesIO(abc_to_midi(JIG).midi))
    second = mido.MidiFile(file=io.BytesIO(abc_to_midi(REEL).midi))
    both = mido.MidiFile(type=2, ticks_per_beat=first.ticks_per_beat)
    both.tracks += [first.tracks[0], second.tracks[0]]
    buf = io.BytesIO()
    both.save(file=buf)
    out = midi_to_abc(buf.getvalue(), "two.mid")
    assert any("format 2" in w for w in out.warnings)
    assert exact(rendered_notes(out.abc)) == exact(score_notes(JIG))


def test_a_batch_goes_on_past_bad_files_and_writes_no_partial_output(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    good = abc_to_midi(JIG).midi
    (src / "good.mid").write_bytes(good)
    (src / "empty.mid").write_bytes(b"")
    (src / "garbage.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (src / "cut.mid").write_bytes(good[:40])
    report = convert_paths([src], "abc", tmp_path / "out", EngineSpec.of("symbolic"))
    assert report.count("converted") == 1
    failed = {Path(r.label).name: r.message for r in report.failed}
    assert set(failed) == {"empty.mid", "garbage.mid", "cut.mid"}
    assert all("\n" not in m for m in failed.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.abc"]
    assert (src / "good.mid").read_bytes() == good  # inputs untouched


# --- the hard cases of MIDI -> ABC -----------------------------------------------------------


# A reel-like line in D: bars of six eighths and a quarter note, the last bar different.
BARS = [
    [62, 66, 69, 66, 71, 69],
    [67, 71, 74, 71, 69, 67],
    [62, 66, 69, 66, 71, 69],
    [64, 66, 67, 64, 66, 64],
]
MELODY = [
    (F(4 * b) + F(i, 2), p, F(1, 2) if i < 6 else F(1))
    for b, bar in enumerate(BARS)
    for i, p in enumerate([*bar, bar[-1] - 2])
]
MELODY.append((F(16), 62, F(2)))


def test_notes_one_tick_late_and_ending_a_few_ticks_early():
    data = midi_bytes(MELODY, late=1, early=4)
    out = midi_to_abc(data)
    assert not out.performed
    notes = rendered_notes(out.abc)
    assert [(n.onset, n.pitch, n.duration) for n in notes] == MELODY


def test_note_off_messages_and_velocity_zero_note_ons_read_the_same():
    a = midi_to_abc(midi_bytes(MELODY, note_off="velocity0"))
    b = midi_to_abc(midi_bytes(MELODY, note_off="note_off"))
    assert a.abc == b.abc


def test_missing_note_offs_end_at_the_next_note():
    out = midi_to_abc(midi_bytes(MELODY, note_off="none"))
    assert any("no note-off" in w for w in out.warnings)
    notes = [(n.onset, n.pitch, n.duration) for n in rendered_notes(out.abc)]
    assert notes[:-1] == MELODY[:-1]  # each note lasts until the next
    assert notes[-1][:2] == MELODY[-1][:2]


def test_overlapping_notes_of_one_pitch():
    # a legato line that strikes the same pitch again before letting go of it
    notes = [(F(i), 67 if i % 2 else 69, F(3, 2)) for i in range(8)]
    notes += [(F(8), 69, F(1)), (F(8, 1) + F(1, 2), 69, F(1)), (F(10), 74, F(2))]
    out = midi_to_abc(midi_bytes(notes))
    assert validate_abc(out.abc, with_abc2midi=False).ok
    got = rendered_notes(out.abc)
    assert [(n.onset, n.pitch) for n in got] == [(o, p) for o, p, _ in notes]


def test_running_status():
    # a note_on status byte once, then data bytes only: mido writes files this way
    body = bytes([0x00, 0x90, 62, 90, 0x60, 62, 0, 0x00, 64, 90, 0x60, 64, 0, 0x00, 66, 90])
    body += bytes([0x60, 66, 0, 0x00, 67, 90, 0x81, 0x40, 67, 0, 0x00, 0xFF, 0x2F, 0x00])
    data = b"MThd" + bytes([0, 0, 0, 6, 0, 0, 0, 1, 0, 0x60]) + b"MTrk"
    data += len(body).to_bytes(4, "big") + body
    out = midi_to_abc(data)
    assert [n.pitch for n in rendered_notes(out.abc)] == [62, 64, 66, 67]


def test_format_0_and_format_1_give_the_same_tune():
    zero = midi_to_abc(midi_bytes(MELODY, file_type=0))
    one = midi_to_abc(midi_bytes(MELODY, file_type=1))
    assert zero.abc == one.abc


def test_tempo_changes_every_beat_do_not_move_the_notes():
    tempos = [(b, 100.0 + 10 * (b % 5)) for b in range(18)]
    out = midi_to_abc(midi_bytes(MELODY, tempos=tempos))
    assert [(n.onset, n.pitch, n.duration) for n in rendered_notes(out.abc)] == MELODY
    assert "Q:1/4=" in out.abc


def seconds_of(perf) -> list[tuple[float, int]]:
    clock = TempoClock(perf.tempos)
    return sorted((round(clock.seconds(float(n.onset)), 3), n.pitch) for n in perf.notes())


def test_the_tempo_clock_reads_seconds_back_to_beats():
    """TempoClock.beat inverts TempoClock.seconds across changes, before the first change (120
    quarter notes a minute) and past the last."""
    clock = TempoClock(read_performance(midi_bytes(MELODY, tempos=[(2, 90.0), (8, 60.0)])).tempos)
    for beat in (0.0, 1.0, 2.0, 2.5, 7.75, 8.0, 13.0, 40.0):
        assert clock.beat(clock.seconds(beat)) == pytest.approx(beat, abs=1e-9)
    assert clock.seconds(2.0) == pytest.approx(1.0)  # two beats at 120
    assert clock.beat(1.0 + 4 / 1.5) == pytest.approx(6.0)  # four beats at 90 later


def test_the_tempo_map_is_kept_so_every_note_sounds_when_the_file_plays_it():
    """A slower second half (120 -> 60 at bar 3) is written as a Q: at that bar line; an
    expressive map (a tempo event every beat) as few Q: fields as keep every bar line within
    20 ms of the file's: the notes sound when the file plays them, not at one mean tempo."""
    halved = midi_bytes(MELODY, tempos=[(0, 120.0), (8, 60.0)])
    out = midi_to_abc(halved)
    assert "[Q:1/4=60]" in out.abc and out.abc.count("Q:") == 2
    heard = seconds_of(abc_to_midi(out.abc).performance)
    assert heard == seconds_of(read_performance(halved))
    swaying = [(b, 100.0 + 10 * (b % 5)) for b in range(18)]
    data = midi_bytes(MELODY, tempos=swaying)
    out = midi_to_abc(data)
    fields = out.abc.count("Q:")
    assert 2 <= fields <= 10  # not one per tempo event (18)
    want = seconds_of(read_performance(data))
    got = seconds_of(abc_to_midi(out.abc).performance)
    assert [p for _, p in got] == [p for _, p in want]
    errors = [abs(a - b) for (a, _), (b, _) in zip(got, want, strict=True)]
    # bar lines within 20 ms; inside a bar the tempo sways by a fifth each beat
    assert statistics.mean(errors) < 0.05 and max(errors) < 0.15


def test_tempo_events_off_the_bar_lines_and_inside_rests_and_notes():
    """A first tempo event a few ticks late is the tune's tempo (not 120 for a tick), and a
    change in the middle of a rest or a held note is written where it is (the rest cut in
    two, the note into two tied ones): every note is heard when the file plays it."""
    notes = [(F(b * 4), 60 + b, F(1)) for b in range(6)] + [(F(13), 70, F(6))]
    notes.append((F(20), 72, F(1)))
    data = midi_bytes(notes, tempos=[(F(7, 480), 130.0), (F(10), 150.0), (F(15), 90.0)])
    out = midi_to_abc(data)
    assert out.abc.count("Q:") == 3 and "Q:1/4=130" in out.abc
    heard = seconds_of(abc_to_midi(out.abc).performance)
    want = seconds_of(read_performance(data))
    assert [p for _, p in heard] == [p for _, p in want]
    assert max(abs(a - b) for (a, _), (b, _) in zip(heard, want, strict=True)) < 0.02


def test_a_repeat_that_slows_at_its_end_starts_again_at_its_own_tempo():
    """|: bar 1 at 120, bar 2 slowing to 80 :| played twice: the repeat is found, and its
    first bar carries its tempo, so the second time round does not stay at 80 (abc2midi keeps
    the tempo in force at the repeat sign; this project's player replays the first bar's)."""
    phrase = [(F(0), 60, F(1)), (F(1), 64, F(1)), (F(2), 67, F(1)), (F(3), 72, F(1))]
    phrase += [(F(4), 71, F(2)), (F(6), 67, F(2))]
    notes = [(on + 8 * k, p, d) for k in range(2) for on, p, d in phrase]
    notes += [(F(16), 65, F(4)), (F(20), 60, F(4))]
    tempos = [(F(0), 120.0), (F(4), 80.0), (F(8), 120.0), (F(12), 80.0), (F(16), 120.0)]
    data = midi_bytes(notes, tempos=tempos)
    out = midi_to_abc(data)
    assert out.repeats == 1 and "|: [Q:1/4=120] C" in out.abc
    heard = seconds_of(abc_to_midi(out.abc).performance)
    want = seconds_of(read_performance(data))
    assert heard == want


def test_a_steady_tempo_is_one_q_field():
    out = midi_to_abc(midi_bytes(MELODY, tempos=[(0, 117.19)]))
    assert out.abc.count("Q:") == 1


def test_a_polskas_uneven_pairs_are_its_rhythm_not_swing():
    """In three beats (a polska) pairs played long-short (2:1) are written as played, not
    straightened as a hornpipe's swing is: every note comes back where the file has it."""
    bar = [(F(0), 64, F(2, 3)), (F(2, 3), 69, F(1, 3)), (F(1), 73, F(2, 3)), (F(5, 3), 71, F(1, 3))]
    bar += [(F(2), 69, F(1))]
    notes = [(on + 3 * b, p + (b % 2) * 2, d) for b in range(8) for on, p, d in bar]
    out = midi_to_abc(midi_bytes(notes, time_signature=(3, 4)))
    assert out.swing is None and out.meter.abc == "3/4"
    assert exact(rendered_notes(out.abc)) == sorted((on, p) for on, p, _ in notes)


def test_a_band_of_twenty_instruments_becomes_at_most_sixteen_voices():
    """20 tracks (strings, brass, reeds, four programs each... and a drum kit): the voices of
    one instrument family become one, a doubled note once; drums are left out; every pitched
    onset is still played, in at most 16 voices (abc2midi's limit), with a note saying so."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    played = set()
    for t in range(21):
        track = mido.MidiTrack()
        channel = 9 if t == 20 else t % 9
        program = (40, 56, 64, 72, 0)[t % 5] + t // 5  # five families, four programs each
        track.append(mido.Message("program_change", program=program, channel=channel))
        for beat in range(8):
            pitch = 36 if channel == 9 else 48 + (t * 5 + beat * 3) % 36
            if channel != 9:
                played.add((F(beat), pitch))
            track.append(mido.Message("note_on", note=pitch, velocity=80, channel=channel))
            track.append(mido.Message("note_off", note=pitch, channel=channel, time=480))
        midi.tracks.append(track)
    buf = io.BytesIO()
    midi.save(file=buf)
    out = midi_to_abc(buf.getvalue(), drums="drop")
    assert 1 < out.voices <= 16
    assert any("merged into 5 by instrument family" in w for w in out.warnings)
    assert (
        "% 20 voices merged into 5" in out.abc and "drum note(s) (channel 10) left out" in out.abc
    )
    assert set(exact(rendered_notes(out.abc))) == played


def test_a_piano_track_is_written_in_two_hands():
    """One piano track with both hands (a melody over bass notes and chords): the right hand
    and the left hand become voices of their own, the left in the bass clef, each with its
    chords; a melody alone, even on a piano, is one voice."""
    right = [(F(b) / 2, 72 + (b * 5) % 12, F(1, 2)) for b in range(32)]
    left = [(F(2 * b), 36 + (b % 4) * 2, F(2)) for b in range(8)]
    left += [(F(2 * b) + 1, p, F(1)) for b in range(8) for p in (52, 55)]
    out = midi_to_abc(midi_bytes(right + left))
    voices = abc_to_midi(out.abc).performance.voices
    pitches = [{n.pitch for n in v.notes} for v in voices]
    # the right hand; the left hand in two lines (the bass held under the chords)
    assert len(voices) == 3
    assert pitches[0] == {p for _, p, _ in right}
    assert pitches[1] | pitches[2] == {p for _, p, _ in left}
    assert "V:2 clef=bass" in out.abc and "V:3 clef=bass" in out.abc
    assert "V:1 clef" not in out.abc
    assert set(exact(rendered_notes(out.abc))) == {(on, p) for on, p, _ in right + left}
    melody = midi_to_abc(midi_bytes([(F(b), 48 + (b * 7) % 36, F(1)) for b in range(24)]))
    assert melody.voices == 1


def test_a_sequencers_detached_notes_are_written_with_a_dot_not_tied_slivers():
    """Notes held for 90 % of their time (a sequencer's non-legato) end where no note of the
    tune starts: written as the note to the next one with a staccato dot (a note held for a
    third of its time: a plain length and a rest), never a tied sliver; the onsets unchanged."""
    melody = [(F(b) / 2, 60 + (b * 5) % 12, F(9, 20)) for b in range(15)]
    melody += [(F(8), 62, F(2, 3)), (F(10), 64, F(2))]
    out = midi_to_abc(midi_bytes(melody))
    music = out.abc.split("K:", 1)[1]
    assert music.count(".") == 14 and "-" not in music and "/" not in music.replace("|]", "")
    assert exact(rendered_notes(out.abc)) == sorted((on, p) for on, p, _ in melody)


@pytest.mark.parametrize("lead", [F(1, 16), F(1, 8), F(-1, 16)])
def test_a_sequenced_file_shifted_as_a_whole_keeps_its_grid(lead):
    """Every note (start and end) a 32nd or a 64th late, or early: the file's grid is found under
    the shift instead of writing each note after a sliver of rest (z/4D3/4...) in every bar."""
    shifted = [(on + lead + 1, p, d) for on, p, d in MELODY]
    out = midi_to_abc(midi_bytes(shifted))
    assert not out.performed and "z/" not in out.abc and "." not in out.abc.split("K:")[1]
    want = sorted((on + 1, p) for on, p, _ in MELODY)
    got = exact(rendered_notes(out.abc))
    assert [(on - got[0][0], p) for on, p in got] == [(on - want[0][0], p) for on, p in want]


def test_smpte_time_division():
    # 25 frames a second, 40 ticks a frame: 1000 ticks a second; the tune at 100 beats a
    # minute, so a beat is 600 ticks and nothing in the file says so.
    midi = mido.MidiFile(type=0)
    midi.ticks_per_beat = -(25 << 8) + 40  # mido keeps the signed division as read
    track = mido.MidiTrack()
    now = 0
    for onset, pitch, duration in MELODY:
        on, off = round(onset * 600), round((onset + duration) * 600) - 30
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=on - now))
        track.append(mido.Message("note_on", note=pitch, velocity=0, time=off - on))
        now = off
    midi.tracks.append(track)
    buf = io.BytesIO()
    midi.save(file=buf)
    out = midi_to_abc(buf.getvalue(), "smpte.mid")
    got = rendered_notes(out.abc)
    score = [Note(o, p, d) for o, p, d in MELODY]
    assert note_f1(score, got).f1 == 1.0
    assert "tempo" in out.abc.split("M:")[0]  # the header says the tempo was estimated


def test_no_key_or_time_signature():
    out = midi_to_abc(midi_bytes(MELODY, meta=False))
    assert out.meter_estimated and out.key_estimated
    # 2/4 or 4/4: collections write reels both ways, and these notes cannot tell
    assert out.key.abc == "D" and out.meter.abc in ("2/4", "4/4")
    assert [(n.onset, n.pitch, n.duration) for n in rendered_notes(out.abc)] == MELODY


def test_written_out_repeats_of_a_performed_file_are_recovered():
    part = [(F(i, 2), p, F(1, 2)) for i, p in enumerate([62, 66, 69, 66, 71, 69, 66, 64] * 2)]
    last = [(F(8 + i, 2), p, F(1, 2)) for i, p in enumerate([62, 66, 69, 66, 71, 69])]
    half = part + last + [(F(11), 62, F(1))]
    notes = half + [(o + 12, p, d) for o, p, d in half]
    out = midi_to_abc(midi_bytes(notes))
    assert out.repeats == 1 and "|:" in out.abc and ":|" in out.abc


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
@pytest.mark.parametrize("name", ["reels.abc", "jigs.abc", "cliffs-of-moher-endings.abc"])
def test_abc2midi_renderings(tmp_path: Path, name: str):
    """Another converter's MIDI: 480 ticks a beat, notes a tick late and a tick short,
    accent velocities, ornaments played out."""
    tune = split_tunes(read_abc_file(EXAMPLES / name))[0]
    (tmp_path / "t.abc").write_text(tune.full_text)
    subprocess.run(
        ["abc2midi", str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.mid"), "-silent"],
        capture_output=True,
        check=False,
        cwd=tmp_path,  # abc2midi writes barloc.txt into its working folder
    )
    data = (tmp_path / "t.mid").read_bytes()
    out = midi_to_abc(data, name)
    assert validate_abc(out.abc).ok
    reference = read_performance(data).notes()
    assert note_f1(reference, rendered_notes(out.abc)).f1 >= 0.98
    assert out.repeats >= 1
