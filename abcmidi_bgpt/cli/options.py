"""What the command modules of the CLI share: the consoles, one-line messages, option types."""

from __future__ import annotations

import enum

from rich.console import Console
from rich.text import Text

console = Console()
err_console = Console(stderr=True)
# -h as well as --help, on every command (click passes context settings down to subcommands)
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def print_error(message: str | BaseException, prefix: str = "error") -> None:
    """One line on standard error, whatever the terminal's width: never wrapped (users grep
    these), never read as rich markup (a file may be named ``[red].abc``)."""
    text = " ".join(str(message).split("\n")).strip() or type(message).__name__
    style = "red" if prefix == "error" else "yellow"
    line = Text.assemble((f"{prefix}: ", style), text) if prefix else Text(text)
    err_console.print(line, soft_wrap=True, highlight=False)


def print_warning(message: str) -> None:
    """A warning, one line on standard error (see :func:`print_error`)."""
    print_error(message, prefix="warning")


class DirectionChoice(enum.StrEnum):
    """--direction: one of :class:`abcmidi_bgpt.core.direction.Direction`, or both."""

    abc2mid = "abc2mid"
    mid2abc = "mid2abc"
    both = "both"


class Precision(enum.StrEnum):
    auto = "auto"
    bf16 = "bf16"
    fp32 = "fp32"
