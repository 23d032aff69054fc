"""Neural against symbolic conversion on the same tunes, in both directions: per-tune scores,
a report and figures.

Tunes come from a corpus split (the ABC in the form the model reads, the MIDI rendered from it)
or from ABC and MIDI files (an ABC tune is normalised as the bgpt engine does and rendered by the
symbolic converter with chords played, as the corpus makes its MIDI). Engines: bgpt (a
checkpoint), the symbolic converter, and abc2midi / midi2abc where installed.

- ABC -> MIDI: each engine's MIDI against the reference MIDI (``validate.midi_fidelity``):
  validity, note precision / recall / F1 on (onset, pitch) and on (onset, pitch, offset) in
  beats, tempo / meter / key agreement, exact bytes.
- MIDI -> ABC: each engine's ABC (``validate.abc_fidelity``): validity; rendered by the symbolic
  converter and scored against the input MIDI; character error rate against the reference ABC.
- bgpt rows also carry the bits per byte the model spends on the reference output
  (teacher-forced, as in evaluation), so a bad output can be told from a bad model.

An engine that writes no valid output for a tune scores 0 on it. Files written:
``report.md``, ``tunes.csv`` (one row per tune, direction and engine), ``f1_<direction>.png``
(histograms of note F1) and ``roll_<direction>_<k>.png`` (piano rolls of the worst bgpt outputs
against the reference, mismatches coloured).
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from abcmidi_bgpt.bgpt.patches import DIRECTION_NAMES
from abcmidi_bgpt.checks.validate import abc_fidelity, midi_fidelity
from abcmidi_bgpt.core.errors import ConversionError, first_line
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.engines.base import Abc2MidiEngine, SymbolicEngine, external_tools_available
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_midi_file, read_performance

CHORDS = True  # the corpus plays chord symbols in its MIDI
ENGINES = ("bgpt", "symbolic", "abc2midi")
NAMES = {"abc2mid": "ABC -> MIDI", "mid2abc": "MIDI -> ABC"}


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
    direction: str
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
    bpb: float | None = None  # bgpt: bits per byte of the reference output under the model
    output: bytes = field(default=b"", repr=False)  # kept for the figures, not in the CSV


CSV_FIELDS = [f.name for f in fields(Row) if f.name != "output"]


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
    from abcmidi_bgpt.engines.bgpt import normalise_abc
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


# --- running and scoring ---


def score_midi(row: Row, output: bytes, reference: bytes) -> Row:
    fidelity = midi_fidelity(output, reference)
    row.valid, row.message = fidelity.valid.ok, fidelity.valid.message
    row.exact = fidelity.exact
    if fidelity.notes is not None:
        _fill_notes(row, fidelity.notes)
    return row


def score_abc(row: Row, output: bytes, tune: CompareTune, with_abc2midi: bool = True) -> Row:
    fidelity = abc_fidelity(output, tune.midi, tune.abc, with_abc2midi, chords=CHORDS)
    row.valid, row.message = fidelity.valid.ok, fidelity.valid.message or fidelity.render_error
    row.exact, row.cer = fidelity.exact, fidelity.cer
    if fidelity.notes is not None:
        _fill_notes(row, fidelity.notes)
    return row


def _fill_notes(row: Row, notes) -> None:
    row.precision, row.recall = notes.onset.precision, notes.onset.recall
    row.f1, row.f1_offset = notes.onset.f1, notes.offset.f1
    row.tempo, row.meter, row.key = notes.tempo, notes.meter, notes.key


def _scored(row: Row, output: bytes, tune: CompareTune, with_abc2midi: bool) -> Row:
    row.output, row.output_bytes = output, len(output)
    if row.direction == "abc2mid":
        return score_midi(row, output, tune.midi)
    return score_abc(row, output, tune, with_abc2midi)


def inputs_for(tunes: Sequence[CompareTune], direction: str) -> list[CompareTune]:
    """The tunes that can be converted in ``direction``: ABC -> MIDI needs the ABC."""
    return [t for t in tunes if direction == "mid2abc" or t.abc is not None]


def run_rule_based(
    engine_name: str,
    tunes: Sequence[CompareTune],
    direction: str,
    with_abc2midi: bool = True,
    timeout: float | None = 60.0,
) -> list[Row]:
    """The symbolic converter's or abc2midi's rows: one conversion at a time, each timed."""
    from abcmidi_bgpt.core.io import time_limit

    engine = SymbolicEngine(chords=CHORDS) if engine_name == "symbolic" else Abc2MidiEngine()
    rows = []
    for tune in inputs_for(tunes, direction):
        row = Row(tune.name, direction, engine_name)
        start = time.perf_counter()
        try:
            with time_limit(timeout, tune.name):
                if direction == "abc2mid":
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
    engine, tunes: Sequence[CompareTune], direction: str, with_abc2midi: bool = True
) -> list[Row]:
    """The model's rows: every tune generated in batches from the file as it is; ``seconds``
    is the batch's generation time shared out evenly."""
    from abcmidi_bgpt.bgpt.evaluate import target_bpb

    todo = inputs_for(tunes, direction)
    sources = [t.abc if direction == "abc2mid" else t.midi for t in todo]
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
        row = Row(tune.name, direction, "bgpt", seconds=per_tune)
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
    directions: Sequence[str] = DIRECTION_NAMES,
    engines: Sequence[str] | None = None,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 32,
    with_abc2midi: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> list[Row]:
    """Every engine on every tune in every direction; rows ordered by direction, tune, engine.
    ``engines`` defaults to bgpt, symbolic and (where installed) abc2midi."""
    if engines is None:
        engines = [e for e in ENGINES if e != "abc2midi" or external_tools_available()]
    bgpt = None
    if "bgpt" in engines:
        from abcmidi_bgpt.engines.bgpt import BgptEngine

        bgpt = BgptEngine(checkpoint, device=device, dtype=dtype, batch_size=batch_size)
    rows: list[Row] = []
    for direction in directions:
        for name in engines:
            if on_stage:
                on_stage(f"{NAMES[direction]}: {name}")
            if name == "bgpt":
                rows += run_bgpt(bgpt, tunes, direction, with_abc2midi)
            else:
                rows += run_rule_based(name, tunes, direction, with_abc2midi)
    order = {t.name: i for i, t in enumerate(tunes)}
    rank = {e: i for i, e in enumerate(engines)}
    directions = list(directions)
    rows.sort(key=lambda r: (directions.index(r.direction), order[r.tune], rank[r.engine]))
    return rows


