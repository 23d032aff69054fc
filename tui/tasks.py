"""The library calls behind the app's actions, as plain functions that take and return data.

Nothing here imports Textual: the screens run these functions in worker threads and display
what they return, and the tests call them directly. Conversions go through engines
(:mod:`abcmidi_bgpt.engines.registry`); checks through :mod:`abcmidi_bgpt.checks.validate` and
:mod:`abcmidi_bgpt.checks.metrics`.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from abcmidi_bgpt.checks.metrics import NoteScore, note_f1, unmatched_notes
from abcmidi_bgpt.checks.validate import Validity, abc_fidelity, validate_midi
from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.performance import Note, Performance, key_name
from abcmidi_bgpt.engines.base import Engine, external_tools_available
from abcmidi_bgpt.engines.registry import EngineSpec, engine_names
from abcmidi_bgpt.formats.abc.text import AbcTune, decode_abc, split_tunes
from abcmidi_bgpt.formats.midi import midi_contents, read_midi, read_performance

MODEL_ENGINES = {"bgpt"}  # engines that run a model: a chosen checkpoint or the packaged one
EXTERNAL_ENGINES = {"abc2midi"}  # engines that run abc2midi / midi2abc


def available_engines() -> list[str]:
    """Engines this machine can run: all registered ones, the external tools where installed."""
    have_tools = external_tools_available()
    return [name for name in engine_names() if name not in EXTERNAL_ENGINES or have_tools]


class EngineCache:
    """One engine per spec, built on first use (building bgpt loads a model), safe to share
    between worker threads."""

    def __init__(self) -> None:
        self._engines: dict[EngineSpec, Engine] = {}
        self._lock = threading.Lock()

    def get(self, spec: EngineSpec) -> Engine:
        with self._lock:
            engine = self._engines.get(spec)
            if engine is None:
                problem = model_problem(spec.name, dict(spec.options).get("checkpoint"))
                if problem:
                    raise ConversionError(f"{problem} (press e to choose one)")
                engine = self._engines[spec] = spec.build()
            return engine


def model_problem(name: str, checkpoint: str | None = None) -> str | None:
    """Why engine ``name`` has no model to run (the library's reason: no such checkpoint, or
    none chosen and none packaged); None when it has one or needs none."""
    if name not in MODEL_ENGINES:
        return None
    from abcmidi_bgpt.engines.bgpt import resolve_checkpoint

    try:
        resolve_checkpoint(checkpoint or None)
    except ConversionError as err:
        return first_line(err)
    return None


def describe_engine(spec: EngineSpec) -> str:
    """The engine as the header shows it: 'symbolic', 'symbolic +chords', 'bgpt (small.pt)'."""
    options = dict(spec.options)
    text = spec.name
    if options.get("checkpoint"):
        text += f" ({Path(str(options['checkpoint'])).name})"
    if options.get("chords"):
        text += " +chords"
    return text


@dataclass(frozen=True, slots=True)
class MidiFacts:
    """What the MIDI pane says about a file before drawing it."""

    format: int
    tracks: int
    ticks_per_beat: int
    tempo: str  # '♩=120', '♩=120 (3 changes)'
    meter: str
    key: str
    bars: int
    seconds: float
    notes: int
    voices: int

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.seconds), 60)
        tracks = "track" if self.tracks == 1 else "tracks"
        voices = f" in {self.voices} voices" if self.voices > 1 else ""
        return (
            f"format {self.format} · {self.tracks} {tracks} · {self.ticks_per_beat} tpq · "
            f"{self.tempo} · {self.meter} · {self.key} · {self.bars} bars · "
            f"{minutes}:{seconds:02d} · {self.notes} notes{voices}"
        )


@dataclass(slots=True)
class MidiView:
    """A MIDI file read for display: its bytes, header facts and notes."""

    data: bytes
    facts: MidiFacts
    performance: Performance


def read_midi_view(data: bytes, source: str = "") -> MidiView:
    """Read MIDI bytes for the MIDI pane; raises :class:`ConversionError` on a bad file."""
    midi = read_midi(data, source)
    perf = midi_contents(midi, source).performance
    try:
        seconds = midi.length
    except (ValueError, TypeError):  # format 2 files have no single timeline
        seconds = 0.0
    facts = MidiFacts(
        format=midi.type,
        tracks=len(midi.tracks),
        ticks_per_beat=midi.ticks_per_beat,
        tempo=_changes([f"♩={t.qpm:.0f}" for t in perf.tempos], "♩=120"),
        meter=_changes([f"{m.numerator}/{m.denominator}" for m in perf.meters], "no meter"),
        key=_changes([key_name(k.fifths, k.minor) for k in perf.keys], "no key"),
        bars=len(bar_starts(perf)),
        seconds=seconds,
        notes=sum(len(v.notes) for v in perf.voices),
        voices=sum(1 for v in perf.voices if v.notes),
    )
    return MidiView(data, facts, perf)


def _changes(values: list[str], absent: str) -> str:
    if not values:
        return absent
    distinct = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    more = len(distinct) - 1
    return distinct[0] + (f" (+{more} change{'s' if more > 1 else ''})" if more else "")


def bar_starts(perf: Performance) -> list[Fraction]:
    """Onsets (in beats) of the bars of a performance, from its meters (4/4 where it has
    none), up to the end of its last note."""
    end = perf.end
    meters = sorted(perf.meters, key=lambda m: m.onset)
    starts: list[Fraction] = []
    at = Fraction(0)
    index = 0
    length = Fraction(4)
    while at < end or not starts:
        while index < len(meters) and meters[index].onset <= at:
            m = meters[index]
            length = Fraction(4 * m.numerator, m.denominator) or Fraction(4)
            index += 1
        starts.append(at)
        following = meters[index].onset if index < len(meters) else None
        at = at + length if following is None else min(at + length, following)
    return starts


def tune_from_text(text: str, original: AbcTune | None, source: str = "") -> AbcTune:
    """The text of the ABC pane as a tune, keeping the file header and place of the tune it
    was loaded from; raises :class:`ConversionError` when the text is not one tune."""
    tunes = split_tunes(text, source)
    if len(tunes) != 1:
        raise ConversionError(
            f"{source}: the ABC pane holds {len(tunes)} tunes; convert one at a time"
        )
    tune = tunes[0]
    if original is None:
        return tune
    return dataclasses.replace(
        tune, header=original.header, index=original.index, line=original.line
    )


@dataclass(slots=True)
class RoundTrip:
    """MIDI -> ABC -> MIDI with one engine, and how close the result came to the input."""

    abc: str
    midi: bytes
    reference: list[Note]
    output: list[Note]
    score: NoteScore
    score_with_offsets: NoteScore
    missing: list[Note]  # input notes the round trip lost
    extra: list[Note]  # output notes the input did not have
    warnings: list[str] = field(default_factory=list)


def round_trip(engine: Engine, data: bytes, source: str = "") -> RoundTrip:
    """Transcribe MIDI to ABC and render it back with the same engine; compare the notes."""
    reference = read_performance(data, source).notes()
    transcribed = engine.midi_to_abc(data, source)
    abc = decode_abc(transcribed.data, f"{source} as ABC")
    tunes = split_tunes(abc, f"{source} as ABC")
    rendered = engine.abc_to_midi(tunes[0])
    output = read_performance(rendered.data, f"{source} round trip").notes()
    missing, extra = unmatched_notes(reference, output)
    notes = (
        [f"the transcription holds {len(tunes)} tunes; the first was rendered"]
        if len(tunes) > 1
        else []
    )
    return RoundTrip(
        abc=abc,
        midi=rendered.data,
        reference=reference,
        output=output,
        score=note_f1(reference, output),
        score_with_offsets=note_f1(reference, output, with_offsets=True),
        missing=missing,
        extra=extra,
        warnings=transcribed.warnings + rendered.warnings + notes,
    )


@dataclass(slots=True)
class ComparedOutput:
    """One engine's output for the compare view, checked and scored."""

    engine: str
    direction: str  # "mid" (ABC -> MIDI) or "abc" (MIDI -> ABC)
    data: bytes = b""
    validity: Validity | None = None
    score: NoteScore | None = None  # against the reference notes
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    performance: Performance | None = None  # a valid MIDI output, read for its piano roll
    missing: list[Note] = field(default_factory=list)  # reference notes the output lacks
    extra: list[Note] = field(default_factory=list)  # output notes the reference lacks

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace") if self.direction == "abc" else ""


