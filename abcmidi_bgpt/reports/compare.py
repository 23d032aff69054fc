"""Neural against symbolic conversion on the same tunes, in both directions: the tunes, the
runners and the per-tune scores (the report, CSV and figures are written by
:mod:`abcmidi_bgpt.reports.compare_report`).

Tunes come from a corpus split (the ABC in the form the model reads, the MIDI rendered from it)
or from ABC and MIDI files (an ABC tune is normalised as the bgpt engine does and rendered by the
symbolic converter with chords played, as the corpus makes its MIDI). Engines: those of the
registry (:mod:`abcmidi_bgpt.engines.registry`) this machine can run, the model engines first
(bgpt, a checkpoint), then the others (the symbolic converter, abc2midi / midi2abc where
installed).

- ABC -> MIDI: each engine's MIDI against the reference MIDI (``validate.midi_fidelity``):
  validity, note precision / recall / F1 on (onset, pitch) and on (onset, pitch, offset) in
  beats, tempo / meter / key agreement, exact bytes.
- MIDI -> ABC: each engine's ABC (``validate.abc_fidelity``): validity; rendered by the symbolic
  converter and scored against the input MIDI; character error rate against the reference ABC.
- Model rows also carry the bits per byte the model spends on the reference output
  (teacher-forced, as in evaluation), so a bad output can be told from a bad model.

An engine that writes no valid output for a tune scores 0 on it. :mod:`abcmidi_bgpt.reports.one_tune`
scores one engine's output for one tune the same way (the TUI's compare view).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.checks.validate import AbcFidelity, MidiFidelity, abc_fidelity, midi_fidelity
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.engines.registry import (
    EngineSpec,
    available_engines,
    engine_class,
    engine_names,
)
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_midi_file

CHORDS = True  # the corpus plays chord symbols in its MIDI
ENGINE_OPTIONS = {"symbolic": {"chords": CHORDS}}  # engines without a model, as compared


def engine_order(names: Iterable[str] | None = None) -> list[str]:
    """Engines (default: every registered one) in the order the report lists them: those that
    run a model first, then the others, each in registry order."""
    names = engine_names() if names is None else list(names)
    return sorted(names, key=lambda name: not engine_class(name).needs_model)


def default_engines() -> list[str]:
    """The engines compared when none are named: every one this machine can run."""
    return engine_order(available_engines())


@dataclass(frozen=True, slots=True)
class CompareTune:
    """One tune to convert both ways."""

    name: str
    midi: bytes  # the reference of ABC -> MIDI and the input of MIDI -> ABC
    abc: bytes | None = None  # in the model's form: input of ABC -> MIDI, reference of MIDI -> ABC
    tune: AbcTune | None = None  # what the other engines read for ABC -> MIDI


@dataclass(slots=True)
class Row:
    """One engine's conversion of one tune in one direction, scored."""

    tune: str
    direction: Direction
    engine: str
    valid: bool = False
    message: str = ""  # why there is no valid output
    seconds: float = 0.0
    output_bytes: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0  # (onset, pitch)
    f1_offset: float = 0.0  # (onset, pitch, offset)
    tempo: bool | None = None
    meter: bool | None = None
    key: bool | None = None
    exact: bool | None = None
    cer: float | None = None
    bpb: float | None = None  # model engines: bits per byte of the reference output
    output: bytes = field(default=b"", repr=False)  # kept for the figures, not in the CSV


# --- inputs ---


def corpus_tunes(corpus: str | Path, split: str = "test", limit: int = 0) -> list[CompareTune]:
    """The pairs of a corpus split (its first ``limit``), named by their ids."""
    from abcmidi_bgpt.bgpt.dataset import load_split, row_files

    tunes = []
    for row in load_split(corpus, split, limit).select_columns(["id", "abc", "midi"]):
        parsed = split_tunes(row["abc"], row["id"])
        abc, midi = row_files(row)
        tunes.append(CompareTune(row["id"], midi, abc, parsed[0] if len(parsed) == 1 else None))
    return tunes


