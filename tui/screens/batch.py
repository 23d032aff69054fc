"""Batch conversion of a folder, with a progress bar, a results table and cancel."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Header,
    Input,
    Label,
    ProgressBar,
    RadioSet,
    Static,
)

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.engines.batch import BatchPlan, BatchReport, JobResult, convert_paths
from abcmidi_bgpt.engines.registry import EngineSpec

from ..engines import describe_engine
from ..widgets.key_footer import KeyFooter
from ..widgets.library_tree import relative_name
from ..widgets.toggles import MarkedCheckbox, MarkedRadioButton

STATUS_STYLES = {"converted": "green", "failed": "bold red", "skipped": "yellow"}
MAX_WORKERS = 4


def batch_workers() -> int:
    """Worker processes for a batch: the CPUs this process may use, less one for the
    interface, at most MAX_WORKERS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 2
    return max(1, min(MAX_WORKERS, cpus - 1))


class BatchScreen(Screen[bool]):
    """Converts every tune (or MIDI file) under a folder; dismisses with True when files were
    written, so the file tree can be read again."""

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("escape", "cancel_or_close", "Cancel / back"),
    ]

    running: reactive[bool] = reactive(False)

    def __init__(self, folder: Path, root: Path, spec: EngineSpec) -> None:
        super().__init__()
        self.folder = folder
        self.root = root
        self.spec = spec
        self.cancel_event = threading.Event()
        self.planned = 0
        self.results: list[JobResult] = []
        self.wrote = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(
            Text.assemble(
                ("Batch convert ", "bold"),
                (self._shown(self.folder) + "/", "bold #d7af87"),
                f"  with {describe_engine(self.spec)}",
            ),
            id="batch-title",
        )
        with Vertical(id="batch-form"):
            with Horizontal(classes="batch-row"):
                yield Label("Direction", classes="batch-label")
                with RadioSet(id="batch-direction"):
                    for direction in Direction:
                        yield MarkedRadioButton(
                            direction.arrow,
                            value=direction == Direction.ABC_TO_MIDI,
                            name=direction.value,
                        )
            with Horizontal(classes="batch-row"):
                yield Label("Output folder", classes="batch-label")
                yield Input(self._shown(self.root / "out"), id="batch-out-dir")
                yield MarkedCheckbox("overwrite existing", id="batch-force")
            with Horizontal(classes="batch-row buttons"):
                yield Button("Start", variant="primary", id="batch-start")
                yield Button("Cancel", variant="error", id="batch-cancel", disabled=True)
        yield ProgressBar(total=1, show_eta=False, id="batch-progress")
        yield Static(Text("Press Start (s) to convert.", style="dim"), id="batch-summary")
        yield DataTable(id="batch-results", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("input", "result", "output", "message")
        self.query_one("#batch-start", Button).focus()

    def on_unmount(self) -> None:
        self.cancel_event.set()  # leaving (or quitting) stops the batch after the jobs under way

    def _shown(self, path: Path | str) -> str:
        """Paths (and input labels, which start with one) as the file tree names them."""
        return relative_name(Path(path), self.root)

    def _out_dir(self) -> Path:
        typed = Path(self.query_one("#batch-out-dir", Input).value.strip() or "out").expanduser()
        return typed if typed.is_absolute() else self.root / typed

    def _direction(self) -> Direction:
        pressed = self.query_one(RadioSet).pressed_button
        return (
            Direction(pressed.name)
            if pressed is not None and pressed.name
            else Direction.ABC_TO_MIDI
        )

    def watch_running(self, running: bool) -> None:
        self.query_one("#batch-start", Button).disabled = running
        self.query_one("#batch-cancel", Button).disabled = not running
        for widget in self.query("#batch-form RadioSet, #batch-form Input, #batch-form Checkbox"):
            widget.disabled = running

    @on(Button.Pressed, "#batch-start")
    def action_start(self) -> None:
        if self.running:
            return
        self.cancel_event = threading.Event()
        self.results = []
        self.planned = 0
        self.query_one(DataTable).clear()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self._summary(Text("planning…", style="dim"))
        self.running = True
        self.run_batch(
            self._direction(),
            self._out_dir(),
            self.query_one("#batch-force", Checkbox).value,
        )

    @on(Button.Pressed, "#batch-cancel")
    def cancel(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            self._summary(Text("cancelling: finishing the conversions under way…", style="yellow"))

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.dismiss(self.wrote)

    @work(thread=True, exclusive=True, group="batch", exit_on_error=False)
    def run_batch(self, direction: Direction, out_dir: Path, force: bool) -> None:
        """convert_paths in a worker thread: it runs the conversions in a process pool and
        checks ``cancel_event`` between them."""

        def call(callback, *args) -> None:
            with contextlib.suppress(RuntimeError):  # the app closed while the batch ran
                self.app.call_from_thread(callback, *args)

        try:
            report = convert_paths(
                [self.folder],
                direction.target,
                out_dir,
                self.spec,
                force=force,
                workers=batch_workers(),
                on_planned=lambda plan: call(self._planned, plan),
                on_result=lambda result: call(self._add_result, result),
                cancel=self.cancel_event,
            )
        except Exception as err:  # the batch runner's bug must not take the app down
            call(self._failed, f"batch stopped: {type(err).__name__}: {err}")
            return
        call(self._finished, report)

    def _planned(self, plan: BatchPlan) -> None:
        self.planned = len(plan.jobs)
        self.query_one(ProgressBar).update(total=max(1, len(plan.jobs)), progress=0)
        for early in plan.early:
            self._row(early)
        self._summary(Text(f"converting {len(plan.jobs)} inputs…"))

    def _add_result(self, result: JobResult) -> None:
        self.results.append(result)
        self.wrote = self.wrote or result.status == "converted"
        self.query_one(ProgressBar).advance(1)
        self._row(result)

    def _row(self, result: JobResult) -> None:
        table = self.query_one(DataTable)
        message = result.reason
        if result.status == "converted" and result.warnings:
            message = f"⚠ {result.warnings[0]}" + (
                f" (+{len(result.warnings) - 1})" if len(result.warnings) > 1 else ""
            )
        table.add_row(
            Text(self._shown(result.label)),
            Text(result.status, style=STATUS_STYLES.get(result.status, "")),
            Text(self._shown(result.output) if result.output else ""),
            Text(message),
        )

    def _finished(self, report: BatchReport) -> None:
        self.running = False
        done = len(self.results)
        counts = {s: report.count(s) for s in ("converted", "failed", "skipped")}
        text = Text()
        if self.cancel_event.is_set() and done < self.planned:
            text.append(f"cancelled after {done} of {self.planned}: ", style="bold yellow")
        else:
            text.append("done: ", style="bold green")
        text.append(f"{counts['converted']} converted", style="green")
        text.append(" · ")
        text.append(f"{counts['failed']} failed", style="red" if counts["failed"] else "")
        text.append(" · ")
        text.append(f"{counts['skipped']} skipped", style="yellow" if counts["skipped"] else "")
        if counts["skipped"]:
            text.append("  (tick overwrite to replace existing outputs)", style="dim")
        self._summary(text)

    def _failed(self, message: str) -> None:
        self.running = False
        self._summary(Text(f"✗ {message}", style="bold red"))
        self.app.notify(message, severity="error", markup=False)

    def _summary(self, text: Text) -> None:
        self.query_one("#batch-summary", Static).update(text)
