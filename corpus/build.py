"""Building a corpus: sources -> named tunes -> pairs in the corpus's order -> saved.

:func:`build_corpus` is the library call behind ``abcmidi-bgpt corpus build``. The folder it
writes is read by :mod:`abcmidi_bgpt.bgpt.dataset` and by ``datasets.load_from_disk``::

    corpus.json        manifest, written last: "complete" is true only after everything else
    README.md          the dataset card (Hugging Face format), made from the manifest
    dataset_dict.json  with train/, validation/, test/ and one folder per scale (train_1e3/,
                       ...): a datasets.DatasetDict saved with save_to_disk, every split real
    failures.jsonl     every tune or pair left out, with its stage and reason
    files/             with export_files: <split>/<id>.abc + <id>.mid, the official bGPT layout
    cache/             per-tune results by content hash (resume, incremental rebuilds)

Steps: read the sources; name every tune by its notes as written (:mod:`corpus.naming`: quick,
cached), which gives its split and its place in the order (:mod:`corpus.splits`); render the
held-out tunes, then the training tunes in order, each normalised and rendered in its own key
(cached, in worker processes), deciding each pair as it comes (:mod:`corpus.selection`:
de-duplicated, dropped when over the model's context); then transpositions of the kept training
tunes, round by round, if asked for and needed; write the dataset, the card, the exported
files, the failures, the manifest.

The stopping rule (``stop_early``, the default): once the held-out tunes and the first N
training pairs in the corpus's order are decided, N being the largest scale, no tune later in
the order can change validation, test or any scale, so the build stops rendering there: those
splits are exactly what rendering every tune would give, and 'train' holds the N pairs. Naming
every tune is what makes this possible (the held-out sets are a fixed share of all the sources'
tunes, by the hash of their names). Without it every tune is rendered and 'train' holds all the
training pairs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.bgpt.dataset import MANIFEST
from abcmidi_bgpt.bgpt.patches import DEFAULT_LAYOUT, PatchLayout
from abcmidi_bgpt.core.io import write_atomic

from .cache import ResultCache, code_fingerprint
from .card import README, card_text
from .convert import Renderer, Workers
from .folder import (
    CACHE_DIR,
    FAILURES,
    FILES_DIR,
    Failure,
    export_files,
    json_bytes,
    mark_incomplete,
    write_dataset,
    write_failures,
)
from .manifest import LiveTally, Tally, manifest_of
from .naming import name_tunes
from .pipeline import PipelineSettings
from .selection import Selection, certain_rounds, unit_order
from .sources import SourceError, SourceTunes, read_source
from .splits import assign_split
from .transpose import SHIFTS

DEFAULT_SCALES = (1_000, 10_000, 100_000)
MAX_ROUNDS = len(SHIFTS)
# What the fork server imports once, so that each worker starts warm (seconds apiece else);
# the command line too, which a worker imports again when it runs the program's main script.
WORKER_PRELOAD = (
    "abcmidi_bgpt.core.isolation",
    "abcmidi_bgpt.corpus.pipeline",
    "abcmidi_bgpt.corpus.naming",
    "music21",
    "abcmidi_bgpt.cli.app",
)

# progress(stage, done, total): called as work advances; total None while unknown.
ProgressFn = Callable[[str, int, "int | None"], None]
# tally(counts so far): called with progress once pairs are being decided.
TallyFn = Callable[[Tally], None]


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
    stop_early: bool = True  # stop once the held-out sets and the largest scale are decided

    def __post_init__(self) -> None:
        transpose_rounds(self.transpose)  # validates
        if not 0 <= self.validation_fraction + self.test_fraction < 1:
            raise ValueError("validation and test fractions must add up to less than 1")

    @property
    def target(self) -> int | None:
        """Training pairs the build needs: the largest scale (None: no scales)."""
        return max(self.scales) if self.scales else None

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
            "stop_early": self.stop_early,
            "patch_size": self.layout.patch_size,
            "max_patches": self.layout.max_patches,
            "normalisation": "abc2xml -> xml2abc (-x, L: chosen by xml2abc), natural language "
            "removed",
            "validation": "music21 parses the ABC (beaming off) and finds notes; mido parses "
            "the MIDI and finds notes",
            "naming": "tune_id: hash of the notes as written (native reader, chords off), "
            "pitches above the lowest; of the text when unreadable",
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
    named: int = 0  # tunes named in this run (the others' names were cached)

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
    tally: TallyFn | None = None,
) -> BuildReport:
    """Build (or rebuild, resuming from the cache) a corpus in ``out_dir`` from ``sources``
    (``music21``, ``irishman``, ``irishman:PATH``, folders; see :mod:`corpus.sources`).

    Bad tunes never stop the build: each failure is recorded with its stage and reason.
    Raises :class:`SourceError` when a source cannot be read at all. ``progress`` is told how
    each stage advances and ``tally`` what has been decided so far (converted, kept, left out
    and why); either may raise to stop the build, which leaves the folder marked unfinished and
    its cache for the next build to resume from.
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
    timings["read"] = time.perf_counter() - clock
    # The sources are readable: from here on the folder is not a finished corpus until the end.
    mark_incomplete(out, settings)

    code = code_fingerprint()
    cache = ResultCache(Path(cache_path) if cache_path else out / CACHE_DIR / "results.sqlite")
    selection = Selection(settings.layout, settings.target if settings.stop_early else None)
    if tally is not None:
        progress = _with_tally(progress, LiveTally(selection), tally)
    try:
        with Workers(jobs, settings.pipeline, WORKER_PRELOAD) as workers:
            clock = time.perf_counter()
            names, by_text, named = name_tunes(
                tunes, cache, workers.pool, settings.pipeline.timeout_s, progress
            )
            splits = [_split(name, settings) for name in names]
            timings["name"] = time.perf_counter() - clock

            renderer = Renderer(
                tunes, names, splits, settings.split_seed, settings.pipeline, cache, workers,
                code, progress,
            )  # fmt: skip
            clock = time.perf_counter()
            order = sorted(
                range(len(tunes)),
                key=lambda i: unit_order(0, splits[i], names[i], i, settings.split_seed),
            )
            renderer.run_pass(order, [0], selection, stop=selection.target is not None)
            timings["convert"] = time.perf_counter() - clock

            clock = time.perf_counter()
            rounds = _transpose(renderer, selection, settings)
            timings["transpose"] = time.perf_counter() - clock
        cache.commit()

        clock = time.perf_counter()
        failures = [Failure(p.key, "read", p.reason) for s in read for p in s.problems]
        failures += selection.failures
        failures.sort(key=lambda f: (f.source, f.transpose, f.stage))
        rows = selection.rows
        content_hash, dataset_bytes = write_dataset(out, rows, settings.scales, cache, progress)
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
    work = {phase: (n, cpu) for phase, (n, cpu) in renderer.work.items()}
    manifest = manifest_of(
        read, settings, code, len(tunes), by_text, selection, failures, content_hash,
        dataset_bytes, rounds,
    )  # fmt: skip
    write_atomic(out / README, card_text(manifest).encode("utf-8"))
    write_atomic(out / MANIFEST, json_bytes(manifest))  # last: only now is it complete
    return BuildReport(out, manifest, failures, timings, renderer.cached, work, named)