def file_tunes(paths: Sequence[str | Path]) -> tuple[list[CompareTune], list[str]]:
    """Tunes from ABC files (every tune; both directions) and MIDI files (MIDI -> ABC only),
    folders searched recursively; and a one-line message for each input left out."""
    from abcmidi_bgpt.engines.batch import ABC_SUFFIXES, MIDI_SUFFIXES, find_inputs
    from abcmidi_bgpt.formats.abc.normalise import normalise_abc
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    found = {f for _, f in find_inputs(paths, "mid")} | {f for _, f in find_inputs(paths, "abc")}
    tunes: list[CompareTune] = []
    problems: list[str] = []
    for path in sorted(found):
        suffix = path.suffix.lower()
        try:
            if suffix in MIDI_SUFFIXES:
                tunes.append(CompareTune(str(path), read_midi_file(path)))
                continue
            if suffix not in ABC_SUFFIXES:
                continue
            parsed = split_tunes(read_abc_file(path), str(path))
        except (ConversionError, OSError) as err:
            problems.append(first_line(err))
            continue
        for tune in parsed:
            try:
                midi = abc_to_midi(tune, chords=CHORDS).midi
                abc = normalise_abc(tune).encode("utf-8")
            except ConversionError as err:
                problems.append(first_line(err))
                continue
            tunes.append(CompareTune(tune.label, midi, abc, tune))
    return tunes, problems


def inputs_for(tunes: Sequence[CompareTune], direction: Direction) -> list[CompareTune]:
    """The tunes that can be converted in ``direction``: ABC -> MIDI needs the ABC."""
    return [t for t in tunes if direction == Direction.MIDI_TO_ABC or t.abc is not None]


# --- scoring ---


def fidelity(
    direction: Direction, output: bytes, tune: CompareTune, with_abc2midi: bool = True
) -> MidiFidelity | AbcFidelity:
    """An output scored against its tune: ABC -> MIDI against the reference MIDI; MIDI -> ABC
    rendered with chords played against the input MIDI, and against the reference ABC."""
    if direction == Direction.ABC_TO_MIDI:
        return midi_fidelity(output, tune.midi)
    return abc_fidelity(output, tune.midi, tune.abc, with_abc2midi, chords=CHORDS)


def _fill(row: Row, scored: MidiFidelity | AbcFidelity) -> Row:
    row.valid, row.message, row.exact = scored.valid.ok, scored.valid.message, scored.exact
    if isinstance(scored, AbcFidelity):
        row.message = row.message or scored.render_error
        row.cer = scored.cer
    if (notes := scored.notes) is not None:
        row.precision, row.recall = notes.onset.precision, notes.onset.recall
        row.f1, row.f1_offset = notes.onset.f1, notes.offset.f1
        row.tempo, row.meter, row.key = notes.tempo, notes.meter, notes.key
    return row


def _scored(row: Row, output: bytes, tune: CompareTune, with_abc2midi: bool) -> Row:
    row.output, row.output_bytes = output, len(output)
    return _fill(row, fidelity(row.direction, output, tune, with_abc2midi))


# --- running ---


def run_rule_based(
    engine_name: str,
    tunes: Sequence[CompareTune],
    direction: Direction,
    with_abc2midi: bool = True,
    timeout: float | None = 60.0,
) -> list[Row]:
    """The rows of an engine without a model (the symbolic converter, abc2midi): one
    conversion at a time, each timed."""
    from abcmidi_bgpt.core.io import time_limit

    direction = Direction(direction)
    engine = EngineSpec.of(engine_name, **ENGINE_OPTIONS.get(engine_name, {})).build()
    rows = []
    for tune in inputs_for(tunes, direction):
        row = Row(tune.name, direction, engine_name)
        start = time.perf_counter()
        try:
            with time_limit(timeout, tune.name):
                if direction == Direction.ABC_TO_MIDI:
                    subject = tune.tune or split_tunes(tune.abc.decode("utf-8"), tune.name)[0]
                    out = engine.abc_to_midi(subject)
                else:
                    out = engine.midi_to_abc(tune.midi, source=tune.name)
        except Exception as err:  # a failed conversion is a row, whatever went wrong
            text = first_line(err)
            known = isinstance(err, ConversionError)
            row.message = text if known else f"internal error ({type(err).__name__}: {text})"
            row.seconds = time.perf_counter() - start
            rows.append(row)
            continue
        row.seconds = time.perf_counter() - start
        rows.append(_scored(row, out.data, tune, with_abc2midi))
    return rows


