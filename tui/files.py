"""The ABC pane's text as a tune, and where and how the app saves what it shows. Nothing here
imports Textual."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes


def tune_from_text(text: str, original: AbcTune | None, source: str = "") -> AbcTune:
    """The text of the ABC pane as a tune, keeping the file header and place of the tune it
    was loaded from; raises :class:`ConversionError` when the text is not one tune."""
    tunes = split_tunes(text, source)
    if len(tunes) != 1:
        raise ConversionError(
            f"the ABC pane holds {len(tunes)} tunes; convert one at a time", source
        )
    tune = tunes[0]
    if original is None:
        return tune
    return dataclasses.replace(
        tune, header=original.header, index=original.index, line=original.line
    )


def suggest_output_path(
    source: Path, tune: AbcTune | None, suffix: str, tunes_in_file: int
) -> Path:
    """Where to save a converted or edited item by default: beside its source, named after
    it, with the tune's X: number when its file holds several tunes."""
    stem = source.stem
    if tune is not None and tunes_in_file > 1:
        stem = f"{stem}_{tune.number or tune.index + 1}"
    return source.with_name(f"{stem}{suffix}")


def save_output(path: Path, data: bytes, overwrite: bool = False) -> None:
    """Write a file atomically; an existing file is kept unless ``overwrite``."""
    if path.is_dir():
        raise ConversionError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise ConversionError(f"{path.name} exists; confirm to overwrite it")
    write_atomic(path, data)


def readable_text(path: Path) -> str:
    """The text of a file that holds no tune, to show it; '' when it is no text at all."""
    try:
        return read_abc_file(path)
    except (ConversionError, OSError):
        return ""


def render_output_path(source: Path, tune: AbcTune | None, suffix: str, tunes_in_file: int) -> Path:
    """Where the score or audio of an item goes by default: beside its source, named after it
    and, in a file of several tunes, the tune's X: number (``book_X16.svg``)."""
    stem = source.stem
    if tune is not None and tunes_in_file > 1:
        stem = f"{stem}_X{tune.number}" if tune.number else f"{stem}_{tune.index + 1}"
    return source.with_name(f"{stem}{suffix}")
