"""ABC files as text: decoding, size limits, and splitting a tune book into tunes.

A file holds one or many tunes, each starting with an ``X:`` line; lines before the first
``X:`` are the file header, which applies to every tune (ABC 2.1, section 2.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge

MAX_ABC_FILE_BYTES = 32 * 1024 * 1024  # a large tune book is a few MB
# The largest of music21's 13,000 folk tunes is 2.4 KB, and O'Neill's take about 11 bytes a
# bar. Converting takes about 0.3 s a KB (abc2xml's parser is most of it; a 232 KB reel took
# over 60 s), so a tune at the limit converts in about 10 s: inside the 60 s default timeout
# with room for a busy machine and for the corpus builder, which reads a tune twice.
MAX_TUNE_CHARS = 32 * 1024
# A batch plans one job per tune (a few hundred bytes each in memory): the largest real tune
# books hold a few thousand tunes; a 32 MiB file of empty tunes would hold a million.
MAX_TUNES_PER_FILE = 100_000

# A field on a line of its own: 'K:G', '  T: Title', '+: continued' (ABC 2.1, 3). The one
# reader of field lines for this package; formats.abc.guard keeps abc2xml's own, narrower
# reading on purpose (it predicts what abc2xml will do).
FIELD_LINE = re.compile(r"^[ \t]*([A-Za-z+]):(.*)$", re.M)
_X_LINE = re.compile(r"^[ \t]*X:[ \t]*(.*)$", re.M)  # where tunes start (split_tunes)


def field_line(line: str) -> re.Match | None:
    """The field on ``line`` (group 1 its letter, group 2 its value as written), or None."""
    return FIELD_LINE.match(line)


def field_lines(text: str) -> Iterator[re.Match]:
    """Every field line of ``text``, in order (see :func:`field_line`)."""
    return FIELD_LINE.finditer(text)


def header_value(abc: str, letter: str) -> str:
    """The first value of a header field (before the music, which K: starts), stripped; ''
    when absent."""
    for field in field_lines(abc):
        if field.group(1) == letter:
            return field.group(2).strip()
        if field.group(1) == "K":
            break
    return ""


@dataclass(frozen=True, slots=True)
class AbcTune:
    """One tune of an ABC file, with where it came from."""

    text: str  # from its X: line to the end of the tune, LF line ends
    number: str  # the X: value, "" when the tune had no X: line
    title: str  # the first T: value, "" when none
    index: int  # 0-based position in its file
    line: int  # 1-based line of its X: line in the file
    source: str = ""  # the file it came from, for messages
    header: str = ""  # the file header that applies to it

    @property
    def label(self) -> str:
        """How messages name this tune, compiler-style: ``tunes.abc:120 X:12``."""
        where = f"{self.source or '<text>'}:{self.line}"
        return f"{where} X:{self.number}" if self.number else f"{where} tune {self.index + 1}"

    @property
    def full_text(self) -> str:
        """The tune with its file header in front, as a converter should read it."""
        return f"{self.header}\n{self.text}" if self.header.strip() else self.text


def decode_abc(data: bytes, source: str = "") -> str:
    """Bytes of an ABC file to text: UTF-8 (with or without BOM), else Latin-1; LF line ends."""
    where = source
    _check_file_size(len(data), where)
    if not data.strip():
        raise ConversionError("empty file", where)
    if b"\x00" in data or _control_share(data[:65536]) > 0.05:
        raise ConversionError("not a text file (binary data)", where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_share(data: bytes) -> float:
    """Share of bytes that are control characters other than tab and line ends."""
    bad = sum(1 for b in data if b < 32 and b not in (9, 10, 12, 13))
    return bad / max(1, len(data))


def _check_file_size(size: int, where: str) -> None:
    if size > MAX_ABC_FILE_BYTES:
        raise InputTooLarge(
            f"file is {size / 2**20:.1f} MiB, over the "
            f"{MAX_ABC_FILE_BYTES // 2**20} MiB limit for ABC files",
            where,
        )


def read_abc_file(path: str | Path) -> str:
    """The text of an ABC file (see :func:`decode_abc`); a file over the size limit is refused
    before it is read."""
    path = Path(path)
    _check_file_size(path.stat().st_size, str(path))
    return decode_abc(path.read_bytes(), str(path))


def split_tunes(text: str, source: str = "") -> list[AbcTune]:
    """Split a tune book into its tunes (on ``X:`` lines).

    A text with no ``X:`` line but with a ``K:`` field is taken as a single tune, as abc2xml and
    abc2midi do. Raises :class:`ConversionError` when the text holds no tune at all.
    """
    starts = [m.start() for m in _X_LINE.finditer(text)]
    if not starts:
        if re.search(r"^[ \t]*K:", text, re.M):
            return [_make_tune(text, "", 0, 1, source, "")]
        where = source
        raise ConversionError("no ABC tune found (no X: or K: field)", where)
    if len(starts) > MAX_TUNES_PER_FILE:
        where = source
        raise InputTooLarge(
            f"{len(starts)} tunes, over the limit of {MAX_TUNES_PER_FILE:,} per file", where
        )
    header = _file_header(text[: starts[0]])
    tunes = []
    line, counted = 1, 0  # lines are counted on from the previous tune, not from the top
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        body = text[start:end].rstrip() + "\n"
        number = _X_LINE.match(text, start).group(1).strip()
        line += text.count("\n", counted, start)
        counted = start
        tunes.append(_make_tune(body, number, i, line, source, header))
    return tunes


def _file_header(preamble: str) -> str:
    """The part of the text before the first tune that applies to all tunes: fields and
    directives, not free text."""
    keep = [
        ln
        for ln in preamble.split("\n")
        if ln.startswith("%%") or field_line(ln) and not ln.lstrip().startswith("X:")
    ]
    return "\n".join(keep)


def _make_tune(body: str, number: str, index: int, line: int, source: str, header: str) -> AbcTune:
    title = ""
    for m in field_lines(body):
        if m.group(1) == "T":
            title = m.group(2).strip()
            break
        if m.group(1) == "K":  # titles come before the key; later T: lines name parts
            break
    return AbcTune(body, number, title, index, line, source, header)


def check_tune_size(tune: AbcTune) -> None:
    check_text_size(tune.text, tune.label)


def check_text_size(text: str, label: str = "") -> None:
    """Refuse the text of one tune over :data:`MAX_TUNE_CHARS`."""
    if len(text) > MAX_TUNE_CHARS:
        where = label
        raise InputTooLarge(
            f"tune too large: {len(text) // 1024} KiB, over the "
            f"{MAX_TUNE_CHARS // 1024} KiB limit for one tune",
            where,
        )


def replace_tune(book: str, tune: AbcTune, new_text: str) -> str:
    """The text of a tune book with one tune (as :func:`split_tunes` found it) replaced and
    everything else kept; raises :class:`ConversionError` when the book no longer holds the
    tune where it was (the file changed since it was read)."""
    start = sum(len(line) + 1 for line in book.split("\n")[: tune.line - 1])
    old = tune.text.rstrip("\n")
    if book[start : start + len(old)] != old:
        raise ConversionError(
            f"{tune.source or 'the file'} changed since it was read; reload (f5) and try again"
        )
    return book[:start] + new_text.rstrip("\n") + book[start + len(old) :]


INCLUDE_DIRECTIVES = ("%%abc-include", "I:abc-include")


def include_warning(line: str) -> str | None:
    """The warning for a line that asks to read a file into the tune (``%%abc-include FILE``),
    which no reader here obeys; None for any other line."""
    if not line.startswith(INCLUDE_DIRECTIVES):
        return None
    target = line[13:].strip()
    if len(target) > 100:  # the end names the file
        target = "..." + target[-97:]
    return f"{line[:13]} ignored: a tune may not read files ({target})"
