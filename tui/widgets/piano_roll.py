"""A piano roll drawn with text: pitches down the side, bars across, scrolled a bar at a time."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from abcmidi_bgpt.core.performance import Note, Performance

from ..midi_view import bar_starts

PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
BLACK_KEYS = {1, 3, 6, 8, 10}
LABEL_WIDTH = 5
VOICE_COLOURS = ["#5fafff", "#87d787", "#d787d7", "#d7af5f", "#5fd7d7", "#af87ff"]
MISSING_COLOUR = "#ff5f5f"  # in the input, lost by the conversion
EXTRA_COLOUR = "#ffd700"  # added by the conversion
ZOOMS = (1, 2, 4, 8)  # cells per beat
PITCH_MARGIN = 2  # semitones shown below the lowest and above the highest note of a fitted roll


def pitch_name(pitch: int) -> str:
    """MIDI pitch as a name with octave, middle C being C4."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def pitch_span(notes: Iterable[Note], margin: int = PITCH_MARGIN) -> tuple[int, int] | None:
    """The lowest and highest pitch of the notes, ``margin`` semitones wider on each side
    (within MIDI's 0-127); None for no notes."""
    pitches = [n.pitch for n in notes]
    if not pitches:
        return None
    return max(0, min(pitches) - margin), min(127, max(pitches) + margin)


