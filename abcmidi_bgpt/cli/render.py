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
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB, Task, WorkerPool
from abcmidi_bgpt.reports.render import (
    FORMATS,
    ToolMissing,
    find_soundfont,
    png_of,
    render_in_worker,
    wav_of,
)

MIDI_SUFFIXES = (".mid", ".midi")


def page_paths(path: Path, pages: int) -> list[Path]:
    """``score.svg`` for a one-page score; ``score.svg``, ``score-2.svg``, ... for more."""
    return [path] + [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(2, pages + 1)]


def check_tools(formats: set[str], soundfont: Path | None) -> None:
    """Raise ToolMissing for the first format whose tool is not installed."""
    import shutil

    if formats & {"svg", "png"}:
        try:
            import verovio  # noqa: F401
        except ImportError:
            raise ToolMissing("verovio", "pip install verovio") from None
    if "png" in formats:
        png_of('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    if "wav" in formats:
        if shutil.which("fluidsynth") is None:
            raise ToolMissing("FluidSynth", "apt install fluidsynth fluid-soundfont-gm")
        find_soundfont(soundfont)


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
    kind = "mid" if input.suffix.lower() in MIDI_SUFFIXES else "abc"
    task = Task((str(input), kind, tune, tuple(sorted(formats))), timeout)
    with WorkerPool(1, memory) as pool:
        _, outcome = next(pool.run(render_in_worker, [task]))
    if not outcome.ok:
        print_error(f"{input}: {outcome.reason}")
        return 1
    rendered, midi = outcome.value
    for w in rendered.warnings:
        print_warning(f"{input.name}: {w}")
    if "wav" in formats:
        try:
            rendered.files["wav"] = [wav_of(midi, soundfont, str(input))]
        except ConversionError as e:
            print_error(e)
            return 1
    for path in outputs:
        pages = rendered.files[path.suffix.lower().lstrip(".")]
        for page_path, data in zip(page_paths(path, len(pages)), pages, strict=True):
            write_atomic(page_path, data)
            console.print(f"wrote {page_path}", highlight=False)
    return 0
