"""Benchmark bGPT training: bytes per second and model FLOPs utilisation (MFU) per config.

Times the training step of ``abcmidi_bgpt.bgpt.train`` (forward, summed cross-entropy, backward,
gradient clipping, AdamW step) on micro-batches of full-context sequences of random bytes
(the cost of a step depends on the shape, not on the bytes), after a few warm-up steps.

MFU = model FLOPs per step (``BGPT.flops_per_batch``: 6 per matmul weight per position plus
attention, as in nanoGPT / PaLM) / step time / peak FLOP/s. The peak is the data-sheet dense
bf16 figure for known GPUs (H200/H100: 989 TFLOP/s); on the CPU, or with --peak-tflops
measure, it is the measured throughput of a large matmul in the same dtype, so CPU MFU reads
as "share of what this CPU's matmul reaches".

With ``--corpus DIR`` the steps run on real micro-batches of that corpus's training split,
bucketed by length as the trainer does (``--direction``, ``--loss-on``, ``--arch`` as in
``train``); bytes/s then counts the sequences' real bytes, padding excluded, and the table
shows the share of padding.

    .venv/bin/python -m scripts.bench_train --model tiny --model small          # CPU
    .venv/bin/python -m scripts.bench_train --model tiny --corpus corpora/music21 --loss-on target
    python -m scripts.bench_train --model paper --device cuda --dtype bf16 --compile
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.device import resolve_device, resolve_dtype
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS, peak_flops_of
from abcmidi_bgpt.bgpt.patches import SPECIAL, SequenceSet, length_batches, pad_batch
from abcmidi_bgpt.bgpt.train import (
    TrainConfig,
    first_rows,
    micro_batch_nats,
    parse_arch,
    predicted_bytes,
    sampled_rows,
)
from abcmidi_bgpt.core.direction import Direction
from scripts._common import synchronize


def measured_matmul_flops(device: torch.device, dtype: torch.dtype, size: int = 2048) -> float:
    """FLOP/s of a large square matmul: the practical peak of this device and dtype."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    synchronize(device)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        a @ b
        runs += 1
    synchronize(device)
    return 2 * size**3 * runs / (time.perf_counter() - start)


