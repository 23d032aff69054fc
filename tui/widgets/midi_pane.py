"""The MIDI pane: a file's header facts and its piano roll, with round-trip results."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Static

from abcmidi_bgpt.reports.round_trip import RoundTrip

from ..midi_view import MidiView
from .piano_roll import EXTRA_COLOUR, MISSING_COLOUR, PianoRoll


class MidiPane(Vertical):
    """Shows one MIDI file or conversion output; the piano roll scrolls by bar."""

    def compose(self) -> ComposeResult:
        yield Static(id="midi-facts")
        yield PianoRoll(id="piano-roll")
        yield Static(id="midi-result")

    def on_mount(self) -> None:
        self.clear("Select a MIDI file, or convert a tune (c).")

    @property
    def roll(self) -> PianoRoll:
        return self.query_one(PianoRoll)

    def show(self, view: MidiView, label: str, trip: RoundTrip | None = None) -> None:
        """A file's facts and roll; with ``trip``, the notes the round trip lost and added."""
        self.border_title = f"MIDI · {escape(label)}"
        self._facts(Text(view.facts.summary()))
        self._result(Text())
        missing, extra = (trip.missing, trip.extra) if trip else ([], [])
        self.roll.show(view.performance, missing, extra)

    def show_round_trip(self, view: MidiView, label: str, trip: RoundTrip, engine: str) -> None:
        """The input's roll with the notes the round trip lost (red) and added (yellow)."""
        self.show(view, label, trip)
        score, timed = trip.score, trip.score_with_offsets
        good = score.f1 >= 0.99
        text = Text()
        text.append(f"round trip via {engine}: ", style="bold")
        text.append(f"note F1 {score.f1:.3f}", style="bold green" if good else "bold yellow")
        text.append(
            f" (P {score.precision:.3f} R {score.recall:.3f}; with offsets {timed.f1:.3f}) · "
        )
        text.append(f"■ {len(trip.missing)} lost", style=MISSING_COLOUR)
        text.append(" · ")
        text.append(f"■ {len(trip.extra)} added", style=EXTRA_COLOUR)
        self._result(text)

    def show_error(self, label: str, message: str) -> None:
        self.border_title = f"MIDI · {escape(label)}"
        self._facts(Text.assemble(("✗ ", "bold red"), (message, "red")))
        self._result(Text())
        self.roll.clear()

    def clear(self, message: str = "") -> None:
        self.border_title = "MIDI"
        self._facts(Text(message, style="dim"))
        self._result(Text())
        self.roll.clear()

    def _facts(self, text: Text) -> None:
        self.query_one("#midi-facts", Static).update(text)

    def _result(self, text: Text) -> None:
        result = self.query_one("#midi-result", Static)
        result.update(text)
        result.display = bool(text.plain)
