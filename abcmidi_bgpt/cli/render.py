"""``abcmidi-bgpt render``: an engraved score (SVG, PNG) and audio (WAV) of a tune or MIDI file.

The input is read, converted and engraved in an isolated worker (time and memory limits kept
from outside, as ``convert`` does); FluidSynth runs here as a separate process with its own
time limit. What each format needs is checked before any work, with what to install.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from abcmidi_bgpt.cli.options import console, print_error, print_warning
from abcmidi_bgpt.cli.streams import is_stdio, stdin_to_file
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB
from abcmidi_bgpt.reports.render import FORMATS, check_tools, page_paths, render_isolated


def render_command(
    input: Annotated[Path, typer.Argument(help="An .abc file, a .mid file, or - (stdin).")],
    output: Annotated[
        list[Path] | None,
        typer.Option(
            "--output",
            "-o",
            help="Files to write, the format from the suffix: .svg, .png (score), .wav "
            "(audio). Repeatable. Default: the input's name with .svg, here.",
        ),
    ] = None,
    tune: Annotated[
        int | None, typer.Option(help="The tune X:N of an ABC file (default: its first).")
    ] = None,
    soundfont: Annotated[
        Path | None,
        typer.Option(help="A General MIDI .sf2 (default: $ABCMIDI_SOUNDFONT or the system's)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing output files.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds allowed to read and engrave.")] = 60.0,
    memory: Annotated[
        float, typer.Option(help="GiB of memory allowed to the worker.")
    ] = DEFAULT_MEMORY_GIB,
) -> None:
    """Engrave a tune as a score (SVG or PNG, by verovio) and play it into a WAV (FluidSynth
    with a General MIDI soundfont). A MIDI file is transcribed to ABC for its score and played
    as it is; an ABC tune is played as the symbolic converter renders it.

    \b
    abcmidi-bgpt render tune.abc                      # tune.svg
    abcmidi-bgpt render reels.abc --tune 3 -o reel.svg -o reel.wav
    abcmidi-bgpt render song.mid -o song.png
    """
    with tempfile.TemporaryDirectory(prefix="abcmidi-render-") as tmp:
        if is_stdio(input):
            input = stdin_to_file(Path(tmp))
        code = _render(input, output, tune, soundfont, force, timeout, memory)
    raise typer.Exit(code)


def _render(input, output, tune, soundfont, force, timeout, memory) -> int:
    if not input.is_file():
        print_error(f"{input}: no such file")
        return 2
    outputs = output or [Path(input.stem + ".svg")]
    formats = {p.suffix.lower().lstrip(".") for p in outputs}
    unknown = formats - set(FORMATS)
    if unknown:
        print_error(f"unknown output format .{sorted(unknown)[0]} (known: .svg, .png, .wav)")
        return 2
    existing = [p for p in outputs if p.exists()]
    if existing and not force:
        print_error(f"{existing[0]} exists; use --force to overwrite it")
        return 1
    try:
        check_tools(formats, soundfont)
    except ConversionError as e:
        print_error(e)
        return 1
    try:
        rendered = render_isolated(input, formats, tune, soundfont, timeout, memory)
    except ConversionError as e:
        print_error(e)
        return 1
    for w in rendered.warnings:
        print_warning(f"{input.name}: {w}")
    for path in outputs:
        pages = rendered.files[path.suffix.lower().lstrip(".")]
        for page_path, data in zip(page_paths(path, len(pages)), pages, strict=True):
            write_atomic(page_path, data)
            console.print(f"wrote {page_path}", highlight=False)
    return 0
