"""The comparison report screen: the rows of a neural-vs-symbolic comparison as a table.

``abcmidi-bgpt compare ... --out DIR`` writes ``DIR/tunes.csv``, one row per tune, direction
and engine (:mod:`abcmidi_bgpt.reports.compare_report`). This screen reads it back in a thread
worker, sums it up per (direction, engine) with :func:`~abcmidi_bgpt.reports.compare.summarise`
and lists the rows worst first (lowest note F1 first); a column header re-sorts by it. Enter on a
row opens its tune in the compare view (each engine's output beside the reference, piano rolls
and ABC): the tune is read back from the folder's ``inputs.jsonl``, and bgpt runs with the
checkpoint the comparison used where it is still there.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Static
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import first_line
from abcmidi_bgpt.reports.compare import CompareTune, Row, Summary, summarise
from abcmidi_bgpt.reports.compare_report import (
    CSV_NAME,
    INPUTS_NAME,
    read_checkpoint,
    read_csv,
    read_inputs,
)

from ..widgets.key_footer import KeyFooter

# The table's columns: key and heading. Cells are strings, F1 with three decimals, so that
# sorting the strings sorts the numbers.
COLUMNS = [
    ("tune", "Tune"),
    ("direction", "Direction"),
    ("engine", "Engine"),
    ("valid", "Valid"),
    ("exact", "Exact"),
    ("f1", "Note F1"),
    ("message", "Message"),
]
WORST_FIRST = ("f1", "tune", "direction", "engine")
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, csv.Error, UnicodeDecodeError)
HELP = (
    "Enter reads the comparison folder typed (abcmidi-bgpt compare --out DIR). "
    "The rows start worst first; select a column header to sort by it, again to reverse; "
    "Enter on a row opens its tune in the compare view."
)
# What opens a row's tune: (the tune, the direction of the row, the checkpoint compared).
TuneOpener = Callable[[CompareTune, Direction, str | None], None]


class NotAComparison(Exception):
    """The folder holds no comparison."""


def read_rows(folder: Path) -> list[Row]:
    """The rows of a comparison folder's ``tunes.csv``; an empty cell (compare_report writes
    None so) or a column the file lacks keeps the field's default."""
    if not folder.is_dir():
        raise NotAComparison(f"no such folder: {folder}")
    path = folder / CSV_NAME
    if not path.is_file():
        raise NotAComparison(f"not a comparison: {folder} has no {CSV_NAME}")
    rows = read_csv(path)
    if not rows:
        raise NotAComparison(f"no rows in {path}")
    return rows


def summary_line(summary: Summary) -> str:
    return (
        f"{summary.direction.arrow} · {summary.engine}: {summary.tunes} "
        f"{'tune' if summary.tunes == 1 else 'tunes'}, "
        f"{summary.valid} valid, {summary.exact} exact · note F1 median "
        f"{summary.f1_median:.3f}, mean {summary.f1_mean:.3f}"
    )


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def cells(row: Row) -> tuple[str, ...]:
    """A row as the table shows it, in COLUMNS' order."""
    return (
        row.tune,
        str(row.direction),
        row.engine,
        _yes_no(row.valid),
        _yes_no(row.exact),
        f"{row.f1:.3f}",
        first_line(row.message) if row.message else "",
    )