def random_batch(batch: int, n_patches: int, patch_size: int, seed: int):
    """``batch`` sequences of ``n_patches`` patches: random bytes, the last patch the end."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(batch):
        body = rng.integers(0, 256, size=(n_patches - 1) * patch_size)
        seqs.append(np.concatenate([body, np.full(patch_size, SPECIAL)]).astype(np.int16))
    return pad_batch(seqs)


def real_batches(args, layout, steps: int):
    """``steps`` micro-batches of the corpus's training split, as the trainer draws them:
    (ids, n_patches, rows the loss covers, real bytes)."""
    pairs = load_pairs(args.corpus, args.split, args.pairs)
    sequences = SequenceSet.from_pairs(pairs, Direction.parse_many(args.direction), layout)
    cfg = TrainConfig(loss_on=args.loss_on, sample_patches=args.sample_patches)
    micro = length_batches(sequences.n_patches, args.batch_patches, np.random.default_rng(0))
    batches = []
    for i, batch in enumerate(micro[:steps]):
        ids, n = pad_batch([sequences.encode(j).ids for j in batch], layout)
        first = first_rows(sequences, batch, cfg)
        keep = sampled_rows(n, first, cfg, step=i, rank=0, micro=0)
        predicted = predicted_bytes(n, first, cfg, layout.patch_size) // layout.patch_size
        batches.append((ids, n, keep, predicted, int(n.sum()) * layout.patch_size))
    return batches


def synthetic_batches(args, config, steps: int):
    """Full-context micro-batches of random bytes, the same one ``steps`` times."""
    n_patches = args.seq_patches or config.max_patches
    batch = max(1, args.batch_patches // n_patches)
    ids, n = random_batch(batch, n_patches, config.patch_size, seed=1)
    targets = int((n - 1).sum())
    keep = None
    if args.sample_patches and args.sample_patches < targets:
        keep = np.sort(np.random.default_rng(2).choice(targets, args.sample_patches, False))
    predicted = len(keep) if keep is not None else targets
    return [(ids, n, keep, predicted, ids.size)] * steps


def bench(name: str, args, device: torch.device, dtype: torch.dtype, peak: float) -> dict:
    from dataclasses import replace

    config = replace(CONFIGS[name], **parse_arch(args.arch))
    torch.manual_seed(0)
    model = BGPT(config).to(device).train()
    if args.compile:
        model.patch_decoder.compile()
        model.byte_decoder.compile()
    optimizer = model.configure_optimizer(1e-4, 0.01, (0.9, 0.999), device.type)
    total = args.warmup + args.steps
    if args.corpus:
        batches = real_batches(args, config.layout, total)
    else:
        batches = synthetic_batches(args, config, total)

    def step(ids, n, keep, predicted) -> None:
        nats = micro_batch_nats(model, ids, n, keep, device, dtype)
        (nats / (predicted * config.patch_size)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for ids, n, keep, predicted, _ in batches[: args.warmup]:
        step(ids, n, keep, predicted)
    synchronize(device)
    timed = batches[args.warmup :]
    start = time.perf_counter()
    for ids, n, keep, predicted, _ in timed:
        step(ids, n, keep, predicted)
    synchronize(device)
    seconds = time.perf_counter() - start
    flops = sum(
        model.flops_per_batch(ids.shape[0] * n.max(), int(n.max()), predicted)
        for ids, n, _, predicted, _ in timed
    )
    real = sum(b[4] for b in timed)
    padded = sum(b[0].size for b in timed)
    return {
        "model": name + (f" [{args.arch}]" if args.arch else ""),
        "params_m": model.num_params() / 1e6,
        "batch": f"{timed[0][0].shape[0]} x {timed[0][1].max()}" if not args.corpus else "corpus",
        "step_s": seconds / len(timed),
        "bytes_per_s": real / seconds,
        "padding": 1 - real / padded,
        "tflops": flops / seconds / 1e12,
        "mfu": model.estimate_mfu(flops, seconds, peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", choices=list(CONFIGS), help="repeatable")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--batch-patches", type=int, default=4096, help="patches per step")
    parser.add_argument("--seq-patches", type=int, default=0, help="0: the full context")
    parser.add_argument("--sample-patches", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--peak-tflops", default="", help="a number, or 'measure'")
    parser.add_argument("--arch", default="", help="config overrides, e.g. n_embd=256")
    parser.add_argument("--corpus", default="", help="time real batches of this corpus")
    parser.add_argument("--split", default="train-1e4")
    parser.add_argument("--pairs", type=int, default=2000, help="pairs read from the split")
    parser.add_argument("--direction", default="abc2mid")
    parser.add_argument("--loss-on", default="both", choices=["both", "target"])
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.peak_tflops and args.peak_tflops != "measure":
        peak, peak_source = float(args.peak_tflops) * 1e12, "given"
    elif device.type == "cuda" and args.peak_tflops != "measure" and dtype == torch.bfloat16:
        peak = peak_flops_of(torch.cuda.get_device_name(device))
        peak_source = f"data sheet, {torch.cuda.get_device_name(device)}"
        if peak is None:
            peak, peak_source = measured_matmul_flops(device, dtype), "measured matmul"
    else:
        peak, peak_source = measured_matmul_flops(device, dtype), "measured 2048^2 matmul"

    console = Console()
    threads = torch.get_num_threads()
    title = (
        f"bGPT training step on {device} ({str(dtype).removeprefix('torch.')}, "
        f"{threads} threads{', compiled' if args.compile else ''}); "
        f"peak {peak / 1e12:.3g} TFLOP/s ({peak_source})"
    )
    table = Table(title=title)
    if args.corpus:
        title += f"; {args.corpus} {args.split} {args.direction}, loss on {args.loss_on}"
    for col in ("model", "params (M)", "batch", "step (s)", "bytes/s", "padding", "TFLOP/s", "MFU"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name in args.model or ["tiny", "small"]:
        r = bench(name, args, device, dtype, peak)
        table.add_row(
            r["model"],
            f"{r['params_m']:.1f}",
            r["batch"],
            f"{r['step_s']:.3f}",
            f"{r['bytes_per_s']:,.0f}",
            f"{100 * r['padding']:.1f} %",
            f"{r['tflops']:.3f}",
            f"{100 * r['mfu']:.1f} %",
        )
    console.print(table)


if __name__ == "__main__":
    main()
