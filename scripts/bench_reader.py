"""Benchmark the native ABC reader against the abc2xml path it replaces, and against abc2midi.

Run from the repository root: ``.venv/bin/python -m scripts.bench_reader``.

1. Differential, on folk collections (music21's, and ``--folder``s such as
   ../shared/data/irish.abc): the share of tunes whose MIDI files are the same bytes through
   both readers, then of those whose note lists are the same (pitch, onset, duration, velocity
   and voice, in the file's 120 ticks a beat), chord symbols played as the corpus plays them;
   each class of difference with examples.
2. Beyond folk (``--dev``, e.g. ../shared/data/abc-dev): for the tunes abc2midi renders, the
   share the native reader renders too, and note F1 (onset and pitch, every voice, chord
   symbols off) against abc2midi "as notated" (fermatas as written, no swing from R:), on the
   tunes as they are and with abc2midi's misreadings worked around (AS_ABC2MIDI_READS).
3. Speed, one process: tunes a second for each reader and for abc2midi on the same tunes.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.corpus.sources import music21_corpus_dir
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from scripts._common import abc2midi_render

FOLK = ("oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "miscFolk")


def load(paths: list[Path]) -> list[AbcTune]:
    tunes: list[AbcTune] = []
    for path in paths:
        files = [path] if path.is_file() else sorted(path.rglob("*.abc"))
        for f in files:
            try:
                tunes += split_tunes(read_abc_file(f), str(f))
            except ConversionError:
                continue
    return tunes


def notes(perf) -> list[tuple]:
    return sorted(
        (round(n.onset * 120), n.pitch, round(n.duration * 120), n.velocity, n.voice)
        for v in perf.voices
        for n in v.notes
    )


def render(tune: AbcTune, reader: str, chords: bool):
    try:
        return abc_to_midi(tune, chords=chords, reader=reader)
    except ConversionError as err:
        return err


def differential(tunes: list[AbcTune]) -> dict:
    classes: dict[str, list] = collections.defaultdict(list)
    seconds = {"abc2xml": 0.0, "native": 0.0}
    for tune in tunes:
        results = {}
        for reader in seconds:
            start = time.perf_counter()
            results[reader] = render(tune, reader, chords=True)
            seconds[reader] += time.perf_counter() - start
        old, new = results["abc2xml"], results["native"]
        if isinstance(old, Exception) and isinstance(new, Exception):
            classes["both refuse"].append(tune.label)
        elif isinstance(old, Exception):
            classes["only abc2xml refuses"].append(f"{tune.label}: {old.reason}")
        elif isinstance(new, Exception):
            classes["only native refuses"].append(f"{tune.label}: {new.reason}")
        elif old.midi == new.midi:
            classes["same"].append(tune.label)
        elif notes(old.performance) == notes(new.performance):
            classes["same notes, other bytes"].append(f"{tune.label}: {_meta_difference(old, new)}")
        else:
            a, b = notes(old.performance), notes(new.performance)
            k = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            k = min(len(a), len(b)) if k is None else k
            classes["differ"].append(
                f"{tune.label}: {len(a)} vs {len(b)} notes; {a[k : k + 1]} vs {b[k : k + 1]}"
            )
    return {"tunes": len(tunes), "classes": classes, "seconds": seconds}


def _meta_difference(old, new) -> str:
    """What differs between two renderings with the same notes."""
    a, b = old.performance, new.performance
    for name in ("title", "tempos", "meters", "keys"):
        if getattr(a, name) != getattr(b, name):
            return f"{name}: {str(getattr(a, name))[:80]} vs {str(getattr(b, name))[:80]}"
    voices = [(v.name, v.program, v.channel) for v in a.voices]
    if voices != [(v.name, v.program, v.channel) for v in b.voices]:
        return f"voices: {voices[:4]} vs {[(v.name, v.program, v.channel) for v in b.voices][:4]}"
    return "other"


# abc2midi's misreadings, each seen on abc-dev and shown by a minimal tune; for the "worked
# around" figure the oracle is given the same music written so that it reads it as the standard
# (and abc2xml, and this reader) do. The native reader is always given the tune as it is.


def _music_lines(text: str, rewrite) -> str:
    """``rewrite`` applied to the lines that are music (not fields, not comments)."""
    return "\n".join(
        line if re.match(r"[A-Za-z+]:|%", line) else rewrite(line) for line in text.split("\n")
    )


def distinct_voice_ids(text: str) -> str:
    """'V:S' then 'V:1': abc2midi takes V:1 for the first voice defined and plays the two one
    after the other in one track. Every voice id is renamed to a letter-only name."""
    ids: list[str] = []
    for m in re.finditer(r"(?m)(?:^V:|\[V:)\s*([^\s\]]+)", text):
        if m.group(1) not in ids:
            ids.append(m.group(1))
    names = {v: "voice" + "".join(chr(97 + int(d)) for d in str(i)) for i, v in enumerate(ids)}
    text = re.sub(
        r"(?m)(^V:|\[V:)(\s*)([^\s\]]+)",
        lambda m: m.group(1) + m.group(2) + names.get(m.group(3), m.group(3)),
        text,
    )
    return re.sub(
        r"(?m)^(%%(?:score|staves)\s)(.*)$",
        lambda m: (
            m.group(1)
            + re.sub(r"[^\s(){}\[\]|]+", lambda t: names.get(t.group(), t.group()), m.group(2))
        ),
        text,
    )


_OCTAVE_CLEF = re.compile(r"\s(?:clef=)?(?:treble|bass|alto|tenor)[1-5]?[+-]8(?=\s)")


def octave_clef_last(text: str) -> str:
    """'V:1 clef=treble-8 name="T"': abc2midi plays treble-8 an octave down, as the standard
    says, only when the clef is the field's last word. The clef is moved to the end."""

    def last(field: str) -> str:
        m = _OCTAVE_CLEF.search(field + " ")
        return field if not m else field[: m.start()] + field[m.end() :] + m.group(0)

    out = []
    for line in text.split("\n"):
        if re.match(r"[VK]:", line):
            line = last(line.split("%")[0].rstrip())
        else:
            line = re.sub(r"\[([VK]:[^\]]*)\]", lambda m: "[" + last(m.group(1)) + "]", line)
        out.append(line)
    return "\n".join(out)


