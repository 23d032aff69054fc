"""Validity and fidelity: hand-built performances, real tunes, character error rate, BPB."""

from __future__ import annotations

import dataclasses
import math
import shutil
from fractions import Fraction as F

import pytest
import torch

from abcmidi_bgpt.bgpt.checkpoint import load_model
from abcmidi_bgpt.bgpt.evaluate import score_sequences, target_bpb
from abcmidi_bgpt.bgpt.patches import SequenceSet
from abcmidi_bgpt.checks.validate import (
    abc_fidelity,
    character_error_rate,
    midi_fidelity,
    performance_fidelity,
    validate_abc,
    validate_output,
)
from abcmidi_bgpt.core.performance import (
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
)
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance, render_midi
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml, musicxml_to_abc
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.models import pairs, untrained_model
from tests.support.paths import EXAMPLES

SCALE = [Note(F(i, 2), p, F(1, 2)) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74])]


def performance(notes=SCALE, qpm=120.0, meter=(6, 8), fifths=2) -> Performance:
    return Performance(
        [Voice(list(notes))],
        [TempoChange(F(0), qpm)],
        [MeterChange(F(0), *meter)],
        [KeyChange(F(0), fifths)],
    )


def test_identical_performances_agree_in_everything():
    fidelity = performance_fidelity(performance(), performance())
    assert (fidelity.onset.precision, fidelity.onset.recall, fidelity.onset.f1) == (1.0, 1.0, 1.0)
    assert fidelity.offset.f1 == 1.0
    assert fidelity.tempo and fidelity.meter and fidelity.key


def test_one_wrong_pitch_lowers_recall_by_exactly_one_note():
    wrong = [*SCALE[:3], dataclasses.replace(SCALE[3], pitch=68), *SCALE[4:]]
    fidelity = performance_fidelity(performance(wrong), performance())
    assert fidelity.onset.matched == 7 and fidelity.onset.reference == 8
    assert fidelity.onset.recall == 7 / 8 and fidelity.onset.precision == 7 / 8
    assert fidelity.offset.recall == 7 / 8


def test_a_shortened_note_counts_only_with_offsets():
    short = [*SCALE[:-1], dataclasses.replace(SCALE[-1], duration=F(1, 8))]
    fidelity = performance_fidelity(performance(short), performance())
    assert fidelity.onset.f1 == 1.0
    assert fidelity.offset.recall == 7 / 8


def test_tempo_meter_and_key_are_told_apart():
    reference = performance()
    assert performance_fidelity(performance(qpm=120.4), reference).tempo  # within 0.5 %
    changed = performance_fidelity(performance(qpm=100.0, meter=(3, 4), fifths=-1), reference)
    assert (changed.tempo, changed.meter, changed.key) == (False, False, False)
    assert changed.onset.f1 == 1.0  # the notes, in beats, are still the same
    no_tempo = dataclasses.replace(performance(), tempos=[])  # a file without one plays at 120
    assert performance_fidelity(no_tempo, reference).tempo


def reel() -> tuple[str, bytes]:
    tune = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0]
    return tune.full_text, abc_to_midi(tune).midi


def test_midi_fidelity_of_a_real_tune():
    _, midi = reel()
    same = midi_fidelity(midi, midi)
    assert same.valid and same.exact and same.notes.onset.f1 == 1.0
    perf = read_performance(midi)
    notes = perf.voices[0].notes
    notes[10] = dataclasses.replace(notes[10], pitch=notes[10].pitch + 2)
    changed = midi_fidelity(render_midi(perf), midi)
    n = len(read_performance(midi).notes())
    assert not changed.exact
    assert changed.notes.onset.matched == n - 1 and changed.notes.onset.recall == (n - 1) / n
    assert changed.notes.tempo and changed.notes.meter and changed.notes.key
    broken = midi_fidelity(b"MThd garbage", midi)
    assert not broken.valid and broken.notes is None and not broken.exact


