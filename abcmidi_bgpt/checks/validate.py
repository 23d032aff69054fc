"""Is an output valid, and how close is it to what it should be?

Validity: MIDI must parse with mido and hold notes; ABC must parse with music21 (and with
abc2midi's checker where it is installed) and hold notes. Fidelity: note-level precision,
recall and F1 against a reference (on onset and pitch, and on onset, pitch and offset, in
beats, with mir_eval), agreement of tempo, meter and key, exact match; for ABC outputs, the
notes of the output rendered by the symbolic converter against the input MIDI, and the
character error rate against a reference ABC. And the bits per byte a model spends on a
reference output (teacher-forced).

Used by the corpus builder (to keep only pairs that others' tools read), by the converters'
``--fallback`` and by the comparison.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.core.performance import DEFAULT_QPM, Performance, TempoChange
from abcmidi_bgpt.formats.midi import read_performance

if TYPE_CHECKING:  # mir_eval (and scipy) load only when fidelity is asked for
    from abcmidi_bgpt.checks.metrics import NoteScore


@dataclass(frozen=True, slots=True)
class Validity:
    ok: bool
    message: str = ""
    checker: str = ""  # which check said no: "music21", "abc2midi", "mido"; '' when valid

    def __bool__(self) -> bool:
        return self.ok


def validate_midi(data: bytes) -> Validity:
    """Valid MIDI: mido parses it and it has at least one note."""
    return _read_valid_midi(data)[0]


def _read_valid_midi(data: bytes) -> tuple[Validity, Performance | None]:
    """The validity of MIDI bytes and, when valid, the performance they hold."""
    try:
        perf = read_performance(data)
    except ConversionError as err:
        return Validity(False, str(err)), None
    if not any(v.notes for v in perf.voices):
        return Validity(False, "MIDI has no notes"), None
    return Validity(True), perf


def validate_abc(text: str, with_abc2midi: bool = True) -> Validity:
    """Valid ABC: music21 parses it into a score with notes, and abc2midi (when installed and
    ``with_abc2midi``) reports no error."""
    import music21  # slow to import; only needed here

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # parseData, never parse: parse takes a text that names a file for that file's
            # path, and reads it (an output or a tune reading "/etc/passwd" would be opened).
            score = music21.converter.parseData(text, format="abc", forceSource=True)
        notes = len(score.flatten().notes)
    except Exception as err:  # music21 raises many kinds of errors on bad ABC
        return Validity(False, f"music21 cannot parse the ABC: {first_line(err)[:200]}", "music21")
    if notes == 0:
        return Validity(False, "ABC has no notes", "music21")
    if with_abc2midi and shutil.which("abc2midi"):
        return _abc2midi_check(text)
    return Validity(True)


# abc2midi calls an I: field it does not know an error; ABC 2.1 lets programs ignore such
# instructions, and xml2abc writes one (I:linebreak $) in every tune.
_UNKNOWN_INSTRUCTION = re.compile(r"I: key '[^']*' not recognized")


def _abc2midi_check(text: str) -> Validity:
    with tempfile.TemporaryDirectory(prefix="abccheck-") as tmp:
        path = Path(tmp, "tune.abc")
        path.write_text(text, encoding="utf-8")
        try:
            proc = subprocess.run(
                ["abc2midi", str(path), "-c"],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=tmp,  # abc2midi writes barloc.txt into its working folder
            )
        except subprocess.TimeoutExpired:
            return Validity(False, "abc2midi -c ran over 30 s", "abc2midi")
    errors = [
        ln
        for ln in (proc.stdout + proc.stderr).splitlines()
        if ln.startswith("Error") and not _UNKNOWN_INSTRUCTION.search(ln)
    ]
    if errors:
        return Validity(False, f"abc2midi: {errors[0][:200]}", "abc2midi")
    return Validity(True)


def validate_output(data: bytes, ext: str, with_abc2midi: bool = True) -> Validity:
    """:func:`validate_midi` or :func:`validate_abc` by the output's extension."""
    if ext == "mid":
        return validate_midi(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return Validity(False, f"ABC is not UTF-8 text (byte {err.start})")
    return validate_abc(text, with_abc2midi)


# --- Fidelity: how close an output is to what it should be. ---

TEMPO_TOLERANCE = 0.005  # relative: 120 vs 120.5 beats a minute agree


@dataclass(frozen=True, slots=True)
class NoteFidelity:
    """Notes and meta events of an output against a reference, both read from MIDI."""

    onset: NoteScore  # notes matched on (onset, pitch)
    offset: NoteScore  # matched on (onset, pitch, offset)
    tempo: bool  # same tempo changes (onsets equal, beats a minute within 0.5 %)
    meter: bool  # same time signatures at the same onsets
    key: bool  # same key signatures at the same onsets


@dataclass(frozen=True, slots=True)
class MidiFidelity:
    """A MIDI output against the reference MIDI (ABC -> MIDI)."""

    valid: Validity
    notes: NoteFidelity | None  # None when the output is not valid
    exact: bool  # byte for byte the reference


@dataclass(frozen=True, slots=True)
class AbcFidelity:
    """An ABC output (MIDI -> ABC): valid, then rendered by the symbolic converter and scored
    against the input MIDI; character error rate against a reference ABC when there is one."""

    valid: Validity
    notes: NoteFidelity | None  # None when invalid or when the symbolic converter cannot render it
    cer: float | None  # None without a reference ABC
    exact: bool | None  # None without a reference ABC
    render_error: str = ""  # why the symbolic converter could not render a valid output


def performance_fidelity(output: Performance, reference: Performance) -> NoteFidelity:
    """Note F1 (in beats, with mir_eval; see ``metrics.py``) and agreement of tempo, meter and
    key of two performances."""
    from abcmidi_bgpt.checks.metrics import note_f1

    estimate, truth = output.notes(), reference.notes()
    return NoteFidelity(
        note_f1(truth, estimate),
        note_f1(truth, estimate, with_offsets=True),
        _same_tempos(output.tempos, reference.tempos),
        [(m.onset, m.numerator, m.denominator) for m in output.meters]
        == [(m.onset, m.numerator, m.denominator) for m in reference.meters],
        [(k.onset, k.fifths, k.minor) for k in output.keys]
        == [(k.onset, k.fifths, k.minor) for k in reference.keys],
    )


def _same_tempos(a: list[TempoChange], b: list[TempoChange]) -> bool:
    a, b = (
        a or [TempoChange(Fraction(0), DEFAULT_QPM)],
        b or [TempoChange(Fraction(0), DEFAULT_QPM)],
    )
    return len(a) == len(b) and all(
        x.onset == y.onset and abs(x.qpm - y.qpm) <= TEMPO_TOLERANCE * y.qpm
        for x, y in zip(a, b, strict=True)
    )


def midi_fidelity(output: bytes, reference: bytes) -> MidiFidelity:
    """A MIDI output scored against the reference MIDI (which must parse)."""
    valid, performance = _read_valid_midi(output)
    if performance is None:
        return MidiFidelity(valid, None, False)
    notes = performance_fidelity(performance, read_performance(reference))
    return MidiFidelity(valid, notes, output == reference)


def abc_fidelity(
    output: bytes | str,
    source_midi: bytes,
    reference_abc: bytes | str | None = None,
    with_abc2midi: bool = True,
    chords: bool = True,
) -> AbcFidelity:
    """An ABC output scored against the MIDI it was transcribed from (rendered by the symbolic
    converter, with chord symbols played when ``chords``) and, when given, the reference ABC."""
    data = output if isinstance(output, bytes) else output.encode("utf-8")
    text = data.decode("utf-8", "replace")
    if isinstance(reference_abc, bytes):
        reference_abc = reference_abc.decode("utf-8", "replace")
    cer = None if reference_abc is None else character_error_rate(text, reference_abc)
    exact = None if reference_abc is None else text == reference_abc
    valid = validate_output(data, "abc", with_abc2midi)
    if not valid:
        return AbcFidelity(valid, None, cer, exact)
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    try:
        rendered = abc_to_midi(text, chords=chords).midi
    except ConversionError as err:
        return AbcFidelity(valid, None, cer, exact, str(err))
    notes = performance_fidelity(read_performance(rendered), read_performance(source_midi))
    return AbcFidelity(valid, notes, cer, exact)


def character_error_rate(output: str, reference: str) -> float:
    """Levenshtein distance (insertions, deletions, substitutions of characters) over the
    reference's length; 0 for equal texts, and may exceed 1."""
    from rapidfuzz.distance import Levenshtein

    if not reference:
        return 0.0 if not output else float(len(output))
    return Levenshtein.distance(output, reference) / len(reference)
