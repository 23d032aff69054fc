"""The ``abcmidi-bgpt tui`` command. Textual is imported only when the command runs, so the
other commands start without it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def tui_command(
    folder: Annotated[
        Path,
        typer.Argument(help="Folder of ABC and MIDI files to open.", show_default="."),
    ] = Path("."),
    engine: Annotated[str, typer.Option(help="Engine to start with: symbolic, abc2midi, bgpt.")] = (
        "symbolic"
    ),
    checkpoint: Annotated[
        Path | None, typer.Option(help="bGPT checkpoint, for --engine bgpt.")
    ] = None,
) -> None:
    """Browse, edit and convert tunes in a terminal UI: ABC <-> MIDI, round trips, engine
    comparison and batch conversion."""
    from abcmidi_bgpt.engines.registry import EngineSpec, engine_class, engine_names

    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder", param_hint="FOLDER")
    if engine not in engine_names():
        raise typer.BadParameter(
            f"unknown engine {engine!r} (known: {', '.join(engine_names())})", param_hint="--engine"
        )
    if checkpoint and not engine_class(engine).needs_model:
        raise typer.BadParameter(f"{engine} runs no model", param_hint="--checkpoint")
    from abcmidi_bgpt.tui.app import AbcMidiApp

    spec = EngineSpec.of(engine, checkpoint=str(checkpoint) if checkpoint else None)
    AbcMidiApp(folder, spec).run()
