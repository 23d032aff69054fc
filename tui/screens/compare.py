"""The compare view: each engine's output for the selection side by side, with its validity
and its fidelity (note F1) against a reference."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import AbcTune
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.reports.compare import CompareTune
from abcmidi_bgpt.reports.one_tune import ComparedOutput, compare_one, rendered_tune

from ..engines import EngineCache, describe_engine
from ..widgets.abc_editor import AbcEditor
from ..widgets.key_footer import KeyFooter
from ..widgets.piano_roll import EXTRA_COLOUR, MISSING_COLOUR, PianoRoll, pitch_span


@dataclass(frozen=True, slots=True)
class CompareSubject:
    """What to compare the engines on: a tune (ABC -> MIDI) or MIDI bytes (MIDI -> ABC)."""

    label: str
    tune: AbcTune | None = None
    midi: bytes = b""

    @property
    def direction(self) -> Direction:
        return Direction.ABC_TO_MIDI if self.tune is not None else Direction.MIDI_TO_ABC

    def to_compare(self) -> CompareTune:
        """The subject with its reference: a tune's is the symbolic converter's rendering (no
        chord accompaniment); a MIDI file is its own. Raises :class:`ConversionError` when a
        tune cannot be rendered."""
        if self.tune is not None:
            return rendered_tune(self.label, self.tune)
        read_performance(self.midi, self.label)  # a file that cannot be read fails every column
        return CompareTune(self.label, self.midi)


class CompareColumn(Vertical):
    """One engine's output, its validity and fidelity."""

    def __init__(self, spec: EngineSpec | None, name: str, direction: Direction) -> None:
        super().__init__(classes="compare-column")
        self.spec = spec
        self.engine_name = name
        self.direction = direction

    def compose(self) -> ComposeResult:
        yield Static(Text("converting…", style="dim"), classes="compare-status")
        if self.direction == Direction.ABC_TO_MIDI:
            yield PianoRoll()
        else:
            yield AbcEditor(read_only=True)

    def on_mount(self) -> None:
        self.border_title = escape(describe_engine(self.spec) if self.spec else self.engine_name)

    def show_unavailable(self, reason: str) -> None:
        self.query_one(".compare-status", Static).update(Text(reason, style="dim italic"))

    def show(self, out: ComparedOutput, reference_is_self: bool) -> None:
        self.query_one(".compare-status", Static).update(compared_status(out, reference_is_self))
        if out.error or not out.data:
            return
        if self.direction == Direction.ABC_TO_MIDI:
            if out.performance is not None:
                self.query_one(PianoRoll).show(out.performance, out.missing, out.extra)
        else:
            self.query_one(AbcEditor).load(out.text, read_only=True)


def compared_status(out: ComparedOutput, reference_is_self: bool) -> Text:
    text = Text()
    if out.error:
        text.append("✗ failed: ", style="bold red")
        text.append(out.error, style="red")
        return text
    if out.validity:
        text.append("✓ valid", style="bold green")
    else:
        text.append("✗ invalid: ", style="bold red")
        text.append(out.validity.message if out.validity else "not checked", style="red")
    what = "output" if out.direction == Direction.ABC_TO_MIDI else "re-rendered"
    if reference_is_self:
        text.append("\nreference for the others", style="dim")
    elif out.score is not None:
        s = out.score
        style = "bold green" if s.f1 >= 0.99 else "bold yellow" if s.f1 >= 0.9 else "bold red"
        text.append("\nnote F1 ")
        text.append(f"{s.f1:.3f}", style=style)
        text.append(f" (P {s.precision:.3f} R {s.recall:.3f}, {what} {s.estimate} notes)")
        if out.missing or out.extra:
            text.append(f"\n■ {len(out.missing)} missing", style=MISSING_COLOUR)
            text.append(" · ")
            text.append(f"■ {len(out.extra)} extra", style=EXTRA_COLOUR)
    else:
        text.append("\nnot scored", style="dim")
    warned = f" · {len(out.warnings)} warnings" if out.warnings else ""
    text.append(f"\n{len(out.data):,} bytes{warned}", style="dim")
    return text


class CompareScreen(Screen[None]):
    """Runs every available engine on one tune or MIDI file, each in its own worker."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(
        self, subject: CompareSubject, engines: list[tuple[str, EngineSpec | None, str]], cache
    ) -> None:
        """``engines``: (name, spec or None when it cannot run, reason it cannot)."""
        super().__init__()
        self.subject = subject
        self.engines = engines
        self.cache: EngineCache = cache

    def compose(self) -> ComposeResult:
        yield Header()
        direction = self.subject.direction.arrow
        reference = (
            "note F1 against the symbolic rendering of the tune"
            if self.subject.direction == Direction.ABC_TO_MIDI
            else "validity by music21 (and abc2midi); note F1 of the ABC re-rendered "
            "by the symbolic converter against the input MIDI"
        )
        yield Static(
            Text.assemble(
                ("Compare ", "bold"), (f"{self.subject.label}", "bold #d7af87"), f"  {direction}"
            ),
            id="compare-title",
        )
        yield Static(Text(reference, style="dim"), id="compare-reference")
        with Horizontal(id="compare-columns"):
            for name, spec, _ in self.engines:
                yield CompareColumn(spec, name, self.subject.direction)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.run_comparison()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def run_comparison(self) -> None:
        worker = get_current_worker()
        columns = list(self.query(CompareColumn))
        try:
            subject = self.subject.to_compare()
        except Exception as err:  # a bad input, or a converter bug: say so in every column
            self.app.call_from_thread(self._fail_all, columns, f"no reference: {err}")
            return
        for column, (name, spec, reason) in zip(columns, self.engines, strict=True):
            if worker.is_cancelled:
                return
            if spec is None:
                self.app.call_from_thread(column.show_unavailable, reason)
                continue
            out = self._compare(name, spec, subject)
            self.app.call_from_thread(self._show_column, column, out, self._is_reference(spec))

    def _show_column(self, column: CompareColumn, out: ComparedOutput, is_reference: bool) -> None:
        column.show(out, is_reference)
        self._share_pitch_range()

    def _share_pitch_range(self) -> None:
        """Give every piano roll the pitch range of all the engines' notes: the rolls fit the
        tune and show each pitch on the same line."""
        rolls = list(self.query(PianoRoll))
        span = pitch_span(note for roll in rolls for note in roll.all_notes)
        if span is not None:
            for roll in rolls:
                roll.set_pitch_range(span)

    def _is_reference(self, spec: EngineSpec) -> bool:
        return self.subject.direction == Direction.ABC_TO_MIDI and spec.name == "symbolic"

    def _compare(self, name: str, spec: EngineSpec, subject: CompareTune) -> ComparedOutput:
        try:
            return compare_one(name, self.cache.get(spec), self.subject.direction, subject)
        except ConversionError as err:
            return ComparedOutput(name, self.subject.direction, error=str(err))
        except Exception as err:  # an engine's bug shows in its column, not as a traceback
            return ComparedOutput(
                name, self.subject.direction, error=f"internal error: {type(err).__name__}: {err}"
            )

    def _fail_all(self, columns: list[CompareColumn], message: str) -> None:
        for column in columns:
            column.show_unavailable(message)
