"""Saving what the main screen shows (ctrl+s): the ABC pane's tune, back into its own file
(replacing only that tune) or alone to a new file, or a conversion's ABC or MIDI output. The save
dialog proposes a path; an existing file is only replaced on a second Enter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.screen import Screen

from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.formats.abc.text import read_abc_file, replace_tune

from ..files import save_output, tune_from_text
from ..widgets.library_tree import TuneEntry
from .dialogs import SaveScreen


@dataclass(frozen=True, slots=True)
class Output:
    """A conversion result on screen, not yet saved."""

    data: bytes
    suggestion: Path  # where the save dialog proposes to write it
    what: str  # how the save dialog names it


class SaveFlow:
    """Ctrl+S on the main screen (``screen``: its panes, selection, outputs and edits): the
    focused pane says what to save; without one, the ABC pane when it holds something unsaved,
    else the MIDI pane."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def save(self) -> None:
        screen = self.screen
        focused = screen.focused
        in_midi = focused is not None and screen.midi_pane in focused.ancestors_with_self
        in_abc = focused is not None and screen.abc_pane in focused.ancestors_with_self
        if in_midi or (not in_abc and not self._abc_unsaved()):
            self._save_midi()
        else:
            self._save_abc()

    def _abc_unsaved(self) -> bool:
        """The ABC pane holds a conversion's output or an edited tune."""
        pane = self.screen.abc_pane
        return pane.source is not None and (pane.source.key is None or pane.modified)

    def _save_abc(self) -> None:
        screen = self.screen
        pane = screen.abc_pane
        entry = screen.selected
        if pane.source is None or not pane.text.strip():
            screen.notify("Nothing to save in the ABC pane.", severity="warning")
            return
        text = pane.text if pane.text.endswith("\n") else pane.text + "\n"
        if pane.source.key is not None and isinstance(entry, TuneEntry):
            what = f"ABC of {screen.tune_name(entry)}"

            def save_tune(choice: tuple[Path, bool] | None) -> None:
                if choice is not None:
                    self._write_tune(entry, text, *choice)

            screen.app.push_screen(SaveScreen(what, entry.path, screen.folder), save_tune)
            return
        output = screen.abc_output
        suggestion = output.suggestion if output else screen.folder / "tune.abc"
        what = output.what if output else "ABC"
        data = text.encode("utf-8")
        screen.app.push_screen(
            SaveScreen(what, suggestion, screen.folder),
            lambda choice: self._write(choice, data),
        )

    def _save_midi(self) -> None:
        screen = self.screen
        output = screen.midi_output
        if output is None:
            screen.notify("Nothing to save: convert a tune to MIDI first (c).", severity="warning")
            return
        screen.app.push_screen(
            SaveScreen(output.what, output.suggestion, screen.folder),
            lambda choice: self._write(choice, output.data),
        )

    def _write(self, choice: tuple[Path, bool] | None, data: bytes) -> None:
        if choice is None:
            return
        path, overwrite = choice
        try:
            save_output(path, data, overwrite)
        except (ConversionError, OSError) as err:
            self.screen.notify(first_line(err), severity="error", markup=False)
            return
        self._saved(path)

    def _write_tune(self, entry: TuneEntry, text: str, path: Path, overwrite: bool) -> None:
        """Save a tune: into its own file, replacing only that tune, or alone to a new file."""
        screen = self.screen
        in_place = path.resolve() == entry.path.resolve()
        try:
            if in_place:
                book = replace_tune(read_abc_file(entry.path), entry.tune, text)
                write_atomic(entry.path, book.encode("utf-8"))
            else:
                tune = tune_from_text(text, entry.tune, screen.tune_name(entry))
                save_output(path, tune.full_text.encode("utf-8"), overwrite)
        except (ConversionError, OSError) as err:
            screen.notify(first_line(err), severity="error", markup=False)
            return
        if in_place:
            screen.edits.pop(entry.key, None)
            screen.library.modified.discard(entry.key)
            screen.abc_pane.original_text = text
        self._saved(path)

    def _saved(self, path: Path) -> None:
        self.screen.notify(f"Saved {self.screen.shown_name(path)}", markup=False)
        self.screen.library.action_reload()
