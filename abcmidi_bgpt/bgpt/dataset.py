"""Reading a built corpus: the manifest and its splits, as training and evaluation need them.

The corpus builder (``corpus/``) writes a folder that ``datasets.load_from_disk`` reads as a
DatasetDict::

    corpus.json        manifest: sources, settings, counts per stage, splits, content hash
    README.md          dataset card
    dataset_dict.json  + train/, validation/, test/, train_1e3/, ...: every split saved whole

Each row is one ABC/MIDI pair: ``id``, ``tune_id`` (shared by every transposition of a tune),
``source``, ``abc`` (normalised ABC text), ``midi`` (bytes), ``abc_bytes``, ``midi_bytes``,
``key``, ``meter``, ``transpose``. The 'train' rows are ordered so that the nested training
splits are prefixes: ``train-1e3`` (the split ``train_1e3`` of the DatasetDict; either name
reads it) is the first ``manifest["splits"]["train-1e3"]["rows"]`` rows.

Corpora of the first layout (format_version 1) keep the DatasetDict in ``dataset/`` with
'train', 'validation' and 'test' only; they are read too, each scale cut from 'train'.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

from abcmidi_bgpt.bgpt.patches import DEFAULT_LAYOUT, EncodedPair, PatchLayout, encode_direction
from abcmidi_bgpt.core.errors import ModelError

MANIFEST = "corpus.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # a 10^5-pair build's manifest is under 100 KB
DATASET_DICT = "dataset_dict.json"  # written by DatasetDict.save_to_disk, beside the splits
LEGACY_DATASET_DIR = "dataset"  # where format_version 1 kept the DatasetDict

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
    if path.stat().st_size > MAX_MANIFEST_BYTES:  # a corpus from elsewhere is read whole
        raise ModelError(f"{MANIFEST} is over {MAX_MANIFEST_BYTES} bytes", str(corpus_dir))
    try:
        manifest = json.loads(path.read_bytes())
    except ValueError as err:
        raise ModelError(f"{MANIFEST} is not JSON: {err}", str(corpus_dir)) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("splits", {}), dict):
        raise ModelError(f"{MANIFEST} is not a corpus manifest", str(corpus_dir))
    if not manifest.get("complete"):
        raise ModelError("the corpus build did not finish", corpus_dir)
    return manifest


def load_split(corpus_dir: str | Path, split: str, limit: int = 0) -> datasets.Dataset:
    """One split of a built corpus: 'train', 'train-1e3' (or 'train_1e3'), ..., 'validation'
    or 'test'; its first ``limit`` rows when ``limit`` is set."""
    manifest = load_manifest(corpus_dir)
    name = _manifest_name(manifest, split)
    if name is None:
        splits = manifest["splits"]
        unfilled = manifest.get("unfilled_scales", {}).get(split.replace("_", "-"))
        if unfilled:
            raise ModelError(
                f"no split {split!r}: {unfilled['requested']} pairs were asked "
                f"for but only {unfilled['available']} training pairs were built "
                "(add sources or --transpose)",
                str(corpus_dir),
            )
        raise ModelError(f"no split {split!r} (has {', '.join(splits)})", str(corpus_dir))
    root = _dataset_root(corpus_dir)
    entry = manifest["splits"][name]
    rows = entry["rows"]
    if root == Path(corpus_dir):  # each split saved whole
        ds = datasets.load_from_disk(str(root / entry.get("dataset_split", name)))
    else:  # the first layout: a scale is a prefix of 'train'
        ds = datasets.load_from_disk(str(root))["train" if name.startswith("train") else name]
    if limit:
        rows = min(rows, limit)
    return ds.select(range(rows)) if rows < len(ds) else ds


def load_corpus(corpus_dir: str | Path) -> datasets.DatasetDict:
    """The whole DatasetDict of a finished build: 'train', 'validation', 'test' and one split
    per scale ('train_1e3', ...; the first layout has the first three only)."""
    load_manifest(corpus_dir)
    return datasets.load_from_disk(str(_dataset_root(corpus_dir)))


def _manifest_name(manifest: dict, split: str) -> str | None:
    """The manifest's name of a split asked for by either of its names."""
    for name in manifest["splits"]:
        if name.replace("-", "_") == split.replace("-", "_"):
            return name
    return None


def _dataset_root(corpus_dir: str | Path) -> Path:
    """Where the DatasetDict is: the corpus folder, or ``dataset/`` in the first layout."""
    root = Path(corpus_dir)
    if not (root / DATASET_DICT).exists() and (root / LEGACY_DATASET_DIR / DATASET_DICT).exists():
        return root / LEGACY_DATASET_DIR
    return root


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
