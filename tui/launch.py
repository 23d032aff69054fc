"""Starting a training run from the TUI: ``abcmidi-bgpt train`` as a process of its own.

The run is the command line's (one code path for a run, whoever starts it), started in a new
session so that it outlives the interface: quitting the TUI, or closing its terminal, does not
stop it, and the training screen reattaches to its folder. What it prints goes to
``RUN/train.out``; what the screen shows comes from the run's own ``log.csv``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from abcmidi_bgpt.bgpt.dataset import MANIFEST
from abcmidi_bgpt.bgpt.model_folder import STATE_JSON

OUTPUT_FILE = "train.out"
MODELS = ("tiny", "small", "paper")  # the train command's named configs
DIRECTIONS = ("abc2mid", "mid2abc", "both")


class CannotStart(ValueError):
    """A run that cannot be started as asked (the reason names the field)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A training run as the start dialog asks for it: the train command's main options. An
    option left None is the config file's, or the command's default without one."""

    corpus: Path
    out: Path
    model: str | None = None
    direction: str | None = None
    train_split: str | None = None
    max_steps: int | None = None  # 0: from the epochs
    config: Path | None = None  # a TOML/YAML file of train options; the fields above override
    resume: bool = False

    def argv(self) -> list[str]:
        """The command that runs it, with this Python (the TUI's own installation)."""
        args = [sys.executable, "-m", "abcmidi_bgpt", "train"]
        options = {
            "--config": self.config, "--corpus": self.corpus, "--out": self.out,
            "--model": self.model, "--direction": self.direction,
            "--train-split": self.train_split, "--max-steps": self.max_steps,
        }  # fmt: skip
        for option, value in options.items():
            if value is not None:
                args += [option, str(value)]
        return args + (["--resume"] if self.resume else [])


def check(request: RunRequest) -> None:
    """Raise :class:`CannotStart` when the run cannot start: the train command would refuse
    it at once, and the dialog says why before a process is started."""
    if not (request.corpus / MANIFEST).is_file():
        raise CannotStart(f"corpus: {request.corpus} is not a built corpus (no {MANIFEST})")
    if request.config is not None and not request.config.is_file():
        raise CannotStart(f"config: no such file: {request.config}")
    if request.model not in (None, *MODELS):
        raise CannotStart(f"model: one of {', '.join(MODELS)}")
    if request.direction not in (None, *DIRECTIONS):
        raise CannotStart(f"direction: one of {', '.join(DIRECTIONS)}")
    if request.max_steps is not None and request.max_steps < 0:
        raise CannotStart("steps: 0 (one epoch) or more")
    holds_run = (request.out / "last" / STATE_JSON).is_file()
    if holds_run and not request.resume:
        raise CannotStart(f"run folder: {request.out} holds a run: resume it or pick another")
    if request.resume and not holds_run:
        raise CannotStart(f"run folder: {request.out} holds no run to resume")


def start(request: RunRequest) -> int:
    """Check and start the run; its process id. The process is not waited for: it runs on
    when the interface ends, and its folder says how it goes."""
    check(request)
    request.out.mkdir(parents=True, exist_ok=True)
    with (request.out / OUTPUT_FILE).open("ab") as output:
        process = subprocess.Popen(
            request.argv(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: no hang-up when the terminal goes
        )
    return process.pid
