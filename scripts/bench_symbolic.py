"""Benchmark the symbolic converter on the folk ABC collections shipped inside music21.

ABC -> MIDI, side by side for this project, abc2midi (where installed) and music21:
success rate, tunes per second on one core (end to end from a tune split out of its file:
parse, play out, write MIDI bytes), and melody note F1 (onset and pitch, in beats) against
abc2midi's rendering.

abc2midi is compared twice: as it plays by default, and "as notated", with fermatas held as
written (-NFER) and R: fields removed (abc2midi swings tunes whose R: says hornpipe). Both
figures are printed; trills and rolls, which abc2midi plays out as ornaments, stay in both.

MIDI -> ABC (--direction reverse or both), for this project, midi2abc and music21 (MIDI ->
MusicXML -> xml2abc), on two kinds of input:
- the same collections rendered to MIDI by this project: success, valid ABC (music21, and
  abc2midi's checker where installed), round-trip note F1 (the ABC rendered again by this
  project against the MIDI), identical note lists, repeat structure recovered, pickups;
- the same MIDI without time and key signatures (a sample of 600 tunes): meter, bar lines and
  key as estimated from the notes, against the tune as written;
- "real-world" MIDI of tunes from a collection never used to tune the transcription
  (/work/shared/data/irish.abc, else music21's miscFolk): abc2midi's renderings (480 ticks,
  notes a tick late and short, accent velocities, ornaments played out; tunes whose id says
  hornpipe get R:hornpipe, which abc2midi swings 2:1) scored against abc2midi's unswung
  rendering of the same tune, and seeded humanised performances (tests/support/humanise.py:
  12 ms jitter, +-4 % rubato, a ritardando, staccato to legato, accents, 96-960 ticks, every
  third file without time or key signature, hornpipes swung 0.62) scored against the score.

    .venv/bin/python -m scripts.bench_symbolic                    # both directions, all tunes
    .venv/bin/python -m scripts.bench_symbolic --limit 300        # a quick look
    .venv/bin/python -m scripts.bench_symbolic --direction reverse --limit 300
    .venv/bin/python -m scripts.bench_symbolic --direction reverse --parts estimation
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.corpus.sources import music21_corpus_dir
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from scripts._common import abc2midi_render

COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs")


def load_tunes(collections, limit: int | None) -> list[AbcTune]:
    root = music21_corpus_dir()
    tunes: list[AbcTune] = []
    for name in collections:
        for f in sorted((root / name).glob("*.abc")):
            tunes += split_tunes(read_abc_file(f), f"{name}/{f.name}")
    return tunes[:limit] if limit else tunes


def run_ours(tunes):
    midis, failures = {}, {}
    start = time.perf_counter()
    for i, t in enumerate(tunes):
        try:
            midis[i] = abc_to_midi(t).midi
        except ConversionError as err:
            failures[i] = str(err)
    return midis, failures, time.perf_counter() - start


def run_abc2midi(tunes, notated: bool, tmp: Path):
    midis = {}
    start = time.perf_counter()
    for i, t in enumerate(tunes):
        text = t.full_text
        if notated:
            text = re.sub(r"^R:.*\n", "", text, flags=re.M)
        midi = abc2midi_render(text, tmp, "-NGUI", *(["-NFER"] if notated else []))
        if midi is not None:
            midis[i] = midi
    return midis, time.perf_counter() - start


def run_music21(tunes, indices):
    import music21

    midis = {}
    start = time.perf_counter()
    for i in indices:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = music21.converter.parseData(
                    tunes[i].full_text, format="abc", forceSource=True
                )
                mf = music21.midi.translate.streamToMidiFile(score)
                buf = io.BytesIO(mf.writestr())
            midis[i] = buf.getvalue()
        except Exception:  # music21 fails in many ways on real tunes
            continue
    return midis, time.perf_counter() - start


def melody(data: bytes):
    try:
        perf = read_performance(data)
    except ConversionError:
        return None
    voices = [v for v in perf.voices if v.notes]
    return voices[0].notes if voices else None


def f1_against(reference: dict, estimate: dict) -> list[float]:
    scores = []
    for i, ref in reference.items():
        if i not in estimate:
            continue
        a, b = melody(ref), melody(estimate[i])
        if a and b:
            scores.append(note_f1(a, b).f1)
    return scores


def f1_cells(scores: list[float]) -> tuple[str, str, str]:
    """Median, mean and share of tunes at F1 >= 0.99."""
    if not scores:
        return "-", "-", "-"
    share = sum(s >= 0.99 for s in scores) / len(scores)
    return f"{statistics.median(scores):.3f}", f"{statistics.mean(scores):.3f}", f"{share:.0%}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--collections", nargs="+", default=list(COLLECTIONS))
    ap.add_argument("--limit", type=int, default=None, help="first N tunes only")
    ap.add_argument("--music21-sample", type=int, default=300, help="tunes for music21 (slow)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--direction", choices=("forward", "reverse", "both"), default="both")
    ap.add_argument(
        "--real-limit", type=int, default=None, help="MIDI -> ABC: first N unseen tunes only"
    )
    ap.add_argument(
        "--estimation-sample", type=int, default=600, help="MIDI -> ABC: tunes for estimation"
    )
    ap.add_argument(
        "--parts",
        nargs="+",
        choices=("canonical", "estimation", "real"),
        default=["canonical", "estimation", "real"],
        help="MIDI -> ABC: which benchmarks to run",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    console = Console(width=max(Console().width, 150))
    tunes = load_tunes(args.collections, args.limit)
    console.print(f"{len(tunes)} tunes from {', '.join(args.collections)}")
    results: dict[str, dict] = {}
    if args.direction in ("forward", "both"):
        results["abc_to_midi"] = run_forward(args, tunes, console)
    if args.direction in ("reverse", "both"):
        from scripts.bench_transcribe import run_reverse  # the MIDI -> ABC half, its own module

        results["midi_to_abc"] = run_reverse(args, tunes, console)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


def run_forward(args, tunes, console) -> dict:
    """ABC -> MIDI: this project, abc2midi and music21 (see the module notes)."""
    results: dict[str, dict] = {}
    ours, failures, seconds = run_ours(tunes)
    results["abcmidi-bgpt"] = {
        "success": len(ours) / len(tunes),
        "tunes_per_s": len(tunes) / seconds,
        "failures": failures,
    }

    have_abc2midi = shutil.which("abc2midi") is not None
    if have_abc2midi:
        with tempfile.TemporaryDirectory() as tmp:
            default, s_default = run_abc2midi(tunes, notated=False, tmp=Path(tmp))
            notated, _ = run_abc2midi(tunes, notated=True, tmp=Path(tmp))
        results["abc2midi"] = {
            "success": len(default) / len(tunes),
            "tunes_per_s": len(tunes) / s_default,
        }
        results["abcmidi-bgpt"]["f1_vs_abc2midi"] = f1_against(default, ours)
        results["abcmidi-bgpt"]["f1_vs_abc2midi_notated"] = f1_against(notated, ours)

    rng = random.Random(args.seed)
    sample = sorted(rng.sample(range(len(tunes)), min(args.music21_sample, len(tunes))))
    m21, s_m21 = run_music21(tunes, sample)
    results["music21"] = {
        "success": len(m21) / len(sample),
        "tunes_per_s": len(sample) / s_m21,
        "sample": len(sample),
    }
    if have_abc2midi:
        results["music21"]["f1_vs_abc2midi"] = f1_against(
            {i: default[i] for i in sample if i in default}, m21
        )
        results["music21"]["f1_vs_abc2midi_notated"] = f1_against(
            {i: notated[i] for i in sample if i in notated}, m21
        )
        sub = {i: ours[i] for i in sample if i in ours}
        results["abcmidi-bgpt"]["f1_vs_abc2midi_on_music21_sample"] = f1_against(
            {i: notated[i] for i in sample if i in notated}, sub
        )

    table = Table(title="ABC -> MIDI on the music21 folk collections", header_style="bold")
    for col in ("converter", "tunes", "success", "tunes/s (1 core)"):
        table.add_column(col)
    for setting in ("default", "as notated"):
        for stat in ("median", "mean", ">=0.99"):
            table.add_column(f"F1 {stat}\n({setting})", justify="right")
    r = results["abcmidi-bgpt"]
    table.add_row(
        "abcmidi-bgpt",
        str(len(tunes)),
        f"{r['success']:.2%}",
        f"{r['tunes_per_s']:.1f}",
        *f1_cells(r.get("f1_vs_abc2midi", [])),
        *f1_cells(r.get("f1_vs_abc2midi_notated", [])),
    )
    if have_abc2midi:
        r = results["abc2midi"]
        table.add_row(
            "abc2midi (subprocess)",
            str(len(tunes)),
            f"{r['success']:.2%}",
            f"{r['tunes_per_s']:.1f}",
            *["ref"] * 6,
        )
    r = results["music21"]
    table.add_row(
        f"music21 {__import__('music21').__version__}",
        f"{r['sample']} (sample)",
        f"{r['success']:.2%}",
        f"{r['tunes_per_s']:.1f}",
        *f1_cells(r.get("f1_vs_abc2midi", [])),
        *f1_cells(r.get("f1_vs_abc2midi_notated", [])),
    )
    if have_abc2midi:
        table.add_row(
            "abcmidi-bgpt on that sample",
            f"{r['sample']} (sample)",
            "",
            "",
            *["-"] * 3,
            *f1_cells(results["abcmidi-bgpt"]["f1_vs_abc2midi_on_music21_sample"]),
        )
    console.print(table)
    console.print(
        "F1: melody notes matched on onset (0.05 beat) and pitch, against abc2midi's rendering."
    )
    if failures:
        console.print(f"[bold]abcmidi-bgpt failures ({len(failures)}):[/bold]")
        for msg in list(failures.values())[:20]:
            console.print(f"  {msg}")
    return results


if __name__ == "__main__":
    main()
