"""The work on one tune: normalise through MusicXML, render the paired MIDI, validate both.

For a tune's own key (:func:`render_tune`) and for its transpositions
(:func:`render_transpositions`). Both are pure functions of the tune's text and the settings, run
in worker processes, and never raise for a bad tune: a failure comes back as the stage it
happened in and a one-line reason. They keep no time limit themselves: the builder runs them in
worker processes that are killed at the limit (an exception raised inside abc2xml or music21
is caught there and would read as a parse error).

Stages, in order: ``musicxml`` (abc2xml reads the tune), ``normalise`` (xml2abc writes it back,
natural language dropped), ``transpose``, ``midi`` (the symbolic converter renders the normalised ABC), ``validate-abc`` (music21 parses
the normalised ABC and finds notes), ``validate-midi`` (mido parses the MIDI and finds notes);
``internal`` (a bug, reported with its exception type) can happen anywhere, and the builder
reports ``timeout``, ``memory`` and ``crash`` for a worker stopped at the time limit, out of
memory, or dead.
"""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from abcmidi_bgpt.checks.validate import Validity, validate_abc, validate_midi
from abcmidi_bgpt.core.errors import ConversionError, reason_of
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB
from abcmidi_bgpt.core.performance import Performance
from abcmidi_bgpt.formats.abc.normalise import normalised_score, write_normalised
from abcmidi_bgpt.formats.abc.text import header_value
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

from .transpose import key_fifths, shift_interval, transpose_score

PIPELINE_VERSION = 1  # bump when a change here alters results (cached ones are then redone)
DEFAULT_TIMEOUT_S = 60.0
# May pass on another run, or with other limits: never cached.
UNCACHED_STAGES = frozenset({"timeout", "memory", "crash"})


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """What decides the pairs made from a tune (all of it goes into the cache key but the
    limits, whose failures are not cached)."""

    unit_length: int = 0  # L:1/unit_length; 0: xml2abc chooses, as for IrishMAN
    chords: bool = True  # chord symbols kept in the ABC and played in the MIDI
    timeout_s: float | None = DEFAULT_TIMEOUT_S  # per tune and key, kept by the builder
    memory_gib: float | None = DEFAULT_MEMORY_GIB  # per worker process, kept by the builder

    def cache_fields(self) -> dict:
        return {"unit_length": self.unit_length, "chords": self.chords}


@dataclass(slots=True)
class Rendered:
    """One ABC/MIDI pair of a tune (its own key when ``transpose`` is 0), or why there is none."""

    transpose: int
    abc: str = ""
    midi: bytes = b""
    key: str = ""
    meter: str = ""
    stage: str = ""  # where it failed; '' when it did not
    reason: str = ""
    seconds: float = 0.0  # wall time spent on it
    cpu_seconds: float = 0.0  # processor time of the process that made it (for benchmarks)

    @property
    def ok(self) -> bool:
        return not self.stage


@dataclass(slots=True)
class TuneOutcome:
    """A tune in its own key, with the name of the tune shared by all its transpositions."""

    rendered: Rendered
    tune_id: str = ""  # see :func:`tune_id`; '' when the tune failed
    fifths: int = 0  # its key signature


class StageError(Exception):
    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason = stage, reason


def render_tune(text: str, settings: PipelineSettings, label: str = "") -> TuneOutcome:
    """Normalise a tune, name it, and render its pair in its own key."""
    start, cpu = time.perf_counter(), time.process_time()
    outcome = TuneOutcome(Rendered(0))
    try:
        root = _stage("musicxml", lambda: _parse(text, settings, label))
        abc = _stage("normalise", lambda: _normalised(root, settings))
        outcome.fifths = key_fifths(root)
        outcome.rendered, outcome.tune_id = _pair(abc, 0, settings)
    except StageError as err:
        outcome.rendered = Rendered(0, stage=err.stage, reason=err.reason)
    outcome.rendered.seconds = time.perf_counter() - start
    outcome.rendered.cpu_seconds = time.process_time() - cpu
    return outcome