def _with_tally(progress: ProgressFn, live: LiveTally, tally: TallyFn) -> ProgressFn:
    def told(stage: str, done: int, total: int | None) -> None:
        progress(stage, done, total)
        tally(live())

    return told


def _split(name: str, settings: BuildSettings) -> str:
    return assign_split(
        name, settings.split_seed, settings.validation_fraction, settings.test_fraction
    )


def _transpose(renderer: Renderer, selection: Selection, settings: BuildSettings) -> int:
    """Render transposition rounds of the kept training tunes: all that were asked for
    (a number, or 'all'), or ('auto') as many as the largest scale needs -- and with
    ``stop_early`` no pair past the largest scale. The number of rounds rendered."""
    fixed = transpose_rounds(settings.transpose)
    last = MAX_ROUNDS if fixed is None else fixed
    tunes = selection.kept_training_tunes()
    if last == 0 or not tunes:
        return 0
    if fixed is not None and selection.target is None:  # no stopping: every round asked for
        renderer.run_pass(tunes, list(range(1, last + 1)), selection, stop=False)
        return last
    target = settings.target or 0
    done = 0
    while done < last and len(selection.rows["train"]) < target:
        # Whole rounds that are certainly needed in one pass (a tune parsed once for all its
        # keys); then, near the end, one round at a time, stopping at the largest scale.
        ahead = certain_rounds(target, len(selection.rows["train"]), len(tunes))
        rounds = list(range(done + 1, min(last, done + ahead) + 1))
        renderer.run_pass(tunes, rounds, selection, stop=selection.target is not None)
        done = rounds[-1]
    return done if selection.target is None else selection.last_round
