"""The comparison's files (:mod:`abcmidi_bgpt.reports.compare` makes the rows): ``report.md``,
``tunes.csv`` (one row per tune, direction and engine), ``inputs.jsonl`` (each tune's ABC and
MIDI, so that a row can be opened again: :func:`read_inputs`), ``f1_<direction>.png`` (histograms of
note F1), ``roll_<direction>_<k>.png`` (piano rolls of the worst bgpt outputs against the
reference, mismatches coloured) and ``score_<direction>_<k>.svg`` beside each (the engraved
score: bGPT's ABC where it wrote a valid one, the tune's otherwise; verovio, isolated)."""

from __future__ import annotations

import base64
import binascii
import csv
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.formats.abc.text import split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.reports.compare import CHORDS, CompareTune, Row, Summary, summarise, worst
from abcmidi_bgpt.reports.render import engrave_isolated

CSV_FIELDS = [f.name for f in fields(Row) if f.name != "output"]
CSV_NAME = "tunes.csv"
INPUTS_NAME = "inputs.jsonl"
SETTINGS_NAME = "comparison.json"  # what the comparison ran with: {"checkpoint": ...}
# A comparison of a corpus's test split (264 tunes) writes about 0.5 MB of inputs, of a whole
# 12,000-tune training split about 25 MB; a folder from elsewhere is read whole, so its size
# is bounded before it is.
MAX_INPUTS_BYTES = 64 * 1024 * 1024


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _csv_value(getattr(row, name)) for name in CSV_FIELDS})


def read_csv(path: Path) -> list[Row]:
    """The rows :func:`write_csv` wrote, back (without their outputs); an empty cell (a None)
    or a column the file lacks keeps the field's default. Raises ValueError on a bad cell."""
    types = {f.name: str(f.type) for f in fields(Row) if f.name in CSV_FIELDS}
    with Path(path).open(newline="") as fh:
        return [
            Row(**{name: _from_csv(text, types[name])
                   for name, text in record.items() if name in types and text})
            for record in csv.DictReader(fh)
        ]  # fmt: skip


def _from_csv(text: str, annotation: str) -> object:
    """A cell as the Row field of this annotation holds it (booleans are written True/False)."""
    if annotation.startswith("bool"):
        if text not in ("True", "False"):
            raise ValueError(f"not a boolean: {text!r}")
        return text == "True"
    if annotation.startswith("float"):
        return float(text)
    if annotation == "int":
        return int(text)
    if annotation == "Direction":
        return Direction(text)
    return text


def _csv_value(value) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_inputs(tunes: Sequence[CompareTune], path: Path) -> None:
    """One JSON line per tune: its name, its ABC as the engines read it (null for a MIDI
    file), its MIDI in base64, and the checkpoint the comparison ran with."""
    with path.open("w", encoding="utf-8") as fh:
        for tune in tunes:
            abc = tune.tune.full_text if tune.tune is not None else _text(tune.abc)
            midi = base64.b64encode(tune.midi).decode("ascii")
            fh.write(json.dumps({"name": tune.name, "abc": abc, "midi": midi}) + "\n")


def _text(abc: bytes | None) -> str | None:
    return None if abc is None else abc.decode("utf-8", errors="replace")


def read_checkpoint(folder: Path) -> str | None:
    """The checkpoint a comparison folder's bgpt ran with (None: not recorded, or the
    packaged model)."""
    path = Path(folder) / SETTINGS_NAME
    if not path.is_file() or path.stat().st_size > 64 * 1024:
        return None
    try:
        checkpoint = json.loads(path.read_text(encoding="utf-8")).get("checkpoint")
    except (ValueError, AttributeError):
        return None
    return checkpoint if isinstance(checkpoint, str) and checkpoint else None


def read_inputs(path: Path) -> dict[str, CompareTune]:
    """The tunes :func:`write_inputs` wrote, by name: MIDI bytes, and for a tune its ABC and
    parsed :class:`AbcTune`. Raises ValueError on a line that is not such a record and
    :class:`InputTooLarge` on a file over :data:`MAX_INPUTS_BYTES`."""
    path = Path(path)
    if path.stat().st_size > MAX_INPUTS_BYTES:
        raise InputTooLarge(f"over {MAX_INPUTS_BYTES} bytes", str(path))
    tunes = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
                name, abc = str(record["name"]), record["abc"]
                midi = base64.b64decode(record["midi"], validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error) as err:
                raise ValueError(f"{path}:{number}: not a tune record ({err})") from None
            parsed = _tunes_of(abc, name)
            tunes[name] = CompareTune(
                name,
                midi,
                abc.encode("utf-8") if isinstance(abc, str) else None,
                parsed[0] if len(parsed) == 1 else None,
            )
    return tunes


