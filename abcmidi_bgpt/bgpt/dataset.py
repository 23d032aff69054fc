"""Reading a built corpus: the manifest and its splits, as training and evaluation need them.

The corpus builder (``corpus/``) writes a folder::

    corpus.json   manifest: sources, settings, counts per stage, splits, content hash
    dataset/      a datasets.DatasetDict saved with save_to_disk: 'train', 'validation', 'test'

Each row is one ABC/MIDI pair: ``id``, ``tune_id`` (shared by every transposition of a tune),
``source``, ``abc`` (normalised ABC text), ``midi`` (bytes), ``abc_bytes``, ``midi_bytes``,
``key``, ``meter``, ``transpose``. The 'train' rows are ordered so that the nested training
splits are prefixes: ``train-1e3`` is the first ``manifest["splits"]["train-1e3"]["rows"]`` rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

from abcmidi_bgpt.bgpt.patches import DEFAULT_LAYOUT, EncodedPair, PatchLayout, encode_direction
from abcmidi_bgpt.core.errors import ModelError

MANIFEST = "corpus.json"
DATASET_DIR = "dataset"

FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),  # tune_id + hash of the ABC: unique in the corpus
        "tune_id": datasets.Value("string"),  # the tune, whatever its key
        "source": datasets.Value("string"),  # where the tune came from, e.g. irishman/train/17
        "abc": datasets.Value("string"),  # normalised ABC (UTF-8)
        "midi": datasets.Value("binary"),  # canonical MIDI rendered from that ABC
        "abc_bytes": datasets.Value("int32"),
        "midi_bytes": datasets.Value("int32"),
        "key": datasets.Value("string"),  # the K: field, e.g. "G", "Ador"
        "meter": datasets.Value("string"),  # the M: field, e.g. "6/8"
        "transpose": datasets.Value("int8"),  # semitones from the tune as written
    }
)


def load_manifest(corpus_dir: str | Path) -> dict:
    """The manifest of a finished build; raises when there is none or the build did not end."""
    path = Path(corpus_dir) / MANIFEST
    if not path.exists():
        raise ModelError(f"not a built corpus (no {MANIFEST})", str(corpus_dir))
    manifest = json.loads(path.read_text())
    if not manifest.get("complete"):
        raise ModelError("the corpus build did not finish", corpus_dir)
    return manifest


def load_split(corpus_dir: str | Path, split: str, limit: int = 0) -> datasets.Dataset:
    """One split of a built corpus: 'train', 'train-1e3', 'train-1e4', 'train-1e5',
    'validation' or 'test'; its first ``limit`` rows when ``limit`` is set."""
    manifest = load_manifest(corpus_dir)
    splits = manifest["splits"]
    if split not in splits:
        unfilled = manifest.get("unfilled_scales", {}).get(split)
        if unfilled:
            raise ModelError(
                f"no split {split!r}: {unfilled['requested']} pairs were asked "
                f"for but only {unfilled['available']} training pairs were built "
                "(add sources or --transpose)",
                str(corpus_dir),
            )
        raise ModelError(f"no split {split!r} (has {', '.join(splits)})", str(corpus_dir))
    dd = datasets.load_from_disk(str(Path(corpus_dir) / DATASET_DIR))
    base = "train" if split.startswith("train") else split
    ds = dd[base]
    rows = splits[split]["rows"]
    if limit:
        rows = min(rows, limit)
    return ds.select(range(rows)) if rows < len(ds) else ds


def load_corpus(corpus_dir: str | Path) -> datasets.DatasetDict:
    """The whole DatasetDict ('train', 'validation', 'test') of a finished build."""
    load_manifest(corpus_dir)
    return datasets.load_from_disk(str(Path(corpus_dir) / DATASET_DIR))


def row_files(row: dict) -> tuple[bytes, bytes]:
    """The two files of a row as bytes: (ABC, MIDI)."""
    return row["abc"].encode("utf-8"), bytes(row["midi"])


def row_sequence(row: dict, direction: str, layout: PatchLayout = DEFAULT_LAYOUT) -> EncodedPair:
    """The conversion sequence of a row in one direction ('abc2mid' or 'mid2abc')."""
    abc, midi = row_files(row)
    return encode_direction(abc, midi, direction, layout)


def load_pairs(corpus: str | Path, split: str, limit: int = 0) -> list[tuple[bytes, bytes]]:
    """The (ABC file bytes, MIDI file bytes) pairs of a corpus split (its first ``limit``)."""
    ds = load_split(corpus, split, limit).select_columns(["abc", "midi"])
    return [(a.encode("utf-8"), bytes(m)) for a, m in zip(ds["abc"], ds["midi"], strict=True)]
