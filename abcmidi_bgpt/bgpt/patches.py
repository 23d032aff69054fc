"""The byte layout shared by the corpus, training and inference: files as 16-byte patches.

Compatible with the official bGPT code (Wu et al. 2024), so that its released conversion
weights read these records:

- a file is its extension patch (the extension in UTF-8, padded with the special id 256 to a
  patch) followed by its bytes, padded with 256 to a whole number of patches;
- a conversion sequence is ``[ext(src)][src bytes][ext(tgt)][tgt bytes][end patch]`` where the
  end patch is 16 x 256; the target's extension patch separates the two files.

Ids are 0-255 for bytes and 256 for the special symbol, so a sequence is stored as int16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ModelError

SPECIAL = 256
VOCAB = 257  # 256 byte values + the special id


@dataclass(frozen=True, slots=True)
class PatchLayout:
    """Patch size and context length of a model: 16 x 512 = 8 KB in the paper."""

    patch_size: int = 16
    max_patches: int = 512

    @property
    def context_bytes(self) -> int:
        return self.patch_size * self.max_patches

    def patches_for(self, n_bytes: int) -> int:
        """Patches a file of ``n_bytes`` takes, its extension patch included."""
        return 1 + -(-n_bytes // self.patch_size)


DEFAULT_LAYOUT = PatchLayout()


def extension_patch(ext: str, layout: PatchLayout = DEFAULT_LAYOUT) -> np.ndarray:
    raw = list(ext.encode("utf-8")[: layout.patch_size])
    return np.array(raw + [SPECIAL] * (layout.patch_size - len(raw)), dtype=np.int16)


def encode_file(data: bytes, ext: str, layout: PatchLayout = DEFAULT_LAYOUT) -> np.ndarray:
    """Extension patch + the file's bytes padded to whole patches."""
    body = np.frombuffer(data, dtype=np.uint8).astype(np.int16)
    pad = -len(body) % layout.patch_size
    return np.concatenate(
        [extension_patch(ext, layout), body, np.full(pad, SPECIAL, dtype=np.int16)]
    )


def pair_patches(src_len: int, tgt_len: int, layout: PatchLayout = DEFAULT_LAYOUT) -> int:
    """Patches a conversion sequence takes: both files, their extension patches, the end."""
    return layout.patches_for(src_len) + layout.patches_for(tgt_len) + 1


def fits(src_len: int, tgt_len: int, layout: PatchLayout = DEFAULT_LAYOUT) -> bool:
    return pair_patches(src_len, tgt_len, layout) <= layout.max_patches


@dataclass(frozen=True, slots=True)
class EncodedPair:
    """A conversion sequence and where its parts start (indices into ``ids``)."""

    ids: np.ndarray  # int16, a whole number of patches
    source_len: int  # bytes of the source file
    target_len: int  # bytes of the target file
    target_start: int  # index of the target's extension patch (the separator)
    end_start: int  # index of the end patch


def encode_pair(
    source: bytes,
    source_ext: str,
    target: bytes,
    target_ext: str,
    layout: PatchLayout = DEFAULT_LAYOUT,
) -> EncodedPair:
    """``[ext(src)][src][ext(tgt)][tgt][end]``; raises ModelError if it exceeds the context."""
    if not fits(len(source), len(target), layout):
        raise ModelError(
            f"pair of {len(source)} + {len(target)} bytes takes "
            f"{pair_patches(len(source), len(target), layout)} patches, "
            f"over the context of {layout.max_patches}"
        )
    src = encode_file(source, source_ext, layout)
    tgt = encode_file(target, target_ext, layout)
    end = np.full(layout.patch_size, SPECIAL, dtype=np.int16)
    ids = np.concatenate([src, tgt, end])
    return EncodedPair(ids, len(source), len(target), len(src), len(src) + len(tgt))


def encode_direction(
    abc: bytes, midi: bytes, direction: Direction, layout: PatchLayout = DEFAULT_LAYOUT
) -> EncodedPair:
    """The sequence of one direction of an ABC/MIDI pair."""
    direction = Direction(direction)
    files = {"abc": abc, "mid": midi}
    source, target = direction.source, direction.target
    return encode_pair(files[source], source, files[target], target, layout)


def decode_file(ids: np.ndarray, layout: PatchLayout = DEFAULT_LAYOUT) -> tuple[str, bytes]:
    """The extension and bytes of one encoded file (extension patch + padded body)."""
    ids = np.asarray(ids)
    ext_ids = ids[: layout.patch_size]
    ext = bytes(int(i) for i in ext_ids if i != SPECIAL).decode("utf-8", "replace")
    body = ids[layout.patch_size :]
    # Padding is only ever at the end of the last patch, and file bytes are never 256.
    real = body[body != SPECIAL]
    return ext, real.astype(np.uint8).tobytes()


def split_sequence(
    ids: np.ndarray, target_start: int, layout: PatchLayout = DEFAULT_LAYOUT
) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    """Both files back from a conversion sequence whose target starts at ``target_start``.

    The target ends at the end patch (all 256) or at the end of ``ids``. The boundary has to be
    given: a source whose length is a multiple of 16 ends on a full patch, and its last bytes
    may look like an extension patch, so the sequence alone does not always say where it is.
    """
    ids = np.asarray(ids)
    p = layout.patch_size
    source = decode_file(ids[:target_start], layout)
    rest = ids[target_start:]
    patches = rest[: len(rest) - len(rest) % p].reshape(-1, p)
    end = next((i for i in range(1, len(patches)) if (patches[i] == SPECIAL).all()), len(patches))
    return source, decode_file(patches[:end].reshape(-1), layout)


