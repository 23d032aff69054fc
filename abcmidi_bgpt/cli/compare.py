"""The ``compare`` command of the CLI (registered in ``cli/app.py``). The comparison, torch and
the model are imported inside the command, so that the CLI starts without them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from abcmidi_bgpt.bgpt.model_folder import packaged_model_note, resolve_checkpoint
from abcmidi_bgpt.cli.options import DirectionChoice, Precision, console, print_error
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ModelError


def compare_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="ABC or MIDI files or folders (instead of --corpus)."),
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="A built corpus folder: compare on one of its splits.")
    ] = None,
    split: Annotated[str, typer.Option(help="Corpus split.")] = "test",
    limit: Annotated[int, typer.Option(min=0, help="First N tunes of the split (0: all).")] = 0,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help=f"bgpt model folder or training run; {packaged_model_note()}."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.md, tunes.csv, figures.")] = Path(
        "comparison"
    ),
    direction: Annotated[DirectionChoice, typer.Option(help="abc2mid, mid2abc or both.")] = (
        DirectionChoice.both
    ),
    engine: Annotated[
        list[str] | None,
        typer.Option(help="Engines to compare (repeat); default bgpt, symbolic, abc2midi."),
    ] = None,
    worst: Annotated[int, typer.Option(min=0, help="Piano rolls of the N worst bgpt tunes.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, help="bgpt: files generated together.")] = 32,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    dtype: Annotated[Precision, typer.Option(help="auto is bf16 on CUDA.")] = Precision.auto,
    abc2midi_check: Annotated[
        bool, typer.Option(help="Check ABC outputs with abc2midi too, where installed.")
    ] = True,
) -> None:
    """Compare bGPT with the symbolic converter (and abc2midi/midi2abc where installed) on the
    same tunes, both directions: validity, note F1, tempo/meter/key, exact match, CER, BPB.

    Writes OUT/report.md, OUT/tunes.csv (one row per tune, direction and engine) and figures:
    note F1 histograms and piano rolls of the worst bGPT outputs.
    """
    from abcmidi_bgpt.core.errors import ConversionError
    from abcmidi_bgpt.engines.registry import engine_names
    from abcmidi_bgpt.reports.compare import (
        compare,
        corpus_tunes,
        engine_order,
        file_tunes,
        summarise,
    )
    from abcmidi_bgpt.reports.compare_report import write_report

    if bool(paths) == bool(corpus):
        print_error("give either files/folders or --corpus DIR")
        raise typer.Exit(2)
    engines = engine or None
    unknown = [e for e in engines or [] if e not in engine_names()]
    if unknown:
        print_error(f"unknown engine(s) {', '.join(unknown)} (use {', '.join(engine_order())})")
        raise typer.Exit(2)
    if engines is None or "bgpt" in engines:  # before any work, not after reading the tunes
        try:
            resolve_checkpoint(checkpoint)
        except ModelError as err:
            print_error(f"{err}; or compare without it: --engine symbolic --engine abc2midi")
            raise typer.Exit(2) from None
    left_out: list[str] = []
    try:
        if corpus:
            tunes = corpus_tunes(corpus, split, limit)
            source = f"corpus {corpus}, split {split}"
        else:
            tunes, left_out = file_tunes(paths)
            source = ", ".join(str(p) for p in paths)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print_error(err)
        raise typer.Exit(2) from None
    if not tunes:
        print_error("no tunes to compare")
        raise typer.Exit(2)
    with console.status("comparing") as status:
        try:
            rows = compare(
                tunes,
                str(checkpoint) if checkpoint else None,
                Direction.parse_many(direction.value),
                engines,
                device,
                dtype.value,
                batch_size,
                abc2midi_check,
                on_stage=lambda stage: status.update(f"comparing: {stage}"),
            )
        except ConversionError as err:
            print_error(err)
            raise typer.Exit(2) from None
    title = [f"{len(tunes)} tunes from {source}"]
    if checkpoint or engines is None or "bgpt" in engines:
        title.append(f"bgpt checkpoint: {checkpoint or 'the packaged model'}")
    report = write_report(
        rows, tunes, out, title, worst, left_out, str(checkpoint) if checkpoint else None
    )
    table = Table(title=f"Comparison ({report})")
    for column in ("direction", "engine", "tunes", "valid", "note F1 mean", "median", "tunes/s"):
        table.add_column(column, justify="left" if column in ("direction", "engine") else "right")
    for s in summarise(rows):
        table.add_row(
            s.direction.label,
            s.engine,
            str(s.tunes),
            str(s.valid),
            f"{s.f1_mean:.3f}",
            f"{s.f1_median:.3f}",
            f"{s.tunes_per_s:.2f}",
        )
    console.print(table)
    for message in left_out:
        print_error(message, prefix="left out")
