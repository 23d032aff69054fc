"""The abcmidi-bgpt terminal app: browse tunes and MIDI files, convert them both ways, round-trip
MIDI through ABC, compare engines and batch-convert folders.

The app holds what is on screen and who asked for what; conversions, checks and scores are
library calls (see :mod:`tui.tasks`), run in worker threads so that the interface never waits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header, TextArea, Tree
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.engines.registry import EngineSpec, engine_names
from abcmidi_bgpt.formats.abc.text import AbcTune, decode_abc, read_abc_file, replace_tune

from .abc_pane import AbcPane, AbcSource
from .batch_screen import BatchScreen
from .compare_screen import CompareScreen, CompareSubject
from .dialogs import ConfirmScreen, SaveScreen
from .engine_screen import EngineScreen
from .help_screen import HelpScreen
from .library_tree import (
    AbcFileEntry,
    Entry,
    FolderEntry,
    LibraryTree,
    MidiFileEntry,
    TuneEntry,
    relative_name,
    tune_label,
)
from .midi_pane import MidiPane
from .tasks import (
    EXTERNAL_ENGINES,
    EngineCache,
    available_engines,
    describe_engine,
    model_problem,
    read_midi_view,
    round_trip,
    save_output,
    suggest_output_path,
    tune_from_text,
)


@dataclass(frozen=True, slots=True)
class Output:
    """A conversion result on screen, not yet saved."""

    data: bytes
    suggestion: Path  # where the save dialog proposes to write it
    what: str  # how the save dialog names it


class AbcMidiApp(App[None]):
    """Work with the ABC tunes and MIDI files under one folder."""

    CSS_PATH = "app.tcss"
    TITLE = "abcmidi-bgpt"
    BINDINGS = [
        Binding("c", "convert", "Convert"),
        Binding("r", "round_trip", "Round trip"),
        Binding("v", "compare", "Compare"),
        Binding("b", "batch", "Batch"),
        Binding("e", "choose_engine", "Engine"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("1", "focus_pane('library')", "Files", show=False),
        Binding("2", "focus_pane('abc-editor')", "ABC", show=False),
        Binding("3", "focus_pane('piano-roll')", "Piano roll", show=False),
        Binding("escape", "leave_pane", "Files", show=False),
    ]

    # Actions on the selection in the main screen; other screens have their own keys.
    MAIN_SCREEN_ACTIONS = {
        "convert",
        "round_trip",
        "compare",
        "batch",
        "choose_engine",
        "save",
        "quit",
        "focus_pane",
        "leave_pane",
        "help",
    }

    # Letter and digit keys type into the ABC editor; their actions wait until it is left.
    LETTER_ACTIONS = {"convert", "round_trip", "compare", "batch", "choose_engine", "quit"}

    engine_spec: reactive[EngineSpec] = reactive(EngineSpec("symbolic"))

    def __init__(self, folder: Path, engine: EngineSpec | None = None) -> None:
        super().__init__()
        self.folder = folder.resolve()
        self.cache = EngineCache()
        self.edits: dict[tuple, str] = {}  # unsaved tune texts by TuneEntry.key
        self.selected: Entry | None = None
        self.midi_output: Output | None = None
        self.abc_output: Output | None = None
        if engine is not None:
            self.set_reactive(AbcMidiApp.engine_spec, engine)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield LibraryTree(self.folder, id="library")
            with Vertical(id="work"):
                yield AbcPane(id="abc-pane")
                yield MidiPane(id="midi-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.watch_engine_spec(self.engine_spec)
        self.library.border_title = "Files"
        self.library.focus()

    def watch_engine_spec(self, spec: EngineSpec) -> None:
        self.sub_title = f"{self.folder.name}/ · engine: {describe_engine(spec)}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        typing = isinstance(self.focused, TextArea) and not self.focused.read_only
        return not (typing and (action in self.LETTER_ACTIONS or action == "focus_pane"))

    # The panes live on the main screen, which stays at the bottom of the screen stack; results
    # of workers may arrive while another screen (compare, batch, a dialog) is on top.

    @property
    def abc_pane(self) -> AbcPane:
        return self.screen_stack[0].query_one(AbcPane)

    @property
    def midi_pane(self) -> MidiPane:
        return self.screen_stack[0].query_one(MidiPane)

    @property
    def library(self) -> LibraryTree:
        return self.screen_stack[0].query_one(LibraryTree)

    # --- selection -------------------------------------------------------------------------

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data is not None:
            self.open_entry(event.node.data)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        """Enter on a tune goes into its text; on a MIDI file, into its piano roll."""
        entry = event.node.data
        if isinstance(entry, TuneEntry) or (
            isinstance(entry, AbcFileEntry) and len(entry.tunes) == 1
        ):
            self.abc_pane.editor.focus()
        elif isinstance(entry, MidiFileEntry):
            self.midi_pane.roll.focus()

    def open_entry(self, entry: Entry) -> None:
        """Show an entry of the file tree in the panes."""
        if isinstance(entry, AbcFileEntry) and len(entry.tunes) == 1:
            entry = TuneEntry(entry.path, entry.tunes[0], 1)
        if entry == self.selected:  # the tree was read again: keep what the panes show
            return
        self.selected = entry
        self.midi_output = None
        self.abc_output = None
        name = self._shown_name(entry.path)
        if isinstance(entry, FolderEntry):
            shown = self.folder.name if entry.path == self.folder else name
            self.abc_pane.clear(f"{shown}/ · b converts the whole folder")
            self.midi_pane.clear("")
        elif isinstance(entry, AbcFileEntry) and entry.error:
            self.abc_pane.show_error(name, entry.error, _readable_text(entry.path))
            self.midi_pane.clear("")
        elif isinstance(entry, AbcFileEntry):
            self.abc_pane.clear(f"{name}: {len(entry.tunes)} tunes · enter lists them")
            self.midi_pane.clear("")
        elif isinstance(entry, TuneEntry):
            source = AbcSource(self._tune_name(entry), entry.tune, entry.key)
            text = self.edits.get(entry.key, entry.tune.text)
            self.abc_pane.show(text, source, original_text=entry.tune.text)
            self.midi_pane.clear("c converts the tune to MIDI · r round-trips it through ABC")
        elif isinstance(entry, MidiFileEntry):
            self.abc_pane.clear("c transcribes the MIDI file to ABC · r round-trips it")
            self.midi_pane.clear("reading…")
            self.load_midi(entry)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_midi(self, entry: MidiFileEntry) -> None:
        name = self._shown_name(entry.path)
        try:
            view = read_midi_view(entry.path.read_bytes(), name)
        except (ConversionError, OSError) as err:
            self._call(self._show_midi_error, entry, name, first_line(err))
            return
        except Exception as err:  # a reader bug must not take the app down
            message = f"internal error: {type(err).__name__}: {first_line(err)}"
            self._call(self._show_midi_error, entry, name, message)
            return
        self._call(self._show_midi, entry, view, name)

    def _show_midi(self, entry: Entry, view, label: str) -> None:
        if self.selected == entry:
            self.midi_pane.show(view, label)

    def _show_midi_error(self, entry: Entry, label: str, message: str) -> None:
        if self.selected == entry:
            self.midi_pane.show_error(label, message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed despite its own error handling: a bug; say it in one line."""
        if event.state == WorkerState.ERROR:
            self.abc_pane.loading = self.midi_pane.loading = False
            error = event.worker.error or RuntimeError("unknown")
            message = f"internal error in {event.worker.name}: {type(error).__name__}: {error}"
            self.notify(message.splitlines()[0], severity="error", markup=False)

    def on_abc_pane_edited(self, event: AbcPane.Edited) -> None:
        if event.modified:
            self.edits[event.key] = event.text
        else:
            self.edits.pop(event.key, None)
        self.library.mark_modified(event.key, event.modified)

    # --- conversions -----------------------------------------------------------------------

    def action_convert(self) -> None:
        entry = self.selected
        if isinstance(entry, TuneEntry):
            tune = self._pane_tune(entry)
            if tune is not None:
                self.convert_tune(entry, tune)
        elif isinstance(entry, MidiFileEntry):
            self.transcribe(entry)
        else:
            self.notify("Select a tune or a MIDI file to convert.", severity="warning")

    @work(thread=True, exclusive=True, group="convert", exit_on_error=False)
    def convert_tune(self, entry: TuneEntry, tune: AbcTune) -> None:
        """ABC -> MIDI with the chosen engine; the MIDI pane shows the result."""
        spec = self.engine_spec
        label = f"{self._tune_name(entry)} → MIDI by {describe_engine(spec)}"
        self._call(self._busy, "midi", True)
        try:
            out = self.cache.get(spec).abc_to_midi(tune)
            view = read_midi_view(out.data, label)
        except Exception as err:
            self._call(self._failed, err, "converting to MIDI", "midi")
            return
        suggestion = suggest_output_path(entry.path, entry.tune, ".mid", entry.tunes_in_file)
        output = Output(out.data, suggestion, f"MIDI of {self._tune_name(entry)}")
        self._call(self._show_converted_midi, entry, view, label + " (unsaved)", output)
        if out.warnings:
            self._call(self._warn, out.warnings)

    def _show_converted_midi(self, entry: Entry, view, label: str, output: Output) -> None:
        self.midi_pane.loading = False
        if self.selected == entry:
            self.midi_output = output
            self.midi_pane.show(view, label)

    @work(thread=True, exclusive=True, group="convert", exit_on_error=False)
    def transcribe(self, entry: MidiFileEntry) -> None:
        """MIDI -> ABC with the chosen engine; the ABC pane shows the result, editable."""
        spec = self.engine_spec
        name = self._shown_name(entry.path)
        self._call(self._busy, "abc", True)
        try:
            out = self.cache.get(spec).midi_to_abc(entry.path.read_bytes(), name)
            text = decode_abc(out.data, f"{name} as ABC")
        except Exception as err:
            self._call(self._failed, err, "transcribing to ABC", "abc")
            return
        label = f"{name} → ABC by {describe_engine(spec)} (unsaved)"
        output = Output(out.data, entry.path.with_suffix(".abc"), f"ABC of {name}")
        self._call(self._show_abc_output, entry, text, label, output)
        if out.warnings:
            self._call(self._warn, out.warnings)

    def _show_abc_output(self, entry: Entry, text: str, label: str, output: Output) -> None:
        self.abc_pane.loading = False
        if self.selected == entry:
            self.abc_output = output
            self.abc_pane.show(text, AbcSource(label))

    def action_round_trip(self) -> None:
        entry = self.selected
        if isinstance(entry, TuneEntry):
            tune = self._pane_tune(entry)
            if tune is not None:
                self.run_round_trip(entry, tune)
        elif isinstance(entry, MidiFileEntry):
            self.run_round_trip(entry, None)
        else:
            self.notify("Select a MIDI file (or a tune) for a round trip.", severity="warning")

    @work(thread=True, exclusive=True, group="convert", exit_on_error=False)
    def run_round_trip(self, entry: TuneEntry | MidiFileEntry, tune: AbcTune | None) -> None:
        """MIDI -> ABC -> MIDI with the chosen engine (a tune is rendered to MIDI first)."""
        spec = self.engine_spec
        self._call(self._busy, "midi", True)
        try:
            engine = self.cache.get(spec)
            if tune is not None:
                label = self._tune_name(entry)
                data = engine.abc_to_midi(tune).data
            else:
                label = self._shown_name(entry.path)
                data = entry.path.read_bytes()
            trip = round_trip(engine, data, label)
            view = read_midi_view(data, label)
        except Exception as err:
            self._call(self._failed, err, "round-tripping", "midi")
            return
        suggestion = suggest_output_path(
            entry.path, tune, ".abc", entry.tunes_in_file if tune is not None else 1
        )
        if tune is not None:
            suggestion = suggestion.with_name(f"{suggestion.stem}_roundtrip.abc")
        output = Output(trip.abc.encode("utf-8"), suggestion, f"round-trip ABC of {label}")
        self._call(self._show_round_trip, entry, view, label, trip, describe_engine(spec), output)

    def _show_round_trip(self, entry, view, label, trip, engine: str, output: Output) -> None:
        self.midi_pane.loading = False
        if self.selected != entry:
            return
        self.midi_pane.show_round_trip(view, f"{label} (input)", trip, engine)
        self.abc_output = output
        self.abc_pane.show(trip.abc, AbcSource(f"{label} → ABC by {engine} (round trip)"))
        if trip.warnings:
            self._warn(trip.warnings)

    def _pane_tune(self, entry: TuneEntry) -> AbcTune | None:
        """The ABC pane's text as a tune, or None (with a notification) when it is not one."""
        try:
            return tune_from_text(self.abc_pane.text, entry.tune, self._tune_name(entry))
        except ConversionError as err:
            self.notify(first_line(err), severity="error", markup=False)
            return None

    # --- compare, batch, engine ------------------------------------------------------------

    def action_compare(self) -> None:
        entry = self.selected
        if isinstance(entry, TuneEntry):
            tune = self._pane_tune(entry)
            if tune is None:
                return
            subject = CompareSubject(self._tune_name(entry), tune=tune)
        elif isinstance(entry, MidiFileEntry):
            try:
                data = entry.path.read_bytes()
            except OSError as err:
                self.notify(first_line(err), severity="error", markup=False)
                return
            subject = CompareSubject(self._shown_name(entry.path), midi=data)
        else:
            self.notify("Select a tune or a MIDI file to compare engines on.", severity="warning")
            return
        self.push_screen(CompareScreen(subject, self._compared_engines(), self.cache))

    def _compared_engines(self) -> list[tuple[str, EngineSpec | None, str]]:
        """Every engine with the spec to run it, or None and the reason it cannot run."""
        usable = set(available_engines())
        current = self.engine_spec
        engines = []
        for name in engine_names():
            if name == current.name:
                engines.append((name, current, ""))
            elif name not in usable:
                tools = "abc2midi/midi2abc" if name in EXTERNAL_ENGINES else name
                engines.append((name, None, f"{tools} not installed"))
            elif problem := model_problem(name):
                engines.append((name, None, f"{problem}: press e and pick {name}"))
            else:
                engines.append((name, EngineSpec(name), ""))
        return engines

    def action_batch(self) -> None:
        entry = self.selected
        if isinstance(entry, FolderEntry):
            folder = entry.path
        elif entry is not None:
            folder = entry.path.parent
        else:
            folder = self.folder

        def finished(wrote: bool | None) -> None:
            if wrote:
                self.library.action_reload()

        self.push_screen(BatchScreen(folder, self.folder, self.engine_spec), finished)

    def action_choose_engine(self) -> None:
        def chosen(spec: EngineSpec | None) -> None:
            if spec is not None:
                self.engine_spec = spec
                self.notify(f"Engine: {describe_engine(spec)}", markup=False)

        self.push_screen(EngineScreen(self.engine_spec), chosen)

    # --- save, help, quit ------------------------------------------------------------------

    def action_save(self) -> None:
        focused = self.focused
        in_midi = focused is not None and self.midi_pane in focused.ancestors_with_self
        in_abc = focused is not None and self.abc_pane in focused.ancestors_with_self
        if in_midi or (not in_abc and not self._abc_unsaved()):
            self._save_midi()
        else:
            self._save_abc()

    def _abc_unsaved(self) -> bool:
        """The ABC pane holds a conversion's output or an edited tune."""
        source = self.abc_pane.source
        return source is not None and (source.key is None or self.abc_pane.modified)

    def _save_abc(self) -> None:
        pane = self.abc_pane
        entry = self.selected
        if pane.source is None or not pane.text.strip():
            self.notify("Nothing to save in the ABC pane.", severity="warning")
            return
        text = pane.text if pane.text.endswith("\n") else pane.text + "\n"
        if pane.source.key is not None and isinstance(entry, TuneEntry):
            what = f"ABC of {self._tune_name(entry)}"
            suggestion = entry.path

            def save_tune(choice: tuple[Path, bool] | None) -> None:
                if choice is not None:
                    self._write_tune(entry, text, *choice)

            self.push_screen(SaveScreen(what, suggestion, self.folder), save_tune)
            return
        output = self.abc_output
        suggestion = output.suggestion if output else self.folder / "tune.abc"
        what = output.what if output else "ABC"
        data = text.encode("utf-8")
        self.push_screen(
            SaveScreen(what, suggestion, self.folder),
            lambda choice: self._write(choice, data),
        )

    def _save_midi(self) -> None:
        output = self.midi_output
        if output is None:
            self.notify("Nothing to save: convert a tune to MIDI first (c).", severity="warning")
            return
        self.push_screen(
            SaveScreen(output.what, output.suggestion, self.folder),
            lambda choice: self._write(choice, output.data),
        )

    def _write(self, choice: tuple[Path, bool] | None, data: bytes) -> None:
        if choice is None:
            return
        path, overwrite = choice
        try:
            save_output(path, data, overwrite)
        except (ConversionError, OSError) as err:
            self.notify(first_line(err), severity="error", markup=False)
            return
        self.notify(f"Saved {self._shown_name(path)}", markup=False)
        self.library.action_reload()

    def _write_tune(self, entry: TuneEntry, text: str, path: Path, overwrite: bool) -> None:
        """Save a tune: into its own file, replacing only that tune, or alone to a new file."""
        in_place = path.resolve() == entry.path.resolve()
        try:
            if in_place:
                book = replace_tune(read_abc_file(entry.path), entry.tune, text)
                write_atomic(entry.path, book.encode("utf-8"))
            else:
                tune = tune_from_text(text, entry.tune, self._tune_name(entry))
                save_output(path, tune.full_text.encode("utf-8"), overwrite)
        except (ConversionError, OSError) as err:
            self.notify(first_line(err), severity="error", markup=False)
            return
        if in_place:
            self.edits.pop(entry.key, None)
            self.library.modified.discard(entry.key)
            self.abc_pane.original_text = text
        self.notify(f"Saved {self._shown_name(path)}", markup=False)
        self.library.action_reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if not self.edits:
            self.exit()
            return
        count = len(self.edits)
        question = (
            f"{count} tune{'s have' if count > 1 else ' has'} unsaved edits. Quit and lose them?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)

    def action_leave_pane(self) -> None:
        self.library.focus()

    def action_focus_pane(self, widget_id: str) -> None:
        widget = self.screen_stack[0].query_one(f"#{widget_id}")
        if widget.focusable:
            widget.focus()

    # --- helpers ---------------------------------------------------------------------------

    def _shown_name(self, path: Path) -> str:
        return relative_name(path, self.folder)

    def _tune_name(self, entry: TuneEntry) -> str:
        name = self._shown_name(entry.path)
        return f"{name} {tune_label(entry.tune)}" if entry.tunes_in_file > 1 else name

    def _call(self, callback: Callable, *args) -> None:
        """Run ``callback`` on the app's thread from a worker; quietly not once it has closed."""
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.call_from_thread(callback, *args)

    def _pane(self, which: str) -> AbcPane | MidiPane:
        return self.abc_pane if which == "abc" else self.midi_pane

    def _busy(self, which: str, busy: bool) -> None:
        self._pane(which).loading = busy

    def _failed(self, err: BaseException, doing: str, which: str) -> None:
        self._pane(which).loading = False
        if isinstance(err, ConversionError | OSError):
            message = first_line(err)
        else:  # a bug: say what it was, in one line, never a traceback on screen
            message = f"internal error while {doing}: {type(err).__name__}: {first_line(err)}"
        self.notify(message, title=f"Failed {doing}", severity="error", markup=False)

    def _warn(self, warnings: list[str]) -> None:
        first = warnings[0].splitlines()[0] if warnings[0] else ""
        more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
        self.notify(first + more, title="Warnings", severity="warning", markup=False)


def _readable_text(path: Path) -> str:
    """The text of a file that holds no tune, to show it; '' when it is no text at all."""
    try:
        return read_abc_file(path)
    except (ConversionError, OSError):
        return ""