def _tunes_of(abc: object, name: str) -> list:
    if not isinstance(abc, str):
        return []
    try:
        return split_tunes(abc, name)
    except ConversionError:  # the text is kept; only the engines reading a tune cannot run
        return []


def write_report(
    rows: Sequence[Row],
    tunes: Sequence[CompareTune],
    out_dir: str | Path,
    title_lines: Sequence[str] = (),
    worst_count: int = 4,
    left_out: Sequence[str] = (),
    checkpoint: str | None = None,
) -> Path:
    """Write report.md, tunes.csv, inputs.jsonl, comparison.json (``checkpoint``: the bgpt
    model compared, None for the packaged one or none) and the figures into ``out_dir``;
    returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / CSV_NAME)
    write_inputs(tunes, out / INPUTS_NAME)
    (out / SETTINGS_NAME).write_text(json.dumps({"checkpoint": checkpoint}) + "\n")
    summaries = summarise(rows)
    midi_of = {t.name: t.midi for t in tunes}
    abc_of = {t.name: t.abc for t in tunes}
    lines = ["# Neural against symbolic conversion", ""]
    lines += [f"- {line}" for line in title_lines]
    lines += [
        "- An engine without a valid output for a tune scores 0 on it. Note F1 is on (onset, "
        "pitch) in beats, within 0.05 beat (mir_eval); 'with offsets' also asks the offsets "
        "to agree. Per-tune figures: `tunes.csv`.",
        "",
    ]
    for direction in dict.fromkeys(Direction(r.direction) for r in rows):
        lines += _direction_section(direction, [s for s in summaries if s.direction == direction])
        histogram = f"f1_{direction}.png"
        f1_histogram(rows, direction, out / histogram)
        lines += [f"![note F1, {direction.label}]({histogram})", ""]
        bad = worst(rows, direction, worst_count)
        if bad:
            lines += [f"Worst bgpt outputs, {direction.label}:", ""]
            scores = engrave_isolated([score_text(row, abc_of.get(row.tune)) for row in bad])
            for k, (row, score) in enumerate(zip(bad, scores, strict=True), 1):
                figure = f"roll_{direction}_{k}.png"
                # Both directions score against the tune's MIDI: the reference or the input.
                piano_roll(row, read_performance(midi_of[row.tune]).notes(), out / figure)
                note = f" ({row.message})" if row.message else ""
                shown = f"![roll]({figure})"
                if score is not None:
                    (out / f"score_{direction}_{k}.svg").write_text(score, encoding="utf-8")
                    shown += f" ![score](score_{direction}_{k}.svg)"
                lines.append(f"{k}. `{row.tune}`: F1 {row.f1:.3f}{note} {shown}")
            lines.append("")
    if left_out:
        lines += ["## Inputs left out", ""] + [f"- {m}" for m in left_out] + [""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def score_text(row: Row, reference_abc: bytes | None) -> str:
    """The ABC to engrave beside a worst row's piano roll: bGPT's own ABC where it wrote a
    valid one (MIDI -> ABC), the tune's ABC otherwise."""
    if row.direction == Direction.MIDI_TO_ABC and row.valid and row.output:
        return row.output.decode("utf-8", "replace")
    return (reference_abc or b"").decode("utf-8", "replace")


def _direction_section(direction: Direction, summaries: Sequence[Summary]) -> list[str]:
    lines = [f"## {direction.label}", ""]
    head = ["engine", "tunes", "valid", "note F1 mean / median", "F1 with offsets"]
    if direction == Direction.ABC_TO_MIDI:
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
        if direction == Direction.ABC_TO_MIDI:
            cells += [_share(s.exact, s.tunes), agree]
        else:
            cells += [agree, "" if s.cer_mean is None else f"{s.cer_mean:.3f}"]
        cells += ["" if s.bpb_mean is None else f"{s.bpb_mean:.4f}", f"{s.tunes_per_s:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _share(count: int, total: int) -> str:
    return f"{count}/{total}" if total else "0"


def f1_histogram(rows: Sequence[Row], direction: Direction, path: Path) -> None:
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
    ax.set_title(f"Note F1, {Direction(direction).label}")
    ax.legend()
    fig.savefig(path, dpi=100)


def output_notes(row: Row) -> list[Note]:
    """The notes of a row's output: read from its MIDI, or its ABC rendered by the symbolic
    converter; none when it has no usable output."""
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    if not row.valid or not row.output:
        return []
    try:
        if row.direction == Direction.ABC_TO_MIDI:
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
    title = f"{row.tune}, {Direction(row.direction).label}, {row.engine}: {shown}"
    ax.set_title(title, fontsize="small")
    fig.savefig(path, dpi=100)
