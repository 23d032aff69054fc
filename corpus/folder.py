"""A corpus folder on disk: its layout and the writing of each part (the dataset, the exported
files, the failures and the manifest, which is written last), each part staged beside the old one
and swapped in, so that an interrupted build never leaves a half-written part in place."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from abcmidi_bgpt.bgpt.dataset import DATASET_DICT, FEATURES, LEGACY_DATASET_DIR, MANIFEST
from abcmidi_bgpt.core.io import write_atomic

from .cache import ResultCache
from .splits import SPLITS, dataset_split, scale_name

FORMAT = "abcmidi-bgpt-corpus"
FORMAT_VERSION = 2  # 2: the DatasetDict at the top of the folder, scales as splits
DATASET_DIR = "dataset"  # where a DatasetDict is staged before it is swapped in
FAILURES = "failures.jsonl"
FILES_DIR = "files"
CACHE_DIR = "cache"
DUPLICATE_REASON = "same normalised ABC as"
SHARD_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class Failure:
    """A tune, or one transposition of it, that is not in the corpus, and why."""

    source: str
    stage: str
    reason: str
    transpose: int = 0


@dataclass(slots=True)
class Candidate:
    """A rendered pair waiting for de-duplication, the context check and its split."""

    cache_key: str
    tune_index: int
    source: str
    tune_id: str
    transpose: int
    round: int
    abc_sha: str
    abc_bytes: int
    midi_bytes: int
    key: str
    meter: str


def row_id(c: Candidate) -> str:
    return f"{c.tune_id}-{c.abc_sha[:8]}"


def write_dataset(out: Path, rows, scales, cache: ResultCache, progress) -> tuple[str, dict]:
    """Write the DatasetDict beside the old one, then swap it in (:func:`swap_dataset`): the
    content hash of all rows, and the bytes of each split's Arrow files by its manifest name.

    The splits: 'train', 'validation', 'test', and each filled scale as a split of its own (its
    rows copied: ``datasets`` splits cannot share files), named as ``datasets`` allows
    (:func:`corpus.splits.dataset_split`)."""
    import datasets

    bar_was_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    content = hashlib.sha256()
    total = sum(len(r) for r in rows.values())
    written = 0
    tmp = Path(tempfile.mkdtemp(prefix=".dataset-", dir=out))
    try:
        splits = {}
        for split in SPLITS:
            splits[split], split_hash = _split_dataset(tmp, split, rows[split], cache)
            content.update(split_hash)
            written += len(rows[split])
            progress("writing dataset", written, total)
        shards = {split: _shards(rows[split]) for split in SPLITS}
        names = {split: split for split in SPLITS}
        for n in sorted(scales):
            if n <= len(rows["train"]):
                name = scale_name(n)
                names[name] = dataset_split(name)
                splits[names[name]] = splits["train"].select(range(n))
                shards[names[name]] = _shards(rows["train"][:n])
        staged = tmp / DATASET_DIR
        datasets.DatasetDict(splits).save_to_disk(str(staged), num_shards=shards)
        sizes = {
            name: sum(f.stat().st_size for f in (staged / split).glob("*.arrow"))
            for name, split in names.items()
        }
        swap_dataset(out, staged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if bar_was_on:
            datasets.enable_progress_bars()
    return "sha256:" + content.hexdigest(), sizes


def _split_dataset(tmp: Path, split: str, rows: list[Candidate], cache: ResultCache):
    """One split as a Dataset, its rows read back from the cache; and the hash of its rows."""
    import datasets

    plan = tmp / f"{split}.plan.jsonl"
    with plan.open("w") as fh:
        for c in rows:
            fh.write(json.dumps(asdict(c)) + "\n")
    split_hash = hashlib.sha256()
    for c in rows:
        abc, midi = cache.get_files(c.cache_key)
        split_hash.update(f"{split}\0{row_id(c)}\0".encode())
        split_hash.update(hashlib.sha256(abc.encode("utf-8")).digest())
        split_hash.update(hashlib.sha256(midi).digest())
    if not rows:
        empty = datasets.Dataset.from_dict({name: [] for name in FEATURES}, features=FEATURES)
        return empty, split_hash.digest()
    dataset = datasets.Dataset.from_generator(
        _dataset_rows,
        features=FEATURES,
        gen_kwargs={"plan": str(plan), "cache_path": str(cache.path)},
        cache_dir=str(tmp / "generator"),
        # From the content, not from the (temporary) plan path: same rows, same bytes.
        fingerprint=split_hash.hexdigest()[:16],
    )
    return dataset, split_hash.digest()


def _shards(rows: list[Candidate]) -> int:
    """Shards of about SHARD_BYTES; empty splits need a shard of their own, or load_from_disk
    fails on them."""
    return max(1, math.ceil(sum(c.abc_bytes + c.midi_bytes for c in rows) / SHARD_BYTES))


def swap_dataset(out: Path, staged: Path) -> None:
    """Put the DatasetDict saved in ``staged`` at the top of ``out``, where
    ``datasets.load_from_disk(out)`` finds it: first remove the old one (the split folders its
    ``dataset_dict.json`` names, or an old layout's ``dataset/`` folder), then move the new one
    in. The manifest says the build is unfinished meanwhile."""
    for folder in dataset_folders(out):
        shutil.rmtree(folder)
    (out / DATASET_DICT).unlink(missing_ok=True)
    legacy = out / LEGACY_DATASET_DIR
    if (legacy / DATASET_DICT).exists():
        shutil.rmtree(legacy)
    for split in json.loads((staged / DATASET_DICT).read_text())["splits"]:
        os.replace(staged / split, out / split)
    os.replace(staged / DATASET_DICT, out / DATASET_DICT)


def dataset_folders(out: Path) -> list[Path]:
    """The split folders of the DatasetDict at the top of ``out`` (none if there is none)."""
    path = out / DATASET_DICT
    if not path.exists():
        return []
    splits = json.loads(path.read_text()).get("splits", [])
    return [out / s for s in splits if s and "/" not in s and s not in (".", "..")]


def _dataset_rows(plan: str, cache_path: str):
    """Rows of one split, in order, with their files read back from the cache."""
    cache = ResultCache(cache_path)
    try:
        with open(plan) as fh:
            for line in fh:
                c = Candidate(**json.loads(line))
                abc, midi = cache.get_files(c.cache_key)
                yield {
                    "id": row_id(c),
                    "tune_id": c.tune_id,
                    "source": c.source,
                    "abc": abc,
                    "midi": midi,
                    "abc_bytes": c.abc_bytes,
                    "midi_bytes": c.midi_bytes,
                    "key": c.key,
                    "meter": c.meter,
                    "transpose": c.transpose,
                }
    finally:
        cache.close()


def export_files(out: Path, rows, scales, cache: ResultCache, progress) -> None:
    """``files/<split>/<id>.abc`` and ``.mid``, as the official bGPT training script pairs them
    (same stem, two extensions). Nested splits are hard links into ``files/train``."""
    staged = Path(tempfile.mkdtemp(prefix=".files-", dir=out))
    try:
        total = sum(len(r) for r in rows.values())
        done = 0
        for split in SPLITS:
            folder = staged / split
            folder.mkdir()
            for c in rows[split]:
                abc, midi = cache.get_files(c.cache_key)
                (folder / f"{row_id(c)}.abc").write_bytes(abc.encode("utf-8"))
                (folder / f"{row_id(c)}.mid").write_bytes(midi)
                done += 1
                if done % 500 == 0:
                    progress("exporting files", done, total)
        for n in scales:
            if n > len(rows["train"]):
                continue
            folder = staged / scale_name(n)
            folder.mkdir()
            for c in rows["train"][:n]:
                for ext in ("abc", "mid"):
                    _link_or_copy(staged / "train" / f"{row_id(c)}.{ext}", folder)
        progress("exporting files", total, total)
        _replace_folder(out / FILES_DIR, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _replace_folder(folder: Path, staged: Path) -> None:
    """Put the finished ``staged`` folder where ``folder`` is, the old one removed first."""
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staged, folder)


def _link_or_copy(src: Path, folder: Path) -> None:
    try:
        os.link(src, folder / src.name)
    except OSError:  # file systems without hard links
        shutil.copy2(src, folder / src.name)


def write_failures(path: Path, failures: Iterable[Failure]) -> None:
    lines = [json.dumps(asdict(f), ensure_ascii=False) for f in failures]
    data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b"\n"
    write_atomic(path, data)


def mark_incomplete(out: Path, settings) -> None:  # settings: build.BuildSettings
    """Before touching anything: a manifest that says the build has not finished."""
    path = out / MANIFEST
    write_atomic(
        path,
        json_bytes(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "complete": False,
                "settings": settings.describe(),
            }  # fmt: skip
        ),
    )


def json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
