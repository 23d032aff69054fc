"""Which rendered pairs a corpus keeps, taken one by one in the corpus's order, and when the
builder may stop rendering.

The order (:func:`unit_order`): round 0 before round 1 and so on (round 0 is every tune in its
own key, round r every kept training tune's r-th transposition); in round 0 the held-out tunes
(validation and test) before the training tunes; then by the hash of the tune's name
(:func:`corpus.splits.order_key`), then by the tune's place in the sources. Every pair is
decided when it is reached, from what came before it only:

- a failed tune or transposition is recorded with its stage and reason;
- a pair whose normalised ABC is that of an earlier pair is a duplicate (so a training pair that
  repeats a held-out one is dropped from training, never the other way round);
- a pair over the model's context is dropped;
- the others are kept, in the split of their tune.

The stopping rule: the training rows are a prefix of that order, so once the held-out tunes and
the first N training pairs in that order have been decided, N being the largest scale, nothing
after them can change any split: validation, test and every scale are what rendering every tune
would give. :class:`Selection` stops taking pairs at that point (``full``); the builder renders
in that order and stops handing out work there. The 'train' split of such a build holds exactly
the largest scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from abcmidi_bgpt.bgpt.patches import PatchLayout, fits, pair_patches

from .folder import DUPLICATE_REASON, Candidate, Failure
from .splits import SPLITS, order_key


def unit_order(round_: int, split: str, tune_id: str, tune_index: int, seed: int) -> tuple:
    """The sort key of a pair to render: see the module notes."""
    return (round_, split == "train", order_key(tune_id, seed), tune_index)


@dataclass(slots=True)
class Counts:
    """What the decided pairs were, for the manifest."""

    tunes_converted: int = 0
    tunes_failed: int = 0
    transpositions_rendered: int = 0
    transpositions_failed: int = 0

    def add(self, round_: int, ok: bool) -> None:
        if round_ == 0:
            self.tunes_converted += ok
            self.tunes_failed += not ok
        else:
            self.transpositions_rendered += ok
            self.transpositions_failed += not ok

    @property
    def tunes_decided(self) -> int:
        return self.tunes_converted + self.tunes_failed


@dataclass(slots=True)
class Selection:
    """Pairs taken in the corpus's order; ``target`` None: no stopping."""

    layout: PatchLayout
    target: int | None = None
    rows: dict[str, list[Candidate]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    failures: list[Failure] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    last_round: int = 0  # the last round that a decided pair came from
    _first_of: dict[str, str] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        """The largest scale is filled: every later pair would leave the corpus unchanged."""
        return self.target is not None and len(self.rows["train"]) >= self.target

    def take_failure(self, round_: int, failure: Failure) -> None:
        """A tune or transposition that did not render, reached in order."""
        if self.full:
            return
        self.counts.add(round_, False)
        self.last_round = max(self.last_round, round_)
        self.failures.append(failure)

    def take(self, split: str, c: Candidate) -> None:
        """A rendered pair, reached in order."""
        if self.full:
            return
        self.counts.add(c.round, True)
        self.last_round = max(self.last_round, c.round)
        if c.abc_sha in self._first_of:
            reason = f"{DUPLICATE_REASON} {self._first_of[c.abc_sha]}"
            self.failures.append(Failure(c.source, "duplicate", reason, c.transpose))
            return
        self._first_of[c.abc_sha] = (
            c.source if c.transpose == 0 else f"{c.source} ({c.transpose:+d})"
        )
        if not fits(c.abc_bytes, c.midi_bytes, self.layout):
            patches = pair_patches(c.abc_bytes, c.midi_bytes, self.layout)
            reason = (
                f"{c.abc_bytes} + {c.midi_bytes} bytes take {patches} patches, over the "
                f"context of {self.layout.max_patches}"
            )
            self.failures.append(Failure(c.source, "too-long", reason, c.transpose))
            return
        self.rows[split].append(c)

    def kept_training_tunes(self) -> list[int]:
        """The training tunes kept in their own key, in order: those that get transposed."""
        return [c.tune_index for c in self.rows["train"] if c.round == 0]


def certain_rounds(target: int | None, have: int, per_round: int) -> int:
    """How many whole transposition rounds every pair of which is certainly needed: each round
    adds at most ``per_round`` pairs, so while ``have`` plus those stays under ``target`` the
    whole round will be decided before the largest scale fills. At least one."""
    if target is None or per_round <= 0:
        return 1
    return max(1, (target - have) // per_round)
