"""The training screen: start a training run, or attach to one by its folder, and watch its
curves as it runs.

A run (``abcmidi-bgpt train --out RUN``) is a separate process that writes ``log.csv`` and
its checkpoints (``last/``, ``best/``); this screen only reads them. Every two seconds it
looks at the log's modification time, and when the log has changed it reads the run again
in a thread worker (:func:`read_run`), so the interface never waits on the files.
``ctrl+n`` opens the dialog that starts a run (:mod:`..launch`: the train command as a
process of its own, which goes on when the interface quits) and attaches to its folder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Static
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.bgpt.train import RUN_JSON, read_log
from abcmidi_bgpt.core.errors import first_line

from ..launch import OUTPUT_FILE, CannotStart, RunRequest, start
from ..widgets.curves import CurvePlot, Series
from ..widgets.key_footer import KeyFooter
from .start_run import StartRunScreen

POLL_S = 2.0
# The validation BPB of each direction's target file: what a converter is judged by.
TARGET_BPB = {
    "val_abc2mid_bpb_midi": "abc2mid: BPB_midi",
    "val_mid2abc_bpb_abc": "mid2abc: BPB_abc",
}
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, csv.Error)
HELP = (
    "ctrl+n starts a run. Enter attaches the folder typed; an empty path detaches. A run is a "
    "separate process "
    "and this screen only reads its files (log.csv every 2 s, last/), so training goes on "
    "when the screen is closed or the app quits."
)


class NotARun(Exception):
    """The folder is not a training run folder."""


@dataclass(frozen=True)
class RunView:
    """What the screen shows of a run, as read from its folder."""

    folder: Path
    stamp: tuple[int, int]  # log.csv's modification time (ns) and size
    model: str
    direction: str
    split: str
    step: int
    total_steps: int
    elapsed_s: float | None
    bytes_per_s: float | None
    loss: dict[str, Series]
    val_bpb: dict[str, Series]

    def summary(self) -> str:
        parts = [self.model, self.direction, f"split {self.split}"]
        parts.append(f"step {self.step} of {self.total_steps or '?'}")
        if self.elapsed_s is not None:
            parts.append(f"{duration(self.elapsed_s)} elapsed")
        if self.bytes_per_s is not None:
            parts.append(f"{self.bytes_per_s:,.0f} bytes/s")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def log_stamp(folder: Path) -> tuple[int, int]:
    """log.csv's modification time and size: the log has changed when these have."""
    if not folder.is_dir():
        raise NotARun(f"no such folder: {folder}")
    log = folder / "log.csv"
    if not log.is_file():
        raise NotARun(f"not a training run: {folder} has no log.csv")
    stat = log.stat()
    return stat.st_mtime_ns, stat.st_size


def _series(rows: list[dict], column: str) -> Series:
    points = [(int(r["step"]), float(r[column])) for r in rows if r.get(column)]
    return [s for s, _ in points], [v for _, v in points]


def _last(rows: list[dict], column: str) -> float | None:
    values = [float(r[column]) for r in rows if r.get(column)]
    return values[-1] if values else None


MAX_JSON_BYTES = 1 << 20  # a run's JSON files are a few KB; a folder typed may hold anything


def _read_json(path: Path) -> dict:
    """A run's JSON object ({} when the file is absent); ValueError when it is not one."""
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path.name} is over {MAX_JSON_BYTES} bytes")
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _object(value: object) -> dict:
    """A JSON value that should be an object: {} when it is anything else."""
    return value if isinstance(value, dict) else {}


