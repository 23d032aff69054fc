"""Checks on the text of an ABC tune before abc2xml reads it: hostile or absurd input is
refused with a one-line :class:`ConversionError` instead of reaching code that trusts it.

abc2xml computes a meter by handing the text of the ``M:`` field to Python's ``eval``, and
expands some constructs in the text before parsing it. So, before it sees a tune:

- every meter (header and body ``M:`` lines with their ``+:`` continuations, inline
  ``[M:...]``, in every voice) must be one of the ABC 2.1 forms, with small numbers;
- multi-bar rests (``Z4``, ``X16``, which abc2xml writes out bar by bar) may add up to
  :data:`MAX_REST_BARS` bars;
- a tune may have :data:`MAX_VOICES` voices and :data:`MAX_OVERLAYS` overlays (``&``) in a bar
  (abc2xml's time grows with the square of either).

The scan is deliberately broader than abc2xml's reader (it also looks inside annotations,
lyrics and directives), so that nothing abc2xml could take for a meter escapes it; real tunes
never write a meter, a rest count or ``&`` there.

:func:`meter_sum` is what :mod:`abcmidi_bgpt.formats.musicxml` gives abc2xml in place of ``eval``.
"""

from __future__ import annotations

import re

from abcmidi_bgpt.core.errors import ConversionError

MAX_REST_BARS = 1000  # abc2xml takes about 2 ms a bar; real multi-bar rests are Z2 ... Z200
MAX_VOICES = 128  # an orchestral score has a few dozen
MAX_OVERLAYS = 16  # '&' in one bar; one or two in real tunes
MAX_METER_TERMS = 12  # (2+2+2+3)/8 has 4

# ABC 2.1, 3.1.6: C, C|, none, n/d, (a+b+...)/d and a+b+.../d. Numbers have no leading zero
# (Python's eval, which abc2xml used, refuses "08"; keeping that keeps what such a tune did),
# at most three digits. Two slips found in the Essen collection pass, because abc2xml reads
# them as 4/4 with a warning, as it always did: "FREI4/4" (its mark for a free meter) and a
# stray bracket, "M: 2/2]".
# Two forms real collections use pass too: abcm2ps's dotted groups ("2.2.3/8", the beats
# of (2+2+3)/8) and a lone number ("M:3"); neither reaches abc2xml's reading of a meter as a sum
# (it reports them and assumes 4/4), and the native reader reads them itself.
_NUMBER = r"[1-9]\d{0,2}"
_SUM = rf"{_NUMBER}(?:\s*\+\s*{_NUMBER}){{0,{MAX_METER_TERMS - 1}}}"
_DOTTED = rf"{_NUMBER}(?:\.{_NUMBER}){{1,{MAX_METER_TERMS - 1}}}"
_METER = re.compile(
    rf"(?:C\|?|none|{_NUMBER}|(?:FREI)?(?:\(\s*{_SUM}\s*\)|{_SUM}|{_DOTTED})\s*/\s*{_NUMBER}\]?)?",
    re.ASCII,
)
_FIELD_LINE = re.compile(r"([A-Zw]):(.*)|\[[A-Zw]:[^\]]*\]")  # abc2xml's, on a stripped line
_KEY = ("K:", "[K:")  # the line that ends the header
_TO_VOICES = ("V:", "I:MIDI", "I:percmap", "[V:")  # header lines abc2xml moves to the voices
_INLINE_METER = re.compile(r"\[M:([^\]]*)")
_MULTI_BAR_REST = re.compile(r"[XZ](\d+)")
_VOICE_ID = re.compile(r"(?:^|\[)V:[ \t]*([^\s\]]*)")
_NOT_MUSIC = re.compile(r'"[^"]*"|![^!]*!|\+[^+]*\+|\[[A-Za-z]:[^\]]*\]')


def check_abc_text(text: str, label: str = "") -> None:
    """Refuse a tune whose meters are not ABC meters or that would make abc2xml do work out
    of all proportion to its size (see the module notes); ``label`` names the tune."""
    where = label
    lines = _code_lines(text)
    first = _tune_start(text)
    for index, value in _meters(lines):
        if not _METER.fullmatch(value.strip()):
            shown = value.strip()
            shown = shown if len(shown) <= 40 else shown[:40] + "..."
            reason = (
                f"M:{shown!r} is not an ABC meter (C, C|, none, n/d, (a+b)/d, a.b/d, n; numbers "
                "up to 999)"
            )
            if index < first:
                raise ConversionError(f"in the file header: {reason}", where)
            raise ConversionError(reason, where, line=index - first + 1)
    _check_rests(lines, where)
    _check_voices(lines, where)


