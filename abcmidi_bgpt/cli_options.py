"""What the command modules of the CLI share: the consoles and the option types."""

from __future__ import annotations

import enum

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class Direction(enum.StrEnum):
    abc2mid = "abc2mid"
    mid2abc = "mid2abc"
    both = "both"


class Precision(enum.StrEnum):
    auto = "auto"
    bf16 = "bf16"
    fp32 = "fp32"
