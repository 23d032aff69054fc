"""The evaluation screen: BPB_abc and BPB_midi of a bGPT model on a corpus split, per direction.

The scores are :func:`abcmidi_bgpt.bgpt.evaluate.evaluate_checkpoint`'s, as ``abcmidi-bgpt
evaluate`` prints them: the screen only collects its arguments, runs it in a thread worker and
shows its :class:`~abcmidi_bgpt.bgpt.evaluate.EvaluationReport`. The evaluation tells the screen
how many sequences are scored before each batch, and asks it whether to stop; a cancel stops it
there (a batch under way is finished first), so the screen never waits on the model.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import first_line

from ..widgets.key_footer import KeyFooter

if TYPE_CHECKING:  # the evaluation imports torch: only once an evaluation runs
    from abcmidi_bgpt.bgpt.evaluate import DirectionScore, EvaluationReport

SPLITS = ["test", "validation", "train", "train-1e3", "train-1e4", "train-1e5"]
DIRECTIONS = [("both", "both")] + [(d.arrow, d.value) for d in Direction]
# The file a direction writes: its BPB is what a converter is judged by.
TARGET_KIND = {Direction.ABC_TO_MIDI.value: "midi", Direction.MIDI_TO_ABC.value: "abc"}
COLUMNS = [
    ("direction", "Direction"),
    ("scored", "Pairs scored"),
    ("skipped", "Skipped"),
    ("bpb_abc", "BPB_abc"),
    ("bpb_midi", "BPB_midi"),
    ("target", "Target BPB"),
    ("loss", "Loss (nats)"),
]
HELP = (
    "Enter or Ctrl+R scores the model (a model folder, or a training run folder: its best/) "
    "on the split, as abcmidi-bgpt evaluate does. Escape cancels between batches, then goes "
    "back. Target BPB is BPB_midi for ABC → MIDI and BPB_abc for MIDI → ABC."
)


def score_cells(score: DirectionScore, pairs: int) -> tuple[str, ...]:
    """A direction's row, in COLUMNS' order: the report's numbers with five decimals, as the
    command line prints them. Each pair makes one sequence per direction unless it is over
    the model's context, so the pairs not scored in a direction are the ones skipped there."""
    target = getattr(score, TARGET_KIND[score.direction])
    return (
        Direction(score.direction).arrow,
        str(score.sequences),
        str(pairs - score.sequences),
        f"{score.abc.bpb:.5f}",
        f"{score.midi.bpb:.5f}",
        f"{target.bpb:.5f}",
        f"{score.loss:.5f}",
    )


def report_line(report: EvaluationReport) -> str:
    """What was scored, by folder names only (the full paths are in the inputs above)."""
    line = (
        f"{Path(report.checkpoint).name} on {Path(report.corpus).name}, split {report.split}: "
        f"{report.pairs} {'pair' if report.pairs == 1 else 'pairs'}"
    )
    if report.skipped:
        line += f" · {report.skipped} sequence(s) over the model's context left out"
    return line