# --- What training and evaluation need: scored positions, sequence sets, batches. ---


def scored_spans(pair: EncodedPair, layout: PatchLayout = DEFAULT_LAYOUT) -> tuple[range, range]:
    """Indices into ``pair.ids`` of the positions that bits-per-byte counts for the source and
    for the target file.

    Each file counts its bytes plus one end-of-file position: the index right after its last
    byte, where the model has to say that the file ends (a padding id, or the first id of the
    next patch when the file fills its last patch). The rest of the padding, the extension
    patches and the end patch are not counted.
    """
    p = layout.patch_size
    target_body = pair.target_start + p
    return (
        range(p, p + pair.source_len + 1),
        range(target_body, target_body + pair.target_len + 1),
    )


@dataclass(slots=True)
class SequenceSet:
    """The conversion sequences of ABC/MIDI pairs in one or more directions.

    Each pair gives one sequence per direction (with both directions, an ABC->MIDI and a
    MIDI->ABC sequence). Sequences are encoded when asked for, so a large corpus costs its
    files' bytes in memory, not its int16 sequences. Pairs that do not fit the context in a
    direction are left out of that direction and counted in ``skipped``.
    """

    abc: list[bytes]
    midi: list[bytes]
    layout: PatchLayout
    pair_index: np.ndarray  # (n,) pair of each sequence
    direction: np.ndarray  # (n,) index into list(Direction)
    n_patches: np.ndarray  # (n,) patches of each sequence, end patch included
    source_patches: np.ndarray  # (n,) patches of the source file, its extension patch included
    skipped: int = 0

    @classmethod
    def from_pairs(
        cls,
        pairs: list[tuple[bytes, bytes]],
        directions: list[Direction],
        layout: PatchLayout = DEFAULT_LAYOUT,
    ) -> SequenceSet:
        abc = [a for a, _ in pairs]
        midi = [m for _, m in pairs]
        index, direction, n_patches, source_patches, skipped = [], [], [], [], 0
        order = list(Direction)
        for i, (a, m) in enumerate(pairs):
            for d in directions:
                src, tgt = (len(a), len(m)) if d == Direction.ABC_TO_MIDI else (len(m), len(a))
                if not fits(src, tgt, layout):
                    skipped += 1
                    continue
                index.append(i)
                direction.append(order.index(d))
                n_patches.append(pair_patches(src, tgt, layout))
                source_patches.append(layout.patches_for(src))
        return cls(
            abc,
            midi,
            layout,
            np.array(index, dtype=np.int64),
            np.array(direction, dtype=np.int64),
            np.array(n_patches, dtype=np.int64),
            np.array(source_patches, dtype=np.int64),
            skipped,
        )

    def __len__(self) -> int:
        return len(self.pair_index)

    def direction_of(self, i: int) -> Direction:
        return list(Direction)[self.direction[i]]

    def encode(self, i: int) -> EncodedPair:
        p = self.pair_index[i]
        return encode_direction(self.abc[p], self.midi[p], self.direction_of(i), self.layout)

    def select(self, indices: np.ndarray) -> SequenceSet:
        """The sequences at ``indices`` (same files, no copy)."""
        indices = np.asarray(indices, dtype=np.int64)
        return SequenceSet(
            self.abc,
            self.midi,
            self.layout,
            self.pair_index[indices],
            self.direction[indices],
            self.n_patches[indices],
            self.source_patches[indices],
            0,
        )


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def pad_batch(
    sequences: list[np.ndarray], layout: PatchLayout = DEFAULT_LAYOUT, multiple: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences padded with the special id to the longest one, rounded up to ``multiple``
    patches: ids ``(B, P * patch_size)`` as int64 and the real patches of each ``(B,)``."""
    p = layout.patch_size
    n_patches = np.array([len(s) // p for s in sequences], dtype=np.int64)
    width = round_up(int(n_patches.max()), multiple) * p
    ids = np.full((len(sequences), width), SPECIAL, dtype=np.int64)
    for row, s in zip(ids, sequences, strict=True):
        row[: len(s)] = s
    return ids, n_patches


def length_batches(
    n_patches: np.ndarray,
    batch_patches: int,
    rng: np.random.Generator | None = None,
    pool: int = 64,
    multiple: int = 1,
) -> list[np.ndarray]:
    """Micro-batches of sequence indices whose padded size (sequences x longest, in patches,
    the longest rounded up to ``multiple``) stays within ``batch_patches``.

    With ``rng``, the sequences are shuffled, sorted by length within pools of about ``pool``
    batches, so that a batch holds sequences of similar length and padding stays small, and
    the batches are shuffled again. Without it they are batched in length order (evaluation).
    """
    n_patches = np.asarray(n_patches)
    if len(n_patches) == 0:
        return []
    longest = round_up(int(n_patches.max()), multiple)
    if longest > batch_patches:
        raise ValueError(f"a sequence of {longest} patches exceeds the batch of {batch_patches}")
    order = rng.permutation(len(n_patches)) if rng is not None else np.arange(len(n_patches))
    pool_size = len(order) if rng is None else max(1, pool * batch_patches // longest)
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool_size):
        chunk = order[start : start + pool_size]
        chunk = chunk[np.argsort(-n_patches[chunk], kind="stable")]
        current: list[int] = []
        width = 0
        for i in chunk:
            size = round_up(int(n_patches[i]), multiple)
            if current and max(width, size) * (len(current) + 1) > batch_patches:
                batches.append(np.array(current, dtype=np.int64))
                current, width = [], 0
            current.append(int(i))
            width = max(width, size)
        batches.append(np.array(current, dtype=np.int64))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
