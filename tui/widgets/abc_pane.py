"""The ABC pane: a tune's text, editable and coloured, with a status line that says whether
it parses and where it does not."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static, TextArea
from textual.worker import get_current_worker

from abcmidi_bgpt.checks.diagnostics import Diagnostic, TuneCheck, check_tune
from abcmidi_bgpt.checks.validate import Validity, validate_abc
from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.formats.abc.text import AbcTune

from ..files import tune_from_text
from .abc_editor import AbcEditor

CHECK_DELAY_S = 0.3  # wait for a pause in typing (or in moving through the tree)


@dataclass(frozen=True, slots=True)
class AbcSource:
    """Where the text in the pane came from: a tune of a file, or a conversion's output."""

    label: str  # how the pane's title names it
    tune: AbcTune | None = None  # the tune it was loaded from (its file header applies)
    key: tuple | None = None  # identifies the tune for unsaved edits; None for outputs


class AbcPane(Vertical):
    """Shows one tune; edits are reported with :class:`AbcPane.Edited`."""

    BINDINGS = [Binding("f8", "next_problem", "Next problem")]

    class Edited(Message):
        """The user changed the text of a tune."""

        def __init__(self, key: tuple, text: str, modified: bool) -> None:
            super().__init__()
            self.key = key
            self.text = text
            self.modified = modified

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source: AbcSource | None = None
        self.original_text = ""
        self.last_check: TuneCheck | None = None
        self._timer: Timer | None = None
        self.check_pending = False  # a check of the current text is due or running

    def compose(self) -> ComposeResult:
        yield AbcEditor(id="abc-editor")
        yield Static(id="abc-status")

    def on_mount(self) -> None:
        self.border_title = "ABC"
        self.clear("Select a tune in the file tree.")

    @property
    def editor(self) -> AbcEditor:
        return self.query_one(AbcEditor)

    @property
    def text(self) -> str:
        return self.editor.text

    @property
    def modified(self) -> bool:
        return self.source is not None and self.text != self.original_text

    def show(self, text: str, source: AbcSource, original_text: str | None = None) -> None:
        """Show a tune (``original_text`` is its text on disk when ``text`` holds edits)."""
        self.source = source
        self.original_text = text if original_text is None else original_text
        self.border_title = f"ABC · {escape(source.label)}"
        self.last_check = None
        self.check_pending = True
        self.editor.load(text)
        self._set_status(Text("checking…", style="dim"))

    def show_error(self, label: str, message: str, text: str = "") -> None:
        """A file that is no ABC tune: its text (read-only) and the reason in the status."""
        self.source = None
        self.check_pending = False
        self.original_text = text
        self.border_title = f"ABC · {escape(label)}"
        self.editor.load(text, read_only=True)
        self._set_status(Text.assemble(("✗ ", "bold red"), (message, "red")), "error")

    def clear(self, message: str = "") -> None:
        self.source = None
        self.check_pending = False
        self.original_text = ""
        self.border_title = "ABC"
        self.editor.load("", read_only=True)
        self._set_status(Text(message, style="dim"))

    def _set_status(self, text: Text, state: str = "") -> None:
        status = self.query_one("#abc-status", Static)
        status.update(text)
        status.set_classes(state)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self.source is None:
            return
        if self.source.key is not None:
            self.post_message(self.Edited(self.source.key, self.text, self.modified))
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(CHECK_DELAY_S, self._start_check)
        self.check_pending = True

    def action_next_problem(self) -> None:
        """Put the cursor on the next problem the last check placed, after the cursor."""
        check = self.last_check
        places = sorted(
            (d.line - 1, d.column - 1)
            for d in (check.diagnostics if check else [])
            if d.line is not None and d.column is not None
        )
        if not places:
            self.app.notify("No problem with a place in the text.", markup=False)
            return
        cursor = self.editor.cursor_location
        target = next((p for p in places if p > cursor), places[0])
        self.editor.focus()
        self.editor.move_cursor(target, center=True)

    def _start_check(self) -> None:
        if self.source is not None:
            self.run_check(self.text, self.source)

    @work(thread=True, exclusive=True, group="abc-check", exit_on_error=False)
    def run_check(self, text: str, source: AbcSource) -> None:
        """Convert the text with the symbolic converter and validate it with music21."""
        worker = get_current_worker()
        validity: Validity | None = None
        try:
            tune = tune_from_text(text, source.tune, source.label)
        except ConversionError as err:
            check = TuneCheck([Diagnostic("error", err.reason)])
        else:
            try:
                check = check_tune(tune)
                if check.ok:
                    validity = validate_abc(tune.full_text)
            except Exception as err:  # a converter bug: say so on the status line
                check = TuneCheck(
                    [
                        Diagnostic(
                            "error", f"internal error: {type(err).__name__}: {first_line(err)}"
                        )
                    ]
                )
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_check, text, check, validity)

    def _show_check(self, text: str, check: TuneCheck, validity: Validity | None) -> None:
        if text != self.text:  # edited since: a newer check is on its way
            return
        self.last_check = check
        self.check_pending = False
        self.editor.mark_problems(check.diagnostics)
        self._set_status(*status_line(check, validity))


def status_line(check: TuneCheck, validity: Validity | None) -> tuple[Text, str]:
    """The status line for a check: one verdict, then the first error and warning.

    "✓ parses" only when the symbolic converter reads the text without error and music21
    parses it; otherwise "✗" and the check that failed, as the compare view says "✗ invalid".
    An error only abc2midi reports (it is stricter than the standard, e.g. a tie it cannot
    follow) is a warning beside "✓ parses", never a second verdict.
    """
    text = Text()
    if check.errors:
        text.append("✗ parse error: ", style="bold red")
        text.append(str(check.errors[0]), style="red")
        state = "error"
    else:
        perf = check.result.performance
        voices = sum(1 for v in perf.voices if v.notes)
        notes = sum(len(v.notes) for v in perf.voices)
        read = f"{notes} notes in {voices} voice{'s' if voices != 1 else ''}"
        if validity is not None and not validity and validity.checker != "abc2midi":
            text.append("✗ invalid: ", style="bold red")
            text.append(validity.message, style="red")
            text.append(f" (the symbolic converter reads {read})", style="dim")
            state = "error"
        else:
            text.append("✓ parses", style="bold green")
            text.append(f" · {read}")
            state = "ok"
            if validity is not None:
                text.append(" · music21 ✓", style="green")
                if not validity:  # abc2midi alone
                    text.append(f" · ⚠ {validity.message}", style="yellow")
                    state = "warning"
    if check.warnings:
        count = len(check.warnings)
        text.append(f"\n⚠ {count} warning{'s' if count > 1 else ''}: ", style="bold yellow")
        # a warning that points at a place in the text helps most
        first = next((w for w in check.warnings if w.line is not None), check.warnings[0])
        text.append(str(first), style="yellow")
        state = state if state == "error" else "warning"
    return text, state
