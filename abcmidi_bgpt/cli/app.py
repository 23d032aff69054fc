"""The ``abcmidi-bgpt`` command line: a thin layer over the library.

Why one module of over 400 lines: the app and its main command, convert, whose options (both
directions, every engine, limits, outputs) are most of the product's surface, read together.
"""

from __future__ import annotations

import contextlib
import enum
import json
import sys
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from abcmidi_bgpt import __version__
from abcmidi_bgpt.bgpt.model_folder import packaged_model_note
from abcmidi_bgpt.cli.compare import compare_command
from abcmidi_bgpt.cli.corpus import corpus_app
from abcmidi_bgpt.cli.model import evaluate_command, import_official_command, train_command
from abcmidi_bgpt.cli.options import (
    HELP_OPTIONS,
    Precision,
    console,
    err_console,
    print_error,
    print_warning,
)
from abcmidi_bgpt.cli.render import render_command
from abcmidi_bgpt.cli.streams import STDIO, convert_to_one, is_stdio, stdin_to_file
from abcmidi_bgpt.cli.tui import tui_command
from abcmidi_bgpt.core.errors import ModelError
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB
from abcmidi_bgpt.engines.batch import (
    DEFAULT_TIMEOUT_S,
    BatchPlan,
    BatchReport,
    JobResult,
    convert_paths,
    inferred_target,
    input_suffixes,
)
from abcmidi_bgpt.engines.registry import ENGINES, EngineSpec, engine_names

