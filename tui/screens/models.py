"""The models picker: the bGPT models on disk, each with its card, to choose the engine's model.

:func:`abcmidi_bgpt.bgpt.model_folder.find_models` lists them (the packaged model, training
runs, saved model folders, imported official weights) from their ``config.json`` files only,
in a thread worker, since a search of a large folder takes a while. The highlighted model's
card (``README.md``, as ``save_pretrained`` writes it) is shown as Markdown; a model without one
is described from its ``config.json``. Nothing here loads weights: choosing returns a path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Markdown, Static
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.bgpt.model_folder import (
    CONFIG_FILE,
    DEFAULT_MODEL_DIR,
    ModelEntry,
    find_models,
    packaged_model,
)
from abcmidi_bgpt.core.errors import first_line

from ..widgets.key_footer import KeyFooter

COLUMNS = ["Kind", "Name", "Size", "Step", "Path"]
MAX_CARD_BYTES = 64 * 1024  # a card is a page of text: a bigger file is shown cut
MAX_LISTED = 40  # entries shown of each part of a config.json's metadata


def shown_path(path: Path) -> str:
    """A path as short as it reads unambiguously: under the working folder, relative to it;
    under the home folder, with ~."""
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)


def packaged_line() -> str:
    """Whether this version has a packaged model, truthfully (as packaged_model_note says)."""
    if packaged_model() is None:
        return f"No model is packaged in this version ({DEFAULT_MODEL_DIR.name}/ is empty)."
    return "The packaged model is listed first."


def strip_front_matter(text: str) -> str:
    """A card without its YAML header (the Hub's metadata), which Markdown would show as a
    rule and a heading."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4 :].lstrip("\n")
    return text


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def config_summary(entry: ModelEntry) -> str:
    """A model without a card, described from its config.json: its size, then its metadata
    (what it was trained on, or imported from), one level deep."""
    lines = [f"# {entry.name}", "", f"*{entry.kind_name}*, no card: from its {CONFIG_FILE}.", ""]
    if entry.problem:
        return "\n".join([*lines, f"**Cannot be read**: {entry.problem}"])
    if entry.config:
        lines += ["## Model", ""]
        lines += [f"- {k}: {_value(v)}" for k, v in sorted(entry.config.items())]
    metadata = sorted(entry.metadata.items())
    scalars = [(k, v) for k, v in metadata if not isinstance(v, dict | list)]
    if scalars:
        lines += ["", "## Metadata", ""]
        lines += [f"- {k}: {_value(v)}" for k, v in scalars[:MAX_LISTED]]
    for key, value in metadata:
        if isinstance(value, dict):  # the run's settings, its validation scores
            items = [(k, v) for k, v in value.items() if not isinstance(v, dict | list)]
            lines += ["", f"## {key}", ""]
            lines += [f"- {k}: {_value(v)}" for k, v in items[:MAX_LISTED]]
    return "\n".join(lines)


def card_text(entry: ModelEntry) -> str:
    """The highlighted model as Markdown: its card, or else its config summarised."""
    card = entry.card
    if card is None:
        return config_summary(entry)
    try:
        with card.open("rb") as f:
            text = f.read(MAX_CARD_BYTES).decode("utf-8", errors="replace")
    except OSError as err:
        return f"# {entry.name}\n\nCannot read {card.name}: {first_line(err)}"
    return strip_front_matter(text)


class ModelsScreen(ModalScreen[Path | None]):
    """The models found under some folders; dismisses with the chosen one's path (a model
    folder, or a training run folder), or None."""

    CSS_PATH = "models.tcss"
    BINDINGS = [
        # Over the table's own Enter, so that the footer shows what Enter does here.
        Binding("enter", "choose", "Use model", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, roots: Sequence[Path] | None = None) -> None:
        super().__init__()
        self.roots = roots
        self.entries: list[ModelEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="models-dialog"):
            yield Label("bGPT models", classes="dialog-title")
            yield Static("Looking for models …", id="models-note")
            yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="models-card-box"):
                yield Markdown(id="models-card")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.table.add_columns(*COLUMNS)
        self.table.focus()
        if self.roots is None:  # the app's folder, ./runs, and the packaged model's folder
            folder = getattr(self.app, "folder", Path.cwd())
            self.roots = [folder, Path.cwd() / "runs", DEFAULT_MODEL_DIR]
        self.search(list(self.roots))

    @property
    def table(self) -> DataTable:
        return self.query_one("#models-table", DataTable)

    @work(thread=True, exclusive=True, group="models", exit_on_error=False)
    def search(self, roots: list[Path]) -> list[ModelEntry] | str:
        """The models under the roots, or why the search failed (one line)."""
        try:
            return find_models(roots)
        except Exception as err:  # a file system's surprise must not take the app down
            return f"✗ cannot search for models: {first_line(err) or type(err).__name__}"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "models" or event.state != WorkerState.SUCCESS:
            return
        result = event.worker.result
        note = self.query_one("#models-note", Static)
        if isinstance(result, str):
            note.update(Text(result, style="bold red"))
            return
        self.entries = result
        for i, entry in enumerate(result):
            step = "" if entry.step is None else str(entry.step)
            self.table.add_row(
                entry.kind_name,
                entry.name,
                entry.arch(),
                Text(step, justify="right"),
                shown_path(entry.path),
                key=str(i),
            )
        found = f"{len(result)} model{'' if len(result) == 1 else 's'} found" if result else ""
        lines = [found or "No models found under the folders searched.", packaged_line()]
        note.update(" · ".join(lines))
        if result:
            self.show_card(0)
        else:
            self.query_one("#models-card", Markdown).update(
                "Train one (`abcmidi-bgpt train --out runs/NAME`) or import the official "
                "weights (`abcmidi-bgpt import-official FILE --out MODEL_DIR`)."
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_card(int(event.row_key.value))

    def show_card(self, index: int) -> None:
        self.query_one("#models-card", Markdown).update(card_text(self.entries[index]))
        self.query_one("#models-card-box", VerticalScroll).scroll_home(animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dismiss(self.entries[int(event.row_key.value)].path)

    def action_choose(self) -> None:
        if self.entries:
            self.dismiss(self.entries[self.table.cursor_row].path)

    def action_cancel(self) -> None:
        self.dismiss(None)