_ORNAMENT = re.compile(
    r"!(?:trill|roll|turn|mordent|lowermordent|uppermordent|pralltriller|invertedturn)!"
    r"|[~T](?=[\^_=]*[A-Ga-g\[{(])"
)


def ornaments_as_written(text: str) -> str:
    """abc2midi plays trills, rolls and turns out as several notes; this reader plays the note
    as written (the issue's choice). The ornaments are taken out (not inside quotes)."""
    return _music_lines(
        text,
        lambda line: "".join(
            p if p.startswith('"') else _ORNAMENT.sub("", p) for p in re.split(r'("[^"]*")', line)
        ),
    )


def start_repeat_after_double_bar(text: str) -> str:
    """'||:' is a start repeat to abcm2ps, abc2xml and this reader; abc2midi repeats from the
    start of the tune. Written '|:'."""
    return _music_lines(text, lambda line: line.replace("||:", "|:"))


def hard_wraps_joined(text: str) -> str:
    """Files hard-wrapped at a fixed width split tokens at line ends ('B\\n3', '^\\nD',
    '"A\\n"'); abc2xml and this reader read the token, abc2midi each piece alone (a lost
    length shifts the rest of the tune). Such lines are joined."""
    out: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        music = not re.match(r"[A-Za-z+]:|%", line)
        if out and music and out[-1][1]:
            before = out[-1][0]
            if re.match(r"[\d/]", line) or re.search(r"[\^_=]$", before) or before.count('"') % 2:
                out[-1] = (before + line, True)
                continue
        out.append((line, music))
    return "\n".join(line for line, _ in out)


AS_ABC2MIDI_READS = (
    distinct_voice_ids,
    octave_clef_last,
    ornaments_as_written,
    start_repeat_after_double_bar,
    hard_wraps_joined,
)


