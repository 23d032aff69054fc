"""Splits by hash, never by position: which tunes are held out, and in what order the rest train.

- A tune (all its transpositions, and any other copy of it in another key, share its
  ``tune_id``, a name given before any tune is converted: :mod:`corpus.naming`) goes to
  validation, test or train by a hash of ``tune_id`` and the split seed, so the held-out sets
  do not depend on which other tunes are in the corpus, on the scales, on transposition, or on
  how many tunes the builder converted. Held-out sets hold tunes in their own key only.
- Training pairs are ordered in rounds: round 0 has every training tune in its own key, in an
  order given by a hash; round r adds each tune's r-th transposition, in the same order. A
  nested training split of n pairs is the first n: the smaller splits hold as many different
  tunes as they can, transpositions come in only when the tunes run out.
- Which transpositions a tune gets, and in which round, is a permutation drawn from its hash, so
  that a round does not move every tune by the same interval.

Split names: a scale's split is 'train-1e3' in the manifest, on the command line and in the
exported files; in the DatasetDict and the dataset card it is 'train_1e3'
(:func:`dataset_split`), since ``datasets`` takes only split names matching ``\\w+(\\.\\w+)*``
when it loads files by split (as the Hugging Face hub does). Either name reads the split.
"""

from __future__ import annotations

import hashlib
import math
import random

from .transpose import SHIFTS

SPLITS = ("train", "validation", "test")


def _unit(*parts: object) -> float:
    """A number in [0, 1) from a hash of ``parts``."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(tune_id: str, seed: int, validation: float, test: float) -> str:
    u = _unit("split", seed, tune_id)
    if u < validation:
        return "validation"
    if u < validation + test:
        return "test"
    return "train"


def order_key(tune_id: str, seed: int) -> float:
    return _unit("order", seed, tune_id)


def shift_order(tune_id: str, seed: int) -> list[int]:
    """The eleven transpositions of a tune in the order it gets them."""
    shifts = list(SHIFTS)
    random.Random(_unit("shifts", seed, tune_id)).shuffle(shifts)
    return shifts


def parse_scale(text: str) -> int:
    """'1e3', '1000', '10^4' -> a number of training pairs."""
    cleaned = text.strip().lower().replace("10^", "1e").replace("_", "")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"not a scale: {text!r} (write 1e3, 1000 or 10^3)") from None
    if value < 1 or value != int(value):
        raise ValueError(f"not a scale: {text!r} (a whole number of pairs, at least 1)")
    return int(value)


def scale_name(n: int) -> str:
    """The split name of a scale: 'train-1e3' for 1000 (powers of ten from 10^3), 'train-250'
    otherwise."""
    exponent = round(math.log10(n)) if n > 0 else 0
    if exponent >= 3 and 10**exponent == n:
        return f"train-1e{exponent}"
    return f"train-{n}"


def dataset_split(name: str) -> str:
    """The name of a split in the DatasetDict: 'train-1e3' -> 'train_1e3'."""
    return name.replace("-", "_")