def _code_lines(text: str) -> list[str]:
    """The lines as abc2xml reads them: split where ``str.splitlines`` splits (at form feeds
    and Unicode separators too, not only at line ends), stripped, a ``%%`` directive turned
    into an ``I:`` field, everything from the first ``%`` on removed, and trailing '*'
    (an old right-alignment mark) dropped from all but lyrics and continuations."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("%%"):
            line = "I:" + line[2:]
        line = line.split("%", 1)[0]
        if not line.startswith(("w:", "+:")) and "percmap" not in line:
            line = line.rstrip("*")
        out.append(line.strip())
    return out


def _tune_start(text: str) -> int:
    """Index of the X: line (0 when none): lines before it are the file header."""
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("X:"):
            return i
    return 0


def _meters(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, value) of every meter abc2xml could read: M: field lines joined with the
    ``+:`` lines that continue them, and inline ``[M:...]`` fields anywhere."""
    found: list[tuple[int, str]] = []
    field_line: int | None = None  # the last field line, which a '+:' line continues
    values: dict[int, str] = {}
    for i, line in enumerate(lines):
        for m in _INLINE_METER.finditer(line):
            found.append((i, m.group(1)))
        if line.startswith("+:"):
            if field_line is not None and field_line in values:
                values[field_line] += line[2:]
            continue
        if _FIELD_LINE.fullmatch(line):
            field_line = i
            name_and_value = line.strip("[]")  # abc2xml reads '[M:2]' alone on a line as 'M:2'
            if name_and_value.startswith("M:"):
                values[i] = name_and_value[2:]
    found += values.items()
    return sorted(found)


def _check_rests(lines: list[str], where: str) -> None:
    """abc2xml writes a multi-bar rest out as that many one-bar rests before it parses the
    voices: all but W: lines and the fields of the header (where 'N: Z1368' stays text);
    the header's V: and MIDI lines go to the voices too."""
    bars = 0
    in_header = any(line.startswith(_KEY) for line in lines)  # no K: line, no header
    for line in lines:
        if in_header:
            in_header = not line.startswith(_KEY)
            if _FIELD_LINE.fullmatch(line) and not line.startswith(_TO_VOICES):
                continue
        if line.startswith("W:"):
            continue
        for m in _MULTI_BAR_REST.finditer(line):
            digits = m.group(1)
            bars += int(digits) if len(digits) <= 6 else MAX_REST_BARS + 1
            if bars > MAX_REST_BARS:
                raise ConversionError(
                    f"multi-bar rests (Z{digits}, ...) add up to over {MAX_REST_BARS} bars", where
                )


def _check_voices(lines: list[str], where: str) -> None:
    voices = {m.group(1) for line in lines for m in _VOICE_ID.finditer(line)}
    if len(voices) > MAX_VOICES:
        raise ConversionError(f"{len(voices)} voices, over the limit of {MAX_VOICES}", where)
    # A bar may run over several lines: the music is counted as one text.
    music = "\n".join(_NOT_MUSIC.sub(" ", ln) for ln in lines if not _FIELD_LINE.fullmatch(ln))
    for bar in music.split("|"):
        if bar.count("&") > MAX_OVERLAYS:
            raise ConversionError(
                f"{bar.count('&')} voice overlays (&) in one bar, over the limit of {MAX_OVERLAYS}",
                where,
            )


# Hand-written: ast.literal_eval does not add integers (it only adds a real to an imaginary
# number), and no well-kept library reads exactly "small integers joined by +" and nothing else.
_METER_SUM = re.compile(r"\s*(\(?)\s*(\d{1,6}(?:\s*\+\s*\d{1,6}){0,31})\s*(\)?)\s*", re.ASCII)


def meter_sum(text: str) -> int:
    """The numerator of a meter as abc2xml asks ``eval`` for it: '3', '2+3+2', '(2+2+3)'.

    abc2xml passes only the text before the first '/', so a division never reaches here.
    Anything else raises ValueError, which abc2xml reports as "error in M:..., 4/4 assumed".
    Numbers with a leading zero are refused, as Python's eval refused them.
    """
    m = _METER_SUM.fullmatch(text) if isinstance(text, str) else None
    if not m or bool(m.group(1)) != bool(m.group(3)):
        raise ValueError(f"not a meter: {str(text)[:40]!r}")
    terms = [t.strip() for t in m.group(2).split("+")]
    if any(t != "0" and t.startswith("0") for t in terms):
        raise ValueError(f"not a meter: {text[:40]!r}")
    return sum(int(t) for t in terms)
