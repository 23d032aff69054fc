"""Training bGPT on the pairs of a built corpus.

One process:       abcmidi-bgpt train --corpus DIR --out runs/small --model small
Several GPUs:      torchrun --nproc_per_node=8 -m abcmidi_bgpt.bgpt.train --corpus DIR --out runs/x

Where this departs from the official train-gen.py, on purpose:
- ``both`` directions gives every pair an ABC->MIDI and a MIDI->ABC sequence (the official
  bidirectional mode builds ABC->MIDI for both file names, so it trains one direction twice);
- the cosine schedule with warm-up sets the learning rate of every step (the official code
  builds its scheduler on an optimizer it then replaces, so the schedule never drives training);
- micro-batches are bucketed by length under a budget of patches, and the loss is the mean over
  every predicted byte of the optimizer step (not a mean of micro-batch means), padding after
  the end patch excluded;
- the random state is a function of (seed, step, rank), so a resumed run repeats the
  uninterrupted one exactly; weights and optimizer are saved as safetensors + JSON.

Why one module of over 400 lines: as in nanoGPT's train.py, the config, the data order, the
loop with evaluation, checkpoints, resume and the run's log read in one sitting.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from abcmidi_bgpt.bgpt.checkpoint import (
    load_train_state,
    read_config,
    read_weights,
    save_model,
    save_train_state,
)
from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.device import autocast, resolve_device, resolve_dtype
from abcmidi_bgpt.bgpt.evaluate import score_sequences
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS, BGPTConfig, to_device
from abcmidi_bgpt.bgpt.model_folder import STATE_JSON
from abcmidi_bgpt.bgpt.patches import (
    SequenceSet,
    length_batches,
    pad_batch,
)
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ModelError
from abcmidi_bgpt.core.io import write_atomic


@dataclass
class TrainConfig:
    corpus: str = ""  # a built corpus folder (records.py layout)
    out: str = "runs/bgpt"  # run folder: log.csv, curves.png, last/, best/
    model: str = "small"  # named config: paper, small, tiny
    arch: str = ""  # overrides of the named config, e.g. "n_embd=256,n_patch_layer=4"
    init: str = ""  # start from a saved model folder (e.g. imported official weights)
    dropout: float | None = None  # override the config's dropout
    direction: str = "abc2mid"  # abc2mid, mid2abc or both
    train_split: str = "train"  # train, train-1e3, train-1e4, train-1e5
    val_split: str = "validation"
    val_pairs: int = 0  # first N validation pairs (0: all)
    epochs: float = 1.0  # training length when max_steps is 0
    max_steps: int = 0
    batch_patches: int = 4096  # patches per micro-batch, padding included (8 full contexts)
    grad_accum: int = 1  # micro-batches per optimizer step (per process)
    sample_patches: int = 0  # byte decoder on N random target patches per micro-batch (0: all)
    loss_on: str = "both"  # both files (as the official code), or the target file only
    lr: float = 1e-4
    min_lr: float = 0.0
    warmup: float = 0.1  # share of the steps spent warming up (the official code: 10 %)
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0  # 0: no clipping
    eval_every: int = 500  # steps; there is always an evaluation at the end
    save_every: int = 0  # steps between checkpoints of out/last besides evaluations (0: none)
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"  # bf16 autocast on CUDA, fp32 on CPU
    compile: bool = False
    pad_multiple: int = 1  # round padded lengths up (fewer shapes for torch.compile)
    resume: bool = False  # continue from out/last
    stop_after: int = 0  # stop (and save) after this step without changing the schedule
    progress: bool = True


@dataclass
class TrainResult:
    steps: int
    best_val_loss: float
    last_val: dict
    out: Path


def read_config_file(path: str | Path) -> dict:
    """TrainConfig fields from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file, checked:
    every key a field, every value of the field's type."""
    import tomllib
    import typing

    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ModelError(f"unreadable training config: {e}".splitlines()[0], path) from None
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ModelError("a training config is a .toml, .yaml or .yml file", path)
    if not isinstance(data, dict):
        raise ModelError("a training config is a table of settings", path)
    hints = typing.get_type_hints(TrainConfig)
    for key, value in data.items():
        kind = hints.get(key)
        if kind is None:
            raise ModelError(f"unknown setting {key!r} (see abcmidi-bgpt train --help)", path)
        allowed = typing.get_args(kind) or (kind,)
        if float in allowed:
            allowed = (*allowed, int)
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            raise ModelError(f"{key}: {value!r} is not a {kind}", path)
    return data


# --- pure pieces: schedule, plan, seeds ---