app = typer.Typer(
    help="Convert between ABC notation and MIDI, with a symbolic converter or a bGPT model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"abcmidi-bgpt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Convert between ABC notation and MIDI, with a symbolic converter or a bGPT model."""


class Format(enum.StrEnum):
    mid = "mid"
    abc = "abc"


# --engine's choices and help, from the registry.
EngineName = enum.StrEnum("EngineName", {name: name for name in engine_names()})
ENGINE_HELP = "Engine: " + "; ".join(f"{n}: {ENGINES[n].summary}" for n in engine_names()) + "."


class Reader(enum.StrEnum):
    native = "native"
    abc2xml = "abc2xml"


class Fallback(enum.StrEnum):
    none = "none"
    symbolic = "symbolic"


class Drums(enum.StrEnum):
    voice = "voice"
    drop = "drop"


@app.command()
def convert(
    paths: Annotated[
        list[Path], typer.Argument(help="ABC or MIDI files, or folders (searched recursively).")
    ],
    to: Annotated[
        Format | None,
        typer.Option(
            help="Target format: 'mid' (from ABC) or 'abc' (from MIDI); by default the inputs' "
            "own: MIDI files become ABC, ABC files MIDI."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder (created if needed).")] = Path("out"),
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="One output file instead of a folder ('-': standard output, the default when "
            "the input is '-', standard input); the summary then goes to standard error.",
        ),
    ] = None,
    engine: Annotated[EngineName, typer.Option(help=ENGINE_HELP)] = EngineName.symbolic,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes (not for bgpt).")] = 1,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="List every warning, with its file and tune.")
    ] = False,
    log: Annotated[
        Path | None,
        typer.Option(
            help="Also keep every result (input, status, reason, warnings) as JSON lines."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    chords: Annotated[
        bool | None,
        typer.Option(
            "--chords/--no-chords",
            help="Play chord symbols as an accompaniment track (default: no; bgpt: yes, as "
            "the corpus renders them, for its checks and fallback).",
        ),
    ] = None,
    reader: Annotated[
        Reader,
        typer.Option(
            help="ABC->MIDI: how the symbolic converter reads ABC: native, or through abc2xml's "
            "MusicXML (about 8 times slower; kept to compare)."
        ),
    ] = Reader.native,
    track: Annotated[
        int | None, typer.Option(help="MIDI->ABC: take the melody from this track.")
    ] = None,
    channel: Annotated[
        int | None, typer.Option(help="MIDI->ABC: take the melody from this channel.")
    ] = None,
    drums: Annotated[
        Drums,
        typer.Option(
            help="MIDI->ABC: drums (channel 10) as a percussion voice, or dropped with a note."
        ),
    ] = Drums.voice,
    timeout: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds allowed per tune, then it is stopped (0: no limit)."),
    ] = DEFAULT_TIMEOUT_S,
    memory: Annotated[
        float,
        typer.Option(min=0.0, help="GiB of memory each worker process may use (0: no limit)."),
    ] = DEFAULT_MEMORY_GIB,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="bgpt: model folder (config.json + model.safetensors) or training run folder; "
            f"{packaged_model_note()}."
        ),
    ] = None,
    fallback: Annotated[
        Fallback,
        typer.Option(help="bgpt: when an output fails its checks, write the symbolic result."),
    ] = Fallback.none,
    min_f1: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="bgpt: also refuse outputs whose note F1 against the symbolic converter is "
            "lower (0: off).",
        ),
    ] = 0.0,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, help="bgpt: sample at this temperature (0: greedy).")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option(min=0, help="bgpt: sample from the k most likely bytes.")
    ] = None,
    top_p: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="bgpt: nucleus sampling threshold.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="bgpt: seed of the sampling.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="bgpt: files generated together.")] = 32,
    device: Annotated[str, typer.Option(help="bgpt: auto, cpu, cuda, cuda:N.")] = "auto",
    dtype: Annotated[
        Precision, typer.Option(help="bgpt: weights' precision; auto is bf16 on CUDA.")
    ] = Precision.auto,
) -> None:
    """Convert ABC tunes to MIDI (one .mid per tune) or MIDI files to ABC.

    `-` reads standard input and, unless -o names a file, writes standard output:
    `cat tune.abc | abcmidi-bgpt convert - > tune.mid`.

    Bad inputs fail one at a time with a one-line reason; the rest of the batch goes on and the
    exit code is 1 if anything failed (or if there was nothing to convert). Each input is
    converted in a worker process, stopped at --timeout and held to --memory. Outputs are
    written atomically, never outside --out, and existing ones are kept unless --force. --out
    may be the input folder: outputs then go next to their inputs. With --engine bgpt (run in
    this process: no memory limit, the time limit best effort) every output is checked
    (complete, valid, notes scored against the symbolic converter) and one that fails is not
    written, or is replaced by the symbolic result with --fallback symbolic; greedy decoding
    unless --temperature/--top-k/--top-p.
    """
    streaming = output is not None or any(is_stdio(p) for p in paths)
    with contextlib.ExitStack() as stack:
        if streaming:  # stdin as a file, outputs in a temporary folder, one of them delivered
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="abcmidi-")))
            paths = [stdin_to_file(folder) if is_stdio(p) else p for p in paths]
            out, output = folder / "out", output if output is not None else Path(STDIO)
        if to is None:
            target = inferred_target(paths, out)
            if target is None:
                print_error("both ABC and MIDI files among the inputs: choose --to mid or --to abc")
                raise typer.Exit(2)
            to = Format(target)
        if ENGINES[engine].needs_model:
            from abcmidi_bgpt.bgpt.model_folder import resolve_checkpoint

            try:
                model = resolve_checkpoint(checkpoint)  # once: the engine loads this folder
            except ModelError as err:
                print_error(err)
                raise typer.Exit(2) from None
            options = {
                "checkpoint": str(model),
                "fallback": fallback.value,
                "min_f1": min_f1 or None,
                "chords": chords,
                "track": track,
                "channel": channel,
                "temperature": temperature,
                "top_k": top_k,
                "top_p": top_p,
                "seed": seed,
                "batch_size": batch_size,
                "device": device,
                "dtype": dtype.value,
            }
        else:
            bgpt_only = _bgpt_only_options(
                checkpoint=checkpoint, fallback=fallback != Fallback.none, min_f1=min_f1,
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
            )  # fmt: skip
            if bgpt_only:
                print_error(f"{', '.join(bgpt_only)} only apply to --engine bgpt")
                raise typer.Exit(2)
            options = (
                {"chords": bool(chords), "reader": reader.value}
                if to == Format.mid
                else {"track": track, "channel": channel, "drums": drums.value}
            )
            if engine != "symbolic":
                options = {}
        spec = EngineSpec.of(engine.value, **options)
        if streaming:
            raise typer.Exit(
                convert_to_one(paths, to.value, out, output, spec, force, timeout, memory)
            )
        report = run_with_progress(paths, to.value, out, spec, force, jobs, timeout, memory)
        if not report.results:
            suffixes = "/".join(input_suffixes(to.value))
            print_error(f"nothing to convert: no {suffixes} files in {', '.join(map(str, paths))}")
            raise typer.Exit(1)
        print_report(report, out, verbose)
        if log is not None:
            write_log(report, log)
        if report.count("failed"):
            raise typer.Exit(1)


def _bgpt_only_options(**given) -> list[str]:
    return [f"--{name.replace('_', '-')}" for name, value in given.items() if value]


def run_with_progress(paths, to, out, spec, force, jobs, timeout, memory) -> BatchReport:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}", style="dim"),
        console=err_console,
        transient=False,
    )
    task = progress.add_task("converting", total=None, last="")

    def planned(plan: BatchPlan) -> None:
        progress.update(task, total=len(plan.jobs))

    def step(result: JobResult) -> None:
        progress.update(task, advance=1, last=Path(result.label).name[:40])

    cancel = threading.Event()
    with progress:
        try:
            return convert_paths(
                paths,
                to,
                out,
                spec,
                force,
                jobs,
                timeout,
                on_planned=planned,
                on_result=step,
                cancel=cancel,
                memory_gib=memory,
            )
        except KeyboardInterrupt:
            cancel.set()
            print_error("stopped; finished outputs are kept", "interrupted")
            raise typer.Exit(130) from None


def write_log(report: BatchReport, path: Path) -> None:
    """Every result as one JSON object a line (written atomically)."""
    lines = [
        json.dumps(
            {
                "input": r.label,
                "status": r.status,
                "output": r.output,
                "reason": r.reason,
                "warnings": r.warnings,
            },
            ensure_ascii=False,
        )  # fmt: skip
        for r in report.results
    ]
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))


def print_report(report: BatchReport, out: Path, verbose: bool = False) -> None:
    converted, failed, skipped = (report.count(s) for s in ("converted", "failed", "skipped"))
    warned = sum(1 for r in report.results if r.status == "converted" and r.warnings)
    total_s = report.seconds
    rate = converted / total_s if total_s > 0 else 0.0
    table = Table(title=f"Conversion summary ({out})", show_header=True, header_style="bold")
    table.add_column("result")
    table.add_column("count", justify="right")
    fallbacks = [r for r in report.results if r.status == "converted" and r.fallback]
    scores = [
        r.note_f1 for r in report.results if r.status == "converted" and r.note_f1 is not None
    ]
    table.add_row("[green]converted[/green]", str(converted))
    table.add_row("  with warnings", str(warned))
    if fallbacks:
        table.add_row("  [yellow]symbolic fallback[/yellow]", str(len(fallbacks)))
    if scores:
        table.add_row(
            "  note F1 vs symbolic", f"mean {sum(scores) / len(scores):.3f}, min {min(scores):.3f}"
        )
    table.add_row("[yellow]skipped[/yellow]", str(skipped))
    table.add_row("[red]failed[/red]", str(failed))
    table.add_row("time", f"{total_s:.1f} s ({rate:.1f} per s)")
    console.print(table)
    for r in report.failed:
        print_error(f"{r.label}: {r.reason}", prefix="failed")
    if verbose:
        for r in report.results:
            for w in r.warnings:
                print_warning(f"{r.label}: {w}")
    elif warned:
        print_warning(f"{warned} output(s) with warnings; -v lists them")
    for r in fallbacks:
        print_error(f"{r.label}: {r.fallback}", prefix="symbolic fallback")
    if skipped:
        print_warning(f"{skipped} existing output(s) kept; use --force to overwrite")


# The other commands live in their own modules, which import their heavy libraries (torch,
# Textual, the corpus builder) only when they run.
app.command("render")(render_command)
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)
app.command("import-official")(import_official_command)
app.command("compare")(compare_command)
app.command("tui")(tui_command)
app.add_typer(corpus_app, name="corpus")


def main() -> None:  # pragma: no cover - entry point for python -m
    app(prog_name="abcmidi-bgpt")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
