"""Pilot runs on the CPU: short trainings of candidate recipes, compared by validation BPB_midi
per CPU-second, and their curves in one PNG.

Each pilot is ``abcmidi-bgpt train`` with a recipe below, ABC->MIDI on the 10^4 split, a fixed
number of optimizer steps sized so that every pilot takes about the same time on this 2-core
CPU (from ``scripts/bench_train.py``). Pilots run ``--parallel`` at a time, one thread each
(OMP_NUM_THREADS=1): on two cores two one-thread runs do more work than one two-thread run.

    .venv/bin/python scripts/scaling/pilots.py run --corpus corpora/music21 --runs runs/pilots
    .venv/bin/python scripts/scaling/pilots.py plot --runs runs/pilots --png docs/pilots.png
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

# name -> (train options, optimizer steps). Steps: ~600 s at one thread each, two at a time.
PILOTS: dict[str, tuple[list[str], int]] = {
    "tiny4-both": (["--arch", "max_patches=256,n_patch_layer=4", "--lr", "3e-3",
                    "--loss-on", "both"], 500),
    "tiny4-target": (["--arch", "max_patches=256,n_patch_layer=4", "--lr", "3e-3",
                      "--loss-on", "target"], 620),
    "w192-target": (["--arch", "max_patches=256,n_embd=192,n_head=4,n_patch_layer=4",
                     "--lr", "2e-3", "--loss-on", "target"], 370),
    "w256-target": (["--arch", "max_patches=256,n_embd=256,n_head=4,n_patch_layer=4",
                     "--lr", "1.5e-3", "--loss-on", "target"], 240),
}  # fmt: skip

COMMON = ["--model", "tiny", "--direction", "abc2mid", "--train-split", "train-1e4",
          "--batch-patches", "2048", "--warmup", "0.05", "--min-lr", "1e-4",
          "--weight-decay", "0.01", "--eval-every", "50", "--log-every", "10", "--seed", "0"]  # fmt: skip


def run(args) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    names = args.only or list(PILOTS)
    queue = list(names)
    running: list[tuple[str, subprocess.Popen]] = []
    while queue or running:
        while queue and len(running) < args.parallel:
            name = queue.pop(0)
            options, steps = PILOTS[name]
            out = Path(args.runs) / name
            command = [sys.executable, "-m", "abcmidi_bgpt", "train",
                       "--corpus", args.corpus, "--out", str(out), "--max-steps", str(steps),
                       *COMMON, *options]  # fmt: skip
            out.parent.mkdir(parents=True, exist_ok=True)
            log = (Path(args.runs) / f"{name}.out").open("w")
            print(" ".join(command), flush=True)
            running.append((name, subprocess.Popen(command, stdout=log, stderr=log, env=env)))
        name, process = running[0]
        process.wait()
        running.pop(0)
        print(f"{name}: exit {process.returncode}", flush=True)


def curves(run_dir: Path) -> tuple[list[float], list[float]]:
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    points = [(float(r["elapsed_s"]), float(r["val_abc2mid_bpb_midi"]))
              for r in rows if r.get("val_abc2mid_bpb_midi")]  # fmt: skip
    return [p[0] for p in points], [p[1] for p in points]


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for run_dir in sorted(p for p in Path(args.runs).iterdir() if (p / "log.csv").exists()):
        seconds, bpb = curves(run_dir)
        if seconds:
            ax.plot([s / 60 for s in seconds], bpb, marker=".", label=run_dir.name)
            print(f"{run_dir.name}: {bpb[-1]:.4f} BPB_midi after {seconds[-1]:.0f} s")
    ax.set_xlabel("minutes of training (one CPU thread for pilots)")
    ax.set_ylabel("validation BPB_midi (ABC -> MIDI)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.png, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--corpus", default="corpora/music21")
    r.add_argument("--runs", default="runs/pilots")
    r.add_argument("--parallel", type=int, default=2)
    r.add_argument("--only", nargs="*", choices=list(PILOTS))
    p = sub.add_parser("plot")
    p.add_argument("--runs", default="runs/pilots")
    p.add_argument("--png", default="docs/pilots.png")
    p.add_argument("--title", default="bGPT pilots on the 2-core CPU, music21 train-1e4")
    args = parser.parse_args()
    {"run": run, "plot": plot}[args.command](args)


if __name__ == "__main__":
    main()
