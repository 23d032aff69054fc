"""The help screen: what the panes show and every key."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS = [
    ("Anywhere", ""),
    ("c", "convert the selection: a tune to MIDI, a MIDI file to ABC"),
    ("r", "round trip: MIDI → ABC → MIDI, with note F1 and the differing notes"),
    ("v", "compare the engines on the selection, side by side"),
    ("b", "batch-convert the selected folder"),
    ("e", "choose the engine (symbolic, abc2midi, bgpt + checkpoint)"),
    ("p", "score and audio: write the SVG or WAV, or play it"),
    ("t", "watch a training run: its progress and curves"),
    ("m", "a comparison report: its rows, worst first"),
    ("ctrl+s", "save the ABC pane's tune or the converted MIDI"),
    ("1 2 3", "focus the file tree, the ABC pane, the piano roll"),
    ("escape", "back to the file tree"),
    ("tab / shift+tab", "next / previous pane"),
    ("f5", "read the folder again"),
    ("? or f1", "this help"),
    ("q", "quit (asks when there are unsaved edits)"),
    ("File tree", ""),
    ("↑ ↓ enter", "move, open a folder or tune book; the panes follow the cursor"),
    ("ABC pane", ""),
    ("typing", "edits the tune; the status line re-checks it after a pause"),
    ("f8", "cursor to the next problem the status line found"),
    ("ctrl+z / ctrl+y", "undo / redo"),
    ("Piano roll", ""),
    ("← → (h l)", "one bar back / on"),
    ("pgup pgdn", "a screen of bars"),
    ("home end", "first / last bar"),
    ("↑ ↓ (k j)", "higher / lower pitches"),
    ("+ -", "zoom in / out"),
]


def keys_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold #ffaf00", no_wrap=True)
    table.add_column()
    for key, what in KEYS:
        if what:
            table.add_row(key, what)
        else:
            table.add_row(Text(key, style="bold underline #5fafd7"), "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q,question_mark,f1", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("abcmidi-bgpt · keys  (escape closes)", classes="dialog-title")
            yield Static(keys_table())
            yield Static(
                Text(
                    "Red in the piano roll: notes of the input the conversion lost. "
                    "Yellow: notes it added. Outputs are written atomically and never "
                    "replace a file without asking.",
                    style="dim",
                )
            )
