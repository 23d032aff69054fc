"""MIDI -> ABC transcription on this project's own MIDI: round trips on real tunes, the
recovered notation (repeats, endings, pickups, tuplets, chords, graces, voices), meter and key
estimation, and validity of the ABC."""

from __future__ import annotations

import io
import shutil
from fractions import Fraction as F

import mido
import pytest

from abcmidi_bgpt.checks.validate import validate_abc
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.humanise import strip_meta
from tests.support.paths import EXAMPLES, music21_corpus


def notes_of(midi: bytes) -> list[tuple[F, int, F]]:
    """(onset, pitch, duration) in beats of every note, all voices."""
    return sorted((n.onset, n.pitch, n.duration) for n in read_performance(midi).notes())


def round_trip(abc: str, source: str = "tune.mid"):
    """ABC -> MIDI -> ABC -> MIDI: the first MIDI, the transcription, the second MIDI."""
    first = abc_to_midi(abc).midi
    out = midi_to_abc(first, source)
    return first, out, abc_to_midi(out.abc).midi


def sample_tunes(step: int = 150):
    """Every ``step``-th tune of the three folk collections the benchmark uses (~28 tunes)."""
    tunes = []
    for name in ("oneills1850", "ryansMammoth", "airdsAirs"):
        for f in sorted((music21_corpus() / name).glob("*.abc")):
            tunes += split_tunes(read_abc_file(f), f"{name}/{f.name}")
    return tunes[::step]


JIG = """X:1
T:Test Jig
M:6/8
L:1/8
K:G
D|:GAB d2B|c2A BGE|1 DEF G2D:|2 DEF G3|]
"""


# --- round trips ----------------------------------------------------------------------------


def test_round_trip_gives_identical_notes_on_real_tunes():
    tunes = sample_tunes()
    assert len(tunes) >= 25
    differing = []
    for tune in tunes:
        first, out, second = round_trip(tune.full_text, tune.label)
        if notes_of(first) != notes_of(second):
            differing.append(tune.label)
    assert differing == []


@pytest.mark.parametrize(
    "name",
    [
        "reels.abc",
        "jigs.abc",
        "butterfly-slip-jig.abc",
        "cliffs-of-moher-endings.abc",
        "jennys-chickens-key-change.abc",
        "big-man-within-meter-change.abc",
    ],
)
def test_round_trip_of_the_examples(name):
    for tune in split_tunes(read_abc_file(EXAMPLES / name), name):
        first, out, second = round_trip(tune.full_text)
        assert notes_of(first) == notes_of(second), tune.label
        assert out.warnings == []


def test_meter_and_key_changes_are_written_inline():
    tune = split_tunes(read_abc_file(EXAMPLES / "big-man-within-meter-change.abc"))[0]
    _, out, _ = round_trip(tune.full_text)
    assert "M:9/8" in out.abc and "[M:6/8]" in out.abc
    tune = split_tunes(read_abc_file(EXAMPLES / "jennys-chickens-key-change.abc"))[0]
    _, out, _ = round_trip(tune.full_text)
    assert "K:F#m" in out.abc and "[K:Bm]" in out.abc


def test_transcriptions_are_valid_abc():
    for tune in sample_tunes(step=400):
        out = midi_to_abc(abc_to_midi(tune.full_text).midi, tune.label)
        validity = validate_abc(out.abc)  # music21, and abc2midi where installed
        assert validity.ok, (tune.label, validity.message)


def test_same_input_gives_the_same_text():
    midi = abc_to_midi(JIG).midi
    assert midi_to_abc(midi, "a.mid").abc == midi_to_abc(midi, "a.mid").abc


# --- repeats and endings --------------------------------------------------------------------


def test_repeats_are_recovered_on_tunes_that_have_them():
    with_repeats = [t for t in sample_tunes(step=40) if ":|" in t.text][:15]
    assert len(with_repeats) >= 10
    missed = []
    for tune in with_repeats:
        out = midi_to_abc(abc_to_midi(tune.full_text).midi)
        if out.repeats == 0 or "|:" not in out.abc or ":|" not in out.abc:
            missed.append(tune.label)
    assert len(missed) <= 1, missed


def test_first_and_second_endings_are_recovered():
    tune = split_tunes(read_abc_file(EXAMPLES / "cliffs-of-moher-endings.abc"))[0]
    first, out, second = round_trip(tune.full_text)
    assert out.repeats == 2 and out.endings == 1
    assert "|[1 " in out.abc and ":|[2 " in out.abc
    assert notes_of(first) == notes_of(second)


def test_repeats_written_out_in_full_become_repeat_signs():
    part_a = "GABc dBAG|FGAF DFAd|GABc dBAG|FAdc d2z2|"
    part_b = "gfed cBAG|FGAF DFAd|gfed cBAG|FAdc d2z2|"
    abc = f"X:1\nT:Written out\nM:4/4\nL:1/8\nK:G\n{part_a}\n{part_a}\n{part_b}\n{part_b}\n"
    first, out, second = round_trip(abc)
    assert out.repeats == 2
    assert out.abc.count("|:") == 2 and out.abc.count(":|") == 2
    assert notes_of(first) == notes_of(second)


