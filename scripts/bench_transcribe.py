"""MIDI -> ABC half of scripts/bench_symbolic.py (see its notes): this project's transcription
against midi2abc and music21 on the project's own MIDI and on "real-world" MIDI.

Run through bench_symbolic (``python -m scripts.bench_symbolic --direction reverse``); kept in
its own module because it is as long as the forward half. It imports nothing from bench_symbolic
(what the two share is in scripts/_common.py).
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.table import Table

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.checks.validate import validate_abc
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.corpus.sources import music21_corpus_dir
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from scripts._common import abc2midi_render, midi2abc_text, music21_abc
from tests.support.humanise import (
    Humanise,
    humanise,
    strip_meta,
    written_pickup,
)

UNSEEN = Path("/work/shared/data/irish.abc")


@dataclass
class Tally:
    """What one converter made of one set of MIDI files."""

    files: int = 0
    converted: int = 0
    valid: int = 0
    f1: list[float] = field(default_factory=list)  # against the reference notes
    f1_input: list[float] = field(default_factory=list)  # against the input's own notes
    identical: int = 0
    with_repeats: int = 0  # inputs whose tune has repeats
    repeats_found: int = 0  # ... of which the output has repeat signs
    repeats_same: int = 0  # ... with as many repeated sections as the tune
    pickup_ok: int = 0
    pickup_known: int = 0
    meter_ok: int = 0
    key_ok: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def row(self, name: str) -> list[str]:
        def share(a, b):
            return f"{a / b:.1%}" if b else "-"

        f1 = self.f1
        return [
            name,
            str(self.files),
            share(self.converted, self.files),
            share(self.valid, self.files),
            f"{statistics.median(f1):.3f}" if f1 else "-",
            f"{statistics.mean(f1):.3f}" if f1 else "-",
            share(sum(x >= 0.99 for x in f1), self.files),
            share(self.repeats_found, self.with_repeats),
            share(self.repeats_same, self.with_repeats),
            f"{1000 * self.seconds / max(1, self.files):.0f}",
        ]

    def summary(self) -> dict:
        return {
            "files": self.files,
            "converted": self.converted,
            "valid": self.valid,
            "f1_median": statistics.median(self.f1) if self.f1 else None,
            "f1_mean": statistics.mean(self.f1) if self.f1 else None,
            "f1_input_median": statistics.median(self.f1_input) if self.f1_input else None,
            "identical": self.identical,
            "with_repeats": self.with_repeats,
            "repeats_found": self.repeats_found,
            "repeats_same": self.repeats_same,
            "pickup_ok": self.pickup_ok,
            "pickup_known": self.pickup_known,
            "meter_ok": self.meter_ok,
            "key_ok": self.key_ok,
            "ms_per_file": 1000 * self.seconds / max(1, self.files),
            "failures": self.failures[:50],
        }


# --- the converters -------------------------------------------------------------------------


def ours(data: bytes, label: str) -> tuple[str, object]:
    out = midi_to_abc(data, label)
    return out.abc, out


def midi2abc(data: bytes, label: str) -> tuple[str, object]:
    return midi2abc_text(data, label), None


def music21_route(data: bytes, label: str) -> tuple[str, object]:
    return music21_abc(data), None


CONVERTERS = {"abcmidi-bgpt": ours, "midi2abc": midi2abc, "music21": music21_route}


# --- scoring ----------------------------------------------------------------------------------


def notes_of(data: bytes):
    return read_performance(data).notes()


def rendered(abc: str):
    """The ABC as this project renders it (the same renderer for every converter's output);
    None when it cannot be rendered."""
    tunes = split_tunes(abc)
    try:
        return abc_to_midi(tunes[0]).performance.notes() if tunes else None
    except ConversionError:
        return None


def from_first_note(notes):
    first = min((n.onset for n in notes), default=0)
    return [replace(n, onset=n.onset - first) for n in notes]


def source_repeats(tune_text: str) -> int:
    """Repeated sections in the written tune (backward repeat signs, as abc2xml reads them)."""
    try:
        root = abc_to_musicxml(tune_text).root
    except ConversionError:
        return 0
    part = root.find("part")
    return sum(
        1
        for bar in part.iter("barline")
        for rep in bar.iter("repeat")
        if rep.get("direction") == "backward"
    )


def output_repeats(abc: str) -> int:
    return len(re.findall(r":\|", abc))


def score_one(
    tally: Tally,
    name: str,
    data: bytes,
    label: str,
    reference,
    repeats: int,
    pickup,
    meter: str = "",
    key: int | None = None,
) -> None:
    """One file through one converter, into the tally; ``pickup``, ``meter`` (as ABC writes it)
    and ``key`` (the signature's fifths) are what the tune has, where known."""
    tally.files += 1
    start = time.perf_counter()
    try:
        abc, details = CONVERTERS[name](data, label)
    except Exception as err:  # every converter fails in its own ways
        tally.seconds += time.perf_counter() - start
        tally.failures.append(f"{label}: {str(err).splitlines()[0] if str(err) else err!r}")
        return
    tally.seconds += time.perf_counter() - start
    tally.converted += 1
    if validate_abc(abc).ok:
        tally.valid += 1
    notes = rendered(abc)
    if notes is None:
        tally.f1.append(0.0)
        return
    tally.f1.append(note_f1(reference, notes).f1)
    own = notes_of(data)
    tally.f1_input.append(note_f1(own, notes).f1)
    if [(n.onset, n.pitch, n.duration) for n in reference] == [
        (n.onset, n.pitch, n.duration) for n in notes
    ]:
        tally.identical += 1
    if repeats:
        tally.with_repeats += 1
        found = output_repeats(abc)
        tally.repeats_found += found > 0
        tally.repeats_same += found == repeats
    if details is not None and pickup is not None:
        tally.pickup_known += 1
        tally.pickup_ok += details.pickup == pickup
    if details is not None and meter:
        tally.meter_ok += details.meter.abc == meter
    if details is not None and key is not None:
        tally.key_ok += details.key.fifths == key


# --- the two benchmarks -----------------------------------------------------------------------


def canonical(args, tunes: list[AbcTune], console) -> dict:
    """The collections rendered by this project, back to ABC."""
    have_midi2abc = shutil.which("midi2abc") is not None
    rng = random.Random(args.seed)
    m21_sample = set(rng.sample(range(len(tunes)), min(args.music21_sample, len(tunes))))
    tallies = {"abcmidi-bgpt": Tally()}
    if have_midi2abc:
        tallies["midi2abc"] = Tally()
    tallies["music21"] = Tally()
    for i, tune in enumerate(tunes):
        try:
            first = abc_to_midi(tune)
        except ConversionError:
            continue  # not a tune the forward direction renders: nothing to transcribe
        reference = first.performance.notes()
        repeats = source_repeats(tune.full_text)
        try:
            pickup = written_pickup(tune.full_text)
        except Exception:
            pickup = None
        for name, tally in tallies.items():
            if name == "music21" and i not in m21_sample:
                continue
            score_one(tally, name, first.midi, tune.label, reference, repeats, pickup)
        if (i + 1) % 500 == 0:
            console.print(f"  {i + 1}/{len(tunes)}")
    table = _table("MIDI -> ABC: the collections rendered to MIDI by this project")
    for name, tally in tallies.items():
        label = name + (" (sample)" if name == "music21" else "")
        table.add_row(*tally.row(label))
    console.print(table)
    t = tallies["abcmidi-bgpt"]
    console.print(
        f"abcmidi-bgpt: identical note lists {t.identical / max(1, t.converted):.1%}; "
        f"written pickup recovered {t.pickup_ok / max(1, t.pickup_known):.1%}"
    )
    for msg in t.failures[:10]:
        console.print(f"  failed: {msg}")
    return {name: tally.summary() for name, tally in tallies.items()}


def unseen_tunes(limit: int | None) -> tuple[str, list[AbcTune]]:
    if UNSEEN.exists():
        tunes = split_tunes(read_abc_file(UNSEEN), UNSEEN.name)
        name = str(UNSEEN)
    else:  # a clean clone without ../shared: music21's small miscFolk collection
        tunes = []
        for f in sorted((music21_corpus_dir() / "miscFolk").glob("*.abc")):
            tunes += split_tunes(read_abc_file(f), f"miscFolk/{f.name}")
        name = "music21 miscFolk"
    return name, tunes[:limit] if limit else tunes


def _hornpipe(tune: AbcTune) -> bool:
    return bool(re.search(r"hornpipe", tune.text, re.I))


def real_world(args, console) -> dict:
    """Tunes never used for tuning, as other converters and players make MIDI of them."""
    name, tunes = unseen_tunes(args.real_limit)
    have_abc2midi = shutil.which("abc2midi") is not None
    have_midi2abc = shutil.which("midi2abc") is not None
    console.print(f"real-world MIDI from {len(tunes)} tunes of {name}")
    sets: dict[str, dict[str, Tally]] = {}
    names = ["abcmidi-bgpt"] + (["midi2abc"] if have_midi2abc else [])
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp_dir:
        tmp = Path(tmp_dir)
        for i, tune in enumerate(tunes):
            try:
                score = abc_to_midi(tune)
            except ConversionError:
                continue
            repeats = source_repeats(tune.full_text)
            text = tune.full_text
            meter = score.performance.meters[0] if score.performance.meters else None
            key = score.performance.keys[0].fifths if score.performance.keys else None
            if have_abc2midi:
                swung_text = re.sub(r"^K:", "R:hornpipe\nK:", text, count=1, flags=re.M)
                played = abc2midi_render(swung_text if _hornpipe(tune) else text, tmp)
                notated = abc2midi_render(text, tmp)
                if played and notated:
                    reference = notes_of(notated)
                    for conv in names:
                        tally = sets.setdefault("abc2midi renderings", {}).setdefault(conv, Tally())
                        score_one(tally, conv, played, tune.label, reference, repeats, None)
            if meter is None:
                continue
            style = Humanise(
                swing=0.62 if _hornpipe(tune) else 0.5,
                ticks_per_beat=rng.choice((96, 192, 384, 480, 960)),
                meta=i % 3 != 0,
            )
            try:
                pickup = written_pickup(text)
            except Exception:
                pickup = None
            data = humanise(
                score.performance,
                args.seed * 100_000 + i,
                style,
                (meter.numerator, meter.denominator),
                pickup or 0,
            )
            # A performance cannot tell a rest before the first note from silence: the score
            # is compared from its first note on.
            reference = from_first_note(score.performance.notes())
            for conv in names:
                tally = sets.setdefault("humanised performances", {}).setdefault(conv, Tally())
                score_one(
                    tally,
                    conv,
                    data,
                    tune.label,
                    reference,
                    repeats,
                    pickup,
                    f"{meter.numerator}/{meter.denominator}",
                    key,
                )
            if (i + 1) % 200 == 0:
                console.print(f"  {i + 1}/{len(tunes)}")
    out = {}
    for set_name, tallies in sets.items():
        table = _table(f"MIDI -> ABC: {set_name} of {name}")
        for conv, tally in tallies.items():
            table.add_row(*tally.row(conv))
        console.print(table)
        t = tallies["abcmidi-bgpt"]
        if t.f1_input:
            console.print(
                f"abcmidi-bgpt: F1 against the input's own notes, median "
                f"{statistics.median(t.f1_input):.3f} (swung and performed timing is written "
                f"straight, so this is lower where the input swings)"
            )
        if set_name == "humanised performances" and t.converted:
            console.print(
                f"abcmidi-bgpt: meter as written {t.meter_ok / t.converted:.1%}, key signature "
                f"as written {t.key_ok / t.converted:.1%} (a third of the files have neither "
                f"in them)"
            )
        out[set_name] = {conv: tally.summary() for conv, tally in tallies.items()}
    return out


def _table(title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for col in ("converter", "files", "success", "valid ABC"):
        table.add_column(col)
    for col in ("F1 median", "F1 mean", "F1 >= 0.99", "repeats found", "repeats as written"):
        table.add_column(col, justify="right")
    table.add_column("ms/file", justify="right")
    return table


# MusicXML's mode names -> semitones from the major tonic of the signature to the tonic
MUSICXML_MODE_OFFSET = {
    "major": 0,
    "ionian": 0,
    "minor": 9,
    "aeolian": 9,
    "dorian": 2,
    "mixolydian": 7,
    "phrygian": 4,
    "lydian": 5,
    "locrian": 11,
}
LOOSE_METER = {"2/4": "4/4", "2/2": "4/4", "C": "4/4", "C|": "4/4", "3/8": "3/4", "12/8": "6/8"}


def estimation(args, tunes: list[AbcTune], console) -> dict:
    """Meter, bar lines and key estimated from the notes alone: the collections' MIDI with
    the time and key signatures taken out, every n-th tune."""
    step = max(1, len(tunes) // args.estimation_sample)
    counts = {"files": 0, "meter": 0, "meter_loose": 0, "pickup": 0, "signature": 0, "key": 0}
    for tune in tunes[::step]:
        try:
            first = abc_to_midi(tune)
            pickup = written_pickup(tune.full_text)
        except Exception:
            continue
        perf = first.performance
        if not perf.meters or not perf.keys or len(perf.meters) > 1 or len(perf.keys) > 1:
            continue
        true_meter = f"{perf.meters[0].numerator}/{perf.meters[0].denominator}"
        true_key = perf.keys[0]
        try:
            out = midi_to_abc(strip_meta(first.midi), tune.label)
        except ConversionError:
            continue
        counts["files"] += 1
        counts["meter"] += out.meter.abc == true_meter
        est = LOOSE_METER.get(out.meter.abc, out.meter.abc)
        counts["meter_loose"] += est == LOOSE_METER.get(true_meter, true_meter)
        counts["pickup"] += out.meter.abc == true_meter and out.pickup == pickup
        counts["signature"] += out.key.fifths == true_key.fifths
        written = abc_to_musicxml(tune.full_text).root.find(".//key/mode")
        mode = (written.text or "major") if written is not None else "major"
        tonic_offset = MUSICXML_MODE_OFFSET.get(mode, 0)
        counts["key"] += (
            out.key.fifths == true_key.fifths
            and out.key.tonic_pc == (7 * true_key.fifths + tonic_offset) % 12
        )
    n = max(1, counts["files"])
    console.print(
        f"estimation without time and key signatures ({counts['files']} tunes): meter as "
        f"written {counts['meter'] / n:.1%}, same beat and bar up to 2:1 "
        f"{counts['meter_loose'] / n:.1%}, meter and bar lines as written "
        f"{counts['pickup'] / n:.1%}; key signature {counts['signature'] / n:.1%}, "
        f"signature and tonic {counts['key'] / n:.1%}"
    )
    return counts


def run_reverse(args, tunes: list[AbcTune], console) -> dict:
    """Both MIDI -> ABC benchmarks (see the module notes of bench_symbolic.py)."""
    parts = args.parts
    results = {}
    if "canonical" in parts:
        results["canonical"] = canonical(args, tunes, console)
    if "estimation" in parts:
        results["estimation"] = estimation(args, tunes, console)
    if "real" in parts:
        results["real_world"] = real_world(args, console)
    console.print(
        "F1: notes matched on onset (0.05 beat) and pitch, all voices, after rendering the ABC "
        "with this project; canonical and humanised inputs against the score, abc2midi's "
        "renderings against abc2midi's unswung rendering. Repeats: share of tunes written "
        "with repeats whose output has repeat signs / as many repeated sections."
    )
    return results


if __name__ == "__main__":  # python -m scripts.bench_transcribe --folder DIR: any folder of MIDI
    from scripts.bench_transcribe_folder import main

    main()
