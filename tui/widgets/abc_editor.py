"""A text area that colours ABC notation and marks the places of known problems."""

from __future__ import annotations

from rich.style import Style
from textual.widgets import TextArea
from textual.widgets.text_area import TextAreaTheme

from abcmidi_bgpt.checks.diagnostics import Diagnostic, scan_abc

ABC_THEME = TextAreaTheme(
    name="abc",
    syntax_styles={
        "field": Style(color="#5fafd7", bold=True),
        "field_value": Style(color="#87d7af"),
        "title": Style(color="#ffffff", bold=True),
        "comment": Style(color="#808080", italic=True),
        "directive": Style(color="#af87af", italic=True),
        "bar": Style(color="#ffaf00", bold=True),
        "repeat": Style(color="#ff5faf", bold=True),
        "ending": Style(color="#ff5faf", bold=True, underline=True),
        "chord": Style(color="#87afff", bold=True),
        "chord_symbol": Style(color="#afd75f"),
        "annotation": Style(color="#afd75f", italic=True),
        "decoration": Style(color="#d787ff"),
        "grace": Style(color="#87d7d7"),
        "tuplet": Style(color="#87d7d7", bold=True),
        "lyrics": Style(color="#d7d7af", italic=True),
        "text": Style(color="#808080"),
        "error": Style(color="#ffffff", bgcolor="#870000"),
        "problem": Style(color="#ffffff", bgcolor="#d70000", bold=True, underline=True),
    },
)


class AbcEditor(TextArea):
    """Editable ABC with colours from :func:`abcmidi_bgpt.checks.diagnostics.scan_abc`.

    There is no tree-sitter grammar for ABC, so the highlight map that TextArea would build
    from a syntax tree is built here from the scan instead.
    """

    def __init__(self, text: str = "", *, read_only: bool = False, id: str | None = None):
        self._problems: list[tuple[int, int]] = []  # (row, column), 0-based
        super().__init__(
            text,
            read_only=read_only,
            show_line_numbers=True,
            soft_wrap=False,
            id=id,
        )
        self.register_theme(ABC_THEME)
        self.theme = "abc"

    def mark_problems(self, diagnostics: list[Diagnostic]) -> None:
        """Underline the symbols the diagnostics point at."""
        self._problems = [
            (d.line - 1, d.column - 1) for d in diagnostics if d.line is not None and d.column
        ]
        self._build_highlight_map()
        self.refresh()

    def load(self, text: str, read_only: bool = False) -> None:
        """Show new text without undo history of the previous one."""
        self._problems = []
        self.read_only = read_only
        self.show_line_numbers = bool(text)
        self.load_text(text)

    def _build_highlight_map(self) -> None:
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        lines = self.document.lines
        spans = scan_abc(self.document.text)
        for span in spans:
            line = lines[span.line]
            start = len(line[: span.start].encode("utf-8"))
            end = start + len(line[span.start : span.end].encode("utf-8"))
            highlights[span.line].append((start, end, span.kind))
        for row, column in self._problems:
            if row >= len(lines):
                continue
            line = lines[row]
            hit = next(
                (s for s in spans if s.line == row and s.start <= column < s.end),
                None,
            )
            first, last = (hit.start, hit.end) if hit else (column, column + 1)
            start = len(line[:first].encode("utf-8"))
            end = start + max(1, len(line[first:last].encode("utf-8")))
            highlights[row].append((start, end, "problem"))
