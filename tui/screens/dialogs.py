"""Small dialogs: save to a path (confirming an overwrite) and yes/no questions."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..widgets.library_tree import relative_name


class SaveScreen(ModalScreen[tuple[Path, bool] | None]):
    """Asks where to save; returns (path, overwrite), or None when cancelled.

    A path that exists is only accepted on a second Enter, and then with ``overwrite``.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, suggestion: Path, root: Path) -> None:
        super().__init__()
        self.what = what
        self.suggestion = suggestion
        self.root = root
        self._confirmed: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(f"Save {self.what}"), classes="dialog-title")
            yield Input(relative_name(self.suggestion, self.root), id="save-path")
            yield Static(id="save-note")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._note_if_exists()

    def _path(self) -> Path:
        typed = Path(self.query_one(Input).value.strip()).expanduser()
        return typed if typed.is_absolute() else self.root / typed

    @on(Input.Changed)
    def _note_if_exists(self) -> None:
        path = self._path()
        note = self.query_one("#save-note", Static)
        if path.exists():
            note.update(Text(f"⚠ {path.name} exists: saving replaces it (Enter twice)"))
        else:
            note.update("")
        self._confirmed = None

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        path = self._path()
        if not self.query_one(Input).value.strip():
            return
        if path.exists() and self._confirmed != path:
            self._confirmed = path
            self.query_one("#save-note", Static).update(
                Text(f"⚠ {path.name} exists: press Enter again to overwrite it")
            )
            return
        self.dismiss((path, path.exists()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y/enter answers yes, n/escape no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.question), classes="dialog-title")
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button(self.no, variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
