"""MIDI -> ABC on any folder of MIDI files, side by side with midi2abc (and music21 -> xml2abc
where asked): the benchmark of real-world MIDI (performances, piano scores, band files).

Run from the repository root::

    .venv/bin/python -m scripts.bench_transcribe_folder --folder ../shared/data/midi-dev

(``python -m scripts.bench_transcribe --folder DIR`` runs the same.) Each sub-folder is a
source and gets its own rows; the files directly in ``DIR`` are one source.

For each converter and source: ABC written; ABC that abc2midi renders (the classic player, the
same for every converter's output); note F1 of that rendering against the input's own notes
(pitch and onset; every voice, drums out; both from their first note on) in the input's beats
(onset within 0.125 of a beat) and in seconds (within 0.05 s: what is heard); the share of
awkward note lengths (not a plain or dotted power of two of L:); the share of notes and rests
written in tuplets (a readable transcription of music in straight time has few); voices;
seconds per file
(median).

F1 in the input's beats reads the rendering two ways and keeps the better, the same rule for
every converter: as written (its own quarter notes: right when a converter keeps the file's
clock, even if it dropped the tempo map) and as heard (its sounding times put on the input's
beats through the input's tempo map: right when a converter tracked a performance's beat and
wrote the tempo curve as Q: changes, so that its quarter notes are the music's beats and no
longer the file's). A recorded performance's file clock (usually a constant 120 quarter notes
a minute) is not its music's beat, so a readable transcription cannot keep it; read as written
only, such a transcription would be judged against the recording machine's metronome. Both
readings are printed too.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.table import Table

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note, Performance, TempoClock
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from scripts._common import abc2midi_render, midi2abc_text, music21_abc

DRUM_CHANNEL = 9
BEAT_TOLERANCE = 0.125  # beats
SECOND_TOLERANCE = 0.05  # seconds (mir_eval's default)


@dataclass
class Row:
    """What one converter made of one source's files."""

    files: int = 0
    written: int = 0
    rendered: int = 0
    f1_beats: list[float] = field(default_factory=list)  # the better of the two readings
    f1_written: list[float] = field(default_factory=list)
    f1_heard: list[float] = field(default_factory=list)
    f1_seconds: list[float] = field(default_factory=list)
    lengths: int = 0
    awkward: int = 0
    in_tuplets: int = 0
    voices: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        def share(a: int, b: int) -> str:
            return f"{a / b:.1%}" if b else "-"

        def stat(xs: list[float], f) -> str:
            return f"{f(xs):.3f}" if xs else "-"

        return [
            str(self.files),
            share(self.written, self.files),
            share(self.rendered, self.written),
            stat(self.f1_beats, statistics.mean),
            stat(self.f1_beats, statistics.median),
            stat(self.f1_written, statistics.mean),
            stat(self.f1_heard, statistics.mean),
            stat(self.f1_seconds, statistics.mean),
            share(self.awkward, self.lengths),
            share(self.in_tuplets, self.lengths),
            f"{max(self.voices)}" if self.voices else "-",
            f"{statistics.median(self.seconds):.3f}" if self.seconds else "-",
        ]


# --- the converters -------------------------------------------------------------------------


def ours(data: bytes, label: str) -> str:
    return midi_to_abc(data, label).abc


def midi2abc(data: bytes, label: str) -> str:
    return midi2abc_text(data, label)


def music21_route(data: bytes, label: str) -> str:
    return music21_abc(data)


CONVERTERS = {"abcmidi-bgpt": ours, "midi2abc": midi2abc, "music21": music21_route}


# --- measures ---------------------------------------------------------------------------------


def pitched(perf: Performance) -> list[Note]:
    """The notes, drums (MIDI channel 10) left out."""
    return sorted(n for v in perf.voices if v.channel != DRUM_CHANNEL for n in v.notes)


def from_first(notes: list[Note]) -> list[Note]:
    """The notes from the first one on: silence before the first note is not music (a
    transcription may drop it, as a performance cannot say where its first bar began)."""
    first = min((n.onset for n in notes), default=Fraction(0))
    return [replace(n, onset=n.onset - first) for n in notes]


