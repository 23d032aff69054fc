"""The dialog that starts a training run: corpus, run folder, an optional config file, and the
main options (model, direction, training split, steps). It returns a checked
:class:`~abcmidi_bgpt.tui.launch.RunRequest`; the training screen starts it and attaches."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..launch import DIRECTIONS, MODELS, CannotStart, RunRequest, check
from ..widgets.toggles import MarkedCheckbox

FROM_CONFIG = "from the config, or the default"


def _path(text: str) -> Path | None:
    return Path(text.strip()).expanduser() if text.strip() else None


class StartRunScreen(ModalScreen[RunRequest | None]):
    """A dialog returning the run to start, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, corpus: str = "", out: str = "") -> None:
        super().__init__()
        self.corpus, self.out = corpus, out

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Start a training run", classes="dialog-title")
            with Grid(id="start-run-fields"):
                yield Label("Corpus folder")
                yield Input(self.corpus, placeholder="built by corpus build", id="start-corpus")
                yield Label("Run folder")
                yield Input(self.out, placeholder="where the run writes", id="start-out")
                yield Label("Config file")
                yield Input(placeholder="optional TOML/YAML of train options", id="start-config")
                yield Label("Model")
                yield Select([(m, m) for m in MODELS], value="tiny", prompt=FROM_CONFIG,
                             id="start-model")  # fmt: skip
                yield Label("Direction")
                yield Select([(d, d) for d in DIRECTIONS], value="abc2mid", prompt=FROM_CONFIG,
                             id="start-direction")  # fmt: skip
                yield Label("Training split")
                yield Input("train", placeholder=FROM_CONFIG, id="start-split")
                yield Label("Steps")
                yield Input(placeholder="0 or empty: from the epochs", id="start-steps")
            yield MarkedCheckbox("resume the run in the run folder", id="start-resume")
            yield Static(id="start-error")
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#start-corpus", Input).focus()

    def _text(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def _choice(self, id: str) -> str | None:
        value = self.query_one(f"#{id}", Select).value
        return None if value is Select.BLANK else str(value)

    def request(self) -> RunRequest:
        """The run the fields describe; raises :class:`CannotStart` naming the field."""
        corpus, out = _path(self._text("start-corpus")), _path(self._text("start-out"))
        if corpus is None:
            raise CannotStart("corpus: the folder of a built corpus is needed")
        if out is None:
            raise CannotStart("run folder: needed")
        steps = self._text("start-steps")
        if steps and not steps.isdigit():
            raise CannotStart(f"steps: not a whole number: {steps}")
        return RunRequest(
            corpus=corpus,
            out=out,
            model=self._choice("start-model"),
            direction=self._choice("start-direction"),
            train_split=self._text("start-split") or None,
            max_steps=int(steps) if steps else None,
            config=_path(self._text("start-config")),
            resume=self.query_one("#start-resume", MarkedCheckbox).value,
        )

    @on(Button.Pressed, "#start")
    @on(Input.Submitted)
    def choose(self) -> None:
        try:
            request = self.request()
            check(request)
        except CannotStart as err:
            self.query_one("#start-error", Static).update(Text(f"✗ {err}"))
            return
        self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
