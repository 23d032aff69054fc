"""MIDI -> ABC on performed MIDI: tuplets only where the timing is ternary (issue 16).

A recording without a click, whose most common note value happens to last about a third of
the file's nominal beat, is rescaled rather than read as triplets; a tune whose triplets are
played as triplets (with a click) keeps them. Performances are made by the seeded humaniser in
tests/support/humanise.py."""

from __future__ import annotations

import numpy as np

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import estimate_scale
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.humanise import Humanise, humanise, written_pickup

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


def _performed(abc: str, seed: int, style: Humanise):
    """The score's notes, and a performance of it as MIDI bytes."""
    perf = abc_to_midi(abc).performance
    m = perf.meters[0]
    data = humanise(perf, seed, style, (m.numerator, m.denominator), written_pickup(abc))
    return perf.notes(), data


def test_played_triplets_are_kept_under_a_bass_line():
    for seed in (2, 5):
        score, data = _performed(TRIPLETS, seed, Humanise())
        out = midi_to_abc(data, "triplets.mid")
        assert out.abc.count("(3") >= 6, out.abc
        assert note_f1(score, abc_to_midi(out.abc).performance.notes()).f1 >= 0.95


# --- the rules ------------------------------------------------------------------------------------


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