def test_a_second_pass_that_differs_at_the_end_becomes_endings():
    body = "GABc dBAG|FGAF DFAd|GABc dBAG|"
    abc = f"X:1\nT:Endings\nM:4/4\nL:1/8\nK:G\n{body}FAdc d4|{body}FAdc B4|\n"
    first, out, second = round_trip(abc)
    assert out.repeats == 1 and out.endings == 1
    assert "|[1 " in out.abc and ":|[2 " in out.abc
    assert out.abc.count("FGAF DFAd") == 1  # the body is written once
    assert notes_of(first) == notes_of(second)


# --- rhythm: pickups, tuplets, ties, rests, chords, graces -----------------------------------


def test_pickup_bar_is_recovered():
    first, out, second = round_trip(JIG)
    assert out.pickup == F(1, 2)
    body = out.abc.split("K:G\n", 1)[1]
    assert body.startswith("D |")
    assert notes_of(first) == notes_of(second)


def test_triplets_only_where_the_rhythm_is_ternary():
    abc = "X:1\nT:Triplets\nM:2/4\nL:1/8\nK:D\n(3ABA GF|EF (3GFE|DEFG|A2 (3Bcd|]\n"
    first, out, second = round_trip(abc)
    assert out.abc.count("(3") == 3
    assert "(3ABA GF | EF (3GFE | DE FG" in out.abc  # straight eighths stay straight
    assert notes_of(first) == notes_of(second)


def test_quintuplets_and_sixteenth_triplets():
    abc = "X:1\nT:Tuplets\nM:4/4\nL:1/8\nK:C\n(5cdecd e2 (3c/d/e/ f/g/ a4|]\n"
    first, out, second = round_trip(abc)
    assert "(5:4:5cdecd" in out.abc and "(3cde" in out.abc
    assert notes_of(first) == notes_of(second)


def test_ties_across_bar_lines_and_rests():
    abc = "X:1\nT:Ties\nM:3/4\nL:1/8\nK:F\nA2 B2 c2-|c2 z2 BA|G6-|G2 z4|]\n"
    first, out, second = round_trip(abc)
    assert "c2-" in out.abc and "z2" in out.abc
    assert notes_of(first) == notes_of(second)


def test_chords_round_trip():
    abc = "X:1\nT:Chords\nM:4/4\nL:1/8\nK:D\n[DA]2 [EB]2 [FA]2 [DFA]2|[DA]8|]\n"
    first, out, second = round_trip(abc)
    assert "[DA] [EB] [FA] [DFA]" in out.abc  # quarter notes: L:1/4
    assert notes_of(first) == notes_of(second)


def test_grace_notes_round_trip():
    abc = "X:1\nT:Graces\nM:6/8\nL:1/8\nK:D\nd2{e}d cBA|{g}A3 {ag}f3|]\n"
    first, out, second = round_trip(abc)
    assert out.abc.count("{") == 3
    assert notes_of(first) == notes_of(second)


def test_accidentals_are_spelled_against_key_and_bar():
    abc = "X:1\nT:Accidentals\nM:4/4\nL:1/8\nK:G\nG^GAB cdef|=f2 ^f2 g2 _B2|]\n"
    first, out, second = round_trip(abc)
    body = out.abc.split("K:G\n", 1)[1]
    assert "^G" in body and "=f" in body and "_B" in body
    assert notes_of(first) == notes_of(second)


def test_voices_are_written_as_abc_voices():
    abc = "X:1\nT:Two voices\nM:4/4\nL:1/8\nK:G\nV:1\nGABc d2B2|c2A2 G4|]\nV:2\nG,4 D4|E4 G,4|]\n"
    first, out, second = round_trip(abc)
    assert "V:1" in out.abc and "V:2" in out.abc
    assert out.voices == 2
    assert notes_of(first) == notes_of(second)


def test_unit_length_follows_the_tune():
    _, out, _ = round_trip("X:1\nT:Air\nM:3/4\nL:1/4\nK:C\nc2 e|g3|e2 c|G3|]\n")
    assert "L:1/4" in out.abc
    _, out, _ = round_trip(JIG)
    assert "L:1/8" in out.abc


def test_bars_are_broken_into_lines():
    _, out, _ = round_trip(split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0].full_text)
    music = out.abc.split("K:D\n", 1)[1].strip().splitlines()
    assert all(line.count("|") <= 6 for line in music)
    assert len(music) >= 4


# --- header: title, tempo, meter and key -------------------------------------------------------


def test_title_comes_from_the_track_name_or_the_file_name():
    midi = abc_to_midi(JIG).midi
    assert "T:Test Jig" in midi_to_abc(midi, "x.mid").abc
    untitled = strip_meta(midi, ("track_name",))
    assert "T:my_tune" in midi_to_abc(untitled, "some/dir/my_tune.mid").abc


def test_tempo_is_written():
    abc = "X:1\nT:Fast\nM:4/4\nL:1/8\nQ:1/4=180\nK:D\nDEFG ABcd|]\n"
    assert "Q:1/4=180" in midi_to_abc(abc_to_midi(abc).midi).abc
    abc = "X:1\nT:Jig\nM:6/8\nL:1/8\nQ:3/8=110\nK:D\nDEF GAB|]\n"
    assert "Q:3/8=110" in midi_to_abc(abc_to_midi(abc).midi).abc


