"""Choosing the conversion engine: symbolic, abc2midi/midi2abc, or bGPT with a checkpoint,
typed or picked from the models found on disk (ctrl+o, :mod:`.models`)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioSet, Static

from abcmidi_bgpt.engines.registry import (
    EngineSpec,
    engine_class,
    engine_names,
    unavailable_reason,
)

from ..engines import model_problem
from ..widgets.toggles import MarkedCheckbox, MarkedRadioButton
from .models import ModelsScreen

# How the dialog describes each engine (the registry's summary for one not listed here).
ENGINE_NOTES = {
    "symbolic": "rule-based converter of this package (deterministic)",
    "abc2midi": "abc2midi / midi2abc programs (Debian package abcmidi)",
    "bgpt": "byte-level model: a checkpoint, or the packaged model",
}


class EngineScreen(ModalScreen[EngineSpec | None]):
    """A dialog that returns the chosen :class:`EngineSpec`, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+o", "models", "Models"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, current: EngineSpec) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = self.current.options
        with Vertical(id="dialog"):
            yield Label("Conversion engine", classes="dialog-title")
            with RadioSet(id="engine-choice"):
                for name in engine_names():
                    missing = unavailable_reason(name)
                    note = missing or ENGINE_NOTES.get(name) or engine_class(name).summary
                    yield MarkedRadioButton(
                        f"{name:<9} {note}",
                        value=name == self.current.name,
                        disabled=bool(missing),
                        name=name,
                    )
            yield MarkedCheckbox(
                "play chord symbols as accompaniment (symbolic, ABC → MIDI)",
                value=self.current.name == "symbolic" and bool(getattr(options, "chords", False)),
                id="chords",
            )
            yield Label("Checkpoint (bgpt):")
            with Horizontal(id="checkpoint-row"):
                yield Input(
                    str(getattr(options, "checkpoint", None) or ""),
                    placeholder="path to a model checkpoint",
                    id="checkpoint",
                )
                yield Button("Models…", id="models")
            yield Static(id="engine-error")
            with Horizontal(classes="buttons"):
                yield Button("Use engine", variant="primary", id="use")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def _chosen_name(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else self.current.name

    @on(Button.Pressed, "#use")
    @on(Input.Submitted, "#checkpoint")
    def choose(self) -> None:
        name = self._chosen_name()
        checkpoint = self.query_one("#checkpoint", Input).value.strip()
        problem = model_problem(name, checkpoint)
        if problem:
            self._error(problem)
            return
        chords = self.query_one("#chords", Checkbox).value
        spec = EngineSpec.of(
            name,
            chords=True if chords and name == "symbolic" else None,
            checkpoint=str(Path(checkpoint).expanduser())
            if checkpoint and engine_class(name).needs_model
            else None,
        )
        self.dismiss(spec)

    @on(Button.Pressed, "#models")
    def action_models(self) -> None:
        self.app.push_screen(ModelsScreen(), self.picked)

    def picked(self, path: Path | None) -> None:
        """A model picked: its folder in the checkpoint field, bgpt chosen."""
        if path is None:
            return
        self.query_one("#checkpoint", Input).value = str(path)
        for button in self.query(MarkedRadioButton):
            if button.name == "bgpt" and not button.disabled:
                button.value = True
        self.query_one("#use", Button).focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#engine-error", Static).update(Text(f"✗ {message}"))
