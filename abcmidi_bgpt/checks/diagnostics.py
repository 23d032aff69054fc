"""Where is an ABC tune wrong? A lexical scan of the tune text, and the converter's complaints
placed on lines and columns.

:func:`scan_abc` splits a tune into spans (header fields, bar lines, repeats, endings, chords,
chord symbols, decorations, comments, ...) following ABC 2.1; characters that are no ABC symbol
at their place come out as ``"error"`` spans. Editors colour the spans; :func:`check_tune`
converts the tune with the symbolic converter and ties its error and warnings to places in
the text: the native reader gives the line and column of what it skipped or refused; the rest
(bars of the wrong length, and the messages of the abc2xml reader, which names a misplaced
symbol but not where it was) is placed by finding it among the spans.

Why one module of over 400 lines: the scanner that finds each symbol of a tune and the placing
of the converter's messages on those symbols share one span model; the scanner is most of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from abcmidi_bgpt.core.errors import ConversionError, NoKeyField
from abcmidi_bgpt.formats.abc.text import AbcTune, field_line, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import AbcToMidi, abc_to_midi

# Span kinds, in the order an editor might list its colours.
SPAN_KINDS = (
    "field",  # a field's letter and colon: "T:", "K:", "[K:" of an inline field
    "field_value",  # the rest of a field line or inline field
    "title",  # the value of a T: field
    "comment",  # % to the end of the line
    "directive",  # a %% line
    "bar",  # | || |] [| .|
    "repeat",  # |: :| :: and the like
    "ending",  # [1 |2 [1,3 -- first, second (and further) endings
    "chord",  # the brackets of [CEG] and the length after them
    "chord_symbol",  # "Am7"
    "annotation",  # "^text", "_text", "<text", ">text", "@text"
    "decoration",  # !trill! +fermata+ and the shorthands . ~ H L M O P S T u v
    "grace",  # the braces of {g} and {/g}
    "tuplet",  # (3 (3:2:3
    "note",  # a note with its accidentals, octave marks and length
    "rest",  # z x Z X with their length
    "lyrics",  # the text of w: and W: lines
    "text",  # free text in the tune header (not a field)
    "error",  # not an ABC symbol here
)

_DIRECTIVE = re.compile(r"[ \t]*%%")
_COMMENT_LINE = re.compile(r"[ \t]*%")
# ABC 2.1, 3: only these fields may stand on their own line in a tune body.
_BODY_FIELDS = frozenset("IKLMmNPQRrsTUVWw+")
_LYRICS_FIELDS = "wW"

_NOTE = re.compile(r"(?:\^\^|__|\^|_|=)?[A-Ga-g][,']*(?:\d*/+\d*|\d+)?")
_REST = re.compile(r"[zxZX](?:\d*/+\d*|\d+)?")
_LENGTH = re.compile(r"\d*/+\d*|\d+")
_BAR = re.compile(r":*(?:\[\||\.?\|)(?:[|:]|\](?!\d))*|:{2,}")
_ENDING_NUMBERS = re.compile(r"\d+(?:[,-]\d+)*")
_BRACKET_ENDING = re.compile(r"\[\d+(?:[,-]\d+)*")
_INLINE_FIELD = re.compile(r"\[([A-Za-z]):([^\]\n]*)\]")
_QUOTED = re.compile(r'"[^"\n]*"')
_LONG_DECORATION = re.compile(r"!([^!\s|\"]{1,40})!|\+([^+\s|\"]{1,40})\+")
_TUPLET = re.compile(r"\(\d+(?::\d*){0,2}")
_SHORT_DECORATION = set(".~HIJKLMNOPQRSTUVWhijklmnopqrstuvw")
# Ties, broken rhythm, beam joins, line continuation, voice overlay, spacer, slurs, line break.
_PLAIN = set(" \t-<>`\\&$y()!")


@dataclass(frozen=True, slots=True)
class AbcSpan:
    """A run of characters on one line: ``line`` and columns are 0-based, ``end`` exclusive."""

    kind: str
    line: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem in a tune, at a 1-based line and column when it could be placed."""

    severity: str  # "error" or "warning"
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, col {self.column}: " if self.line is not None else ""
        return f"{where}{self.message}"