class ReportScreen(Screen[None]):
    """A comparison's rows, summed up per direction and engine, worst first."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, folder: Path | None = None, open_tune: TuneOpener | None = None) -> None:
        super().__init__()
        self.start_folder = folder
        self.open_tune = open_tune
        self.folder: Path | None = None  # the comparison asked for last
        self.rows: list[Row] = []  # of the folder shown, by the table's row keys
        # The tunes of the last comparison whose row was opened, by (path, mtime, size).
        self.inputs: tuple[tuple, dict[str, CompareTune]] | None = None
        self.sorted_by: tuple[str, bool] = (WORST_FIRST[0], False)  # column, reversed

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="report-path-row"):
            yield Label("Comparison", id="report-path-label")
            yield Input(
                str(self.start_folder or ""),
                placeholder="a folder written by abcmidi-bgpt compare --out DIR",
                id="report-path",
            )
        yield Static("No comparison read.", id="report-summary")
        yield DataTable(id="report-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(HELP, style="dim"), id="report-help")
        yield KeyFooter()

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.table.add_column(heading, key=key)
        self.query_one("#report-path", Input).focus()
        if self.start_folder is not None:
            self.open_folder(self.start_folder)

    @property
    def summary(self) -> Static:
        return self.query_one("#report-summary", Static)

    @property
    def table(self) -> DataTable:
        return self.query_one("#report-table", DataTable)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.open_folder(Path(text).expanduser())

    def open_folder(self, folder: Path) -> None:
        """Read this comparison folder; the table is emptied until it is read."""
        self.folder = folder
        self.rows = []
        self.table.clear()
        self.summary.update(f"Reading {folder} …")
        self.load(folder)

    @work(thread=True, exclusive=True, group="report")
    def load(self, folder: Path) -> tuple[Path, list[Row] | str]:
        """The comparison's rows, or why they cannot be read."""
        try:
            return folder, read_rows(folder)
        except NotAComparison as err:
            return folder, str(err)
        except READ_ERRORS as err:
            return folder, f"cannot read {folder / CSV_NAME}: {first_line(err)}"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.SUCCESS:
            return
        if event.worker.group == "report-tune":
            self.tune_read(event.worker.result)
            return
        if event.worker.group != "report":
            return
        folder, result = event.worker.result
        if folder != self.folder:  # another folder was asked for since
            return
        if isinstance(result, str):
            self.summary.update(Text(result, style="bold red"))
            return
        lines = [summary_line(s) for s in summarise(result)]
        self.summary.update(Text("\n".join(lines), style="bold"))
        self.rows = result
        for index, row in enumerate(result):
            self.table.add_row(*cells(row), key=str(index))
        self.sort_by(WORST_FIRST[0], reverse=False)

    def sort_by(self, column: str, reverse: bool) -> None:
        """Sort the rows by a column, ties by tune, direction and engine."""
        ties = [c for c in WORST_FIRST[1:] if c != column]
        self.table.sort(column, *ties, reverse=reverse)
        self.sorted_by = (column, reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        was, reversed_ = self.sorted_by
        self.sort_by(column, reverse=not reversed_ if column == was else False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.folder is None or not self.rows:
            return
        row = self.rows[int(str(event.row_key.value))]
        self.read_tune(self.folder, row.tune, Direction(row.direction))

    @work(thread=True, exclusive=True, group="report-tune")
    def read_tune(
        self, folder: Path, name: str, direction: Direction
    ) -> tuple[CompareTune, Direction, str | None] | str:
        """The row's tune read back from the comparison, or why it cannot be."""
        path = folder / INPUTS_NAME
        if not path.is_file():
            return f"{folder} has no {INPUTS_NAME} (written by compare since this version)"
        try:
            stat = path.stat()
            stamp = (path, stat.st_mtime_ns, stat.st_size)
            if self.inputs is None or self.inputs[0] != stamp:  # read once a comparison
                self.inputs = (stamp, read_inputs(path))
            tune = self.inputs[1].get(name)
        except READ_ERRORS as err:
            return f"cannot read {path}: {first_line(err)}"
        if tune is None:
            return f"{name}: not in {path}"
        return tune, direction, read_checkpoint(folder)

    def tune_read(self, result: tuple[CompareTune, Direction, str | None] | str) -> None:
        if isinstance(result, str):
            self.notify(result, severity="error", markup=False)
        elif self.open_tune is None:
            self.notify("Open the report from the main screen (m) to open its tunes.")
        else:
            self.open_tune(*result)

    def action_close(self) -> None:
        self.dismiss()