@pytest.mark.parametrize(
    ("name", "index", "meter", "key"),
    [
        ("jigs.abc", 0, "6/8", "G"),
        ("reels.abc", 0, "4/4", "D"),
        ("butterfly-slip-jig.abc", 0, "9/8", None),
    ],
)
def test_meter_and_key_estimated_without_meta_events(name, index, meter, key):
    tune = split_tunes(read_abc_file(EXAMPLES / name))[index]
    first = abc_to_midi(tune.full_text).midi
    out = midi_to_abc(strip_meta(first))
    assert out.meter_estimated and out.key_estimated
    assert out.meter.abc == meter
    if key:
        assert out.key.abc == key
    assert "% estimated (not in the file): meter, key" in out.abc
    # Whatever the estimate, the notes come back.
    assert notes_of(abc_to_midi(out.abc).midi) == notes_of(first)


def test_meter_and_key_from_the_file_are_not_flagged():
    out = midi_to_abc(abc_to_midi(JIG).midi)
    assert not out.meter_estimated and not out.key_estimated
    assert "estimated" not in out.abc


def test_a_modal_tune_gets_its_mode():
    tune = split_tunes(read_abc_file(EXAMPLES / "cliffs-of-moher-endings.abc"))[0]
    out = midi_to_abc(abc_to_midi(tune.full_text).midi)
    assert "K:Ador" in out.abc


def test_a_key_signature_that_disagrees_with_the_notes_is_replaced():
    midi = abc_to_midi(split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0].full_text).midi
    wrong = mido.MidiFile(file=io.BytesIO(midi))
    for msg in wrong.tracks[0]:
        if msg.type == "key_signature":
            msg.key = "Bb"
    buf = io.BytesIO()
    wrong.save(file=buf)
    out = midi_to_abc(buf.getvalue())
    assert out.key_estimated and out.key.abc == "D"
    assert any("key signature (Bb)" in w for w in out.warnings)


def test_a_jig_stamped_four_four_by_a_sequencer_is_read_as_six_eight():
    tune = split_tunes(read_abc_file(EXAMPLES / "jigs.abc"))[0]
    midi = mido.MidiFile(file=io.BytesIO(abc_to_midi(tune.full_text).midi))
    for msg in midi.tracks[0]:
        if msg.type == "time_signature":
            msg.numerator, msg.denominator = 4, 4
    buf = io.BytesIO()
    midi.save(file=buf)
    out = midi_to_abc(buf.getvalue())
    assert out.meter.abc == "6/8" and out.meter_estimated
    assert any("4/4 does not fit" in w for w in out.warnings)


# --- choosing what to transcribe ---------------------------------------------------------------


def two_track_file() -> bytes:
    """Format 1: a conductor track, a melody on channel 0, a bass line on channel 1."""
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="Two Parts"),
            mido.MetaMessage("time_signature", numerator=4, denominator=4),
            mido.MetaMessage("set_tempo", tempo=500000),
        ]
    )
    melody, bass = mido.MidiTrack(), mido.MidiTrack()
    for pitch in [67, 69, 71, 72, 74, 72, 71, 69]:
        melody.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        melody.append(mido.Message("note_off", note=pitch, velocity=0, time=48))
    for pitch in (43, 50):
        bass.append(mido.Message("note_on", channel=1, note=pitch, velocity=70, time=0))
        bass.append(mido.Message("note_off", channel=1, note=pitch, velocity=0, time=192))
    midi.tracks += [conductor, melody, bass]
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


def test_every_pitched_track_becomes_a_voice_by_default():
    out = midi_to_abc(two_track_file())
    assert out.voices == 2 and "V:2" in out.abc
    assert "T:Two Parts" in out.abc


def test_track_and_channel_select_what_is_transcribed():
    data = two_track_file()
    melody_only = midi_to_abc(data, track=1)
    assert melody_only.voices == 1 and "V:" not in melody_only.abc
    body = melody_only.abc.split("K:")[1].split("\n", 1)[1]
    assert "".join(c for c in body if c.isalpha()) == "GABcdcBA"
    bass_only = midi_to_abc(data, channel=1)
    assert bass_only.voices == 1 and "G,,4" in bass_only.abc and "D,4" in bass_only.abc


def test_asking_for_an_empty_track_says_where_the_notes_are():
    with pytest.raises(ConversionError, match=r"no notes on track 5 \(notes are on: track 1"):
        midi_to_abc(two_track_file(), "f.mid", track=5)


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_abc2midi_reads_the_transcriptions():
    from abcmidi_bgpt.checks.validate import _abc2midi_check

    for name in ("reels.abc", "cliffs-of-moher-endings.abc", "big-man-within-meter-change.abc"):
        tune = split_tunes(read_abc_file(EXAMPLES / name))[0]
        out = midi_to_abc(abc_to_midi(tune.full_text).midi)
        assert _abc2midi_check(out.abc).ok
