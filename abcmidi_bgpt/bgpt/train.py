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
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS, to_device
from abcmidi_bgpt.bgpt.model_folder import STATE_JSON
from abcmidi_bgpt.bgpt.patches import (
    SequenceSet,
    length_batches,
    pad_batch,
)
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ModelError


@dataclass
class TrainConfig:
    corpus: str = ""  # a built corpus folder (records.py layout)
    out: str = "runs/bgpt"  # run folder: log.csv, curves.png, last/, best/
    model: str = "small"  # named config: paper, small, tiny
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
    lr: float = 1e-4
    min_lr: float = 0.0
    warmup: float = 0.1  # share of the steps spent warming up (the official code: 10 %)
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0  # 0: no clipping
    eval_every: int = 500  # steps; there is always an evaluation at the end
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


def predicted_bytes(n_patches: np.ndarray, cfg: TrainConfig, patch_size: int) -> int:
    """Bytes a micro-batch's loss covers: every byte of patches 1 .. n - 1, or the sample."""
    targets = int((n_patches - 1).sum())
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


class CsvLog:
    """log.csv of a run; on resume, rows after the restored step are dropped."""

    def __init__(self, path: Path, keep_until: int | None):
        self.path = path
        rows = []
        if keep_until is not None and path.exists():
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= keep_until]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow({k: _cell(v) for k, v in row.items()})


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
        config = CONFIGS[cfg.model]
    else:
        raise ModelError(f"unknown model {cfg.model!r} (known: {', '.join(CONFIGS)})")
    if cfg.dropout is not None:
        config = replace(config, dropout=cfg.dropout)
    model = BGPT(config)
    if state is not None:
        model.load_state_dict(state)
    return model


# Options that define the run: a resume must keep them, or it would not repeat the run.
RUN_DEFINING = (
    "model", "init", "dropout", "direction", "train_split", "epochs", "max_steps",
    "batch_patches", "grad_accum", "sample_patches", "lr", "min_lr", "warmup", "weight_decay",
    "beta1", "beta2", "grad_clip", "seed", "pad_multiple",
)  # fmt: skip


def check_resumable(cfg: TrainConfig, saved: dict) -> None:
    changed = [k for k in RUN_DEFINING if k in saved and saved[k] != getattr(cfg, k)]
    if changed:
        was = ", ".join(f"{k}={saved[k]!r}" for k in changed)
        raise ModelError(f"resume with the run's own options ({was})", cfg.out)


def validate(model: BGPT, val_set: SequenceSet, cfg: TrainConfig, dtype) -> dict:
    scores = score_sequences(model, val_set, cfg.batch_patches, dtype)
    nats = sum(s.nats for s in scores.values())
    positions = sum(s.positions for s in scores.values())
    row = {"val_loss": nats / positions}
    for d, s in scores.items():
        row[f"val_{d}_bpb_abc"] = s.abc.bpb
        row[f"val_{d}_bpb_midi"] = s.midi.bpb
    return row


def train(cfg: TrainConfig) -> TrainResult:
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
        CsvLog(out / "log.csv", position["step"] if resuming else None)
        if dist_info.master
        else None
    )

    def save_last() -> None:
        save_model(raw_model, last_dir, metadata={"train": asdict(cfg), "step": position["step"]})
        save_train_state(last_dir, raw_model, optimizer, position)

    progress = _progress(cfg.progress and dist_info.master)
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
            step_bytes = sum(
                predicted_bytes(train_set.n_patches[b], cfg, layout.patch_size)
                for b in micro_batches
            )
            mine = micro_batches[dist_info.rank :: dist_info.world]
            for i, batch in enumerate(mine):
                ids, n_patches = pad_batch(
                    [train_set.encode(j).ids for j in batch], layout, cfg.pad_multiple
                )
                keep = _sample(n_patches, cfg, step, dist_info.rank, i)
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
            progress.update(task, completed=step)

            stopping = bool(cfg.stop_after) and step >= cfg.stop_after
            if step % cfg.eval_every == 0 or step == total or stopping:
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
                window_start = time.perf_counter()  # evaluation time is not training speed
                if dist_info.world > 1:
                    dist.barrier()
            if stopping:
                break
    if dist_info.world > 1:
        dist.destroy_process_group()
    return TrainResult(position["step"], position["best_val_loss"], last_val, out)


def _sample(n_patches: np.ndarray, cfg: TrainConfig, step: int, rank: int, micro: int):
    """Indices of the target patches the byte decoder sees, or None for all of them."""
    targets = int((n_patches - 1).sum())
    if not cfg.sample_patches or cfg.sample_patches >= targets:
        return None
    rng = np.random.default_rng([cfg.seed, step, rank, micro])
    return np.sort(rng.choice(targets, cfg.sample_patches, replace=False))


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


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