class PianoRoll(Widget, can_focus=True):
    """Notes of a performance on a grid of pitch rows and time columns.

    Notes the comparison marked are drawn in their own colours: ``missing`` ones (in the
    input, not in the output) red, ``extra`` ones (only in the output) yellow.

    The pitches on screen are the notes' range centred, or a range set with
    :meth:`set_pitch_range`, whose rows are then drawn at the bottom of the roll so that rolls
    of the same height side by side, given the same range, show each pitch on the same line.
    """

    BINDINGS = [
        Binding("right,l", "scroll_bars(1)", "Next bar", show=False),
        Binding("left,h", "scroll_bars(-1)", "Previous bar", show=False),
        Binding("pagedown,ctrl+f", "scroll_page(1)", "Bars →", show=False),
        Binding("pageup,ctrl+b", "scroll_page(-1)", "Bars ←", show=False),
        Binding("home", "first_bar", "First bar", show=False),
        Binding("end", "last_bar", "Last bar", show=False),
        Binding("up,k", "scroll_pitch(1)", "Higher", show=False),
        Binding("down,j", "scroll_pitch(-1)", "Lower", show=False),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in", show=False),
        Binding("minus", "zoom(-1)", "Zoom out", show=False),
    ]

    first_bar: reactive[int] = reactive(0)
    top_pitch: reactive[int] = reactive(72)
    cells_per_beat: reactive[int] = reactive(4)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.notes: list[Note] = []
        self.missing: list[Note] = []
        self.extra: list[Note] = []
        self.bars: list[Fraction] = []
        self.end = Fraction(0)
        self.auto_pitch = True
        self.pitch_range: tuple[int, int] | None = None  # (lowest, highest) set from outside
        self.message = ""

    def show(
        self, perf: Performance, missing: Iterable[Note] = (), extra: Iterable[Note] = ()
    ) -> None:
        """Draw a performance, with the notes a comparison found different."""
        self.notes = perf.notes()
        self.missing = list(missing)
        self.extra = list(extra)
        self.bars = bar_starts(perf)
        self.end = perf.end
        self.message = "" if self.notes else "no notes"
        self.first_bar = 0
        self.auto_pitch = True  # choose the pitch window when drawing, at the final size
        self.pitch_range = None
        self.refresh()

    def set_pitch_range(self, span: tuple[int, int]) -> None:
        """Show the pitches from ``span[0]`` to ``span[1]``, as many as fit from the lowest."""
        self.pitch_range = span
        self.auto_pitch = True
        self.refresh()

    def clear(self, message: str = "") -> None:
        self.notes, self.missing, self.extra, self.bars = [], [], [], []
        self.message = message
        self.first_bar = 0
        self.refresh()

    @property
    def visible_bars(self) -> tuple[int, int]:
        """First and last bar (1-based) on screen."""
        if not self.bars:
            return 0, 0
        start = self.bars[self.first_bar]
        end = start + Fraction(max(1, self.size.width - LABEL_WIDTH), self.cells_per_beat)
        last = self.first_bar
        while last + 1 < len(self.bars) and self.bars[last + 1] < end:
            last += 1
        return self.first_bar + 1, last + 1

    @property
    def all_notes(self) -> list[Note]:
        """Every note drawn: the performance's, and those a comparison marked."""
        return self.notes + self.missing + self.extra

    def _window(self, rows: int) -> tuple[int, int]:
        """The highest and the lowest pitch on screen, with ``rows`` rows for pitches."""
        if self.pitch_range is not None and self.auto_pitch:
            low, high = self.pitch_range
            return min(high, low + rows - 1), low
        if self.auto_pitch:
            self.set_reactive(PianoRoll.top_pitch, self._default_top())
        return self.top_pitch, max(0, self.top_pitch - rows + 1)

    def _default_top(self) -> int:
        """The highest pitch on screen: the tune's range centred, or, when it does not fit,
        its middle pitch centred."""
        pitches = sorted(n.pitch for n in self.all_notes)
        if not pitches:
            return 72
        rows = max(1, self.size.height - 1) if self.size.height else 24
        low, high = pitches[0], pitches[-1]
        if high - low + 1 <= rows:
            return min(127, high + (rows - (high - low + 1)) // 2)
        return min(127, high, pitches[len(pitches) // 2] + rows // 2)

    def action_scroll_bars(self, delta: int) -> None:
        if self.bars:
            self.first_bar = max(0, min(len(self.bars) - 1, self.first_bar + delta))

    def action_scroll_page(self, direction: int) -> None:
        first, last = self.visible_bars
        self.action_scroll_bars(direction * max(1, last - first))

    def action_first_bar(self) -> None:
        self.first_bar = 0

    def action_last_bar(self) -> None:
        """Scroll so that the last bar ends at the right edge."""
        if not self.bars:
            return
        width = Fraction(max(1, self.size.width - LABEL_WIDTH), self.cells_per_beat)
        end = max(self.bars[-1], self.end)
        first = len(self.bars) - 1
        while first > 0 and end - self.bars[first - 1] <= width:
            first -= 1
        self.first_bar = first

    def action_scroll_pitch(self, delta: int) -> None:
        top = self._window(max(1, self.size.height - 1))[0]
        self.auto_pitch = False
        self.top_pitch = max(0, min(127, top + delta))

    def action_zoom(self, direction: int) -> None:
        i = ZOOMS.index(self.cells_per_beat) if self.cells_per_beat in ZOOMS else 2
        self.cells_per_beat = ZOOMS[max(0, min(len(ZOOMS) - 1, i + direction))]

    def on_mouse_scroll_down(self) -> None:
        self.action_scroll_bars(1)

    def on_mouse_scroll_up(self) -> None:
        self.action_scroll_bars(-1)

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if not self.notes and not self.extra:
            return Text(self.message, style="dim italic")
        columns = max(1, width - LABEL_WIDTH)
        cpb = self.cells_per_beat
        rows = max(0, height - 1)
        top, bottom = self._window(rows)
        origin = self.bars[self.first_bar] if self.bars else Fraction(0)
        grid_style = Style(color="grey35")
        # rows the pitches leave free are above the ruler, so that the lowest pitch is at the bottom
        lines = [Text()] * max(0, rows - (top - bottom + 1))
        lines.append(self._ruler(columns, origin))
        bar_columns = {
            round((b - origin) * cpb) for b in self.bars if 0 <= round((b - origin) * cpb) < columns
        }
        cells = {p: [(" ", None)] * columns for p in range(bottom, top + 1)}
        for row in cells.values():
            for c in bar_columns:
                row[c] = ("│", grid_style)
        self._draw(cells, self.notes, origin, columns, None)
        self._draw(cells, self.missing, origin, columns, MISSING_COLOUR)
        self._draw(cells, self.extra, origin, columns, EXTRA_COLOUR)
        for pitch in range(top, bottom - 1, -1):
            black = pitch % 12 in BLACK_KEYS
            label_style = Style(color="grey50" if black else "grey74", bold=pitch % 12 == 0)
            line = Text(f"{pitch_name(pitch):>4} ", style=label_style)
            background = Style(bgcolor="grey11") if black else Style()
            for char, style in cells.get(pitch, []):
                line.append(char, background + style if style else background)
            lines.append(line)
        return Text("\n").join(lines)

    def _ruler(self, columns: int, origin: Fraction) -> Text:
        ruler = [" "] * columns
        cpb = self.cells_per_beat
        for number, b in enumerate(self.bars, start=1):
            col = round((b - origin) * cpb)
            if col < 0 or col >= columns:
                continue
            label = str(number)
            for k, ch in enumerate(label):
                if col + k < columns:
                    ruler[col + k] = ch
        first, last = self.visible_bars
        where = f" bars {first}–{last} of {len(self.bars)} "
        if len(where) < columns:
            ruler[columns - len(where) :] = list(where)
        return Text(" " * LABEL_WIDTH + "".join(ruler), style="bold grey62")

    def _draw(self, cells, notes: list[Note], origin: Fraction, columns: int, colour) -> None:
        cpb = self.cells_per_beat
        for note in notes:
            row = cells.get(note.pitch)
            if row is None:
                continue
            start = int((note.onset - origin) * cpb)
            end = max(start + 1, int((note.offset - origin) * cpb))
            if end <= 0 or start >= columns:
                continue
            style = Style(color=colour or VOICE_COLOURS[note.voice % len(VOICE_COLOURS)])
            for c in range(max(0, start), min(columns, end)):
                # A note longer than a cell ends half a cell early, so repeated notes part.
                row[c] = ("▌" if c == end - 1 and end - start > 1 else "█", style)
