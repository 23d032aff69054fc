"""Collect the scaling study's measurements into a Markdown report (docs/results-gpu.md; docs/results.md is the CPU study).

Reads what the numbered scripts wrote: each run's log.csv and curves.png, the evaluation JSON
and the comparison's tunes.csv, plus the corpus manifest. Writes only what was measured: a run
that is missing shows as such.

    .venv/bin/python scripts/scaling/50_results.py --out docs/results-gpu.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
from pathlib import Path

PAPER = "Wu et al. 2024, Table 5: BPB_midi 0.0011 for ABC->MIDI at 10^5 training tunes"


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def last_row(log: Path) -> dict:
    rows = list(csv.DictReader(log.open())) if log.exists() else []
    return rows[-1] if rows else {}


def compare_summary(tunes_csv: Path) -> dict[tuple[str, str], tuple[int, float, float]]:
    """(direction, engine) -> (tunes, share valid, median note F1)."""
    if not tunes_csv.exists():
        return {}
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in csv.DictReader(tunes_csv.open()):
        groups.setdefault((row["direction"], row["engine"]), []).append(row)
    out = {}
    for key, rows in groups.items():
        valid = sum(r["valid"] == "True" for r in rows) / len(rows)
        f1 = statistics.median(float(r["f1"] or 0) for r in rows)
        out[key] = (len(rows), valid, f1)
    return out


def compare_cell(summary: dict, direction: str) -> str:
    """'valid / median F1' of bgpt, then of the symbolic converter, on the same tunes."""
    b, s = summary.get((direction, "bgpt")), summary.get((direction, "symbolic"))
    if not b:
        return "-"
    sym = f"; {s[1]:.0%} / {s[2]:.3f}" if s else ""
    return f"{b[1]:.0%} / {b[2]:.3f}{sym} (n={b[0]})"


def fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("docs/results-gpu.md"))
    ap.add_argument("--figures", type=Path, default=Path("docs/results"))
    ap.add_argument("--gpu", default=env("GPU_NAME", ""), help="the GPU the runs used")
    args = ap.parse_args()

    corpus, runs, results = (
        Path(env("CORPUS", "corpora/music21")),
        Path(env("RUNS", "runs")),
        Path(env("RESULTS", "runs/results")),
    )
    model, scales = env("MODEL", "paper"), env("SCALES", "1e3 1e4 1e5").split()
    manifest = (
        json.loads((corpus / "corpus.json").read_text())
        if (corpus / "corpus.json").exists()
        else {}
    )
    splits = manifest.get("splits", {})

    lines = [
        "# Results: the 10^3-10^5 scaling study",
        "",
        f"Model `{model}`, both directions, on the music21 folk corpus (`{corpus}`, manifest "
        f"hash `{manifest.get('content_hash', 'n/a')}`). GPU: {args.gpu or 'not recorded'}. "
        f"Paper anchor: {PAPER}.",
        "",
        "| training split | pairs (tunes) | steps | wall time | ABC->MIDI BPB_abc | ABC->MIDI BPB_midi "
        "| MIDI->ABC BPB_abc | MIDI->ABC BPB_midi | ABC->MIDI valid / median F1 (bgpt; symbolic) "
        "| MIDI->ABC valid / median F1 (bgpt; symbolic) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    args.figures.mkdir(parents=True, exist_ok=True)
    for scale in scales:
        run = runs / f"{model}-{scale}"
        split = splits.get(f"train-{scale}", {})
        size = f"{split.get('rows', '-')} ({split.get('tunes', '-')})"
        row = last_row(run / "log.csv")
        steps, wall = row.get("step", "-"), row.get("elapsed_s")
        wall = f"{float(wall) / 60:.1f} min" if wall else "-"
        ev_path = results / f"evaluate-{model}-{scale}.json"
        ev = json.loads(ev_path.read_text())["directions"] if ev_path.exists() else {}
        a2m, m2a = ev.get("abc2mid", {}), ev.get("mid2abc", {})
        cmp = compare_summary(results / f"compare-{model}-{scale}" / "tunes.csv")
        lines.append(
            f"| train-{scale} | {size} | {steps} | {wall} | {fmt(a2m.get('bpb_abc'))} | "
            f"{fmt(a2m.get('bpb_midi'))} | {fmt(m2a.get('bpb_abc'))} | {fmt(m2a.get('bpb_midi'))} "
            f"| {compare_cell(cmp, 'abc2mid')} | {compare_cell(cmp, 'mid2abc')} |"
        )
        if (run / "curves.png").exists():
            shutil.copyfile(run / "curves.png", args.figures / f"curves-{model}-{scale}.png")
    lines += ["", "Loss and BPB curves:", ""]
    for scale in scales:
        png = args.figures / f"curves-{model}-{scale}.png"
        if png.exists():
            lines.append(f"![{model} on train-{scale}]({png.relative_to(args.out.parent)})")
    lines += [
        "",
        "Commands (each a single re-runnable script; settings in `scripts/scaling/common.sh`):",
        "",
        "```",
        "scripts/scaling/00_build_corpus.sh",
        "scripts/scaling/11_train_1e3.sh; scripts/scaling/12_train_1e4.sh; scripts/scaling/13_train_1e5.sh",
        "scripts/scaling/20_evaluate.sh; scripts/scaling/30_compare.sh",
        "GPU_NAME='...' .venv/bin/python scripts/scaling/50_results.py",
        "```",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
