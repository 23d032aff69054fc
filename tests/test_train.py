"""Training end to end on real pairs: overfitting, exact resume, schedule, batching, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.patches import SequenceSet, length_batches, pad_batch
from abcmidi_bgpt.bgpt.train import (
    TrainConfig,
    _parse_args,
    epoch_plan,
    learning_rate,
    read_log,
    sampled_rows,
    train,
)
from abcmidi_bgpt.cli.app import app
from tests.support.corpus_pairs import real_pairs, write_corpus


def tiny_config(corpus, out, **changes) -> TrainConfig:
    base = dict(
        corpus=str(corpus),
        out=str(out),
        model="tiny",
        batch_patches=256,
        lr=3e-3,
        warmup=0.05,
        weight_decay=0.0,
        eval_every=1000,
        log_every=1,
        progress=False,
    )
    return TrainConfig(**{**base, **changes})


def test_tiny_model_overfits_real_pairs_to_near_zero_bpb_midi(tmp_path):
    pairs = sorted(real_pairs(10), key=lambda p: len(p[0]) + len(p[1]))[:4]  # the 4 shortest
    corpus = write_corpus(tmp_path / "c", {"train": pairs, "validation": pairs, "test": pairs})
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train", "--corpus", str(corpus), "--out", str(out), "--model", "tiny",
            "--max-steps", "100", "--batch-patches", "256", "--lr", "3e-3", "--min-lr", "3e-3",
            "--warmup", "0.05", "--weight-decay", "0", "--eval-every", "50", "--seed", "0",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app,
        ["evaluate", str(out / "best"), "--corpus", str(corpus), "--split", "train",
         "--direction", "abc2mid", "--json", str(tmp_path / "s.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "s.json").read_text())["directions"]["abc2mid"]
    assert scores["bpb_midi"] < 0.05, scores
    assert scores["sequences"] == 4
    # What the run leaves behind.
    rows = read_log(out / "log.csv")
    evals = [r for r in rows if r["val_loss"]]
    assert [int(r["step"]) for r in evals] == [50, 100]
    assert float(evals[1]["val_loss"]) < float(evals[0]["val_loss"]) < 1.0
    train_losses = [float(r["train_loss"]) for r in rows if r["train_loss"]]
    assert len(train_losses) == 10  # every 10 steps
    assert train_losses[0] > 1.0 > 0.05 > train_losses[-1]  # from near chance to memorised
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = json.loads((out / "best" / "config.json").read_text())
    assert best["metadata"]["step"] == 100


def test_resume_repeats_the_uninterrupted_run_exactly(tmp_path, tiny_corpus):  # noqa: F811
    # Dropout, patch sampling, gradient accumulation and both directions all on, so that
    # every source of randomness and every piece of state has to be restored.
    settings = dict(
        max_steps=6, dropout=0.1, sample_patches=40, grad_accum=2, direction="both", val_pairs=1
    )
    whole = train(tiny_config(tiny_corpus, tmp_path / "whole", **settings))
    train(tiny_config(tiny_corpus, tmp_path / "parts", stop_after=3, **settings))
    with pytest.raises(FileExistsError):  # a run is never overwritten by accident
        train(tiny_config(tiny_corpus, tmp_path / "parts", **settings))
    with pytest.raises(ValueError, match="lr=0.003"):  # a resume keeps the run's options
        train(tiny_config(tiny_corpus, tmp_path / "parts", resume=True, **settings, lr=1e-3))
    resumed = train(tiny_config(tiny_corpus, tmp_path / "parts", resume=True, **settings))
    assert resumed.steps == whole.steps == 6

    def losses(run):
        return [(r["step"], r["lr"], r["train_loss"]) for r in read_log(tmp_path / run / "log.csv")
                if r["train_loss"]]  # fmt: skip

    assert len(losses("whole")) == 6
    assert losses("parts") == losses("whole")
    a = load_file(str(tmp_path / "whole" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "parts" / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_schedule_drives_the_optimizer(tmp_path, tiny_corpus):  # noqa: F811
    cfg = tiny_config(tiny_corpus, tmp_path / "run", max_steps=5, lr=1e-3, min_lr=1e-4, warmup=0.4)
    train(cfg)
    state = json.loads((tmp_path / "run" / "last" / "train_state.json").read_text())
    # The optimizer's own learning rate after the last step (step index 4).
    assert state["param_groups"][0]["lr"] == pytest.approx(learning_rate(4, 5, cfg))
    logged = [float(r["lr"]) for r in read_log(tmp_path / "run" / "log.csv") if r["train_loss"]]
    assert logged == pytest.approx([learning_rate(s, 5, cfg) for s in range(5)], rel=1e-5)
    # Warm-up over 2 steps up to the peak at step 2, then the cosine down to min_lr.
    assert logged[0] < logged[1] < logged[2] == pytest.approx(1e-3)
    assert logged[2] > logged[3] > logged[4] > 1e-4
    assert learning_rate(5, 5, cfg) == pytest.approx(1e-4)


def test_both_directions_give_each_pair_both_sequences_once():
    pairs = list(real_pairs(3))
    both = SequenceSet.from_pairs(pairs, ["abc2mid", "mid2abc"])
    assert len(both) == 6
    firsts = sorted((int(both.pair_index[i]), bytes(both.encode(i).ids[:3].astype(np.uint8)))
                    for i in range(len(both)))  # fmt: skip
    assert firsts == [(p, ext) for p in range(3) for ext in (b"abc", b"mid")]


def padding_ratio(batches: list[np.ndarray], n_patches: np.ndarray) -> float:
    return sum(len(b) * n_patches[b].max() for b in batches) / n_patches.sum()


def test_length_batches_cover_every_sequence_once_within_the_budget_with_little_padding():
    sequences = SequenceSet.from_pairs(list(real_pairs(10)), ["abc2mid", "mid2abc"])
    n_patches = np.concatenate([sequences.n_patches] * 20)  # 400 sequences of real lengths
    batches = length_batches(n_patches, 512, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(n_patches)))
    assert all(len(b) * n_patches[b].max() <= 512 for b in batches)
    # Against the same greedy packing of a shuffled order without bucketing (55 % padding).
    shuffled = np.random.default_rng(0).permutation(len(n_patches))
    unbucketed, current = [], []
    for i in shuffled:
        if current and max(n_patches[current + [i]]) * (len(current) + 1) > 512:
            unbucketed.append(np.array(current))
            current = []
        current.append(i)
    unbucketed.append(np.array(current))
    assert padding_ratio(unbucketed, n_patches) > 1.3
    assert padding_ratio(batches, n_patches) < 1.05
    again = length_batches(n_patches, 512, np.random.default_rng(0))
    assert all(np.array_equal(x, y) for x, y in zip(batches, again, strict=True))
    with pytest.raises(ValueError):
        length_batches(n_patches, 8)


def test_epoch_plan_steps_hold_grad_accum_times_world_micro_batches():
    sequences = SequenceSet.from_pairs(list(real_pairs(10)), ["abc2mid"])
    cfg = TrainConfig(batch_patches=128, grad_accum=2)
    plan = epoch_plan(sequences, cfg, epoch=0, world=2)
    assert plan and all(len(step) == 4 for step in plan)
    other = epoch_plan(sequences, cfg, 1, 2)
    assert [b.tolist() for s in other for b in s] != [b.tolist() for s in plan for b in s]


def test_patch_sampling_picks_distinct_sorted_patches_reproducibly():
    _, n = pad_batch([np.zeros(16 * 30, dtype=np.int16), np.zeros(16 * 20, dtype=np.int16)])
    cfg = TrainConfig(sample_patches=12, seed=3)
    keep = sampled_rows(n, np.zeros_like(n), cfg, step=7, rank=0, micro=1)
    assert len(set(keep.tolist())) == 12 and list(keep) == sorted(keep) and keep.max() < 48
    assert np.array_equal(keep, sampled_rows(n, np.zeros_like(n), cfg, 7, 0, 1))
    assert not np.array_equal(keep, sampled_rows(n, np.zeros_like(n), cfg, 8, 0, 1))
    assert sampled_rows(n, np.zeros_like(n), TrainConfig(sample_patches=100), 0, 0, 0) is None


def test_module_entry_point_parses_every_option():
    cfg = _parse_args(["--corpus", "c", "--max-steps", "5", "--compile", "--dropout", "0.2",
                       "--direction", "both", "--lr", "2e-4"])  # fmt: skip
    assert (cfg.corpus, cfg.max_steps, cfg.compile, cfg.dropout) == ("c", 5, True, 0.2)
    assert cfg.direction == "both" and math.isclose(cfg.lr, 2e-4)
    assert _parse_args([]).dropout is None


def test_train_command_reports_bad_options(tmp_path, tiny_corpus):  # noqa: F811
    result = CliRunner().invoke(
        app, ["train", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "r"),
              "--model", "tiny", "--batch-patches", "64"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "batch_patches must hold one full context (128)" in result.output
    assert not (tmp_path / "r" / "last").exists()  # refused before any step
    assert len(load_pairs(tiny_corpus, "train")) == 6


def test_ddp_over_two_processes_matches_one_process_accumulating_two(tmp_path, tiny_corpus):  # noqa: F811
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun is not None, "torch installs torchrun next to this Python"
    options = dict(max_steps=4, direction="both", batch_patches=128, val_pairs=1, lr=1e-3)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    # Gloo on the CPU: the same code path as NCCL on GPUs, minus the device.
    subprocess.run(
        [torchrun, "--nproc_per_node=2", "--master-port=29541", "-m", "abcmidi_bgpt.bgpt.train",
         f"--corpus={tiny_corpus}", f"--out={tmp_path / 'ddp'}", "--model=tiny",
         "--log-every=1", "--no-progress", *args],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    train(tiny_config(tiny_corpus, tmp_path / "one", grad_accum=2, **options))

    def logged(run, column):
        return [float(r[column]) for r in read_log(tmp_path / run / "log.csv") if r[column]]

    assert len(logged("ddp", "train_loss")) == 4
    assert logged("ddp", "train_loss") == pytest.approx(logged("one", "train_loss"), rel=1e-5)
    # The gradient norm is scale-sensitive (Adam is not): the gradients are the same sums.
    assert logged("ddp", "grad_norm") == pytest.approx(logged("one", "grad_norm"), rel=1e-4)
    a = load_file(str(tmp_path / "ddp" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "one" / "last" / "model.safetensors"))
    # Summation order differs between all-reduce and accumulation; Adam amplifies it a little.
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)


def test_training_can_start_from_a_saved_model(tmp_path, tiny_corpus):  # noqa: F811
    from abcmidi_bgpt.bgpt.checkpoint import read_config, save_model
    from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS

    torch.manual_seed(5)
    start = BGPT(CONFIGS["tiny"])
    save_model(start, tmp_path / "start")
    # A learning rate of 0 leaves the weights as they came: the run starts from them.
    train(tiny_config(tiny_corpus, tmp_path / "run", init=str(tmp_path / "start"), max_steps=1,
                      lr=0.0, min_lr=0.0, dropout=0.2))  # fmt: skip
    saved = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in start.state_dict().items())
    assert read_config(tmp_path / "run" / "best")[0].dropout == 0.2


def test_loss_on_target_covers_exactly_the_target_files_patches():
    from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
    from abcmidi_bgpt.bgpt.train import first_rows, predicted_bytes

    layout = CONFIGS["tiny"].layout
    sequences = SequenceSet.from_pairs(list(real_pairs(6)), ["abc2mid", "mid2abc"], layout)
    batch = np.arange(len(sequences))[::3]  # both directions among them
    encoded = [sequences.encode(i) for i in batch]
    ids, n = pad_batch([e.ids for e in encoded], layout)
    cfg = TrainConfig(loss_on="target")
    first = first_rows(sequences, batch, cfg)
    keep = sampled_rows(n, first, cfg, 0, 0, 0)
    _, targets = BGPT(CONFIGS["tiny"])(
        torch.from_numpy(ids), torch.from_numpy(n), torch.from_numpy(keep)
    )
    # The target file's bytes after its extension patch, and the end patch: nothing else.
    expected = np.concatenate([e.ids[e.target_start + 16 :] for e in encoded]).reshape(-1, 16)
    assert np.array_equal(targets.numpy(), expected)
    assert predicted_bytes(n, first, cfg, 16) == expected.size
    everything = sampled_rows(
        n, first_rows(sequences, batch, TrainConfig()), TrainConfig(), 0, 0, 0
    )
    assert everything is None  # both files: every row


def test_checkpoints_every_n_steps_besides_evaluations(tmp_path, tiny_corpus, monkeypatch):  # noqa: F811
    import abcmidi_bgpt.bgpt.train as train_module

    saved_at = []
    real_save = train_module.save_train_state
    monkeypatch.setattr(
        train_module,
        "save_train_state",
        lambda d, m, o, position: saved_at.append(position["step"]) or real_save(d, m, o, position),
    )
    train(tiny_config(tiny_corpus, tmp_path / "run", max_steps=5, save_every=2, loss_on="target"))
    assert saved_at == [2, 4, 5]  # every 2 steps, and the evaluation at the end


def test_tensorboard_holds_the_rows_of_log_csv(tmp_path, tiny_corpus):  # noqa: F811
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    train(tiny_config(tiny_corpus, out, max_steps=4, eval_every=2))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    rows = read_log(out / "log.csv")
    logged = [(int(r["step"]), float(r["train_loss"])) for r in rows if r["train_loss"]]
    board = [(e.step, e.value) for e in events.Scalars("train/train_loss")]
    assert [s for s, _ in board] == [s for s, _ in logged] == [1, 2, 3, 4]
    assert all(
        math.isclose(a, b, rel_tol=1e-5) for (_, a), (_, b) in zip(board, logged, strict=True)
    )
    assert [e.step for e in events.Scalars("validation/loss")] == [2, 4]
    assert "validation/abc2mid_bpb_midi" in events.Tags()["scalars"]


def test_training_prints_plain_progress_lines_when_stdout_is_not_a_terminal(tmp_path, tiny_corpus):  # noqa: F811
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt.bgpt.train", "--corpus", str(tiny_corpus),
         "--out", str(tmp_path / "run"), "--model", "tiny", "--batch-patches", "256",
         "--max-steps", "3", "--log-every", "1", "--eval-every", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[1] for line in lines if " loss " in line and "validation" not in line] == [
        "1/3", "2/3", "3/3"
    ]  # fmt: skip
    assert any(
        line.startswith("step 3/3 validation loss") and "abc2mid_bpb_midi" in line for line in lines
    )
    assert "\x1b[" not in run.stdout  # no terminal control codes in a log file


def test_train_reads_a_config_file_and_the_command_line_overrides_it(tmp_path, tiny_corpus):  # noqa: F811
    config = tmp_path / "run.toml"
    config.write_text(
        f'corpus = "{tiny_corpus}"\nmodel = "tiny"\nbatch_patches = 256\nmax_steps = 2\n'
        'lr = 0.002\nloss_on = "target"\nlog_every = 1\n'
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", "--config", str(config), "--out", str(out), "--max-steps", "3"]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "last" / "config.json").read_text())["metadata"]["train"]
    assert (saved["max_steps"], saved["lr"], saved["loss_on"], saved["model"]) == (
        3, 0.002, "target", "tiny"
    )  # fmt: skip
    yaml_config = tmp_path / "bad.yaml"
    yaml_config.write_text("corpus: c\nlearning_rate: 0.1\n")
    result = CliRunner().invoke(app, ["train", "--config", str(yaml_config), "--out", str(out)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "unknown setting 'learning_rate'" in result.output
    yaml_config.write_text("corpus: c\nmax_steps: many\n")
    result = CliRunner().invoke(app, ["train", "--config", str(yaml_config), "--out", str(out)])
    assert result.exit_code == 2 and "max_steps: 'many'" in result.output


def test_with_loss_on_target_the_best_checkpoint_is_chosen_by_the_target_files_loss(
    tmp_path,
    tiny_corpus,  # noqa: F811
):
    out = tmp_path / "run"
    train(tiny_config(tiny_corpus, out, max_steps=4, eval_every=2, loss_on="target"))
    for row in (r for r in read_log(out / "log.csv") if r["val_loss"]):
        # abc2mid: the target is the MIDI file; val_loss in nats per scored MIDI position
        bits_per_position = float(row["val_loss"]) / math.log(2)
        assert bits_per_position == pytest.approx(float(row["val_abc2mid_bpb_midi"]), rel=0.05)
        assert float(row["val_abc2mid_bpb_abc"]) > bits_per_position  # the source, untrained
