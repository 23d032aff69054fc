"""MIDI -> ABC on performed MIDI: tuplets only where the timing is ternary (issue 16).

A pianist's straight sixteenths, played with rubato and uneven fingers, must not come out as
triplets and sextuplets; a tune whose triplets are played as triplets keeps them. Performances
are made by the seeded humaniser in tests/support/humanise.py."""

from __future__ import annotations

import io
import random
import re
from fractions import Fraction as F

import mido
import numpy as np

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.performance import TempoChange
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import (
    TUPLETS_JUDGED,
    estimate_scale,
    is_tuplet_grid,
    snap_to_beats,
    snap_voice,
)
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.humanise import Humanise, humanise, written_pickup

# A two-hand piece in straight sixteenths (a prelude in the manner of Bach): broken chords in
# the right hand, eighths and chords in the left.
_PRELUDE_HEAD = """X:1
T:Straight sixteenths
M:4/4
L:1/16
Q:1/4=80
K:C
"""
_PRELUDE_RIGHT = """cegc' egc'e cegc' egc'e|Bdgb dgbd Bdgb dgbd|Acea ceac Acea ceac|GBdg Bdgd GBdg BdgB|
cegc' egc'e cfac' fac'f|Bdgb dgbd cegc' egc'e|Acfa cfac Bdgb dgbd|cegc' egc'e c4 z4|
"""
_PRELUDE_LEFT = """C,2E,2 G,2E,2 C,2E,2 G,2E,2|[G,,D,]4 [G,,D,]4 G,,2B,,2 D,2B,,2|A,,2C,2 E,2C,2 A,,2C,2 E,2C,2|
G,,2B,,2 D,2B,,2 G,,4 G,,4|C,2E,2 G,2E,2 F,,2A,,2 C,2A,,2|G,,2B,,2 D,2B,,2 C,2E,2 G,2E,2|
F,,2A,,2 C,2A,,2 G,,2B,,2 D,2B,,2|C,4 [C,G,]4 C,4 z4|
"""
# Played three times through: a voice of a real piece has enough beats for its tuplets to be
# judged together (TUPLETS_JUDGED).
PRELUDE = _PRELUDE_HEAD + "V:1\n" + _PRELUDE_RIGHT * 3 + "V:2 clef=bass\n" + _PRELUDE_LEFT * 3

# A fiddle tune whose triplets are played as triplets, with a bass line under it.
TRIPLETS = """X:1
T:Triplets
M:4/4
L:1/8
Q:1/4=100
K:D
V:1
|:(3ABA GF E2 (3FED|DEFG A2 (3Bcd|(3ABA GF E2 (3FED|DEFA d4:|
V:2 clef=bass
|:D,2 A,,2 D,2 A,,2|D,2 F,2 A,2 F,2|D,2 A,,2 G,,2 A,,2|D,2 A,,2 D,4:|
"""

# A pianist's uneven fingers: onsets 45 ms either way (0.06 of a beat at 80 a minute).
PIANIST = Humanise(jitter_ms=45.0, rubato=0.07, ritardando=0.2, articulation=(0.6, 1.05))


def _performed(abc: str, seed: int, style: Humanise, qpm: float | None = None):
    """The score's notes, and a performance of it as MIDI bytes; with ``qpm``, played at that
    tempo while the file keeps saying 120 (a recording without a click)."""
    perf = abc_to_midi(abc).performance
    if qpm is not None:
        perf.tempos = [TempoChange(F(0), qpm)]
    m = perf.meters[0]
    data = humanise(perf, seed, style, (m.numerator, m.denominator), written_pickup(abc))
    if qpm is not None:
        midi = mido.MidiFile(file=io.BytesIO(data))
        for track in midi.tracks:
            for msg in track:
                if msg.type == "set_tempo":
                    msg.tempo = 500_000
        buf = io.BytesIO()
        midi.save(file=buf)
        data = buf.getvalue()
    return perf.notes(), data


def _tuplet_notes(abc: str) -> int:
    """Notes and rests written inside tuplet groups, as ``(p:q:r`` or ``(p`` says."""
    body = abc.split("\nK:", 1)[1]
    count = 0
    for m in re.finditer(r"\((\d)(?::(\d)?(?::(\d))?)?", body):
        count += int(m.group(3) or m.group(1))
    return count


def _notes(abc: str) -> int:
    return len(abc_to_midi(abc).performance.notes())


