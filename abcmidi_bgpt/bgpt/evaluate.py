"""Bits per byte of a bGPT model on corpus records, per direction and per file (the paper's
Table 5): BPB_abc and BPB_midi.

In ABC->MIDI the ABC file comes first, so BPB_abc measures generative modelling of ABC and
BPB_midi the conversion; in MIDI->ABC it is the other way round. Which positions count is
defined in ``patches.scored_spans`` and ``docs/metrics.md``: each file's bytes plus its
end-of-file position, never the padding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.device import autocast, resolve_device, resolve_dtype
from abcmidi_bgpt.bgpt.model import BGPT
from abcmidi_bgpt.bgpt.patches import (
    EncodedPair,
    SequenceSet,
    length_batches,
    pad_batch,
    scored_spans,
)
from abcmidi_bgpt.core.direction import Direction

LN2 = math.log(2.0)

# Told (sequences scored so far, sequences in all) before each batch and once at the end.
Progress = Callable[[int, int], None]


class EvaluationCancelled(Exception):
    """An evaluation stopped between batches because its ``should_stop`` said so."""

    def __init__(self, done: int = 0, total: int = 0):
        super().__init__(f"cancelled after {done} of {total} sequences")
        self.done, self.total = done, total


@dataclass(slots=True)
class SegmentScore:
    """Bits spent on one kind of file: ``bits`` over its scored positions (its bytes plus one
    end-of-file position per file), and the file bytes they cover."""

    bits: float = 0.0
    bytes: int = 0
    positions: int = 0

    @property
    def bpb(self) -> float:
        return self.bits / self.bytes if self.bytes else float("nan")


@dataclass(slots=True)
class DirectionScore:
    direction: str
    sequences: int = 0
    abc: SegmentScore = field(default_factory=SegmentScore)
    midi: SegmentScore = field(default_factory=SegmentScore)
    nats: float = 0.0  # over every predicted position, as in the training loss
    positions: int = 0

    @property
    def loss(self) -> float:
        """Mean cross-entropy (nats) per predicted position: the training loss."""
        return self.nats / self.positions if self.positions else float("nan")

    def as_dict(self) -> dict:
        return {
            "direction": self.direction,
            "sequences": self.sequences,
            "bpb_abc": self.abc.bpb,
            "bpb_midi": self.midi.bpb,
            "loss": self.loss,
            "abc": asdict(self.abc),
            "midi": asdict(self.midi),
        }


def sequence_nats(
    model: BGPT, ids: torch.Tensor, n_patches: torch.Tensor, dtype: torch.dtype
) -> list[np.ndarray]:
    """Per sequence, the cross-entropy (nats) of every predicted id: element ``t`` is the cost
    of ``ids[b, patch_size + t]``, for the real patches 1 .. n - 1."""
    with autocast(ids.device, dtype):
        logits, targets = model(ids, n_patches)
    nats = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
    per_sequence = ((n_patches - 1) * model.config.patch_size).tolist()
    return [c.numpy() for c in nats.cpu().split(per_sequence)]


@torch.no_grad()
def scored_sequences(
    model: BGPT,
    sequences: SequenceSet,
    batch_patches: int = 4096,
    dtype: torch.dtype = torch.float32,
    before_batch: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, EncodedPair, np.ndarray]]:
    """Every sequence of ``sequences`` as ``(index, encoding, nats)``, ``nats`` as in
    :func:`sequence_nats`; run in length-sorted batches of ``batch_patches`` patches, raised to
    one full context so that any sequence that fits the model fits a batch. Put the model in
    eval mode. ``before_batch``, if given, is called with the number of sequences yielded so
    far before each batch is run (it may raise to stop there)."""
    layout = sequences.layout
    device = next(model.parameters()).device
    done = 0
    for batch in length_batches(sequences.n_patches, max(batch_patches, layout.max_patches)):
        if before_batch is not None:
            before_batch(done)
        done += len(batch)
        encoded = [sequences.encode(i) for i in batch]
        ids, n_patches = pad_batch([e.ids for e in encoded], layout)
        ids_t = torch.from_numpy(ids).to(device)
        n_t = torch.from_numpy(n_patches)  # on the CPU: see BGPT.forward
        yield from zip(batch, encoded, sequence_nats(model, ids_t, n_t, dtype), strict=True)


@torch.no_grad()
def score_sequences(
    model: BGPT,
    sequences: SequenceSet,
    batch_patches: int = 4096,
    dtype: torch.dtype = torch.float32,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, DirectionScore]:
    """BPB_abc, BPB_midi and the loss of ``model`` on ``sequences``, per direction.

    ``progress`` is told how many sequences are scored before each batch and at the end;
    ``should_stop`` is asked before each batch, and when it says so the scoring stops there
    with :class:`EvaluationCancelled` (a batch under way is not interrupted)."""
    was_training = model.training
    model.eval()
    try:
        return _score(model, sequences, batch_patches, dtype, progress, should_stop)
    finally:  # a cancelled evaluation leaves the model as it found it too
        model.train(was_training)


def _score(
    model: BGPT,
    sequences: SequenceSet,
    batch_patches: int,
    dtype: torch.dtype,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> dict[str, DirectionScore]:
    layout = sequences.layout
    p = layout.patch_size
    total = len(sequences)

    def before_batch(done: int) -> None:
        if should_stop is not None and should_stop():
            raise EvaluationCancelled(done, total)
        if progress is not None:
            progress(done, total)

    present = _directions(sequences)
    scores = {d: DirectionScore(d) for d in Direction if d in present}
    for i, pair, nats in scored_sequences(model, sequences, batch_patches, dtype, before_batch):
        score = scores[sequences.direction_of(i)]
        score.sequences += 1
        score.nats += float(nats.sum(dtype=np.float64))
        score.positions += len(nats)
        source, target = scored_spans(pair, layout)
        kinds = ("abc", "midi") if score.direction == Direction.ABC_TO_MIDI else ("midi", "abc")
        for kind, span, n_bytes in zip(
            kinds, (source, target), (pair.source_len, pair.target_len), strict=True
        ):
            segment: SegmentScore = getattr(score, kind)
            span_nats = nats[span.start - p : span.stop - p].sum(dtype=np.float64)
            segment.bits += float(span_nats) / LN2
            segment.bytes += n_bytes
            segment.positions += len(span)
    if progress is not None:
        progress(total, total)
    return scores


def _directions(sequences: SequenceSet) -> set[Direction]:
    return {sequences.direction_of(i) for i in np.unique(sequences.direction, return_index=True)[1]}


@dataclass(slots=True)
class EvaluationReport:
    checkpoint: str
    corpus: str
    split: str
    pairs: int
    skipped: int  # sequences over the model's context, left out
    scores: dict[str, DirectionScore]

    def as_dict(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "corpus": self.corpus,
            "split": self.split,
            "pairs": self.pairs,
            "skipped": self.skipped,
            "directions": {d: s.as_dict() for d, s in self.scores.items()},
        }


def evaluate_checkpoint(
    checkpoint: str | Path,
    corpus: str | Path,
    split: str = "test",
    directions: list[Direction] | None = None,
    limit: int = 0,
    batch_patches: int = 4096,
    device: str = "auto",
    dtype: str = "auto",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationReport:
    """Load a saved model and score it on a corpus split in each direction. ``progress`` and
    ``should_stop`` as in :func:`score_sequences`; ``should_stop`` is asked before the model
    and the pairs are loaded too (:class:`EvaluationCancelled` with 0 done)."""
    from abcmidi_bgpt.bgpt.checkpoint import load_model
    from abcmidi_bgpt.bgpt.model_folder import resolve_checkpoint

    def check() -> None:
        if should_stop is not None and should_stop():
            raise EvaluationCancelled()

    dev = resolve_device(device)
    folder = resolve_checkpoint(checkpoint)  # a run folder too; says at once what is wrong
    check()
    model = load_model(folder, device=dev)
    check()
    pairs = load_pairs(corpus, split, limit)
    check()
    sequences = SequenceSet.from_pairs(pairs, directions or list(Direction), model.config.layout)
    scores = score_sequences(
        model, sequences, batch_patches, resolve_dtype(dtype, dev), progress, should_stop
    )
    return EvaluationReport(
        str(checkpoint), str(corpus), split, len(pairs), sequences.skipped, scores
    )


def target_bpb(
    model, pairs: list[tuple[bytes, bytes]], direction: str, batch_patches: int = 4096
) -> list[float]:
    """Bits per byte of each pair's reference target under ``model``, teacher-forced, as in
    evaluation (``docs/metrics.md``: the target's bytes and its end-of-file position, over its
    bytes). ``pairs`` are (ABC bytes, MIDI bytes); NaN for a pair over the model's context."""
    layout = model.config.layout
    sequences = SequenceSet.from_pairs(pairs, [direction], layout)
    result = [float("nan")] * len(pairs)
    dtype = next(model.parameters()).dtype
    p = layout.patch_size
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i, pair, cost in scored_sequences(model, sequences, batch_patches, dtype):
            _, span = scored_spans(pair, layout)
            bits = float(cost[span.start - p : span.stop - p].sum(dtype=np.float64)) / LN2
            result[int(sequences.pair_index[i])] = bits / max(1, pair.target_len)
    model.train(was_training)
    return result