def test_abc_fidelity_renders_the_output_and_scores_it_against_the_input_midi():
    abc, midi = pairs()[0]
    text = abc.decode()
    same = abc_fidelity(abc, midi, abc)
    assert same.valid and same.exact and same.cer == 0.0
    assert same.notes.onset.f1 == 1.0 and same.notes.meter and same.notes.key
    # One note letter changed in the music line: one note fewer matched, one character off.
    body_start = text.index("\nK:")
    music = text.index("|", body_start)
    note_at = next(i for i in range(music, len(text)) if text[i] in "ABCDEFG")
    other = "D" if text[note_at] != "D" else "E"
    changed = text[:note_at] + other + text[note_at + 1 :]
    fidelity = abc_fidelity(changed, midi, text)
    n = fidelity.notes.onset.reference
    assert fidelity.valid and not fidelity.exact
    assert fidelity.cer == pytest.approx(1 / len(text))
    assert fidelity.notes.onset.matched == n - 1
    # Without a reference ABC there is no CER; invalid ABC gets no note scores.
    assert abc_fidelity(text, midi).cer is None
    invalid = abc_fidelity("X:1\nK:C\n", midi)
    assert not invalid.valid and invalid.notes is None


def test_character_error_rate():
    assert character_error_rate("abc", "abc") == 0.0
    assert character_error_rate("abd", "abc") == pytest.approx(1 / 3)  # a substitution
    assert character_error_rate("ab", "abc") == pytest.approx(1 / 3)  # a deletion
    assert character_error_rate("abcdef", "abc") == 1.0  # three insertions
    assert character_error_rate("", "") == 0.0


def test_validate_output_by_extension():
    abc, midi = pairs()[0]
    assert validate_output(midi, "mid") and validate_output(abc, "abc")
    assert not validate_output(b"\xff\xfe not utf-8", "abc")
    assert not validate_output(abc, "mid")


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_xml2abc_instruction_fields_pass_the_abc2midi_check():
    tune = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0]
    text = musicxml_to_abc(abc_to_musicxml(tune.full_text).root, unit_length=0)
    assert "I:linebreak" in text  # xml2abc writes it, and abc2midi calls it an error
    assert validate_abc(text)
    broken = text.replace("BAFA |", "BA]FA |", 1)  # a chord ended that never began
    assert validate_abc(broken, with_abc2midi=False)  # music21 lets it pass ...
    assert "Chord already finished" in validate_abc(broken).message  # ... abc2midi does not


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_the_abc2midi_check_leaves_nothing_in_the_working_folder(tmp_path, monkeypatch):
    from abcmidi_bgpt.engines.base import Abc2MidiEngine

    # abc2midi writes barloc.txt into its working folder for a tune with several voices.
    two_voices = "X:1\nT:t\nM:4/4\nL:1/4\nK:C\nV:1\nCDEF|GABc|\nV:2\nC,D,E,F,|G,A,B,C|\n"
    monkeypatch.chdir(tmp_path)
    assert validate_abc(two_voices)
    assert Abc2MidiEngine().abc_to_midi(split_tunes(two_voices)[0]).data.startswith(b"MThd")
    assert list(tmp_path.iterdir()) == []


def test_target_bpb_is_the_evaluations_bpb_of_each_target():
    torch.set_num_threads(2)
    model = load_model(untrained_model())
    some = list(pairs()[:2])
    for direction, kind in (("abc2mid", "midi"), ("mid2abc", "abc")):
        per_pair = target_bpb(model, some, direction)
        for pair, bpb in zip(some, per_pair, strict=True):
            sequences = SequenceSet.from_pairs([pair], [direction], model.config.layout)
            expected = getattr(score_sequences(model, sequences)[direction], kind).bpb
            assert bpb == pytest.approx(expected, rel=1e-5)
        assert all(7.0 < b < 9.5 for b in per_pair)  # an untrained model: about log2(257)
    tiny = model.config.layout
    too_long = (b"x" * tiny.context_bytes, some[0][1])
    assert math.isnan(target_bpb(model, [too_long], "abc2mid")[0])


def test_validating_abc_never_reads_a_file_its_text_names(tmp_path):
    # music21's converter.parse takes a string naming a file for that file: a model's output
    # or a tune that reads as a path must be judged as text, not opened.
    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nT:Real tune\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|\n")
    assert validate_abc(tune.read_text(), with_abc2midi=False)  # the file's own text is valid
    verdict = validate_abc(str(tune), with_abc2midi=False)  # its name is not ABC with notes
    assert not verdict and verdict.checker == "music21"
    assert not validate_abc(str(tmp_path), with_abc2midi=False)
    assert "Is a directory" not in validate_abc(str(tmp_path), with_abc2midi=False).message