def test_straight_sixteenths_of_a_piano_piece_are_not_tuplets():
    tuplets = notes = 0
    for seed in (1, 2):
        score, data = _performed(PRELUDE, seed, PIANIST)
        out = midi_to_abc(data, "prelude.mid")
        assert out.performed
        tuplets += _tuplet_notes(out.abc)
        notes += len(score)
    # (judged beat by beat, a fifth of the notes were in tuplets)
    assert tuplets <= 0.04 * notes


def test_a_recording_whose_sixteenths_are_near_a_third_of_the_file_beat():
    """Played at 96 or 104 quarter notes a minute, the file saying 120: each sixteenth lasts
    0.31 or 0.29 of the file's beat, near its triplet eighth; still straight sixteenths."""
    tuplets = notes = 0
    for qpm in (96.0, 104.0):
        for seed in (1, 2):
            score, data = _performed(PRELUDE, seed, Humanise(jitter_ms=30.0, rubato=0.07), qpm)
            out = midi_to_abc(data, "prelude.mid")
            tuplets += _tuplet_notes(out.abc)
            notes += len(score)
    # (taken as the file's triplets, an eighth of the notes were in tuplets)
    assert tuplets <= 0.04 * notes


def test_played_triplets_are_kept_under_a_bass_line():
    for seed in (2, 5):
        score, data = _performed(TRIPLETS, seed, Humanise())
        out = midi_to_abc(data, "triplets.mid")
        assert out.abc.count("(3") >= 6, out.abc
        assert note_f1(score, abc_to_midi(out.abc).performance.notes()).f1 >= 0.95


# --- the rules ------------------------------------------------------------------------------------


def test_tuplet_grids():
    assert [d for d in (2, 3, 4, 6, 8) if is_tuplet_grid(d, compound=False)] == [3, 6]
    assert [d for d in (2, 3, 6, 9, 12) if is_tuplet_grid(d, compound=True)] == [2, 9]


def _loose_sixteenths(rng: random.Random, beats: int, spread: float) -> list[float]:
    return sorted(b + k / 4 + rng.gauss(0.0, spread) for b in range(beats) for k in range(4))


def test_chance_tuplets_of_a_voice_are_dropped():
    """Straight sixteenths played loosely fit a tuplet grid in a few beats by chance: beat by
    beat some become tuplets; judged for the voice as a whole, none do."""
    rng = random.Random(0)
    pos = _loose_sixteenths(rng, 256, 0.045)  # 15 chance tuplet beats: enough to judge
    meter = Meter(4, 4)
    _, per_beat = snap_to_beats(pos, meter, F(0))
    _, voice = snap_voice(pos, meter, F(0))
    assert sum(is_tuplet_grid(d, False) for d in per_beat.values()) >= TUPLETS_JUDGED
    assert sum(is_tuplet_grid(d, False) for d in voice.values()) <= 1
    # A voice with only a few is left as judged beat by beat: a median of three is no
    # judgement (a fiddle tune's few triplets, played loosely, are kept).
    few = _loose_sixteenths(random.Random(0), 64, 0.045)
    assert snap_voice(few, meter, F(0)) == snap_to_beats(few, meter, F(0))


def test_played_triplets_of_a_voice_are_kept():
    """Beats of triplets among straight ones: clear tuplets, kept."""
    rng = random.Random(1)
    pos = []
    for b in range(32):
        parts = (0, 1 / 3, 2 / 3) if b % 4 == 1 else (0, 0.5)
        pos += [b + u + rng.gauss(0.0, 0.02) for u in parts]
    _, voice = snap_voice(sorted(pos), Meter(4, 4), F(0))
    assert all(voice[b] == (3 if b % 4 == 1 else 2) for b in range(32))


def test_a_third_of_the_file_beat_is_a_triplet_only_when_close():
    """The most common time between onsets near a third of the file's beat: within a few per
    cent (a click), the file's beat is kept; 10 % off (a recording's nominal tempo), the file
    is rescaled so that it is a plain note value (a sixteenth or an eighth)."""
    rng = np.random.default_rng(0)
    for step, kept in ((1 / 3, True), (0.34, True), (0.30, False), (0.37, False)):
        onsets = np.cumsum(np.full(200, step) + rng.normal(0.0, 0.005, 200))
        scale = estimate_scale(onsets)
        assert (scale == 1.0) is kept, (step, scale)
        if not kept:
            assert min(abs(step * scale - v) for v in (0.25, 0.5)) < 0.01
