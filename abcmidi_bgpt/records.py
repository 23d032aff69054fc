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

MANIFEST = "corpus.json"
DATASET_DIR = "dataset"


def load_manifest(corpus_dir: str | Path) -> dict:
    path = Path(corpus_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{corpus_dir}: not a built corpus (no {MANIFEST})")
    manifest = json.loads(path.read_text())
    if not manifest.get("complete"):
        raise ValueError(f"{corpus_dir}: the corpus build did not finish")
    return manifest


def split_names(corpus_dir: str | Path) -> list[str]:
    return list(load_manifest(corpus_dir)["splits"])


def load_split(corpus_dir: str | Path, split: str) -> datasets.Dataset:
    """One split of a built corpus: 'train', 'train-1e3', 'train-1e4', 'train-1e5',
    'validation' or 'test'."""
    manifest = load_manifest(corpus_dir)
    splits = manifest["splits"]
    if split not in splits:
        raise KeyError(f"{corpus_dir}: no split {split!r} (has {', '.join(splits)})")
    dd = datasets.load_from_disk(str(Path(corpus_dir) / DATASET_DIR))
    base = "train" if split.startswith("train") else split
    ds = dd[base]
    rows = splits[split]["rows"]
    return ds.select(range(rows)) if rows < len(ds) else ds
