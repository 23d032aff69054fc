"""``abcmidi-bgpt corpus build`` and ``corpus stats``: thin commands over :mod:`corpus.build`.

Cheap to import (the heavy modules are imported inside the commands), so that registering the
sub-app does not slow down the rest of the command line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from abcmidi_bgpt.cli.options import HELP_OPTIONS, console, err_console, print_error, print_warning
from abcmidi_bgpt.core.errors import ModelError
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB

corpus_app = typer.Typer(
    help="Build and inspect ABC/MIDI pair corpora for training and evaluating bGPT.",
    no_args_is_help=True,
    context_settings=HELP_OPTIONS,
)


@corpus_app.command("build", context_settings={"allow_extra_args": True})
def build_command(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="music21 (the folk collections inside music21; music21:oneills1850,... picks "
            "some), irishman (Hugging Face hub), irishman:FOLDER (its train.json and "
            "validation.json), or a folder of .abc files. One or more.",
        ),
    ] = None,
    scales: Annotated[
        list[str] | None,
        typer.Option(
            "--scales",
            help="Nested training split sizes, e.g. 1e3 1e4 1e5 (default). The build stops "
            "converting once the largest is filled (see --all-tunes).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Corpus folder (created if needed).")] = Path(
        "corpora/music21"
    ),
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes.")] = os.cpu_count() or 1,
    transpose: Annotated[
        str,
        typer.Option(
            help="Extra keys per training tune: none, 1-11, all, or auto (as many as the "
            "largest scale needs)."
        ),
    ] = "none",
    validation_fraction: Annotated[
        float, typer.Option(help="Share of tunes held out for validation (by hash).")
    ] = 0.02,
    test_fraction: Annotated[
        float, typer.Option(help="Share of tunes held out for test (by hash).")
    ] = 0.02,
    seed: Annotated[int, typer.Option(help="Split seed: which tunes are held out, order.")] = 0,
    chords: Annotated[
        bool,
        typer.Option(help="Keep chord symbols and play them in the MIDI (else drop them)."),
    ] = True,
    export_files: Annotated[
        bool,
        typer.Option(help="Also write files/<split>/<id>.abc + .mid, as the bGPT scripts read."),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.0, help="Seconds allowed per tune and key, then it is stopped (0: none)."
        ),
    ] = 60.0,
    memory: Annotated[
        float,
        typer.Option(min=0.0, help="GiB of memory each worker process may use (0: no limit)."),
    ] = DEFAULT_MEMORY_GIB,
    all_tunes: Annotated[
        bool,
        typer.Option(
            "--all-tunes",
            help="Convert every tune, so that 'train' holds every training pair (slow on "
            "large sources). Without it the build stops once the held-out sets and the "
            "largest scale are filled, with the same splits.",
        ),
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            min=0,
            help="Only the first N tunes of the sources (0: all); changes the held-out sets. "
            "To bound the work, use --scales instead.",
        ),
    ] = 0,
    cache: Annotated[
        Path | None, typer.Option(help="Result cache file (default: OUT/cache/results.sqlite).")
    ] = None,
) -> None:
    """Build a corpus: normalised ABC + paired MIDI, de-duplicated, split by hash, nested scales.

    Every tune is first named by a hash of its notes as written (quick; every copy of a tune in
    another key gets the same name). The name puts a fixed share of the tunes in validation and
    test and orders the rest; the scales are prefixes of that order. So the build converts the
    held-out tunes, then the training tunes in order, and stops as soon as the largest scale is
    filled: validation, test and every scale are then exactly what converting every tune would
    give, and 'train' holds the largest scale (--all-tunes: every training pair).

    OUT is a datasets.DatasetDict (datasets.load_from_disk(OUT)), every scale a split of its
    own (train_1e3, ...), with a dataset card (OUT/README.md) and a manifest (OUT/corpus.json).
    Resumable: results are cached per tune, so a killed build restarts where it stopped and a
    rebuild with one more source only processes the new tunes. Bad tunes are recorded with
    their stage and reason (OUT/failures.jsonl) and never stop the build.
    """
    from abcmidi_bgpt.corpus.build import DEFAULT_SCALES, BuildSettings, build_corpus
    from abcmidi_bgpt.corpus.pipeline import PipelineSettings
    from abcmidi_bgpt.corpus.sources import SourceError
    from abcmidi_bgpt.corpus.splits import parse_scale

    sources, scale_texts = list(source or []), list(scales or [])
    # "--source a b --scales 1e3 1e4": click keeps one value per option; the rest arrive here.
    for extra in ctx.args:
        try:
            parse_scale(extra)
            scale_texts.append(extra)
        except ValueError:
            sources.append(extra)
    try:
        parsed = tuple(parse_scale(s) for s in scale_texts) or DEFAULT_SCALES
        settings = BuildSettings(
            scales=tuple(sorted(set(parsed))),
            transpose=transpose,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
            split_seed=seed,
            pipeline=PipelineSettings(chords=chords, timeout_s=timeout, memory_gib=memory),
            export_files=export_files,
            limit=limit,
            stop_early=not all_tunes,
        )
    except ValueError as err:
        print_error(err)
        raise typer.Exit(2) from None
    progress = Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
    tasks: dict[str, int] = {}

    def step(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    try:
        with progress:
            report = build_corpus(
                sources or ["music21"], out, settings, jobs=jobs, cache_path=cache, progress=step
            )
    except SourceError as err:
        print_error(err)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        print_error("finished tunes are cached; run the same command to resume", "interrupted")
        raise typer.Exit(130) from None
    print_build_report(report)


def print_build_report(report) -> None:
    manifest = report.manifest
    counts = manifest["counts"]
    table = Table(title=f"Corpus {report.out_dir}", header_style="bold")
    table.add_column("stage")
    table.add_column("count", justify="right")
    table.add_row("tunes found", str(counts["tunes_found"]))
    table.add_row("unreadable files", str(counts["unreadable_files"]))
    table.add_row("[green]tunes converted[/green]", str(counts["tunes_converted"]))
    table.add_row("[red]tunes failed[/red]", str(counts["tunes_failed"]))
    table.add_row("tunes not needed (scales filled)", str(counts["tunes_not_needed"]))
    table.add_row("transpositions rendered", str(counts["transpositions_rendered"]))
    table.add_row("transpositions failed", str(counts["transpositions_failed"]))
    table.add_row("duplicates dropped", str(counts["duplicates"]))
    table.add_row("over the context", str(counts["too_long"]))
    table.add_row("[green]pairs kept[/green]", str(counts["pairs_kept"]))
    table.add_row("results from cache", str(report.cached))
    seconds = sum(report.seconds.values())
    table.add_row("time", f"{seconds:.1f} s")
    console.print(table)
    console.print(splits_table(manifest))
    for name, u in manifest["unfilled_scales"].items():
        print_warning(
            f"{name} not made: {u['requested']} pairs asked for, "
            f"{u['available']} training pairs built (add sources or --transpose)"
        )
    reasons = manifest["failure_reasons"]
    if reasons:
        fails = Table(title="Left out, by stage and reason", header_style="bold red")
        fails.add_column("stage")
        fails.add_column("reason")
        fails.add_column("count", justify="right")
        for stage, by_reason in reasons.items():
            for reason, n in list(by_reason.items())[:8]:
                fails.add_row(stage, reason, str(n))
        console.print(fails)
        console.print(f"every failure: {report.out_dir / 'failures.jsonl'}")


@corpus_app.command("stats")
def stats_command(
    corpus_dir: Annotated[Path, typer.Argument(help="A built corpus folder.")],
    png: Annotated[
        Path | None, typer.Option(help="Where to write the histograms (default DIR/stats/).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw manifest.")] = False,
) -> None:
    """Print a corpus manifest and write length histograms (ABC, MIDI, patches) as PNG."""
    from abcmidi_bgpt.bgpt.dataset import load_manifest
    from abcmidi_bgpt.corpus.stats import write_histograms

    try:
        manifest = load_manifest(corpus_dir)
    except ModelError as err:
        print_error(err)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    else:
        print_manifest(manifest)
    path = write_histograms(corpus_dir, png / "lengths.png" if png else None)
    console.print(f"histograms: {path}")


def print_manifest(manifest: dict) -> None:
    sources = Table(title="Sources", header_style="bold")
    for column in ("source", "kind", "tunes", "unreadable", "content"):
        sources.add_column(column)
    for s in manifest["sources"]:
        sources.add_row(
            s["spec"], s.get("kind", ""), str(s["tunes"]), str(s["unreadable"]),
            s["content_sha256"][:12],
        )  # fmt: skip
    console.print(sources)
    settings = Table(title="Settings", header_style="bold", show_header=False)
    for key, value in manifest["settings"].items():
        settings.add_row(key, str(value))
    for key, value in manifest["versions"].items():
        settings.add_row(f"version of {key}", str(value))
    settings.add_row("content hash", manifest["content_hash"])
    console.print(settings)
    counts = Table(title="Counts", header_style="bold", show_header=False)
    for key, value in manifest["counts"].items():
        counts.add_row(key.replace("_", " "), str(value))
    console.print(counts)
    console.print(splits_table(manifest))


def splits_table(manifest: dict) -> Table:
    """The manifest's splits: pairs, tunes, transposed pairs and bytes of each."""
    from abcmidi_bgpt.corpus.manifest import SPLIT_COLUMNS, split_rows

    table = Table(title="Splits", header_style="bold")
    for column in SPLIT_COLUMNS:
        table.add_column(column, justify="left" if column == "split" else "right")
    for row in split_rows(manifest):
        table.add_row(*row)
    return table
