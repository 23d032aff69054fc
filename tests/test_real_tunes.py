"""Real tunes: the shipped examples against their hand-counted structure, and a sample of the
music21 folk collections against abc2midi where it is installed."""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
from fractions import Fraction as F

import pytest

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.paths import EXAMPLES, music21_corpus


def example(name: str, index: int = 0):
    return split_tunes(read_abc_file(EXAMPLES / name), name)[index]


# (file, tune, length in beats with repeats played, meters (beat, n, d), keys (beat, fifths, minor))
STRUCTURE = [
    # Two 8-bar parts, each repeated: 32 bars of 4/4.
    ("reels.abc", 0, 128, [(0, 4, 4)], [(0, 2, False)]),
    # Pickup + 4 bars repeated, pickup + 8 bars once (the pickups complete the last bars).
    ("reels.abc", 1, 64, [(0, 4, 4)], [(0, 2, True)]),
    ("jigs.abc", 0, 96, [(0, 6, 8)], [(0, 1, False)]),
    # 8 bars repeated, then a 16-bar second part played once: 32 bars of 6/8.
    ("jigs.abc", 1, 96, [(0, 6, 8)], [(0, 2, True)]),
    # Three 4-bar parts of 9/8, each repeated.
    ("butterfly-slip-jig.abc", 0, 108, [(0, 9, 8)], [(0, 1, True)]),
    # A part repeated; B part: 4 bars, first ending, the 4 bars again, second ending.
    ("cliffs-of-moher-endings.abc", 0, 96, [(0, 6, 8)], [(0, 1, True)]),
    # F# minor part repeated (8 bars), then B minor: 8 bars and a 4-bar part ending ':|', which
    # repeats from the end of the first repeat, as abc2midi plays it: 24 bars.
    ("jennys-chickens-key-change.abc", 0, 128, [(0, 4, 4)], [(0, 3, True), (32, 2, True)]),
    # 9/8 part with pickup repeated (36 beats), then a 6/8 part with pickup repeated.
    ("big-man-within-meter-change.abc", 0, 84, [(0, 9, 8), (36, 6, 8)], [(0, 2, False)]),
]


@pytest.mark.parametrize(("name", "index", "beats", "meters", "keys"), STRUCTURE)
def test_examples_play_out_their_structure(name, index, beats, meters, keys):
    result = abc_to_midi(example(name, index))
    assert result.warnings == []
    perf = read_performance(result.midi)
    assert perf.end == beats
    assert [(m.onset, m.numerator, m.denominator) for m in perf.meters] == meters
    assert [(k.onset, k.fifths, k.minor) for k in perf.keys] == keys


def test_cliffs_of_moher_note_by_note_counts():
    # A part: 42 notes, played twice. B part: 22 notes, then 22 in each ending, played as
    # B + ending 1 + B + ending 2.
    perf = read_performance(abc_to_midi(example("cliffs-of-moher-endings.abc")).midi)
    notes = perf.notes()
    assert len(notes) == 2 * 42 + 4 * 22
    second_ending = [n for n in notes if n.onset >= 84]  # the last 4 bars of 6/8
    assert [n.pitch for n in second_ending][:6] == [76, 78, 76, 74, 76, 74]  # efe ded (F#)
    assert second_ending[-1].pitch == 57 and second_ending[-1].duration == F(3, 2)  # A,3


def _folk_sample(n: int, seed: int = 7):
    root = music21_corpus()
    tunes = []
    for folder in ("oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "miscFolk"):
        files = sorted((root / folder).glob("*.abc"))
        for f in files[:3]:
            tunes += split_tunes(read_abc_file(f), f"{folder}/{f.name}")
    return random.Random(seed).sample(tunes, n)


def test_a_sample_of_the_music21_folk_collections_converts_deterministically():
    sample = _folk_sample(60)
    for t in sample:
        first = abc_to_midi(t)
        assert abc_to_midi(t).midi == first.midi, t.label
        # The file holds the performance at 120 ticks a beat.
        assert _ticks(read_performance(first.midi).notes()) == _ticks(first.performance.notes())


def _ticks(notes):
    return [(round(n.onset * 120), n.pitch, round(n.offset * 120)) for n in notes]


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_melody_agrees_with_abc2midi_on_real_tunes(tmp_path):
    scores = []
    for t in _folk_sample(40, seed=11):
        src, out = tmp_path / "t.abc", tmp_path / "t.mid"
        src.write_text(t.full_text, encoding="utf-8")
        out.unlink(missing_ok=True)
        subprocess.run(
            ["abc2midi", str(src), "-o", str(out), "-silent", "-NGUI", "-NFER"],
            capture_output=True,
            timeout=30,
            cwd=tmp_path,  # abc2midi writes barloc.txt into its working folder
        )
        if not out.exists():
            continue
        reference = read_performance(out.read_bytes()).voices[0].notes
        ours = abc_to_midi(t).performance.voices[0].notes
        scores.append(note_f1(reference, ours).f1)
    assert len(scores) >= 35
    assert statistics.median(scores) >= 0.99
