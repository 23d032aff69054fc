"""Errors the library raises for bad input, as data: where it happened and what was wrong.

A :class:`ConversionError` carries ``where`` (the input as messages name it: a file, a
``file:line X:n`` tune label, '' when the caller names it), ``reason`` (one line) and, where the
fault is on one line of the tune, ``line`` (1-based, counted from the tune's X: line). They are
joined only by ``str()``; code that shows the place apart (a table with a file column, an editor
that marks the line) reads the fields and never parses the text.
"""

from __future__ import annotations

import os


class ConversionError(ValueError):
    """An input that cannot be converted, fit for a one-line batch summary."""

    def __init__(
        self,
        reason: str,
        where: str | os.PathLike = "",
        line: int | None = None,
        column: int | None = None,
    ):
        super().__init__(reason, where, line, column)  # as given: the error pickles to and fro
        self.reason = reason
        self.where = os.fspath(where)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        place = [self.where] if self.where else []
        if self.line is not None:
            place.append(place_text(self.line, self.column))
        return ": ".join([*place, self.reason])


def place_text(line: int, column: int | None = None) -> str:
    """'line 3' or 'line 3, col 7': a place in a tune, as messages write it."""
    return f"line {line}" if column is None else f"line {line}, col {column}"


class InputTooLarge(ConversionError):
    """An input over one of the documented size limits."""


class NoKeyField(ConversionError):
    """A tune without the K: field that ends its header: the fault is the header's."""


class TimeLimitExceeded(ConversionError):
    """A conversion stopped at its time limit."""

    def __init__(self, seconds: float, where: str | os.PathLike = ""):
        super().__init__(f"conversion took over {seconds:g} s; stopped", where)
        self.args = (seconds, where)
        self.seconds = seconds


class ModelError(ValueError):
    """A model, checkpoint, corpus split or training setting that cannot be used: ``where``
    (a path or setting; may be '') and ``reason``."""

    def __init__(self, reason: str, where: str | os.PathLike = ""):
        super().__init__(reason, where)
        self.reason = reason
        self.where = os.fspath(where)

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}" if self.where else self.reason


def reason_of(err: BaseException) -> str:
    """What was wrong, without the place: a structured error's ``reason``, else the first line
    of the message (the error's type when it has none)."""
    if isinstance(err, ConversionError | ModelError):
        return err.reason.splitlines()[0] if err.reason.strip() else type(err).__name__
    return first_line(err)


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or the error's type when the message is empty:
    a one-line reason for a summary."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