class EvaluationScreen(Screen[None]):
    """Score a model on a corpus split: a table of BPB per direction."""

    CSS_PATH = "evaluation.tcss"
    BINDINGS = [
        Binding("ctrl+r", "evaluate", "Evaluate"),
        Binding("escape", "cancel_or_close", "Cancel / back"),
    ]

    running: reactive[bool] = reactive(False)

    def __init__(
        self,
        model: Path | str | None = None,
        corpus: Path | str | None = None,
        batch_patches: int = 4096,
    ) -> None:
        super().__init__()
        self.start_model = model
        self.start_corpus = corpus
        self.batch_patches = batch_patches
        self.stop = threading.Event()
        self.run_id = 0  # the evaluation under way; a late message of an older one is dropped
        self.report: EvaluationReport | None = None  # the last one shown

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="eval-row"):
            yield Label("Model", classes="eval-label")
            yield Input(
                str(self.start_model or ""),
                placeholder="a model folder (config.json), or a training run folder",
                id="eval-model",
            )
        with Horizontal(classes="eval-row"):
            yield Label("Corpus", classes="eval-label")
            yield Input(
                str(self.start_corpus or ""),
                placeholder="a corpus folder built by abcmidi-bgpt corpus build",
                id="eval-corpus",
            )
        with Horizontal(classes="eval-row"):
            yield Label("Split", classes="eval-label")
            yield Select([(s, s) for s in SPLITS], value="test", allow_blank=False, id="eval-split")
            yield Label("Directions", classes="eval-label")
            yield Select(DIRECTIONS, value="both", allow_blank=False, id="eval-direction")
            yield Label("Limit", classes="eval-label")
            yield Input(placeholder="all pairs", type="integer", id="eval-limit")
        yield ProgressBar(total=None, show_eta=False, id="eval-progress")
        yield Static("Nothing scored yet.", id="eval-status")
        yield DataTable(id="eval-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(HELP, style="dim"), id="eval-help")
        yield KeyFooter()

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.table.add_column(heading, key=key)
        self.query_one("#eval-model", Input).focus()

    def on_unmount(self) -> None:
        self.stop.set()  # leaving (or quitting) stops the evaluation at its next batch

    @property
    def table(self) -> DataTable:
        return self.query_one("#eval-table", DataTable)

    def status(self, text: str | Text) -> None:
        self.query_one("#eval-status", Static).update(text)

    def watch_running(self, running: bool) -> None:
        for widget in self.query(".eval-row Input, .eval-row Select"):
            widget.disabled = running

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    @on(Input.Submitted)
    def action_evaluate(self) -> None:
        if self.running:
            return
        model, corpus = self._value("#eval-model"), self._value("#eval-corpus")
        if not model or not corpus:
            self.status(Text("✗ type a model folder and a corpus folder", style="bold red"))
            return
        limit = self._value("#eval-limit")
        split = str(self.query_one("#eval-split", Select).value)
        directions = Direction.parse_many(str(self.query_one("#eval-direction", Select).value))
        self.run_id += 1
        self.stop = threading.Event()
        self.report = None
        self.table.clear()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.status(Text("Loading the model and the corpus …", style="dim"))
        self.running = True
        self.evaluate(
            self.run_id,
            Path(model).expanduser(),
            Path(corpus).expanduser(),
            split,
            directions,
            int(limit) if limit else 0,
        )

    @work(thread=True, exclusive=True, group="evaluation", exit_on_error=False)
    def evaluate(
        self,
        run_id: int,
        model: Path,
        corpus: Path,
        split: str,
        directions: list[Direction],
        limit: int,
    ) -> tuple[int, str, EvaluationReport | str]:
        """(run, "report", the report), (run, "cancelled", how far it got) or (run, "error",
        why there is no report, one line)."""
        from abcmidi_bgpt.bgpt.evaluate import EvaluationCancelled, evaluate_checkpoint

        def progress(done: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.app.call_from_thread(self._progress, run_id, done, total)

        stop = self.stop  # this run's: a new run gets a new event
        try:
            report = evaluate_checkpoint(
                model,
                corpus,
                split,
                directions,
                limit,
                self.batch_patches,
                progress=progress,
                should_stop=stop.is_set,
            )
        except EvaluationCancelled as cancelled:
            done = (
                f" after {cancelled.done} of {cancelled.total} sequences" if cancelled.total else ""
            )
            return run_id, "cancelled", f"Cancelled{done}."
        except Exception as err:  # a bad folder, or the model's bug: one line, not a traceback
            return run_id, "error", first_line(err) or type(err).__name__
        return run_id, "report", report

    def _progress(self, run_id: int, done: int, total: int) -> None:
        if run_id != self.run_id or not self.running:
            return
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        if not self.stop.is_set():
            self.status(f"Scoring: {done} of {total} sequences")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "evaluation" or event.state != WorkerState.SUCCESS:
            return
        run_id, outcome, result = event.worker.result
        if run_id != self.run_id:
            return
        self.running = False
        if outcome == "report":
            self.show_report(result)
        elif outcome == "cancelled":
            self.status(Text(result, style="bold yellow"))
        else:
            self.status(Text(f"✗ {result}", style="bold red"))

    def show_report(self, report: EvaluationReport) -> None:
        """Fill the table from the library's report: its numbers as they are."""
        self.report = report
        self.table.clear()
        for direction, score in report.scores.items():
            name, *numbers = score_cells(score, report.pairs)
            numbers_right = [Text(n, justify="right") for n in numbers]
            self.table.add_row(name, *numbers_right, key=direction)
        done = sum(s.sequences for s in report.scores.values())
        self.query_one(ProgressBar).update(total=max(done, 1), progress=done)
        self.status(Text(report_line(report), style="bold"))

    def action_cancel_or_close(self) -> None:
        if self.running and not self.stop.is_set():
            self.stop.set()
            self.status(Text("Cancelling: finishing the batch under way …", style="yellow"))
        else:
            self.dismiss()