def retimed(notes: list[Note], time) -> list[Note]:
    """The notes with each onset and end passed through ``time`` (a float to a float)."""
    out = []
    for n in notes:
        begin, end = time(float(n.onset)), time(float(n.onset + n.duration))
        out.append(
            Note(Fraction(begin).limit_denominator(10**6),
                 n.pitch,
                 Fraction(end - begin).limit_denominator(10**6),
                 n.velocity, n.voice)
        )  # fmt: skip
    return out


def in_seconds(notes: list[Note], perf: Performance) -> list[Note]:
    """The notes with onsets and durations in seconds, through the file's tempo map."""
    return retimed(notes, TempoClock(perf.tempos).seconds)


def on_beats_of(notes: list[Note], perf: Performance) -> list[Note]:
    """Notes timed in seconds put on ``perf``'s beats through its tempo map, from its first
    note on (``notes`` start at 0 s: from_first)."""
    clock = TempoClock(perf.tempos)
    first = min((float(n.onset) for n in perf.notes()), default=0.0)
    zero = clock.seconds(first)
    return retimed(notes, lambda t: clock.beat(zero + t) - first)


_NOT_NOTES = re.compile(r'"[^"]*"|![^!]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]]*\]|%.*|\{[^}]*\}')
_CHORD = re.compile(r"\[[^\]|]*\]")
_LENGTH = re.compile(r"(?:[_^=]*[A-Ga-gzx][,']*|@)(\d*)(/*)(\d*)")


_TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d+))?")


def tuplet_notes(abc: str) -> int:
    """Notes and rests the music lines put in tuplets: ``(p`` takes p, ``(p:q:r`` takes r."""
    music = "\n".join(x for x in abc.splitlines() if not re.match(r"[A-Za-z+]:", x))
    music = _NOT_NOTES.sub(" ", music)
    return sum(int(m.group(3) or m.group(1)) for m in _TUPLET.finditer(music))


def note_lengths(abc: str) -> tuple[int, int]:
    """(lengths written, awkward ones) in the music lines of an ABC text: a note's, a rest's or
    a chord's length (grace notes aside) is awkward unless it is a power of two times 1 or 3/2
    of L: (plain or dotted)."""
    total = awkward = 0
    for line in abc.splitlines():
        if re.match(r"[A-Za-z+]:", line):
            continue
        music = _CHORD.sub("@", _NOT_NOTES.sub(" ", line))  # a chord: one length, after it
        for m in _LENGTH.finditer(music):
            num = int(m.group(1) or 1)
            den = int(m.group(3) or 2 ** len(m.group(2))) if m.group(2) else 1
            total += 1
            awkward += not _readable(Fraction(num, den))
    return total, awkward


def _readable(length: Fraction) -> bool:
    if length <= 0:
        return False

    def power_of_two(ratio: Fraction) -> bool:
        top, bottom = ratio.numerator, ratio.denominator
        return (top == 1 and bottom & (bottom - 1) == 0) or (bottom == 1 and top & (top - 1) == 0)

    return any(power_of_two(length / base) for base in (1, Fraction(3, 2)))


def voices_of(abc: str) -> int:
    ids = set(re.findall(r"(?m)^V:\s*(\S+)|\[V:\s*([^\]\s]+)", abc))
    return max(1, len({a or b for a, b in ids}))


# --- the run ----------------------------------------------------------------------------------