@dataclass(slots=True)
class TuneCheck:
    """What the symbolic converter made of a tune, with its problems placed in the text."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    result: AbcToMidi | None = None  # None when the tune could not be converted

    @property
    def ok(self) -> bool:
        return self.result is not None and not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def scan_abc(text: str) -> list[AbcSpan]:
    """The spans of a tune's text, line by line, left to right.

    Lines up to the first ``K:`` field are the tune header; after it, field lines, lyrics and
    music lines. Notes and rests are spans too; spaces, ties, broken rhythm and slurs are not.
    """
    spans: list[AbcSpan] = []
    in_header = True
    for row, line in enumerate(text.split("\n")):
        if _DIRECTIVE.match(line):
            spans.append(AbcSpan("directive", row, 0, len(line)))
            continue
        if _COMMENT_LINE.match(line):
            spans.append(AbcSpan("comment", row, 0, len(line)))
            continue
        field_match = field_line(line)
        if field_match and (in_header or field_match.group(1) in _BODY_FIELDS):
            letter = field_match.group(1)
            spans += _field_line(row, line, letter, field_match.start(2))
            if letter == "K":
                in_header = False
            continue
        if in_header:
            if line.strip():
                spans.append(AbcSpan("text", row, 0, len(line)))
            continue
        spans += _music_line(row, line)
    return spans


def _field_line(row: int, line: str, letter: str, value_start: int) -> list[AbcSpan]:
    spans = [AbcSpan("field", row, 0, value_start)]
    comment = _comment_start(line, value_start)
    end = comment if comment is not None else len(line)
    if letter == "T":
        kind = "title"
    elif letter in _LYRICS_FIELDS:
        kind = "lyrics"
    else:
        kind = "field_value"
    if end > value_start:
        spans.append(AbcSpan(kind, row, value_start, end))
    if comment is not None:
        spans.append(AbcSpan("comment", row, comment, len(line)))
    return spans


def _comment_start(line: str, start: int) -> int | None:
    """Where a % comment starts (an escaped \\% does not start one)."""
    i = line.find("%", start)
    while i > 0 and line[i - 1] == "\\":
        i = line.find("%", i + 1)
    return None if i < 0 else i


def _music_line(row: int, line: str) -> list[AbcSpan]:
    spans: list[AbcSpan] = []
    open_chord: int | None = None  # column of an unclosed [
    open_grace: int | None = None  # column of an unclosed {

    def add(kind: str, start: int, end: int) -> None:
        spans.append(AbcSpan(kind, row, start, end))

    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "%" and (i == 0 or line[i - 1] != "\\"):
            add("comment", i, n)
            break
        if c == '"':
            m = _QUOTED.match(line, i)
            if m is None:  # an unclosed quote swallows nothing: mark it and go on
                add("error", i, i + 1)
                i += 1
                continue
            inner = m.group(0)[1:2]
            add("annotation" if inner and inner in "^_<>@" else "chord_symbol", i, m.end())
            i = m.end()
            continue
        if c in "!+":
            m = _LONG_DECORATION.match(line, i)
            if m:
                add("decoration", i, m.end())
                i = m.end()
            else:  # a lone '!' is the old-style line break; a lone '+' a chord in ABC 1.6
                i += 1
            continue
        if c == "[":
            m = _INLINE_FIELD.match(line, i)
            if m:
                add("field", i, m.start(2))
                if m.group(2):
                    add("field_value", m.start(2), m.end(2))
                add("field", m.end(2), m.end())
                i = m.end()
                continue
            m = _BRACKET_ENDING.match(line, i)
            if m:
                add("ending", i, m.end())
                i = m.end()
                continue
            if line.startswith("[|", i):
                i = _bar(line, i, add)
                continue
            if open_chord is not None:
                add("error", open_chord, open_chord + 1)
            open_chord = i
            add("chord", i, i + 1)
            i += 1
            continue
        if c == "]":
            if open_chord is None:
                add("error", i, i + 1)
                i += 1
                continue
            open_chord = None
            m = _LENGTH.match(line, i + 1)
            end = m.end() if m else i + 1
            add("chord", i, end)
            i = end
            continue
        if c in "|:" or (c == "." and line.startswith(".|", i)):
            m = _BAR.match(line, i)
            if m is None:  # a single ':' outside a bar line
                add("error", i, i + 1)
                i += 1
                continue
            if open_chord is not None:  # a bar line inside [ ] : the chord was never closed
                add("error", open_chord, open_chord + 1)
                open_chord = None
            i = _bar(line, i, add)
            continue
        if c == "{":
            if open_grace is not None:
                add("error", open_grace, open_grace + 1)
            open_grace = i
            end = i + 2 if line.startswith("{/", i) else i + 1
            add("grace", i, end)
            i = end
            continue
        if c == "}":
            if open_grace is None:
                add("error", i, i + 1)
            else:
                add("grace", i, i + 1)
                open_grace = None
            i += 1
            continue
        if c == "(":
            m = _TUPLET.match(line, i)
            if m:
                add("tuplet", i, m.end())
                i = m.end()
                continue
            i += 1  # a slur
            continue
        m = _NOTE.match(line, i) or _REST.match(line, i)
        if m:
            add("note" if m.re is _NOTE else "rest", i, m.end())
            i = m.end()
            continue
        if c in _SHORT_DECORATION:
            add("decoration", i, i + 1)
            i += 1
            continue
        if c in _PLAIN or c == ")":
            i += 1
            continue
        # Not an ABC symbol: a run of them is one error (a stray word, '###').
        j = i + 1
        while j < n and not _starts_symbol(line[j]):
            j += 1
        add("error", i, j)
        i = j
    if open_chord is not None:
        add("error", open_chord, open_chord + 1)
    if open_grace is not None:
        add("error", open_grace, open_grace + 1)
    spans.sort(key=lambda s: s.start)
    return spans


def _starts_symbol(c: str) -> bool:
    return c.isspace() or c in '|[]{}()"!+%:' or c in "ABCDEFGabcdefg^_="


def _bar(line: str, i: int, add) -> int:
    """Add the bar line or repeat sign at ``i`` and the ending number straight after it
    ('|1', ':|2'); return where they end."""
    m = _BAR.match(line, i)
    add("repeat" if ":" in m.group(0) else "bar", i, m.end())
    number = _ENDING_NUMBERS.match(line, m.end())
    if number:
        add("ending", m.end(), number.end())
        return number.end()
    return m.end()


def check_tune(tune: AbcTune | str, chords: bool = False) -> TuneCheck:
    """Convert a tune with the symbolic converter and place its error and warnings.

    Locations are 1-based lines and columns in ``tune.text`` (or in the text given). Never
    raises for bad ABC: a tune that cannot be converted gives a check with an error and no
    result.
    """
    if isinstance(tune, str):
        try:
            tunes = split_tunes(tune)
        except ConversionError as err:
            return TuneCheck([Diagnostic("error", err.reason, 1, 1)])
        if len(tunes) != 1:
            second = tunes[1].line
            message = f"one tune expected, found {len(tunes)} (another X: field starts here)"
            return TuneCheck([Diagnostic("error", message, second, 1)])
        tune = tunes[0]
    spans = scan_abc(tune.text)
    problems = [s for s in spans if s.kind == "error"]
    try:
        result = abc_to_midi(tune, chords=chords)
    except ConversionError as err:
        return TuneCheck([_place_error(err, tune.text, spans, problems)])
    # The native reader places what it skipped itself; the rest (bars of the wrong length,
    # unclosed repeats, and the abc2xml reader's messages) is placed from the text.
    placed = [Diagnostic("warning", p.message, p.line, p.column) for p in result.problems]
    rest = [_place_warning(w, tune.text, spans) for w in _clean_warnings(result.unplaced)]
    return TuneCheck(placed + rest, result)


def _clean_warnings(warnings: list[str]) -> list[str]:
    """abc2xml's messages as the converter passes them on, without its markers and the
    lines that only drew a caret under the symbol."""
    cleaned = []
    for w in warnings:
        w = w.strip().lstrip("*-").strip()
        if not w or set(re.sub(r"\s*\(x\d+\)$", "", w)) <= {"^", "-"}:
            continue
        cleaned.append(re.sub(r" \(x\d+\)$", "", w))  # abc2xml counts some symbols twice
    return cleaned


_MISPLACED = re.compile(r"misplaced symbol: (.+)$")
_UNHANDLED = re.compile(r"unhandled note decorations: \[(.*)\]")
_BAR_NUMBER = re.compile(r"\bbars? (\d+)")
_STRAY_HEADER = re.compile(r"skipped a header line that is not a field: '(.*)'")


def _place_warning(message: str, text: str, spans: list[AbcSpan]) -> Diagnostic:
    line, column = _locate(message, text, spans)
    return Diagnostic("warning", message, line, column)


def _place_error(
    err: ConversionError, text: str, spans: list[AbcSpan], problems: list[AbcSpan]
) -> Diagnostic:
    message = err.reason
    if isinstance(err, NoKeyField):
        return Diagnostic("error", message, 1, 1)
    if err.line is not None and err.line <= text.count("\n") + 1:
        return Diagnostic("error", message, err.line, err.column or 1)
    line, column = _locate(message, text, spans)
    if line is None and problems:  # the first thing the scan found wrong is the best guess
        line, column = problems[0].line + 1, problems[0].start + 1
        symbol = _span_text(text.split("\n"), problems[0])
        message = f"{message} (first unreadable symbol: {symbol!r})"
    elif line is None:  # the music as a whole: point at its first line
        music = next((s for s in spans if s.kind in ("note", "rest", "decoration")), None)
        if music is not None:
            line, column = music.line + 1, 1
    return Diagnostic("error", message, line, column)


def _locate(message: str, text: str, spans: list[AbcSpan]) -> tuple[int | None, int | None]:
    lines = text.split("\n")
    m = _MISPLACED.search(message)
    if m:
        symbol = m.group(1).strip()
        for s in spans:
            if s.kind == "error" and _span_text(lines, s).startswith(symbol[:1]):
                return s.line + 1, s.start + 1
        return None, None
    m = _UNHANDLED.search(message)
    if m:
        names = set(re.findall(r"'([^']*)'", m.group(1)))
        for s in spans:
            if s.kind == "decoration" and _span_text(lines, s).strip("!+") in names:
                return s.line + 1, s.start + 1
        return None, None
    m = _STRAY_HEADER.search(message)
    if m:
        for s in spans:
            if s.kind == "text" and _span_text(lines, s).strip() == m.group(1):
                return s.line + 1, s.start + 1
        return None, None
    m = _BAR_NUMBER.search(message)
    if m:
        return bar_location(text, int(m.group(1)), spans)
    return None, None


def _span_text(lines: list[str], span: AbcSpan) -> str:
    return lines[span.line][span.start : span.end]


def bar_location(
    text: str, number: int, spans: list[AbcSpan] | None = None
) -> tuple[int | None, int | None]:
    """1-based line and column of the first note or rest of bar ``number`` (1-based, a pickup
    counting as bar 1, as abc2xml numbers them), for single-voice tunes; (None, None) when the
    tune has several voices or fewer bars."""
    spans = scan_abc(text) if spans is None else spans
    lines = text.split("\n")
    if any(s.kind == "field" and _span_text(lines, s).strip().lstrip("[") == "V:" for s in spans):
        return None, None
    bar, in_bar = 0, False
    for s in spans:
        if s.kind in ("bar", "repeat"):
            in_bar = False
        elif s.kind in ("note", "rest", "chord") and not in_bar:
            in_bar = True
            bar += 1
            if bar == number:
                return s.line + 1, s.start + 1
    return None, None
