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

Why one module of over 400 lines: :func:`build_corpus` reads as the build's steps in order,
each step's helpers beside it; writing the folder is in :mod:`abcmidi_bgpt.corpus.folder`.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.bgpt.dataset import MANIFEST
from abcmidi_bgpt.bgpt.patches import DEFAULT_LAYOUT, PatchLayout, fits, pair_patches
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.isolation import ERROR, Outcome, Task, WorkerPool

from .cache import ResultCache, code_fingerprint, result_key
from .folder import (
    CACHE_DIR,
    DUPLICATE_REASON,
    FAILURES,
    FILES_DIR,
    Candidate,
    Failure,
    export_files,
    json_bytes,
    manifest_of,
    mark_incomplete,
    write_dataset,
    write_failures,
)
from .pipeline import (
    PIPELINE_VERSION,
    PipelineSettings,
    Rendered,
    TuneOutcome,
    render_transpositions,
    render_tune,
)
from .sources import SourceError, SourceTunes, read_source
from .splits import SPLITS, assign_split, order_key, shift_order
from .transpose import SHIFTS

DEFAULT_SCALES = (1_000, 10_000, 100_000)
MAX_ROUNDS = len(SHIFTS)
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
    mark_incomplete(out, settings)

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
        content_hash = write_dataset(out, rows, cache, progress)
        timings["write"] = time.perf_counter() - clock
        if settings.export_files:
            clock = time.perf_counter()
            export_files(out, rows, settings.scales, cache, progress)
            timings["export"] = time.perf_counter() - clock
        elif (out / FILES_DIR).exists():
            shutil.rmtree(out / FILES_DIR)  # an earlier build's files are not this corpus
    finally:
        cache.close()

    write_failures(out / FAILURES, failures)
    base_work = [m["_computed"] for m in bases if "_computed" in m]
    variant_work = [m["_computed"] for _, m in variant_metas if "_computed" in m]
    work = {
        "convert": (len(base_work), sum(base_work)),
        "transpose": (len(variant_work), sum(variant_work)),
    }
    manifest = manifest_of(
        read, settings, code, bases, variant_metas, rows, failures, content_hash, done_rounds
    )
    write_atomic(out / MANIFEST, json_bytes(manifest))  # last: only now is it complete
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


def _candidate(meta: dict, index: int, source: str, round_: int) -> Candidate:
    return Candidate(
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


def _select_rows(candidates, split_of, settings) -> tuple[dict[str, list[Candidate]], list]:
    seed = settings.split_seed
    ordered = sorted(
        candidates, key=lambda c: (c.round, order_key(c.tune_id, seed), c.tune_index, c.transpose)
    )
    rows: dict[str, list[Candidate]] = {s: [] for s in SPLITS}
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