def sources(folder: Path) -> dict[str, list[Path]]:
    """Sub-folder name -> its MIDI files (the folder's own files under its name)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in (".mid", ".midi") and path.is_file():
            rel = path.relative_to(folder)
            name = rel.parts[0] if len(rel.parts) > 1 else folder.name
            found.setdefault(name, []).append(path)
    return found


def score_file(row: Row, name: str, path: Path, tmp: Path) -> None:
    data = path.read_bytes()
    row.files += 1
    try:
        reference = read_performance(data)
    except ConversionError:
        row.failures.append(f"{path.name}: the input cannot be read")
        return
    expected = pitched(reference)
    start = time.perf_counter()
    try:
        abc = CONVERTERS[name](data, str(path))
    except Exception as err:  # every converter fails in its own ways
        row.seconds.append(time.perf_counter() - start)
        row.failures.append(f"{path.name}: {str(err).splitlines()[0] if str(err) else err!r}")
        return
    row.seconds.append(time.perf_counter() - start)
    row.written += 1
    total, awkward = note_lengths(abc)
    row.lengths += total
    row.awkward += awkward
    row.in_tuplets += tuplet_notes(abc)
    row.voices.append(voices_of(abc))
    midi = abc2midi_render(abc, tmp, "-NGUI", "-NFER")
    try:
        played = read_performance(midi) if midi else None
    except ConversionError:
        played = None
    if played is None or not played.notes():
        for scores in (row.f1_beats, row.f1_written, row.f1_heard, row.f1_seconds):
            scores.append(0.0)
        row.failures.append(f"{path.name}: abc2midi does not render the ABC")
        return
    row.rendered += 1
    got = pitched(played)
    want_beats = from_first(expected)
    want_seconds = from_first(in_seconds(expected, reference))
    got_seconds = from_first(in_seconds(got, played))
    written = note_f1(want_beats, from_first(got), onset_tolerance=BEAT_TOLERANCE).f1
    heard = note_f1(
        want_beats, on_beats_of(got_seconds, reference), onset_tolerance=BEAT_TOLERANCE
    ).f1
    row.f1_written.append(written)
    row.f1_heard.append(heard)
    row.f1_beats.append(max(written, heard))
    row.f1_seconds.append(note_f1(want_seconds, got_seconds, onset_tolerance=SECOND_TOLERANCE).f1)


def run(folder: Path, names: list[str], console: Console, show: int) -> dict:
    table = Table(title=f"MIDI -> ABC on {folder}", header_style="bold")
    for col in (
        "source", "converter", "files", "ABC written", "abc2midi renders", "F1 beats mean",
        "F1 beats median", "as written", "as heard", "F1 seconds mean", "awkward lengths", "in tuplets", "voices (max)", "s/file",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col in ("source", "converter") else "right")
    totals = {name: Row() for name in names}
    results: dict[str, dict[str, Row]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-folder-") as tmp_dir:
        for source, paths in sources(folder).items():
            for name in names:
                row = results.setdefault(source, {}).setdefault(name, Row())
                for path in paths:
                    score_file(row, name, path, Path(tmp_dir))
                table.add_row(source, name, *row.cells())
                total = totals[name]
                for attr in ("files", "written", "rendered", "lengths", "awkward", "in_tuplets"):
                    setattr(total, attr, getattr(total, attr) + getattr(row, attr))
                for attr in (
                    "f1_beats",
                    "f1_written",
                    "f1_heard",
                    "f1_seconds",
                    "voices",
                    "seconds",
                    "failures",
                ):
                    getattr(total, attr).extend(getattr(row, attr))
    for name, total in totals.items():
        table.add_row("[bold]all[/bold]", name, *total.cells())
    console.print(table)
    for name, total in totals.items():
        for failure in total.failures[:show]:
            console.print(f"  {name}: {failure}", highlight=False, soft_wrap=True)
    return {"sources": results, "totals": totals}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="a folder of MIDI files")
    parser.add_argument(
        "--converters",
        nargs="+",
        choices=list(CONVERTERS),
        default=["abcmidi-bgpt", "midi2abc"],
        help="music21 is slow (seconds a file)",
    )
    parser.add_argument("--show", type=int, default=10, help="failures shown per converter")
    args = parser.parse_args(argv)
    names = [n for n in args.converters if n != "midi2abc" or shutil.which("midi2abc")]
    if shutil.which("abc2midi") is None:
        raise SystemExit("abc2midi (Debian package abcmidi) is needed to render the ABC")
    run(args.folder, names, Console(width=160), args.show)


if __name__ == "__main__":
    main()