def run_bgpt(
    engine, tunes: Sequence[CompareTune], direction: Direction, with_abc2midi: bool = True
) -> list[Row]:
    """A model engine's rows: every tune generated in batches from the file as it is;
    ``seconds`` is the batch's generation time shared out evenly."""
    from abcmidi_bgpt.bgpt.evaluate import target_bpb

    direction = Direction(direction)
    todo = inputs_for(tunes, direction)
    sources = [t.abc if direction == Direction.ABC_TO_MIDI else t.midi for t in todo]
    start = time.perf_counter()
    generations = dict(engine.generate_files(sources, direction))
    per_tune = (time.perf_counter() - start) / max(1, len(todo))
    with_reference = [i for i, t in enumerate(todo) if t.abc is not None]
    bpbs = target_bpb(
        engine.model, [(todo[i].abc, todo[i].midi) for i in with_reference], direction
    )
    bpb_of = dict(zip(with_reference, bpbs, strict=True))
    rows = []
    for i, tune in enumerate(todo):
        row = Row(tune.name, direction, engine.name, seconds=per_tune)
        bpb = bpb_of.get(i)
        row.bpb = None if bpb is None or math.isnan(bpb) else bpb
        generation = generations[i]
        if generation.truncated:
            row.message = f"output reached the model's context ({generation.patches} patches)"
            row.output_bytes = len(generation.data)
            rows.append(row)
            continue
        rows.append(_scored(row, generation.data, tune, with_abc2midi))
    return rows


def compare(
    tunes: Sequence[CompareTune],
    checkpoint: str | Path | None,
    directions: Sequence[Direction] = tuple(Direction),
    engines: Sequence[str] | None = None,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 32,
    with_abc2midi: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> list[Row]:
    """Every engine on every tune in every direction; rows ordered by direction, tune, engine.
    ``engines`` defaults to :func:`default_engines` (bgpt, symbolic, abc2midi where
    installed)."""
    engines = default_engines() if engines is None else list(engines)
    directions = [Direction(d) for d in directions]
    models = {
        name: EngineSpec.of(
            name, checkpoint=checkpoint, device=device, dtype=dtype, batch_size=batch_size
        ).build()
        for name in engines
        if engine_class(name).needs_model
    }
    rows: list[Row] = []
    for direction in directions:
        for name in engines:
            if on_stage:
                on_stage(f"{direction.label}: {name}")
            if name in models:
                rows += run_bgpt(models[name], tunes, direction, with_abc2midi)
            else:
                rows += run_rule_based(name, tunes, direction, with_abc2midi)
    order = {t.name: i for i, t in enumerate(tunes)}
    rank = {e: i for i, e in enumerate(engines)}
    rows.sort(key=lambda r: (directions.index(r.direction), order[r.tune], rank[r.engine]))
    return rows


# --- summary ---


@dataclass(frozen=True, slots=True)
class Summary:
    direction: Direction
    engine: str
    tunes: int
    valid: int
    f1_mean: float
    f1_median: float
    f1_offset_mean: float
    exact: int
    tempo: int
    meter: int
    key: int
    cer_mean: float | None
    bpb_mean: float | None
    seconds: float

    @property
    def tunes_per_s(self) -> float:
        return self.tunes / self.seconds if self.seconds > 0 else float("nan")


def summarise(rows: Sequence[Row]) -> list[Summary]:
    """One summary per (direction, engine), in the order the rows have them."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.direction, row.engine), []).append(row)
    summaries = []
    for (direction, engine), group in groups.items():
        cers = [r.cer for r in group if r.cer is not None]
        bpbs = [r.bpb for r in group if r.bpb is not None]
        summaries.append(
            Summary(
                Direction(direction),
                engine,
                len(group),
                sum(r.valid for r in group),
                statistics.fmean(r.f1 for r in group),
                statistics.median(r.f1 for r in group),
                statistics.fmean(r.f1_offset for r in group),
                sum(bool(r.exact) for r in group),
                sum(bool(r.tempo) for r in group),
                sum(bool(r.meter) for r in group),
                sum(bool(r.key) for r in group),
                statistics.fmean(cers) if cers else None,
                statistics.fmean(bpbs) if bpbs else None,
                sum(r.seconds for r in group),
            )
        )
    return summaries


def worst(rows: Sequence[Row], direction: Direction, count: int, engine: str = "bgpt") -> list[Row]:
    """The ``count`` rows of ``engine`` with the lowest note F1 below 1 (ties by name)."""
    mine = [r for r in rows if r.direction == direction and r.engine == engine and r.f1 < 1]
    return sorted(mine, key=lambda r: (r.f1, r.tune))[:count]
