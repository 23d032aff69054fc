"""Benchmark bGPT generation: the cached, batched decoder against the reference decoder (the
official inference algorithm step by step), on the same model and the same inputs.

    .venv/bin/python -m scripts.bench_generate --model small --threads 2               # CPU
    python -m scripts.bench_generate --model paper --device cuda --dtype bf16          # GPU

The model is randomly initialised (or loaded with --checkpoint), with the special id's byte
embedding set to zero: the head is tied to it, so the special id's logit is 0 while the largest
of the other 256 is almost surely above it, and greedy decoding never ends a file. Every file is
then generated to the same length (--new-patches) whatever the weights, which is what a speed
measure needs; cost depends on shapes, not on the bytes. The prompts are real ABC tunes
(O'Neill's 1850, in music21's corpus) of one length in patches, each followed by the MIDI
extension patch (ABC -> MIDI).

The reference decoder is the official algorithm: one file at a time, in fp32 (--reference-dtype),
the patch-level decoder re-run over the whole sequence for each patch and the byte-level
decoder over the patch so far for each byte, every byte's distribution copied to the CPU; its
tunes/s does not depend on a batch size. The fast decoder runs with --batch files at a time.
tunes/s and bytes/s count generated files and bytes; the speed-up is the ratio of tunes/s.
Where both run in the same dtype, the script also checks that they wrote the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from abcmidi_bgpt.bgpt.checkpoint import load_model
from abcmidi_bgpt.bgpt.device import resolve_device, resolve_dtype
from abcmidi_bgpt.bgpt.generate import conversion_prompt, generate, generate_reference
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.bgpt.patches import SPECIAL, PatchLayout
from abcmidi_bgpt.corpus.sources import music21_corpus_dir
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from scripts._common import synchronize


def endless_model(args, device: torch.device, dtype: torch.dtype) -> BGPT:
    """The benchmark's model: weights that never end a file under greedy decoding."""
    if args.checkpoint:
        model = load_model(args.checkpoint)
    else:
        torch.manual_seed(args.seed)
        model = BGPT(CONFIGS[args.model])
    with torch.no_grad():
        model.byte_decoder.wte.weight[SPECIAL] = 0.0
    return model.to(device=device, dtype=dtype).eval()


def tune_prompts(layout: PatchLayout, count: int, scan: int = 600) -> list[np.ndarray]:
    """``count`` prompts of real tunes, all of the most common length among the first
    ``scan`` tunes of O'Neill's 1850 that leave room for output."""
    folder = music21_corpus_dir() / "oneills1850"
    texts = []
    for path in sorted(folder.glob("*.abc")):
        texts += [t.full_text.encode("utf-8") for t in split_tunes(read_abc_file(path))]
        if len(texts) >= scan:
            break
    prompts = [conversion_prompt(t, "abc", "mid", layout) for t in texts[:scan]]
    lengths = Counter(len(p) for p in prompts if len(p) // layout.patch_size <= 48)
    length, available = lengths.most_common(1)[0]
    chosen = [p for p in prompts if len(p) == length]
    return [chosen[i % available] for i in range(count)]


def timed(fn, device: torch.device) -> tuple[object, float]:
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--checkpoint", default="", help="a saved model instead of random weights")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", help="fast decoder's weights: fp32, bf16, auto")
    parser.add_argument("--reference-dtype", default="fp32")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (default 1, 32)")
    parser.add_argument("--new-patches", type=int, default=64, help="output patches per file")
    parser.add_argument("--tunes-batch-1", type=int, default=4, help="files timed at batch 1")
    parser.add_argument("--reference-tunes", type=int, default=2, help="files for the reference")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="write the figures here too")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = args.batch or [1, 32]
    device = resolve_device(args.device)
    fast_dtype = resolve_dtype(args.dtype, device)
    reference_dtype = resolve_dtype(args.reference_dtype, device)

    fast_model = endless_model(args, device, fast_dtype)
    reference_model = endless_model(args, device, reference_dtype)
    layout = fast_model.config.layout
    n = max([args.tunes_batch_1, args.reference_tunes, *batches])
    prompts = tune_prompts(layout, n)
    prompt_patches = len(prompts[0]) // layout.patch_size
    limit = prompt_patches + args.new_patches
    if limit > layout.max_patches:
        sys.exit(f"{prompt_patches} + {args.new_patches} patches exceed the context")
    new_bytes = args.new_patches * layout.patch_size

    console = Console()
    console.print(
        f"{args.checkpoint or args.model} ({fast_model.num_params() / 1e6:.1f} M parameters) "
        f"on {device}, threads {torch.get_num_threads()}; prompts of {prompt_patches} patches, "
        f"{args.new_patches} new patches ({new_bytes} bytes) per file"
    )
    # Warm-up: first calls allocate and pick kernels.
    generate(fast_model, prompts[:2], batch_size=2, max_patches=prompt_patches + 2)
    generate_reference(reference_model, prompts[0], max_patches=prompt_patches + 1)

    count = args.reference_tunes
    reference, seconds = timed(
        lambda: [
            generate_reference(reference_model, p, max_patches=limit) for p in prompts[:count]
        ],
        device,
    )
    assert all(g.truncated and len(g.data) == new_bytes for g in reference)
    rows = [
        {
            "decoder": f"reference ({args.reference_dtype})",
            "batch": 1,
            "tunes": count,
            "seconds": seconds,
            "tunes_per_s": count / seconds,
            "bytes_per_s": count * new_bytes / seconds,
        }
    ]
    identical = None
    for batch in batches:
        count = args.tunes_batch_1 if batch == 1 else batch
        outputs, seconds = timed(
            lambda b=batch, c=count: generate(
                fast_model, prompts[:c], batch_size=b, max_patches=limit
            ),
            device,
        )
        assert all(g.truncated and len(g.data) == new_bytes for g in outputs)
        if fast_dtype == reference_dtype:  # every batch size: the tunes both decoders wrote
            n = min(len(outputs), len(reference))
            same = [g.data for g in outputs[:n]] == [g.data for g in reference[:n]]
            identical = same if identical is None else identical and same
        rows.append(
            {
                "decoder": f"cached ({args.dtype})",
                "batch": batch,
                "tunes": count,
                "seconds": seconds,
                "tunes_per_s": count / seconds,
                "bytes_per_s": count * new_bytes / seconds,
            }
        )
    base = rows[0]["tunes_per_s"]
    table = Table(title="bGPT generation")
    for column in ("decoder", "batch", "tunes", "seconds", "tunes/s", "bytes/s", "speed-up"):
        table.add_column(column, justify="left" if column == "decoder" else "right")
    for row in rows:
        row["speedup"] = row["tunes_per_s"] / base
        table.add_row(
            row["decoder"],
            str(row["batch"]),
            str(row["tunes"]),
            f"{row['seconds']:.2f}",
            f"{row['tunes_per_s']:.3f}",
            f"{row['bytes_per_s']:,.0f}",
            f"{row['speedup']:.1f}x",
        )
    console.print(table)
    if identical is not None:
        console.print(f"cached output identical to the reference's: {identical}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": args.checkpoint or args.model,
                    "device": str(device),
                    "threads": torch.get_num_threads(),
                    "prompt_patches": prompt_patches,
                    "new_patches": args.new_patches,
                    "identical": identical,
                    "rows": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
