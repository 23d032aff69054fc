"""What an input at each size limit costs: the limits must be true (README, "Untrusted input"),
so an input just under one has to be converted within the default 60 s timeout.

    .venv/bin/python -m scripts.bench_limits

Prints, for each limit, the input and its wall time in this process (one run each: these are
orders of magnitude, not a race):
- one tune of 32 KiB (MAX_TUNE_CHARS) of ordinary reel bars, ABC -> MIDI;
- a tune book of 50,000 tunes, planned as a batch (read, split, names chosen);
- a MIDI file of 1,000,000 events (MAX_MIDI_EVENTS), read.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from abcmidi_bgpt.engines.batch import plan_batch
from abcmidi_bgpt.formats.abc.text import MAX_TUNE_CHARS
from abcmidi_bgpt.formats.midi import read_midi
from abcmidi_bgpt.formats.midi_reader import MAX_MIDI_EVENTS
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

REEL_HEAD = "X:1\nT:Long reel\nR:reel\nM:4/4\nL:1/8\nK:D\n"
REEL_PHRASE = (
    "|:DFAd fdAF|GBdg bgdB|AFAd fdAF|GEFD E2D2:|\n|:dfaf gfed|cABc dBAF|GABG AFED|FAEG FDD2:|\n"
)


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def tune_at_the_limit() -> str:
    tune = REEL_HEAD + REEL_PHRASE * ((MAX_TUNE_CHARS - len(REEL_HEAD)) // len(REEL_PHRASE))
    result, seconds = timed(abc_to_midi, tune)
    notes = len(result.performance.notes())
    return f"tune of {len(tune):,} characters: {notes:,} notes, ABC -> MIDI in {seconds:.1f} s"


def book_of_50000_tunes() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.abc"
        book.write_text("".join(f"X:{i}\nT:T{i}\nK:C\nCDEF|\n\n" for i in range(1, 50_001)))
        plan, seconds = timed(plan_batch, [book], "mid", Path(tmp) / "out")
    return f"book of 50,000 tunes: {len(plan.jobs):,} jobs planned in {seconds:.1f} s"


def midi_at_the_event_limit() -> str:
    pairs = (MAX_MIDI_EVENTS - 2) // 2  # note on + note off, then the end of the track
    track = b"\x00\x90\x3c\x40\x01\x80\x3c\x00" * pairs + b"\x00\xff\x2f\x00"
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60"
    data = header + b"MTrk" + len(track).to_bytes(4, "big") + track
    _, seconds = timed(read_midi, data)
    return (
        f"MIDI of {2 * pairs + 1:,} events ({len(data) / 2**20:.1f} MiB): read in {seconds:.1f} s"
    )


def main() -> None:
    for measure in (tune_at_the_limit, book_of_50000_tunes, midi_at_the_event_limit):
        print(measure(), flush=True)


if __name__ == "__main__":
    main()
