"""The bgpt engine through the batch runner and the CLI: learnt tunes converted both ways,
checks, fallback, truncation, bad inputs, checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.model_folder import DEFAULT_MODEL_DIR, resolve_checkpoint
from abcmidi_bgpt.cli.app import app
from abcmidi_bgpt.core.errors import ConversionError, ModelError
from abcmidi_bgpt.engines.base import SymbolicEngine, SymbolicOptions
from abcmidi_bgpt.engines.batch import convert_paths
from abcmidi_bgpt.engines.registry import EngineSpec
from tests.support.models import (
    HELD_OUT_TUNES,
    TRAINED_TUNES,
    pairs,
    trained_model,
    tunes,
    tunes_file,
    untrained_model,
)


def bgpt(model: Path, **options) -> EngineSpec:
    return EngineSpec.of("bgpt", checkpoint=str(model), **options)


def midi_folder(tmp_path: Path) -> Path:
    """The MIDI half of every pair, as files."""
    folder = tmp_path / "midi"
    folder.mkdir()
    for i, (_, midi) in enumerate(pairs()):
        (folder / f"tune{i}.mid").write_bytes(midi)
    return folder


def by_label(report) -> dict:
    return {r.label: r for r in report.results}


def test_learnt_tunes_convert_to_their_midi_and_every_output_is_checked(tmp_path):
    report = convert_paths([tunes_file()], "mid", tmp_path / "out", bgpt(trained_model()))
    results = by_label(report)
    assert len(results) == TRAINED_TUNES + HELD_OUT_TUNES
    for tune, (_, midi) in zip(tunes()[:TRAINED_TUNES], pairs(), strict=False):
        result = results[tune.label]
        assert result.status == "converted" and result.note_f1 == 1.0 and not result.fallback
        assert Path(result.output).read_bytes() == midi
    # Unseen tunes: whatever the tiny model writes is either valid MIDI, scored against the
    # symbolic converter, or refused and not written.
    for tune in tunes()[TRAINED_TUNES:]:
        result = results[tune.label]
        if result.status == "converted":
            assert result.note_f1 < 1.0 and Path(result.output).read_bytes()[:4] == b"MThd"
        else:
            assert "bgpt output" in result.message and not Path(result.output).exists()


def test_learnt_midi_files_convert_to_their_abc(tmp_path):
    folder = midi_folder(tmp_path)
    report = convert_paths([folder], "abc", tmp_path / "out", bgpt(trained_model()))
    results = by_label(report)
    for i in range(TRAINED_TUNES):
        result = results[str(folder / f"tune{i}.mid")]
        assert result.status == "converted" and result.note_f1 == 1.0, result.message
        assert Path(result.output).read_bytes() == pairs()[i][0]


def test_outputs_that_fail_their_checks_are_not_written_or_fall_back(tmp_path):
    # An untrained model writes noise: never valid MIDI, and mostly no end before the context.
    plain = tmp_path / "plain"
    report = convert_paths([tunes_file()], "mid", plain, bgpt(untrained_model()))
    assert report.count("failed") == len(tunes())
    for r in report.results:
        assert r.message.startswith(f"{r.label}: bgpt output ")
        assert r.message.endswith("; not written")
        assert "truncated" in r.message or "not valid MIDI" in r.message
    assert not plain.exists() or not any(plain.iterdir())
    saved = tmp_path / "saved"
    result = CliRunner().invoke(
        app,
        ["convert", str(tunes_file()), "--engine", "bgpt", "--checkpoint", str(untrained_model()),
         "--out", str(saved), "--fallback", "symbolic"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("symbolic fallback: ") == len(tunes()), result.output
    symbolic = SymbolicEngine(SymbolicOptions(chords=True))
    written = sorted(saved.glob("*.mid"))
    assert len(written) == len(tunes())
    assert {f.read_bytes() for f in written} == {symbolic.abc_to_midi(t).data for t in tunes()}


def test_min_f1_sends_the_unseen_tunes_to_the_fallback(tmp_path):
    spec = bgpt(trained_model(), fallback="symbolic", min_f1=0.99)
    results = by_label(convert_paths([tunes_file()], "mid", tmp_path / "out", spec))
    fell_back = {label for label, r in results.items() if r.fallback}
    assert fell_back == {t.label for t in tunes()[TRAINED_TUNES:]}
    for tune in tunes()[TRAINED_TUNES:]:
        assert results[tune.label].status == "converted"
        assert (
            Path(results[tune.label].output).read_bytes()
            == SymbolicEngine(SymbolicOptions(chords=True)).abc_to_midi(tune).data
        )


def test_truncated_outputs_and_too_long_inputs_are_reported(tmp_path):
    prompt_patches = 1 + -(-len(pairs()[0][0]) // 16) + 1
    spec = bgpt(trained_model(), max_patches=prompt_patches + 2)
    results = by_label(convert_paths([tunes_file()], "mid", tmp_path / "a", spec))
    first = results[tunes()[0].label]
    assert first.status == "failed" and "truncated" in first.message
    assert not Path(first.output).exists()
    spec = bgpt(trained_model(), max_patches=4)
    results = by_label(convert_paths([tunes_file()], "mid", tmp_path / "b", spec))
    assert all("input too long for the model" in r.message for r in results.values())


def test_bad_inputs_fail_alone(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.mid").write_bytes(pairs()[0][1])
    (folder / "garbage.mid").write_bytes(b"not a midi file at all")
    (folder / "empty.mid").write_bytes(b"")
    report = convert_paths([folder], "abc", tmp_path / "out", bgpt(trained_model()))
    results = {Path(r.label).name: r for r in report.results}
    assert results["good.mid"].status == "converted"
    for name in ("garbage.mid", "empty.mid"):
        assert results[name].status == "failed"
        assert results[name].message.startswith(str(folder / name))
        assert "\n" not in results[name].message


def test_the_engine_converts_one_input_at_a_time_too():
    engine = bgpt(trained_model()).build()
    assert engine.abc_to_midi(tunes()[1]).data == pairs()[1][1]
    assert engine.midi_to_abc(pairs()[2][1], "tune.mid").data == pairs()[2][0]
    noisy = bgpt(untrained_model()).build()
    with pytest.raises(ConversionError, match="bgpt output"):
        noisy.abc_to_midi(tunes()[0])


@pytest.mark.skipif(DEFAULT_MODEL_DIR.exists(), reason="a default model is packaged")
def test_without_a_checkpoint_bgpt_says_to_pass_one(tmp_path):
    result = CliRunner().invoke(
        app, ["convert", str(tunes_file()), "--engine", "bgpt", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "pass --checkpoint" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.skipif(DEFAULT_MODEL_DIR.exists(), reason="a default model is packaged")
def test_compare_checks_for_a_model_before_any_work_and_help_says_none_is_packaged(tmp_path):
    # The corpus does not exist: had compare read it first, the error would name it.
    result = CliRunner().invoke(app, ["compare", "--corpus", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no bGPT model is packaged yet" in result.output and "nowhere" not in result.output
    assert "--engine symbolic" in result.output
    for command in ("compare", "convert"):
        help_text = " ".join(CliRunner().invoke(app, [command, "--help"]).output.split())
        assert "default: the packaged model" not in help_text
        assert "needed: no model is packaged in this version" in help_text.replace("│ ", "")


def test_bgpt_options_need_the_bgpt_engine(tmp_path):
    result = CliRunner().invoke(
        app,
        ["convert", str(tunes_file()), "--checkpoint", "x", "--top-k", "5", "--out", str(tmp_path)],
    )
    assert (
        result.exit_code == 2
        and "--checkpoint, --top-k only apply to --engine bgpt" in result.output
    )


def test_checkpoints_are_found_in_model_and_run_folders(tmp_path):
    model = trained_model()
    assert resolve_checkpoint(model) == model
    assert resolve_checkpoint(model / "model.safetensors") == model
    run = tmp_path / "run"  # a training run: best/ and last/
    for name in ("best", "last"):
        shutil.copytree(model, run / name)
    assert resolve_checkpoint(run) == run / "best"
    with pytest.raises(ModelError, match="no such checkpoint"):
        resolve_checkpoint(tmp_path / "missing")
    official = tmp_path / "weights-conversion.pth"
    official.write_bytes(b"")
    with pytest.raises(ModelError, match="import-official"):
        resolve_checkpoint(official)
    with pytest.raises(ModelError, match="not a bGPT model"):
        resolve_checkpoint(tmp_path)


def test_the_symbolic_reference_reads_the_track_and_channel_asked_for():
    """bgpt's symbolic reference and fallback take the track and channel given to bgpt (they
    were passed by position into the wrong fields: the track became the ABC reader)."""
    engine = bgpt(trained_model(), track=2, channel=3, chords=False).build()
    symbolic = engine.symbolic
    assert (symbolic.track, symbolic.channel, symbolic.chords) == (2, 3, False)
    assert symbolic.reader == ""
