"""The CPU study's figures, from what its runs wrote: the curves of the runs in one PNG, the
power law fitted to the candidate model's validation curve and what it extrapolates to, and the
evaluation and comparison summaries (scripts/scaling/60_cpu_model.sh, 61_cpu_measure.sh).

    .venv/bin/python scripts/scaling/cpu_results.py --runs runs --results runs/results --png docs/cpu-runs.png
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

from abcmidi_bgpt.reports.compare import summarise
from abcmidi_bgpt.reports.compare_report import read_csv

# The byte-level cost a greedy converter can afford: a MIDI target of the corpus's median size
# (428 bytes) converted exactly needs about one bit of surprise in the whole file, i.e. a
# BPB_midi near 1/428; the paper's bGPT^5 reached 0.0011.
BAR_BPB = 1 / 428


def evaluations(log: Path) -> list[tuple[int, float, float]]:
    """(step, elapsed seconds, validation BPB_midi of ABC->MIDI) of each evaluation."""
    rows = list(csv.DictReader(log.open()))
    return [(int(r["step"]), float(r["elapsed_s"]), float(r["val_abc2mid_bpb_midi"]))
            for r in rows if r.get("val_abc2mid_bpb_midi")]  # fmt: skip


def power_law(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of bpb = a * hours^-b, least squares in log-log space."""
    x = np.log([p[0] for p in points])
    y = np.log([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    return math.exp(intercept), -slope


def plot(runs: dict[str, list[tuple[int, float, float]]], fit, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in runs.items():
        ax.plot([p[1] / 3600 for p in points], [p[2] for p in points], marker=".", label=name)
    if fit:
        a, b = fit
        hours = np.linspace(0.1, max(p[1] for p in runs["cpu-1e4"]) / 3600, 50)
        ax.plot(hours, a * hours**-b, "k--", lw=1, label=f"fit {a:.3f} h^-{b:.3f}")
    ax.set_xlabel("hours of training (one CPU thread each)")
    ax.set_ylabel("validation BPB_midi (ABC -> MIDI)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("bGPT 3.1 M on the 2-core CPU: 10^4 and 10^3 pairs, same budget")
    fig.tight_layout()
    fig.savefig(png, dpi=80)


def compare_summary(tunes_csv: Path) -> list[str]:
    if not tunes_csv.exists():
        return [f"{tunes_csv}: missing"]
    return [
        f"{s.direction} {s.engine}: tunes {s.tunes}, valid {s.valid} "
        f"({100 * s.valid / s.tunes:.1f} %), exact {s.exact}, note F1 median "
        f"{s.f1_median:.3f} mean {s.f1_mean:.3f}, {s.tunes_per_s:.2f} tunes/s"
        for s in summarise(read_csv(tunes_csv))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--results", default="runs/results")
    parser.add_argument("--png", default="docs/cpu-runs.png")
    args = parser.parse_args()
    runs = {}
    for name in ("cpu-1e4", "cpu-1e3"):
        log = Path(args.runs) / name / "log.csv"
        if log.exists():
            runs[name] = evaluations(log)
            step, seconds, bpb = runs[name][-1]
            best = min(p[2] for p in runs[name])
            print(f"{name}: {len(runs[name])} evaluations, last step {step} at {seconds / 60:.0f} "
                  f"min: BPB_midi {bpb:.4f} (best {best:.4f})")  # fmt: skip
    fit = None
    if "cpu-1e4" in runs:
        later = [(s / 3600, b) for _, s, b in runs["cpu-1e4"] if s > 0.25 * runs["cpu-1e4"][-1][1]]
        fit = power_law(later)
        a, b = fit
        hours = (a / BAR_BPB) ** (1 / b)
        print(f"fit on the last three quarters of cpu-1e4: BPB_midi = {a:.4f} * hours^-{b:.4f}")
        print(
            f"BPB_midi {BAR_BPB:.5f} (one bit per median MIDI file) at {hours:.3g} CPU-thread hours"
        )
        print(f"BPB_midi 0.0011 (the paper's bGPT^5) at {(a / 0.0011) ** (1 / b):.3g} hours")
    plot(runs, fit, Path(args.png))
    for path in sorted(Path(args.results).glob("evaluate-cpu-*.json")):
        report = json.loads(path.read_text())
        for direction, s in report["directions"].items():
            print(f"{path.stem} {direction}: BPB_abc {s['bpb_abc']:.4f} BPB_midi {s['bpb_midi']:.4f} "
                  f"({s['sequences']} sequences)")  # fmt: skip
    for folder in sorted(Path(args.results).glob("compare-cpu-*")):
        print(folder.name)
        for line in compare_summary(folder / "tunes.csv"):
            print("  " + line)


if __name__ == "__main__":
    main()