# --- summary, report and figures ---


@dataclass(frozen=True, slots=True)
class Summary:
    direction: str
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
                direction,
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


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _csv_value(getattr(row, name)) for name in CSV_FIELDS})


def _csv_value(value) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def worst(rows: Sequence[Row], direction: str, count: int, engine: str = "bgpt") -> list[Row]:
    """The ``count`` rows of ``engine`` with the lowest note F1 below 1 (ties by name)."""
    mine = [r for r in rows if r.direction == direction and r.engine == engine and r.f1 < 1]
    return sorted(mine, key=lambda r: (r.f1, r.tune))[:count]


def write_report(
    rows: Sequence[Row],
    tunes: Sequence[CompareTune],
    out_dir: str | Path,
    title_lines: Sequence[str] = (),
    worst_count: int = 4,
    left_out: Sequence[str] = (),
) -> Path:
    """Write report.md, tunes.csv and the figures into ``out_dir``; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "tunes.csv")
    summaries = summarise(rows)
    midi_of = {t.name: t.midi for t in tunes}
    lines = ["# Neural against symbolic conversion", ""]
    lines += [f"- {line}" for line in title_lines]
    lines += [
        "- An engine without a valid output for a tune scores 0 on it. Note F1 is on (onset, "
        "pitch) in beats, within 0.05 beat (mir_eval); 'with offsets' also asks the offsets "
        "to agree. Per-tune figures: `tunes.csv`.",
        "",
    ]
    for direction in dict.fromkeys(r.direction for r in rows):
        lines += _direction_section(direction, [s for s in summaries if s.direction == direction])
        histogram = f"f1_{direction}.png"
        f1_histogram(rows, direction, out / histogram)
        lines += [f"![note F1, {NAMES[direction]}]({histogram})", ""]
        bad = worst(rows, direction, worst_count)
        if bad:
            lines += [f"Worst bgpt outputs, {NAMES[direction]}:", ""]
            for k, row in enumerate(bad, 1):
                figure = f"roll_{direction}_{k}.png"
                # Both directions score against the tune's MIDI: the reference or the input.
                piano_roll(row, read_performance(midi_of[row.tune]).notes(), out / figure)
                note = f" ({row.message})" if row.message else ""
                lines.append(f"{k}. `{row.tune}`: F1 {row.f1:.3f}{note} ![roll]({figure})")
            lines.append("")
    if left_out:
        lines += ["## Inputs left out", ""] + [f"- {m}" for m in left_out] + [""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def _direction_section(direction: str, summaries: Sequence[Summary]) -> list[str]:
    lines = [f"## {NAMES[direction]}", ""]
    head = ["engine", "tunes", "valid", "note F1 mean / median", "F1 with offsets"]
    if direction == "abc2mid":
        head += ["exact", "tempo / meter / key agree"]
    else:
        head += ["tempo / meter / key agree", "CER"]
    head += ["BPB of reference", "tunes/s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [
            s.engine,
            str(s.tunes),
            _share(s.valid, s.tunes),
            f"{s.f1_mean:.3f} / {s.f1_median:.3f}",
            f"{s.f1_offset_mean:.3f}",
        ]
        agree = (
            f"{_share(s.tempo, s.tunes)} / {_share(s.meter, s.tunes)} / {_share(s.key, s.tunes)}"
        )
        if direction == "abc2mid":
            cells += [_share(s.exact, s.tunes), agree]
        else:
            cells += [agree, "" if s.cer_mean is None else f"{s.cer_mean:.3f}"]
        cells += ["" if s.bpb_mean is None else f"{s.bpb_mean:.4f}", f"{s.tunes_per_s:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _share(count: int, total: int) -> str:
    return f"{count}/{total}" if total else "0"


def f1_histogram(rows: Sequence[Row], direction: str, path: Path) -> None:
    """Histograms of note F1 per engine, overlaid."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.add_subplot()
    engines = list(dict.fromkeys(r.engine for r in rows if r.direction == direction))
    values = [[r.f1 for r in rows if r.direction == direction and r.engine == e] for e in engines]
    labels = [f"{e} ({len(v)})" for e, v in zip(engines, values, strict=True)]
    ax.hist(values, bins=[i / 20 for i in range(21)], label=labels)  # bars side by side
    ax.set_xlabel("note F1 (onset, pitch)")
    ax.set_ylabel("tunes")
    ax.set_title(f"Note F1, {NAMES[direction]}")
    ax.legend()
    fig.savefig(path, dpi=100)


