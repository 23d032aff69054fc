"""Note-level metrics on hand-built note lists and on a real tune."""

from __future__ import annotations

import dataclasses
from fractions import Fraction as F

from abcmidi_bgpt.checks.metrics import note_f1, unmatched_notes
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.paths import EXAMPLES

SCALE = [Note(F(i, 2), p, F(1, 2)) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74])]


def test_perfect_match_is_one():
    score = note_f1(SCALE, list(SCALE))
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)
    assert note_f1(SCALE, list(SCALE), with_offsets=True).f1 == 1.0


def test_one_wrong_pitch_costs_exactly_one_note():
    wrong = [*SCALE[:3], dataclasses.replace(SCALE[3], pitch=68), *SCALE[4:]]
    score = note_f1(SCALE, wrong)
    assert score.matched == 7
    assert score.recall == 7 / 8 and score.precision == 7 / 8


def test_a_missing_note_lowers_recall_only():
    score = note_f1(SCALE, SCALE[:-1])
    assert score.precision == 1.0 and score.recall == 7 / 8


def test_onsets_within_tolerance_match_and_offsets_count_only_when_asked():
    late = [dataclasses.replace(n, onset=n.onset + F(1, 40)) for n in SCALE]  # 0.025 beat
    assert note_f1(SCALE, late).f1 == 1.0
    too_late = [dataclasses.replace(n, onset=n.onset + F(1, 10)) for n in SCALE]
    assert note_f1(SCALE, too_late).f1 == 0.0
    staccato = [dataclasses.replace(n, duration=F(1, 8)) for n in SCALE]
    assert note_f1(SCALE, staccato).f1 == 1.0
    assert note_f1(SCALE, staccato, with_offsets=True).f1 == 0.0


def test_empty_lists():
    assert note_f1([], []).f1 == 1.0
    assert note_f1(SCALE, []).f1 == 0.0 and note_f1([], SCALE).f1 == 0.0


def test_unmatched_notes_name_the_lost_and_the_added_notes():
    tune = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[0]
    reference = abc_to_midi(tune).performance.notes()
    changed = dataclasses.replace(reference[5], pitch=reference[5].pitch + 1)
    estimate = reference[:5] + [changed] + reference[6:-1]
    missing, extra = unmatched_notes(reference, estimate)
    assert missing == [reference[5], reference[-1]]
    assert extra == [changed]
    score = note_f1(reference, estimate)
    assert score.matched == len(reference) - len(missing) == len(estimate) - len(extra)