def render_transpositions(
    text: str, shifts: list[int], settings: PipelineSettings, label: str = ""
) -> list[Rendered]:
    """The tune moved by each of ``shifts`` semitones, each spelled in the key with the fewest
    accidentals, as pairs (or failures, one per shift)."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        root = _stage("musicxml", lambda: _parse(text, settings, label))
    except StageError as err:
        return [Rendered(s, stage=err.stage, reason=err.reason) for s in shifts]
    fifths = key_fifths(root)
    results = []
    for shift in shifts:
        try:
            interval = shift_interval(fifths, shift)
            moved = _stage("transpose", lambda i=interval: transpose_score(root, i))
            abc = _stage("normalise", lambda m=moved: _normalised(m, settings))
            rendered, _ = _pair(abc, shift, settings)
        except StageError as err:
            rendered = Rendered(shift, stage=err.stage, reason=err.reason)
        rendered.seconds = time.perf_counter() - start
        rendered.cpu_seconds = time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        results.append(rendered)
    return results


def _parse(text: str, settings: PipelineSettings, label: str) -> ET.Element:
    return normalised_score(text, label, keep_chords=settings.chords)


def _normalised(root: ET.Element, settings: PipelineSettings) -> str:
    return write_normalised(root, keep_chords=settings.chords, unit_length=settings.unit_length)


def tune_id(performance: Performance) -> str:
    """The name of a tune whatever its key: a hash of its notes (voice, onset, duration, and
    pitch above the lowest note), so every transposition of a tune -- made here or found in
    another collection -- and every notation of the same notes gets the same name."""
    notes = [n for v in performance.voices for n in v.notes]
    low = min((n.pitch for n in notes), default=0)
    digest = hashlib.sha256()
    for n in sorted(notes, key=lambda n: (n.voice, n.onset, n.pitch, n.duration)):
        digest.update(f"{n.voice} {n.onset} {n.duration} {n.pitch - low};".encode())
    return digest.hexdigest()[:16]


def _pair(abc: str, transpose: int, settings: PipelineSettings) -> tuple[Rendered, str]:
    rendered = _stage("midi", lambda: abc_to_midi(abc, chords=settings.chords))
    valid = validate_abc_without_beaming(abc)
    if not valid:
        raise StageError("validate-abc", valid.message)
    valid = validate_midi(rendered.midi)
    if not valid:
        raise StageError("validate-midi", valid.message)
    key, meter = header_value(abc, "K"), header_value(abc, "M")
    return Rendered(transpose, abc, rendered.midi, key, meter), tune_id(rendered.performance)


def validate_abc_without_beaming(abc: str) -> Validity:
    """:func:`abcmidi_bgpt.checks.validate.validate_abc` (music21 parses the ABC and finds notes), with
    music21's beaming step turned off while it runs.

    music21 ends every ABC import by grouping notes into beams, a display step that takes 58%
    of its parse time (measured on music21's folk tunes; see docs/benchmarks.md) and whose own
    errors music21 ignores; the notes, measures and bar checks are all still parsed. Without
    abc2midi's check: the corpus must come out the same on machines without abc2midi.
    Meant for the builder's single-threaded workers: other threads calling music21 meanwhile
    would get no beams either.
    """
    from music21 import stream

    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = _no_beams
    try:
        return validate_abc(abc, with_abc2midi=False)
    finally:
        stream.Stream.makeBeams = original


def _no_beams(self, *, inPlace=False, **_):
    return None if inPlace else self


def _stage(name: str, work):
    """Run one stage; a failure of the tune becomes a StageError naming the stage. MemoryError
    goes up to the worker process, which reports it as out of memory (not cached: the tune may
    pass with more)."""
    try:
        return work()
    except (StageError, MemoryError):
        raise
    except ConversionError as err:
        raise StageError(name, _reason(err)) from None
    except RecursionError as err:
        raise StageError(name, f"{type(err).__name__}: {_reason(err)}") from None
    except Exception as err:  # a bug in a converter must not stop the build either
        reason = f"{name}: {type(err).__name__}: {_reason(err)}"
        raise StageError("internal", reason) from None


def _reason(err: BaseException) -> str:
    """What was wrong, without the place (the failure is filed under the tune's key)."""
    return reason_of(err)[:300]
