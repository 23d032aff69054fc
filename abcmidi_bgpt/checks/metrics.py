"""Note-level agreement of two note lists, with mir_eval's transcription metrics.

Times are in beats rather than seconds, so that two renderings of one tune at different tempi
still compare note for note. Tolerances are in beats too: 0.05 beat is 25 ms at 120 beats a
minute, close to mir_eval's usual 50 ms at the tempo of a reel.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import mir_eval.transcription
import numpy as np

from abcmidi_bgpt.core.performance import Note

ONSET_TOLERANCE = 0.05  # beats
OFFSET_RATIO = 0.2
OFFSET_MIN_TOLERANCE = 0.05  # beats


@dataclass(frozen=True, slots=True)
class NoteScore:
    precision: float
    recall: float
    f1: float
    matched: int
    reference: int
    estimate: int


def note_f1(
    reference: Sequence[Note],
    estimate: Sequence[Note],
    with_offsets: bool = False,
    onset_tolerance: float = ONSET_TOLERANCE,
) -> NoteScore:
    """Precision, recall and F1 of ``estimate`` against ``reference``.

    A note matches when its pitch is equal and its onset within ``onset_tolerance`` beats;
    ``with_offsets`` also asks the offsets to agree (within 20 % of the reference note's length
    or 0.05 beat, whichever is longer). Two empty lists agree perfectly.
    """
    if not reference and not estimate:
        return NoteScore(1.0, 1.0, 1.0, 0, 0, 0)
    matched = len(matching(reference, estimate, with_offsets, onset_tolerance))
    precision = matched / len(estimate) if estimate else 0.0
    recall = matched / len(reference) if reference else 0.0
    f1 = 0.0 if matched == 0 else 2 * precision * recall / (precision + recall)
    return NoteScore(precision, recall, f1, matched, len(reference), len(estimate))


def matching(
    reference: Sequence[Note],
    estimate: Sequence[Note],
    with_offsets: bool = False,
    onset_tolerance: float = ONSET_TOLERANCE,
) -> list[tuple[int, int]]:
    """The (reference index, estimate index) pairs of matched notes, as :func:`note_f1`
    counts them (a maximum matching, by mir_eval)."""
    if not reference or not estimate:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mir_eval.transcription.match_notes(
            *_arrays(reference),
            *_arrays(estimate),
            onset_tolerance=onset_tolerance,
            pitch_tolerance=1.0,  # cents: pitches are equal or they are not
            offset_ratio=OFFSET_RATIO if with_offsets else None,
            offset_min_tolerance=OFFSET_MIN_TOLERANCE,
        )


def unmatched_notes(
    reference: Sequence[Note], estimate: Sequence[Note], with_offsets: bool = False
) -> tuple[list[Note], list[Note]]:
    """(reference notes the estimate lacks, estimate notes the reference lacks)."""
    pairs = matching(reference, estimate, with_offsets)
    hit_ref = {i for i, _ in pairs}
    hit_est = {j for _, j in pairs}
    missing = [n for i, n in enumerate(reference) if i not in hit_ref]
    extra = [n for j, n in enumerate(estimate) if j not in hit_est]
    return missing, extra


def _arrays(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray]:
    onsets = np.array([float(n.onset) for n in notes])
    offsets = np.array([float(n.offset) for n in notes])
    offsets = np.maximum(offsets, onsets + 1e-6)  # mir_eval wants positive lengths
    hz = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes], dtype=float) - 69) / 12)
    return np.stack([onsets, offsets], axis=1), hz