def compare_abc_to_midi(
    name: str, engine: Engine, tune: AbcTune, reference: list[Note]
) -> ComparedOutput:
    """Convert a tune with one engine; check the MIDI and score its notes against the
    reference (the symbolic converter's rendering)."""
    try:
        out = engine.abc_to_midi(tune)
    except ConversionError as err:
        return ComparedOutput(name, "mid", error=str(err))
    result = ComparedOutput(
        name, "mid", out.data, validity=validate_midi(out.data), warnings=out.warnings
    )
    if result.validity:
        result.performance = read_performance(out.data)
        notes = result.performance.notes()
        result.score = note_f1(reference, notes)
        result.missing, result.extra = unmatched_notes(reference, notes)
    return result


def compare_midi_to_abc(name: str, engine: Engine, data: bytes, source: str) -> ComparedOutput:
    """Transcribe MIDI with one engine; check the ABC (music21, abc2midi where installed) and
    score it by rendering it with the symbolic converter against the input's notes
    (:func:`abcmidi_bgpt.checks.validate.abc_fidelity`)."""
    try:
        out = engine.midi_to_abc(data, source)
    except ConversionError as err:
        return ComparedOutput(name, "abc", error=str(err))
    result = ComparedOutput(name, "abc", out.data, warnings=out.warnings)
    fidelity = abc_fidelity(out.data, data)
    result.validity = fidelity.valid
    if fidelity.notes is not None:
        result.score = fidelity.notes.onset
    elif fidelity.render_error:
        result.warnings.append(f"not scored: {fidelity.render_error}")
    return result


def reference_notes_for_tune(tune: AbcTune) -> list[Note]:
    """The notes of a tune as the symbolic converter plays it (the compare view's reference)."""
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    return abc_to_midi(tune).performance.notes()


def suggest_output_path(
    source: Path, tune: AbcTune | None, suffix: str, tunes_in_file: int
) -> Path:
    """Where to save a converted or edited item by default: beside its source, named after
    it, with the tune's X: number when its file holds several tunes."""
    stem = source.stem
    if tune is not None and tunes_in_file > 1:
        stem = f"{stem}_{tune.number or tune.index + 1}"
    return source.with_name(f"{stem}{suffix}")


def save_output(path: Path, data: bytes, overwrite: bool = False) -> None:
    """Write a file atomically; an existing file is kept unless ``overwrite``."""
    if path.is_dir():
        raise ConversionError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise ConversionError(f"{path.name} exists; confirm to overwrite it")
    write_atomic(path, data)
