"""The main screen: the file tree on the left, the ABC pane over the MIDI pane on the right, and
the keys that act on the selection (convert, round trip, compare, batch, engine, score and
audio, save, help, quit). They are this screen's bindings, so they do nothing while another
screen is on top.

Conversions and checks are library calls, run in this screen's worker threads so that the
interface never waits; a result that arrives while another screen is on top lands in its pane.
Saving (ctrl+s) is in ``saving.py``.

Why one module of over 400 lines: the keys, what the panes show for each selection and the
workers that fill them are one screen's behaviour, read together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, TextArea, Tree
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import AbcTune, decode_abc
from abcmidi_bgpt.reports.compare import CompareTune
from abcmidi_bgpt.reports.round_trip import round_trip

from ..engines import EngineCache, describe_engine, engines_to_compare, model_problem
from ..files import readable_text, suggest_output_path, tune_from_text
from ..midi_view import read_midi_view
from ..widgets.abc_pane import AbcPane, AbcSource
from ..widgets.key_footer import KeyFooter
from ..widgets.library_tree import (
    AbcFileEntry,
    Entry,
    FolderEntry,
    LibraryTree,
    MidiFileEntry,
    TuneEntry,
    relative_name,
    tune_label,
)
from ..widgets.midi_pane import MidiPane
from .batch import BatchScreen
from .compare import CompareScreen, CompareSubject
from .corpus import CorpusScreen
from .dialogs import ConfirmScreen
from .engine import EngineScreen
from .evaluation import EvaluationScreen
from .help import HelpScreen
from .render import RenderScreen, RenderSubject
from .report import ReportScreen
from .saving import Output, SaveFlow
from .training import TrainingScreen


class MainScreen(Screen[None]):
    """Work with the ABC tunes and MIDI files under one folder."""

    BINDINGS = [
        Binding("c", "convert", "Convert"),
        Binding("r", "round_trip", "Round trip"),
        Binding("v", "compare", "Compare"),
        Binding("b", "batch", "Batch"),
        Binding("e", "choose_engine", "Engine"),
        Binding("p", "render", "Score & audio", show=False),
        Binding("t", "training", "Training", show=False),
        Binding("m", "report", "Comparison report", show=False),
        Binding("o", "corpus", "Corpus", show=False),
        Binding("n", "evaluation", "Evaluate model", show=False),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("1", "focus_pane('library')", "Files", show=False),
        Binding("2", "focus_pane('abc-editor')", "ABC", show=False),
        Binding("3", "focus_pane('piano-roll')", "Piano roll", show=False),
        Binding("escape", "leave_pane", "Files", show=False),
    ]
    # Letter and digit keys type into the ABC editor; their actions wait until it is left.
    TYPED_ACTIONS = frozenset(
        {"convert", "round_trip", "compare", "batch", "choose_engine", "quit", "focus_pane"}
    ) | {"render", "training", "report", "corpus", "evaluation"}

    engine_spec: reactive[EngineSpec] = reactive(EngineSpec("symbolic"))

    def __init__(self, folder: Path, cache: EngineCache, engine: EngineSpec | None = None):
        super().__init__()
        self.folder = folder
        self.cache = cache
        self.edits: dict[tuple, str] = {}  # unsaved tune texts by TuneEntry.key
        self.selected: Entry | None = None
        self.midi_output: Output | None = None
        self.abc_output: Output | None = None
        self.saving = SaveFlow(self)
        if engine is not None:
            self.set_reactive(MainScreen.engine_spec, engine)

    def compose(self) -> ComposeResult:
        self.watch_engine_spec(self.engine_spec)  # before the header reads the subtitle
        yield Header()
        with Horizontal(id="main"):
            yield LibraryTree(self.folder, id="library")
            with Vertical(id="work"):
                yield AbcPane(id="abc-pane")
                yield MidiPane(id="midi-pane")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.library.border_title = "Files"
        self.library.focus()

    def watch_engine_spec(self, spec: EngineSpec) -> None:
        self.app.sub_title = f"{self.folder.name}/ · engine: {describe_engine(spec)}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_active:  # another screen is on top and has the keys: the footer
            return False  # left showing under it lists none of these
        typing = isinstance(self.focused, TextArea) and not self.focused.read_only
        return not (typing and action in self.TYPED_ACTIONS)

    @property
    def abc_pane(self) -> AbcPane:
        return self.query_one(AbcPane)

    @property
    def midi_pane(self) -> MidiPane:
        return self.query_one(MidiPane)

    @property
    def library(self) -> LibraryTree:
        return self.query_one(LibraryTree)

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
        name = self.shown_name(entry.path)
        if isinstance(entry, FolderEntry):
            shown = self.folder.name if entry.path == self.folder else name
            self.abc_pane.clear(f"{shown}/ · b converts the whole folder")
            self.midi_pane.clear("")
        elif isinstance(entry, AbcFileEntry) and entry.error:
            self.abc_pane.show_error(name, entry.error, readable_text(entry.path))
            self.midi_pane.clear("")
        elif isinstance(entry, AbcFileEntry):
            self.abc_pane.clear(f"{name}: {len(entry.tunes)} tunes · enter lists them")
            self.midi_pane.clear("")
        elif isinstance(entry, TuneEntry):
            source = AbcSource(self.tune_name(entry), entry.tune, entry.key)
            text = self.edits.get(entry.key, entry.tune.text)
            self.abc_pane.show(text, source, original_text=entry.tune.text)
            self.midi_pane.clear("c converts the tune to MIDI · r round-trips it through ABC")
        elif isinstance(entry, MidiFileEntry):
            self.abc_pane.clear("c transcribes the MIDI file to ABC · r round-trips it")
            self.midi_pane.clear("reading…")
            self.load_midi(entry)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_midi(self, entry: MidiFileEntry) -> None:
        name = self.shown_name(entry.path)
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
        label = f"{self.tune_name(entry)} → MIDI by {describe_engine(spec)}"
        self._call(self._busy, "midi", True)
        try:
            out = self.cache.get(spec).abc_to_midi(tune)
            view = read_midi_view(out.data, label)
        except Exception as err:
            self._call(self._failed, err, "converting to MIDI", "midi")
            return
        suggestion = suggest_output_path(entry.path, entry.tune, ".mid", entry.tunes_in_file)
        output = Output(out.data, suggestion, f"MIDI of {self.tune_name(entry)}")
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
        name = self.shown_name(entry.path)
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
                label = self.tune_name(entry)
                data = engine.abc_to_midi(tune).data
            else:
                label = self.shown_name(entry.path)
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
            return tune_from_text(self.abc_pane.text, entry.tune, self.tune_name(entry))
        except ConversionError as err:
            self.notify(first_line(err), severity="error", markup=False)
            return None

    # --- the other screens -----------------------------------------------------------------

    def action_compare(self) -> None:
        entry = self.selected
        if isinstance(entry, TuneEntry):
            tune = self._pane_tune(entry)
            if tune is None:
                return
            subject = CompareSubject(self.tune_name(entry), tune=tune)
        elif isinstance(entry, MidiFileEntry):
            try:
                data = entry.path.read_bytes()
            except OSError as err:
                self.notify(first_line(err), severity="error", markup=False)
                return
            subject = CompareSubject(self.shown_name(entry.path), midi=data)
        else:
            self.notify("Select a tune or a MIDI file to compare engines on.", severity="warning")
            return
        engines = engines_to_compare(self.engine_spec)
        self.app.push_screen(CompareScreen(subject, engines, self.cache))

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

        self.app.push_screen(BatchScreen(folder, self.folder, self.engine_spec), finished)

    def action_choose_engine(self) -> None:
        def chosen(spec: EngineSpec | None) -> None:
            if spec is not None:
                self.engine_spec = spec
                self.notify(f"Engine: {describe_engine(spec)}", markup=False)

        self.app.push_screen(EngineScreen(self.engine_spec), chosen)

    def action_render(self) -> None:
        entry = self.selected
        if isinstance(entry, TuneEntry):
            tune = self._pane_tune(entry)
            if tune is None:
                return
            subject = RenderSubject(entry.path, self.tune_name(entry), tune, entry.tunes_in_file)
        elif isinstance(entry, MidiFileEntry):
            subject = RenderSubject(entry.path, self.shown_name(entry.path))
        else:
            self.notify("Select a tune or a MIDI file for its score and audio.", severity="warning")
            return
        self.app.push_screen(RenderScreen(subject, self.folder))

    def action_save(self) -> None:
        self.saving.save()

    def action_training(self) -> None:
        self.app.push_screen(TrainingScreen())

    def action_corpus(self) -> None:
        self.app.push_screen(CorpusScreen())

    def action_evaluation(self) -> None:
        checkpoint = getattr(self.engine_spec.options, "checkpoint", None)
        self.app.push_screen(EvaluationScreen(model=checkpoint))

    def action_report(self) -> None:
        self.app.push_screen(ReportScreen(open_tune=self.open_compared_tune))

    def open_compared_tune(
        self, tune: CompareTune, direction: Direction, checkpoint: str | None
    ) -> None:
        """A comparison report's row, in the compare view: its bgpt with the checkpoint the
        comparison ran with, where that still loads, else the engines as chosen here."""
        if direction == Direction.ABC_TO_MIDI and tune.tune is None:
            self.notify(f"{tune.name}: its ABC is not one readable tune", severity="error")
            return
        if direction == Direction.ABC_TO_MIDI:
            subject = CompareSubject(tune.name, tune=tune.tune)
        else:
            subject = CompareSubject(tune.name, midi=tune.midi)
        engines = engines_to_compare(self.engine_spec)
        if checkpoint and model_problem("bgpt", checkpoint) is None:
            compared = EngineSpec.of("bgpt", checkpoint=checkpoint)
            engines = [(n, compared, "") if n == "bgpt" else e for e in engines for n in [e[0]]]
        self.app.push_screen(CompareScreen(subject, engines, self.cache))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit(self) -> None:
        """Quit, asking first when tunes have unsaved edits."""
        if not self.edits:
            self.app.exit()
            return
        count = len(self.edits)
        question = (
            f"{count} tune{'s have' if count > 1 else ' has'} unsaved edits. Quit and lose them?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.exit()

        self.app.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)

    def action_leave_pane(self) -> None:
        self.library.focus()

    def action_focus_pane(self, widget_id: str) -> None:
        widget = self.query_one(f"#{widget_id}")
        if widget.focusable:
            widget.focus()

    # --- helpers ---------------------------------------------------------------------------

    def shown_name(self, path: Path) -> str:
        return relative_name(path, self.folder)

    def tune_name(self, entry: TuneEntry) -> str:
        name = self.shown_name(entry.path)
        return f"{name} {tune_label(entry.tune)}" if entry.tunes_in_file > 1 else name

    def _call(self, callback: Callable, *args) -> None:
        """Run ``callback`` on the app's thread from a worker; quietly not once it has closed."""
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.app.call_from_thread(callback, *args)

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
