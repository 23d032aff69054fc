"""The help screen: every key, in two columns, and the researcher's path through the screens."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS = [
    ("Anywhere", ""),
    ("c", "convert: a tune to MIDI, a MIDI file to ABC"),
    ("r", "round trip MIDI → ABC → MIDI: note F1, diffs"),
    ("v", "compare the engines on the selection"),
    ("b", "batch-convert the selected folder"),
    ("e", "engine: symbolic, abc2midi, bgpt + model"),
    ("p", "score and audio: SVG, WAV, or play it"),
    ("ctrl+s", "save the ABC pane's tune or the MIDI"),
    ("1 2 3", "focus the files, the ABC, the piano roll"),
    ("escape", "back to the file tree"),
    ("tab / shift+tab", "next / previous pane"),
    ("f5", "read the folder again"),
    ("? or f1", "this help"),
    ("q", "quit (asks first if edits are unsaved)"),
    ("File tree", ""),
    ("↑ ↓ enter", "move, open; the panes follow the cursor"),
    ("ABC pane", ""),
    ("typing", "edits; the status line re-checks it"),
    ("f8", "cursor to the next problem found"),
    ("ctrl+z / ctrl+y", "undo / redo"),
    ("Piano roll", ""),
    ("← → (h l)", "one bar back / on"),
    ("pgup pgdn", "a screen of bars"),
    ("home end", "first / last bar"),
    ("↑ ↓ (k j)", "higher / lower pitches"),
    ("+ -", "zoom in / out"),
    ("Research", ""),
    ("o", "build a corpus, or look at one"),
    ("t", "watch a training run and its curves"),
    ("  ctrl+n", "start a training run (outlives the app)"),
    ("n", "evaluate a model: BPB per direction"),
    ("e ctrl+o", "pick the bgpt model among those found"),
    ("m", "a comparison report: rows, worst first"),
    ("  enter", "open a row's tune in the compare view"),
]
# The researcher's path through the screens, in order.
RESEARCH_PATH = (
    "o builds the pairs; t, ctrl+n trains on them and shows the curves; n scores the model; "
    "e, ctrl+o makes it the engine; v compares it with the symbolic converter on one tune, "
    "m reads a whole comparison (abcmidi-bgpt compare --out DIR) and opens its worst tunes."
)
SPLIT_AT = ("File tree", "")  # the second column starts here


def keys_table(rows: list[tuple[str, str]] = KEYS) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold #ffaf00", no_wrap=True)
    table.add_column()
    for key, what in rows:
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
        split = KEYS.index(SPLIT_AT)
        with VerticalScroll(id="help-dialog"):
            yield Label("abcmidi-bgpt · keys  (escape closes)", classes="dialog-title")
            with Horizontal(id="help-columns"):
                yield Static(keys_table(KEYS[:split]), classes="help-column")
                yield Static(keys_table(KEYS[split:]), classes="help-column")
            yield Static(Text.assemble(("Research: ", "bold"), RESEARCH_PATH), id="help-path")
            yield Static(
                Text(
                    "Red in the piano roll: notes of the input the conversion lost. "
                    "Yellow: notes it added. Outputs are written atomically and never "
                    "replace a file without asking.",
                    style="dim",
                )
            )