def learning_rate(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``cfg.warmup`` of the steps, then cosine decay to ``min_lr``."""
    warmup = int(cfg.warmup * total)
    if step < warmup:  # reaches the peak at step ``warmup``, where the cosine starts
        return cfg.lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) * (cfg.lr - cfg.min_lr)


def epoch_plan(
    sequences: SequenceSet, cfg: TrainConfig, epoch: int, world: int
) -> list[list[np.ndarray]]:
    """The optimizer steps of one epoch, each a list of ``grad_accum * world`` micro-batches
    (rank r takes every world-th one). The same for every process and every resume."""
    rng = np.random.default_rng([cfg.seed, epoch])
    micro = length_batches(sequences.n_patches, cfg.batch_patches, rng, multiple=cfg.pad_multiple)
    per_step = cfg.grad_accum * world
    return [micro[i : i + per_step] for i in range(0, len(micro) - per_step + 1, per_step)]


LOSS_ON = ("both", "target")


def first_rows(sequences: SequenceSet, batch: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    """For each sequence of a micro-batch, the first of its patches 1 .. n - 1 that the loss
    covers, counted from patch 1: 0 for both files; with ``loss_on`` target, the target's
    first body patch (its extension patch and the source are given when converting, so
    predicting them teaches the converter nothing and costs byte-decoder work)."""
    if cfg.loss_on == "both":
        return np.zeros(len(batch), dtype=np.int64)
    return sequences.source_patches[batch]  # row p - 1 of patch p = source patches + 1


def loss_rows(n_patches: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Indices, among the rows ``BGPT.forward`` produces (patches 1 .. n - 1 of each sequence
    in order), of the rows from ``first`` on in each sequence."""
    counts = n_patches - 1
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.concatenate(
        [
            np.arange(o + f, o + c, dtype=np.int64)
            for o, f, c in zip(offsets, first, counts, strict=True)
        ]
    )


def predicted_bytes(
    n_patches: np.ndarray, first: np.ndarray, cfg: TrainConfig, patch_size: int
) -> int:
    """Bytes a micro-batch's loss covers: every byte of the rows it covers, or the sample."""
    targets = int((n_patches - 1 - first).sum())
    if cfg.sample_patches:
        targets = min(targets, cfg.sample_patches)
    return targets * patch_size


def micro_batch_nats(
    model: torch.nn.Module,
    ids: np.ndarray,
    n_patches: np.ndarray,
    keep: np.ndarray | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Summed cross-entropy (nats) over the predicted bytes of one padded micro-batch."""
    with autocast(device, dtype):
        # n_patches and keep stay on the CPU: the model picks its target rows there.
        logits, targets = model(
            to_device(torch.from_numpy(ids), device),
            torch.from_numpy(n_patches),
            None if keep is None else torch.from_numpy(keep),
        )
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="sum")


def step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step) * 1_009 + rank


# --- distributed set-up (torchrun sets RANK, LOCAL_RANK, WORLD_SIZE) ---


@dataclass
class Distributed:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    if "RANK" not in os.environ:
        return Distributed(), resolve_device(device_name)
    d = Distributed(
        int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"])
    )
    if torch.cuda.is_available() and device_name in ("auto", "cuda"):
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl")
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    return d, device


# --- logging ---

# The run's settings and length, written when it starts (before its first checkpoint), so that
# whoever watches the folder knows what runs: {"train": TrainConfig, "total_steps": N}.
RUN_JSON = "run.json"

LOG_FIELDS = [
    "step",
    "epoch",
    "lr",
    "train_loss",
    "grad_norm",
    "bytes_per_s",
    "elapsed_s",
    "val_loss",
] + [f"val_{d}_bpb_{k}" for d in Direction for k in ("abc", "midi")]


class RunLog:
    """log.csv of a run, and the same rows as TensorBoard scalars in ``tensorboard/`` beside it;
    on resume, rows after the restored step are dropped from both."""

    def __init__(self, path: Path, keep_until: int | None):
        from torch.utils.tensorboard import SummaryWriter

        self.path = path
        rows = []
        if keep_until is not None and path.exists():
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= keep_until]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        self.board = SummaryWriter(
            str(path.parent / TENSORBOARD_DIR),
            purge_step=None if keep_until is None else keep_until + 1,
            flush_secs=30,
        )

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow({k: _cell(v) for k, v in row.items()})
        for name, value in row.items():
            if name not in ("step", "epoch"):
                group = "validation" if name.startswith("val_") else "train"
                self.board.add_scalar(f"{group}/{name.removeprefix('val_')}", value, row["step"])

    def close(self) -> None:
        self.board.close()


TENSORBOARD_DIR = "tensorboard"


def _cell(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def read_log(path: Path) -> list[dict]:
    with Path(path).open() as f:
        return list(csv.DictReader(f))


def plot_curves(log_path: Path, png_path: Path) -> None:
    """Loss (train and validation) and validation BPB against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)

    def series(name):
        pts = [(int(r["step"]), float(r[name])) for r in rows if r.get(name)]
        return zip(*pts, strict=True) if pts else ((), ())

    fig, (ax_loss, ax_bpb) = plt.subplots(1, 2, figsize=(11, 4))
    for name, label in (("train_loss", "train"), ("val_loss", "validation")):
        ax_loss.plot(*series(name), label=label, marker="." if name == "val_loss" else None)
    ax_loss.set(xlabel="step", ylabel="loss (nats per byte)", yscale="log", title="Loss")
    ax_loss.legend()
    for name in LOG_FIELDS:
        if name.startswith("val_") and "_bpb_" in name:
            xs, ys = series(name)
            if xs:
                ax_bpb.plot(xs, ys, marker=".", label=name[4:].replace("_bpb_", ": BPB_"))
    ax_bpb.set(xlabel="step", ylabel="bits per byte", yscale="log", title="Validation BPB")
    if ax_bpb.lines:
        ax_bpb.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


# --- the loop ---


def build_model(cfg: TrainConfig) -> BGPT:
    """A fresh model of a named config, or a saved one (``cfg.init``) to go on training."""
    state = None
    if cfg.init:
        config, _ = read_config(cfg.init)
        state = read_weights(cfg.init, config)  # header checked against the config first
    elif cfg.model in CONFIGS:
        config = replace(CONFIGS[cfg.model], **parse_arch(cfg.arch))
    else:
        raise ModelError(f"unknown model {cfg.model!r} (known: {', '.join(CONFIGS)})")
    if cfg.dropout is not None:
        config = replace(config, dropout=cfg.dropout)
    model = BGPT(config)
    if state is not None:
        model.load_state_dict(state)
    return model


def parse_arch(text: str) -> dict[str, int | float]:
    """``"n_embd=256,n_patch_layer=4"`` as overrides of a BGPTConfig (its numeric fields)."""
    known = {f.name: f.type for f in fields(BGPTConfig)}
    overrides: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in known or name in ("vocab_size", "patch_size"):
            raise ModelError(f"--arch: {name!r} is not a model setting one can change")
        try:
            overrides[name] = float(value) if known[name] in (float, "float") else int(value)
        except ValueError:
            raise ModelError(f"--arch: {name}={value!r} is not a number") from None
    return overrides


# Options that define the run: a resume must keep them, or it would not repeat the run.
RUN_DEFINING = (
    "model", "arch", "init", "dropout", "loss_on", "direction", "train_split", "epochs", "max_steps",
    "batch_patches", "grad_accum", "sample_patches", "lr", "min_lr", "warmup", "weight_decay",
    "beta1", "beta2", "grad_clip", "seed", "pad_multiple",
)  # fmt: skip


def check_resumable(cfg: TrainConfig, saved: dict) -> None:
    changed = [k for k in RUN_DEFINING if k in saved and saved[k] != getattr(cfg, k)]
    if changed:
        was = ", ".join(f"{k}={saved[k]!r}" for k in changed)
        raise ModelError(f"resume with the run's own options ({was})", cfg.out)


def validate(model: BGPT, val_set: SequenceSet, cfg: TrainConfig, dtype) -> dict:
    """Validation scores; ``val_loss`` (which picks the best checkpoint) is the loss the run
    minimises: nats per position over both files, or with ``loss_on`` target over the target
    files' scored positions only (a target-only model never learns the source, whose cost
    would otherwise decide which checkpoint is best)."""
    scores = score_sequences(model, val_set, cfg.batch_patches, dtype)
    if cfg.loss_on == "target":
        targets = [s.midi if Direction(d).target == "mid" else s.abc for d, s in scores.items()]
        nats = sum(t.bits for t in targets) * math.log(2)
        positions = sum(t.positions for t in targets)
    else:
        nats = sum(s.nats for s in scores.values())
        positions = sum(s.positions for s in scores.values())
    row = {"val_loss": nats / positions}
    for d, s in scores.items():
        row[f"val_{d}_bpb_abc"] = s.abc.bpb
        row[f"val_{d}_bpb_midi"] = s.midi.bpb
    return row


def train(cfg: TrainConfig) -> TrainResult:
    if cfg.loss_on not in LOSS_ON:
        raise ModelError(f"loss_on is one of {', '.join(LOSS_ON)}, not {cfg.loss_on!r}")
    dist_info, device = setup_distributed(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    out = Path(cfg.out)
    last_dir, best_dir = out / "last", out / "best"
    resuming = cfg.resume and (last_dir / STATE_JSON).exists()
    if dist_info.master:
        if not resuming and (last_dir / STATE_JSON).exists():
            raise FileExistsError(f"{out} holds a run: pass --resume or another --out")
        out.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    layout = model.config.layout
    if cfg.batch_patches < layout.max_patches:
        raise ModelError(f"batch_patches must hold one full context ({layout.max_patches})")
    directions = Direction.parse_many(cfg.direction)
    train_set = SequenceSet.from_pairs(load_pairs(cfg.corpus, cfg.train_split), directions, layout)
    val_pairs = load_pairs(cfg.corpus, cfg.val_split, cfg.val_pairs)
    val_set = SequenceSet.from_pairs(val_pairs, directions, layout)
    if not len(val_set):
        raise ModelError(f"no {cfg.val_split} pairs fit the model's context", cfg.corpus)
    optimizer = model.configure_optimizer(
        cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), device.type
    )

    plan = epoch_plan(train_set, cfg, 0, dist_info.world)
    if not plan:
        raise ModelError(f"{len(train_set)} training sequences make no full optimizer step")
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * len(plan)))
    position = {
        "step": 0,
        "epoch": 0,
        "batch": 0,
        "best_val_loss": math.inf,
        "elapsed_s": 0.0,
        "total_steps": total,
        "seed": cfg.seed,
    }
    if resuming:
        check_resumable(cfg, read_config(last_dir)[1]["train"])
        model.load_state_dict(read_weights(last_dir, model.config, device))
        position = load_train_state(last_dir, model, optimizer)
        total = position["total_steps"]
        plan = epoch_plan(train_set, cfg, position["epoch"], dist_info.world)

    raw_model = model
    if cfg.compile:
        model.patch_decoder.compile()
        model.byte_decoder.compile()
    if dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    log = (
        RunLog(out / "log.csv", position["step"] if resuming else None)
        if dist_info.master
        else None
    )
    if dist_info.master:
        settings = {"train": asdict(cfg), "total_steps": total}
        write_atomic(out / RUN_JSON, (json.dumps(settings, indent=1) + "\n").encode())

    def save_last() -> None:
        save_model(raw_model, last_dir, metadata={"train": asdict(cfg), "step": position["step"]})
        save_train_state(last_dir, raw_model, optimizer, position)

    progress = _Progress(cfg.progress and dist_info.master)
    last_val: dict = {}
    started = time.perf_counter() - position["elapsed_s"]
    # Logged figures are over the steps since the last log line.
    # Kept on the device and read only when logging: no step waits for the GPU.
    window_nats = torch.zeros((), device=device)
    window_bytes, window_predicted, window_start = 0, 0, time.perf_counter()
    with progress:
        task = progress.add_task(
            "training", total=total, completed=position["step"], loss="", rate=""
        )
        while position["step"] < total:
            if position["batch"] >= len(plan):
                position["epoch"] += 1
                position["batch"] = 0
                plan = epoch_plan(train_set, cfg, position["epoch"], dist_info.world)
            step = position["step"]
            micro_batches = plan[position["batch"]]
            lr = learning_rate(step, total, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(step_seed(cfg.seed, step, dist_info.rank))  # dropout
            firsts = [first_rows(train_set, b, cfg) for b in micro_batches]
            step_bytes = sum(
                predicted_bytes(train_set.n_patches[b], f, cfg, layout.patch_size)
                for b, f in zip(micro_batches, firsts, strict=True)
            )
            mine = list(zip(micro_batches, firsts, strict=True))[dist_info.rank :: dist_info.world]
            for i, (batch, first) in enumerate(mine):
                ids, n_patches = pad_batch(
                    [train_set.encode(j).ids for j in batch], layout, cfg.pad_multiple
                )
                keep = sampled_rows(n_patches, first, cfg, step, dist_info.rank, i)
                sync = i == len(mine) - 1 or dist_info.world == 1
                with contextlib.nullcontext() if sync else model.no_sync():
                    nats = micro_batch_nats(model, ids, n_patches, keep, device, dtype)
                    # DDP averages gradients over processes, hence the factor world.
                    (nats * dist_info.world / step_bytes).backward()
                window_nats += nats.detach()
            grad_norm = (
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if cfg.grad_clip > 0
                else torch.zeros(())
            )
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            position["step"] += 1
            position["batch"] += 1
            window_bytes += (
                sum(int(train_set.n_patches[b].sum()) for b in micro_batches) * layout.patch_size
            )
            step = position["step"]
            window_predicted += step_bytes

            if step % cfg.log_every == 0 or step == total:
                if dist_info.world > 1:  # every process gets here: the same steps log
                    dist.all_reduce(window_nats)
                train_loss = window_nats.item() / window_predicted
                now = time.perf_counter()
                rate = window_bytes / max(now - window_start, 1e-9)
                window_nats.zero_()
                window_bytes, window_predicted, window_start = 0, 0, now
                if dist_info.master:
                    row = {"step": step, "epoch": position["epoch"], "lr": lr}
                    log.write(row | {"train_loss": train_loss, "grad_norm": float(grad_norm),
                                     "bytes_per_s": rate, "elapsed_s": now - started})  # fmt: skip
                    progress.update(
                        task, loss=f"loss {train_loss:.4f}", rate=f"{rate / 1e3:,.1f} kB/s"
                    )
                    progress.line(
                        f"step {step}/{total} loss {train_loss:.4f} lr {lr:.3g} "
                        f"{rate / 1e3:,.1f} kB/s {now - started:,.0f} s"
                    )
            progress.update(task, completed=step)

            stopping = bool(cfg.stop_after) and step >= cfg.stop_after
            evaluating = step % cfg.eval_every == 0 or step == total or stopping
            saving = bool(cfg.save_every) and step % cfg.save_every == 0
            if saving and not evaluating and dist_info.master:  # a kill loses <= save_every steps
                position["elapsed_s"] = time.perf_counter() - started
                save_last()
            if evaluating:
                if dist_info.master:
                    last_val = validate(raw_model, val_set, cfg, dtype)
                    position["elapsed_s"] = time.perf_counter() - started
                    log.write({"step": step, "epoch": position["epoch"], "lr": lr, **last_val,
                               "elapsed_s": position["elapsed_s"]})  # fmt: skip
                    if last_val["val_loss"] < position["best_val_loss"]:
                        position["best_val_loss"] = last_val["val_loss"]
                        save_model(
                            raw_model,
                            best_dir,
                            metadata={"step": step, "validation": last_val, "train": asdict(cfg)},
                        )
                    save_last()
                    plot_curves(out / "log.csv", out / "curves.png")
                    progress.line(
                        f"step {step}/{total} validation loss {last_val['val_loss']:.4f} "
                        + " ".join(f"{k.removeprefix('val_')} {v:.4f}"
                                   for k, v in last_val.items() if "bpb" in k)
                    )  # fmt: skip
                window_start = time.perf_counter()  # evaluation time is not training speed
                if dist_info.world > 1:
                    dist.barrier()
            if stopping:
                break
    if log is not None:
        log.close()
    if dist_info.world > 1:
        dist.destroy_process_group()
    return TrainResult(position["step"], position["best_val_loss"], last_val, out)


def sampled_rows(
    n_patches: np.ndarray, first: np.ndarray, cfg: TrainConfig, step: int, rank: int, micro: int
):
    """Indices of the target patches the byte decoder sees, or None for all of them."""
    rows = None if not first.any() else loss_rows(n_patches, first)
    targets = int((n_patches - 1).sum()) if rows is None else len(rows)
    if not cfg.sample_patches or cfg.sample_patches >= targets:
        return rows
    rng = np.random.default_rng([cfg.seed, step, rank, micro])
    chosen = np.sort(rng.choice(targets, cfg.sample_patches, replace=False))
    return chosen if rows is None else rows[chosen]


class _Progress:
    """A rich progress bar on a terminal; plain lines (``line``) when stdout is not one, so that
    a run under nohup or in CI writes a log one can read."""

    def __init__(self, enabled: bool):
        import sys

        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.plain = enabled and not sys.stdout.isatty()
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not enabled or self.plain,
        )

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def add_task(self, *args, **kwargs):
        return self.bar.add_task(*args, **kwargs)

    def update(self, *args, **kwargs):
        self.bar.update(*args, **kwargs)

    def line(self, text: str) -> None:
        if self.plain:
            print(text, flush=True)


def _parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--field value`` for every TrainConfig field (for torchrun, which needs a module)."""
    import argparse
    import typing

    hints = typing.get_type_hints(TrainConfig)
    parser = argparse.ArgumentParser(
        prog="python -m abcmidi_bgpt.bgpt.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for f in fields(TrainConfig):
        name = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(name, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            base = float if kind == (float | None) else kind
            parser.add_argument(name, type=base, default=f.default)
    return TrainConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    result = train(_parse_args())
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{result.steps} steps; best validation loss {result.best_val_loss:.5f}")