def against_abc2midi(tunes: list[AbcTune]) -> dict:
    """Note F1 of the native reader against abc2midi "as notated" (fermatas as written, no
    swing from an R: field, chord symbols off): on the tunes as they are ("raw"), and with
    abc2midi's misreadings worked around (:data:`AS_ABC2MIDI_READS`)."""
    scores: dict[str, list[tuple[float, str]]] = {"raw": [], "worked around": []}
    rendered, refused = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for tune in tunes:
            text = re.sub(r"^R:.*\n", "", tune.full_text, flags=re.M)
            expected = _abc2midi_notes(text, Path(tmp))
            if not expected:
                continue
            rendered += 1
            ours = render(tune, "native", chords=False)
            if isinstance(ours, Exception):
                refused.append(f"{tune.label}: {ours.reason}")
                for kind in scores:
                    scores[kind].append((0.0, tune.label))
                continue
            played = ours.performance.notes()
            scores["raw"].append((note_f1(expected, played).f1, tune.label))
            for rewrite in AS_ABC2MIDI_READS:
                text = rewrite(text)
            expected = _abc2midi_notes(text, Path(tmp)) or expected
            scores["worked around"].append((note_f1(expected, played).f1, tune.label))
    return {"rendered_by_abc2midi": rendered, "refused": refused, "f1": scores}


def _abc2midi_notes(text: str, tmp: Path) -> list:
    reference = abc2midi_render(text, tmp, "-NGUI", "-NFER")
    if reference is None:
        return []
    try:
        return read_performance(reference).notes()
    except ConversionError:
        return []


def speed(tunes: list[AbcTune]) -> dict[str, float]:
    rates = {}
    for reader in ("native", "abc2xml"):
        start = time.perf_counter()
        for tune in tunes:
            render(tune, reader, chords=False)
        rates[reader] = len(tunes) / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for tune in tunes:
            abc2midi_render(tune.full_text, Path(tmp), "-NGUI")
        rates["abc2midi"] = len(tunes) / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collections", nargs="*", default=list(FOLK))
    parser.add_argument("--folder", nargs="*", type=Path, default=[], help="more folk tunes")
    parser.add_argument("--dev", nargs="*", type=Path, default=[], help="non-folk tunes")
    parser.add_argument("--limit", type=int, default=0, help="first N tunes of each set")
    parser.add_argument("--show", type=int, default=10, help="examples per class")
    parser.add_argument("--speed-tunes", type=int, default=4248)
    parser.add_argument("--speed-only", action="store_true", help="skip the differential")
    parser.add_argument("--dev-only", action="store_true", help="only the --dev comparison")
    args = parser.parse_args()
    console = Console()
    root = music21_corpus_dir()
    folk = [] if args.dev_only else load([root / c for c in args.collections] + args.folder)
    folk = folk[: args.limit] if args.limit else folk
    if args.speed_only:
        rates = speed(folk[: args.speed_tunes])
        console.print(", ".join(f"{k} {v:.1f} tunes/s" for k, v in rates.items()))
        return
    if folk:
        result = differential(folk)
        n = result["tunes"]
        console.print(f"[bold]Differential[/bold], {n} folk tunes (native against abc2xml):")
        for name, items in sorted(result["classes"].items(), key=lambda kv: -len(kv[1])):
            console.print(f"  {name}: {len(items)} ({len(items) / max(1, n):.2%})")
            if name != "same":
                for example in items[: args.show]:
                    console.print(f"    {example}", highlight=False, soft_wrap=True)
    if args.dev:
        dev = load(args.dev)
        dev = dev[: args.limit] if args.limit else dev
        scored = against_abc2midi(dev)
        done = scored["rendered_by_abc2midi"]
        console.print(
            f"[bold]Beyond folk[/bold], {len(dev)} tunes, {done} rendered by abc2midi: native "
            f"renders {done - len(scored['refused'])} ({(done - len(scored['refused'])) / max(1, done):.1%})"
        )
        for kind, pairs in scored["f1"].items():
            f1 = [x for x, _ in pairs]
            console.print(
                f"  note F1 against abc2midi, {kind}: mean {statistics.mean(f1) if f1 else 0:.4f}, "
                f"median {statistics.median(f1) if f1 else 0:.3f}, below 0.9: "
                f"{sum(x < 0.9 for x in f1)}"
            )
        for f1, label in sorted(scored["f1"]["worked around"])[: args.show]:
            console.print(f"    {f1:.3f} {label}", highlight=False, soft_wrap=True)
        for example in scored["refused"][: args.show]:
            console.print(f"    refused: {example}", highlight=False, soft_wrap=True)
    sample = folk[: args.speed_tunes]
    if not sample:
        return
    rates = speed(sample)
    console.print(
        f"[bold]Speed[/bold], {len(sample)} tunes, one process: "
        + ", ".join(f"{k} {v:.1f} tunes/s" for k, v in rates.items())
    )


if __name__ == "__main__":
    main()