def read_run(folder: Path) -> RunView:
    """Read a run folder: its log and its settings (``run.json``, written as the run starts;
    a run from before it has them in ``last/config.json``, the TrainConfig as metadata, and
    ``last/train_state.json``)."""
    stamp = log_stamp(folder)
    rows = read_log(folder / "log.csv")
    started = _read_json(folder / RUN_JSON)
    metadata = _object(_read_json(folder / "last" / "config.json").get("metadata"))
    settings = _object(started.get("train")) or _object(metadata.get("train"))
    position = _object(_read_json(folder / "last" / "train_state.json").get("position"))
    total = started.get("total_steps") or settings.get("max_steps") or position.get("total_steps")
    model = str(settings.get("model", "?"))
    if settings.get("arch"):
        model += f" ({settings['arch']})"
    steps = [int(r["step"]) for r in rows if r.get("step")]
    return RunView(
        folder=folder,
        stamp=stamp,
        model=model,
        direction=str(settings.get("direction", "?")),
        split=str(settings.get("train_split", "?")),
        step=max(steps, default=int(position.get("step", 0))),
        total_steps=int(total or 0),
        elapsed_s=_last(rows, "elapsed_s"),
        bytes_per_s=_last(rows, "bytes_per_s"),
        loss={"train": _series(rows, "train_loss"), "validation": _series(rows, "val_loss")},
        val_bpb={label: _series(rows, column) for column, label in TARGET_BPB.items()},
    )


class TrainingScreen(Screen[None]):
    """Watch a training run: its settings, its progress, its loss and validation BPB."""

    BINDINGS = [
        Binding("ctrl+n", "start_run", "New run"),  # "n" would type into the path field
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__()
        self.start_folder = folder
        self.folder: Path | None = None  # the run attached
        self.stamp: tuple[int, int] | None = None  # of the log last shown
        self.process_id: int | None = None  # of the run started here last

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="training-path-row"):
            yield Label("Run folder", id="run-path-label")
            yield Input(
                str(self.start_folder or ""),
                placeholder="a folder written by abcmidi-bgpt train --out RUN",
                id="run-path",
            )
        yield Static("No run attached.", id="run-summary")
        with Horizontal(id="run-plots"):
            yield CurvePlot("Loss", "nats per byte", id="loss-plot")
            yield CurvePlot("Validation BPB", "bits per byte", id="bpb-plot")
        yield Static(Text(HELP, style="dim"), id="training-help")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#run-path", Input).focus()
        self.set_interval(POLL_S, self.poll)
        if self.start_folder is not None:
            self.attach(self.start_folder)

    @property
    def summary(self) -> Static:
        return self.query_one("#run-summary", Static)

    def attach(self, folder: Path | None) -> None:
        """Watch this run folder (None: none); the plots are cleared until it is read."""
        self.folder, self.stamp = folder, None
        self.query_one("#loss-plot", CurvePlot).show({})
        self.query_one("#bpb-plot", CurvePlot).show({})
        self.summary.update("No run attached." if folder is None else f"Reading {folder} …")
        self.poll()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.attach(Path(text).expanduser() if text else None)

    def poll(self) -> None:
        if self.folder is not None:
            self.load(self.folder, self.stamp)

    @work(thread=True, exclusive=True, group="training-run")
    def load(
        self, folder: Path, known: tuple[int, int] | None
    ) -> tuple[Path, RunView | str | None]:
        """The run read again (None when its log has not changed), or why it cannot be."""
        try:
            if log_stamp(folder) == known:
                return folder, None
            return folder, read_run(folder)
        except NotARun as err:
            return folder, str(err)
        except READ_ERRORS as err:
            return folder, f"cannot read the run in {folder}: {first_line(err)}"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "training-run" or event.state != WorkerState.SUCCESS:
            return
        folder, result = event.worker.result
        if folder != self.folder or result is None:  # detached since, or unchanged
            return
        if isinstance(result, str):
            self.stamp = None  # read it again once it can be
            self.summary.update(Text(result, style="bold red"))
            return
        self.stamp = result.stamp
        self.summary.update(Text(result.summary(), style="bold"))
        self.query_one("#loss-plot", CurvePlot).show(result.loss)
        self.query_one("#bpb-plot", CurvePlot).show(result.val_bpb)

    def action_start_run(self) -> None:
        self.app.push_screen(StartRunScreen(), self.started)

    def started(self, request: RunRequest | None) -> None:
        """Start the run the dialog returned and attach to its folder."""
        if request is None:
            return
        try:
            self.process_id = start(request)
        except (CannotStart, OSError) as err:
            self.notify(first_line(err), severity="error", markup=False)
            return
        self.notify(
            f"training started (process {self.process_id}); "
            f"its output: {request.out / OUTPUT_FILE}",
            markup=False,
        )
        self.query_one("#run-path", Input).value = str(request.out)
        self.attach(request.out)

    def action_close(self) -> None:
        self.dismiss()
