"""Is an output valid? MIDI must parse with mido and hold notes; ABC must parse with music21
(and with abc2midi's checker where it is installed) and hold notes.

Used by the corpus builder (to keep only pairs that others' tools read), by the converters'
``--fallback`` and by the comparison.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import ConversionError
from .midi_file import read_performance


@dataclass(frozen=True, slots=True)
class Validity:
    ok: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def validate_midi(data: bytes) -> Validity:
    """Valid MIDI: mido parses it and it has at least one note."""
    try:
        perf = read_performance(data)
    except ConversionError as err:
        return Validity(False, str(err))
    if not any(v.notes for v in perf.voices):
        return Validity(False, "MIDI has no notes")
    return Validity(True)


def validate_abc(text: str, with_abc2midi: bool = True) -> Validity:
    """Valid ABC: music21 parses it into a score with notes, and abc2midi (when installed and
    ``with_abc2midi``) reports no error."""
    import music21  # slow to import; only needed here

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = music21.converter.parse(text, format="abc", forceSource=True)
        notes = len(score.flatten().notes)
    except Exception as err:  # music21 raises many kinds of errors on bad ABC
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Validity(False, f"music21 cannot parse the ABC: {first[:200]}")
    if notes == 0:
        return Validity(False, "ABC has no notes")
    if with_abc2midi and shutil.which("abc2midi"):
        return _abc2midi_check(text)
    return Validity(True)


def _abc2midi_check(text: str) -> Validity:
    with tempfile.TemporaryDirectory(prefix="abccheck-") as tmp:
        path = Path(tmp, "tune.abc")
        path.write_text(text, encoding="utf-8")
        try:
            proc = subprocess.run(
                ["abc2midi", str(path), "-c"], capture_output=True, text=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            return Validity(False, "abc2midi -c ran over 30 s")
    errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Error")]
    if errors:
        return Validity(False, f"abc2midi: {errors[0][:200]}")
    return Validity(True)
