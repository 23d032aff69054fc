"""Benchmark the corpus builder: tunes per second per stage, end to end, and with --jobs.

Three measurements, each printed with the machine's load average (other work on the machine
slows every figure down; say so when quoting them):

- stages: one process, a fixed random sample of the music21 folk tunes, seconds per tune for
  each stage of the pipeline (abc2xml, xml2abc, symbolic ABC->MIDI, music21 validation, mido
  validation, transposition);
- jobs: the same sample built end to end (fresh cache) with each --jobs value, tunes per second
  and the speed-up over one process;
- full (``--full``): the whole music21 folk collection (~13,000 tunes), the issue's target is
  <= 10 minutes on 2 cores; with ``--scale 1e5 --transpose auto`` a 10^5 training split, target
  <= 60 minutes.

    .venv/bin/python -m scripts.bench_corpus                      # stages + jobs, 200 tunes
    .venv/bin/python -m scripts.bench_corpus --sample 400 --jobs 1 2
    .venv/bin/python -m scripts.bench_corpus --full --jobs 2      # whole collection
    .venv/bin/python -m scripts.bench_corpus --full --jobs 2 --scale 1e5 --transpose auto
    .venv/bin/python -m scripts.bench_corpus --sample 400 --check-beaming
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from abcmidi_bgpt.checks.validate import validate_abc, validate_midi
from abcmidi_bgpt.corpus.build import BuildSettings, build_corpus
from abcmidi_bgpt.corpus.pipeline import (
    PipelineSettings,
    _normalised,
    _parse,
    validate_abc_without_beaming,
)
from abcmidi_bgpt.corpus.sources import music21_tunes
from abcmidi_bgpt.corpus.splits import parse_scale
from abcmidi_bgpt.corpus.transpose import key_fifths, shift_interval, transpose_score
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

console = Console()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def sample_tunes(n: int, seed: int):
    tunes = music21_tunes().tunes
    return random.Random(seed).sample(tunes, min(n, len(tunes)))


def bench_stages(tunes) -> None:
    settings = PipelineSettings()
    validate_abc("X:1\nK:C\nC|\n", with_abc2midi=False)  # import music21 outside the timing
    totals = dict.fromkeys(
        (
            "abc2xml",
            "xml2abc",
            "symbolic ABC->MIDI",
            "music21 validation (beaming off)",
            "mido validation",
        ),  # fmt: skip
        0.0,
    )
    transposed, transpose_s, full_music21_s, done = 0, 0.0, 0.0, 0
    start_load = load()
    for tune in tunes:
        try:
            t0 = time.perf_counter()
            root = _parse(tune.text, settings, tune.key)
            t1 = time.perf_counter()
            abc = _normalised(root, settings)
            t2 = time.perf_counter()
            midi = abc_to_midi(abc, chords=True).midi
            t3 = time.perf_counter()
            validate_abc_without_beaming(abc)
            t4 = time.perf_counter()
            validate_midi(midi)
            t5 = time.perf_counter()
            moved = transpose_score(root, shift_interval(key_fifths(root), 2))
            _normalised(moved, settings)
            t6 = time.perf_counter()
            validate_abc(abc, with_abc2midi=False)
            full_music21_s += time.perf_counter() - t6
        except Exception:  # a failing tune is left out of the stage figures
            continue
        done += 1
        for name, seconds in zip(
            totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
        ):
            totals[name] += seconds
        transpose_s += t6 - t5
        transposed += 1
    table = Table(title=f"Stages, one process, {done} tunes ({start_load})")
    table.add_column("stage")
    table.add_column("ms per tune", justify="right")
    table.add_column("tunes per s", justify="right")
    table.add_column("share", justify="right")
    pair_total = sum(totals.values())
    for name, seconds in totals.items():
        ms = 1000 * seconds / max(1, done)
        table.add_row(name, f"{ms:.1f}", f"{done / seconds:.1f}", f"{seconds / pair_total:.0%}")
    table.add_row("one pair (sum)", f"{1000 * pair_total / max(1, done):.1f}",
                  f"{done / pair_total:.1f}", "100%")  # fmt: skip
    ms = 1000 * transpose_s / max(1, transposed)
    table.add_row("transposition (MusicXML + xml2abc)", f"{ms:.1f}", "", "")
    ms = 1000 * full_music21_s / max(1, done)
    table.add_row("music21 validation with beaming (not used)", f"{ms:.1f}", "", "")
    console.print(table)


def check_beaming(tunes) -> None:
    """music21 validation with and without its beaming step: verdicts and time per tune."""
    settings = PipelineSettings()
    validate_abc("X:1\nK:C\nC|\n", with_abc2midi=False)
    full = fast = 0.0
    n = differ = invalid = 0
    for tune in tunes:
        try:
            abc = _normalised(_parse(tune.text, settings, tune.key), settings)
        except Exception:  # a tune that does not normalise is not validated either
            continue
        t0 = time.perf_counter()
        with_beams = validate_abc(abc, with_abc2midi=False)
        t1 = time.perf_counter()
        without = validate_abc_without_beaming(abc)
        t2 = time.perf_counter()
        full, fast, n = full + t1 - t0, fast + t2 - t1, n + 1
        invalid += not with_beams.ok
        differ += with_beams.ok != without.ok
    console.print(
        f"music21 validation of {n} normalised tunes: {differ} verdicts differ, {invalid} "
        f"invalid; {1000 * full / n:.1f} ms with beaming, {1000 * fast / n:.1f} ms without "
        f"({load()})"
    )


def bench_jobs(tunes, jobs_values: list[int], transpose: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    try:
        folder = tmp / "tunes"
        folder.mkdir()
        for i, tune in enumerate(tunes):
            (folder / f"{i:05d}.abc").write_text(tune.text, encoding="utf-8")
        settings = BuildSettings(scales=(10,), transpose=transpose, stop_early=False)
        table = Table(title=f"End to end, {len(tunes)} tunes, --transpose {transpose}")
        for column in ("jobs", "seconds", "tunes per s", "CPU ms per result", "speed-up", "load"):
            table.add_column(column, justify="right")
        base = None
        for jobs in jobs_values:
            start = time.perf_counter()
            report = build_corpus(
                [str(folder)], tmp / f"out-{jobs}", settings, jobs=jobs,
                cache_path=tmp / f"cache-{jobs}.sqlite",
            )  # fmt: skip
            seconds = time.perf_counter() - start
            pairs = report.computed
            base = base or seconds
            cpu_ms = 1000 * report.cpu_seconds / max(1, pairs)
            table.add_row(str(jobs), f"{seconds:.1f}", f"{len(tunes) / seconds:.1f}",
                          f"{cpu_ms:.0f}", f"{base / seconds:.2f}x", load())  # fmt: skip
        console.print(table)
        for phase, (n, cpu) in report.work.items():
            if n:
                console.print(f"{phase}: {n} results, {1000 * cpu / n:.0f} ms CPU each")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_full(jobs: int, scale: int, transpose: str, out: Path | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-full-"))
    out = out or tmp / "corpus"
    try:
        start = time.perf_counter()
        report = build_corpus(
            ["music21"], out, BuildSettings(scales=(scale,), transpose=transpose, stop_early=False), jobs=jobs,
            cache_path=tmp / "cache.sqlite",
        )  # fmt: skip
        seconds = time.perf_counter() - start
        counts = report.manifest["counts"]
        table = Table(title=f"music21 folk collection, --jobs {jobs}, --transpose {transpose}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_row("wall time", f"{seconds:.0f} s ({seconds / 60:.1f} min)")
        for stage, s in report.seconds.items():
            table.add_row(f"  {stage}", f"{s:.0f} s")
        table.add_row("tunes found", str(counts["tunes_found"]))
        table.add_row("tunes converted", str(counts["tunes_converted"]))
        table.add_row("transpositions rendered", str(counts["transpositions_rendered"]))
        table.add_row("pairs kept", str(counts["pairs_kept"]))
        for name, split in report.manifest["splits"].items():
            table.add_row(f"split {name}", f"{split['rows']} pairs, {split['tunes']} tunes")
        table.add_row("tunes per s (end to end)", f"{counts['tunes_found'] / seconds:.1f}")
        table.add_row("results computed per s", f"{report.computed / seconds:.1f}")
        # Processor time does not grow when other work shares the cores, wall time does.
        for phase, (n, cpu) in report.work.items():
            if n:
                table.add_row(f"worker CPU per result ({phase})", f"{1000 * cpu / n:.0f} ms")
        serial = sum(v for k, v in report.seconds.items() if k not in ("convert", "transpose"))
        projected = report.cpu_seconds / jobs + serial
        table.add_row(
            f"projected wall on {jobs} free cores",
            f"{projected:.0f} s ({projected / 60:.1f} min) = CPU / {jobs} + serial steps",
        )
        table.add_row("load at the end", load())
        console.print(table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200, help="tunes for stages and jobs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--transpose", default="none")
    parser.add_argument("--full", action="store_true", help="build the whole music21 corpus")
    parser.add_argument("--scale", default="1e3", help="largest split for --full")
    parser.add_argument("--out", type=Path, help="keep the --full corpus here")
    parser.add_argument(
        "--check-beaming", action="store_true", help="only compare music21 with/without beaming"
    )
    args = parser.parse_args()
    console.print(f"[bold]corpus benchmark[/bold]: {load()}")
    if args.full:
        bench_full(max(args.jobs), parse_scale(args.scale), args.transpose, args.out)
        return
    tunes = sample_tunes(args.sample, args.seed)
    if args.check_beaming:
        check_beaming(tunes)
        return
    bench_stages(tunes)
    bench_jobs(tunes, args.jobs, args.transpose)


if __name__ == "__main__":
    main()