def output_notes(row: Row) -> list[Note]:
    """The notes of a row's output: read from its MIDI, or its ABC rendered by the symbolic
    converter; none when it has no usable output."""
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    if not row.valid or not row.output:
        return []
    try:
        if row.direction == "abc2mid":
            return read_performance(row.output).notes()
        text = row.output.decode("utf-8", "replace")
        return read_performance(abc_to_midi(text, chords=CHORDS).midi).notes()
    except ConversionError:
        return []


def piano_roll(row: Row, reference: Sequence[Note], path: Path) -> None:
    """Reference against output: notes in both grey, reference notes the output lacks red,
    output notes the reference lacks blue."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from abcmidi_bgpt.checks.metrics import unmatched_notes

    missing, extra = unmatched_notes(reference, output_notes(row))
    # The reference is drawn grey first; the notes the output lacks are drawn red over it.
    layers = [("0.6", reference), ("tab:red", missing), ("tab:blue", extra)]
    legend = [
        ("in both", "0.6", len(reference) - len(missing)),
        ("missing from the output", "tab:red", len(missing)),
        ("added by the output", "tab:blue", len(extra)),
    ]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    for colour, notes in layers:
        for n in notes:
            ax.broken_barh(
                [(float(n.onset), max(float(n.duration), 0.05))], (n.pitch - 0.4, 0.8),
                facecolors=colour, alpha=0.8,
            )  # fmt: skip
    ax.legend(
        handles=[Patch(color=c, label=f"{label} ({count})") for label, c, count in legend],
        loc="upper right",
        fontsize="small",
    )
    ax.set_xlabel("beats")
    ax.set_ylabel("MIDI pitch")
    shown = "no valid output" if not row.valid else f"note F1 {row.f1:.3f}"
    ax.set_title(f"{row.tune}, {NAMES[row.direction]}, {row.engine}: {shown}", fontsize="small")
    fig.savefig(path, dpi=100)
