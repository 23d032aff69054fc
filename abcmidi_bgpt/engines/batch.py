"""Batch conversion of files and folders: planning outputs, running engines, writing safely.

Rules a batch keeps, whatever the input:
- one job per ABC tune (a tune book gives one MIDI file per tune) or per MIDI file;
- a bad input fails its own job with a one-line message naming the file and tune, and the
  batch goes on;
- conversions run in worker processes (:mod:`abcmidi_bgpt.core.isolation`) with a time limit and a
  memory limit kept from outside: a tune that runs over is killed, not asked to stop, and the
  batch goes on in a fresh worker. The bgpt engine runs its model in this process; see
  :func:`run_batched`;
- outputs are written by this process, to a short temporary name in the output folder, then
  moved into place, so a killed run leaves no partial file; an empty output is never written;
  names are cut to fit the file system's 255 bytes;
- an existing output is never replaced unless ``force``, even when another run writes the same
  name meanwhile; nothing is written outside the output folder and an input is never
  overwritten.

Why one module of over 400 lines: planning (which inputs, which output names, what is refused
before any work) and running share the job and result records, and the batch's rules (never
overwrite without force, never write outside the output folder, one failure never stops the
rest) read best in one place.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError, ModelError, first_line, place_text
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.core.isolation import DEFAULT_MEMORY_GIB, Task, WorkerPool
from abcmidi_bgpt.engines.base import Engine, EngineInput, EngineOutput
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import check_midi_file_size, read_midi_file

ABC_SUFFIXES = (".abc",)
MIDI_SUFFIXES = (".mid", ".midi")
DEFAULT_TIMEOUT_S = 60.0  # per tune; pathological inputs can make the ABC parser crawl
MAX_NAME_BYTES = 255  # longest file name on Linux, macOS and Windows file systems (UTF-8)
EXISTS = "exists (use --force to overwrite)"
SYMBOLIC = EngineSpec("symbolic")
# What the fork server imports once, so that each worker starts warm: the converters, and the
# command line, which a worker imports again when it runs the program's main script (as
# multiprocessing does): 20 ms for a fresh worker instead of 140.
WORKER_PRELOAD = (
    "abcmidi_bgpt.engines.batch",
    "abcmidi_bgpt.symbolic.abc_to_midi.render",
    "abcmidi_bgpt.formats.musicxml",
    "abcmidi_bgpt.symbolic.midi_to_abc.transcribe",
    "abcmidi_bgpt.cli.app",
)


@dataclass(frozen=True, slots=True)
class Job:
    """One conversion: a tune of an ABC file (``tune`` set) or a whole MIDI file."""

    source: str  # input file
    output: str  # output file, inside the output folder
    label: str  # how messages name the input: file, or file#X:n
    tune: AbcTune | None = None
    overwrite: bool = False  # replace an existing output (--force)


@dataclass(slots=True)
class JobResult:
    label: str
    status: str  # "converted", "failed" or "skipped"
    output: str = ""
    reason: str = ""  # why it failed or was skipped, one line; the label says which input
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes_written: int = 0
    fallback: str = ""  # why the symbolic converter's result was written instead
    note_f1: float | None = None  # the engine's own check against the symbolic converter

    @property
    def message(self) -> str:
        """The input's label and the reason, as one line ('' when there is no reason)."""
        return f"{self.label}: {self.reason}" if self.reason else ""


@dataclass(slots=True)
class BatchReport:
    results: list[JobResult]
    seconds: float

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]


@dataclass(slots=True)
class BatchPlan:
    jobs: list[Job]
    early: list[JobResult]  # inputs that failed or were skipped before any conversion
    inputs: int = 0  # input files found


def input_suffixes(to: str) -> tuple[str, ...]:
    if to == "mid":
        return ABC_SUFFIXES
    if to == "abc":
        return MIDI_SUFFIXES
    raise ValueError(f"unknown target format {to!r} (use 'mid' or 'abc')")


def find_inputs(paths: Iterable[str | Path], to: str, exclude: Path | None = None):
    """(root, file) pairs for every input file: files given directly, and files with the
    input suffixes found recursively in folders, in a stable order.

    ``exclude`` (the output folder) is left out of a folder that holds it, so that an earlier
    run's outputs are not read as inputs; a folder that is the output folder, or inside it, is
    read whole (its outputs go next to its inputs).
    """
    suffixes = input_suffixes(to)
    exclude = exclude.resolve() if exclude else None
    found: list[tuple[Path, Path]] = []
    for p in map(Path, paths):
        if p.is_dir():
            skip = exclude if exclude and _strictly_inside(exclude, p.resolve()) else None
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.suffix.lower() not in suffixes:
                    continue
                if any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if skip and f.resolve().is_relative_to(skip):
                    continue
                found.append((p, f))
        else:
            found.append((p.parent, p))
    return found


def inferred_target(paths: Iterable[str | Path], exclude: Path | None = None) -> str | None:
    """The target format the inputs ask for: 'abc' when they are MIDI files, 'mid' when they
    are ABC files (or neither); when there are both, the kind that is not an earlier run's
    output of the other (``tune.mid`` next to ``tune.abc``); None when both are inputs."""
    paths = list(paths)
    abc, midi = (
        [f for _, f in find_inputs(paths, to, exclude) if f.suffix.lower() in input_suffixes(to)]
        for to in ("mid", "abc")
    )
    if abc and midi:
        if _outputs_of(midi, abc):
            return "mid"
        if _outputs_of(abc, midi):
            return "abc"
        return None
    return "abc" if midi else "mid"


def _outputs_of(outputs: list[Path], inputs: list[Path]) -> bool:
    """Whether every file of ``outputs`` is named as a conversion of an input next to it names
    its outputs (its stem, or the stem and _<tune> or -<n>)."""
    stems = {(f.parent, _safe(f.stem)) for f in inputs}
    return all(
        any(
            folder == o.parent and (o.stem == s or o.stem.startswith((s + "_", s + "-")))
            for folder, s in stems
        )
        for o in outputs
    )


def _strictly_inside(path: Path, folder: Path) -> bool:
    return path != folder and path.is_relative_to(folder)


def plan_batch(
    paths: Iterable[str | Path], to: str, out_dir: str | Path, force: bool = False
) -> BatchPlan:
    """Work out every job and its output name; read and split ABC files on the way.

    A problem with one input (unreadable, too large, a path the file system refuses) fails
    that input's jobs only.
    """
    out = Path(out_dir).resolve()
    inputs = find_inputs(paths, to, exclude=out)
    planner = _Planner(
        to, out, force, {f.resolve() for _, f in inputs}, BatchPlan([], [], len(inputs))
    )
    for root, f in inputs:
        try:
            planner.add_file(root, f)
        except OSError as err:  # e.g. a path over the system's length limit
            planner.plan.early.append(
                JobResult(str(f), "failed", reason=failure_reason(err, str(f)))
            )
    return planner.plan


@dataclass(slots=True)
class _Planner:
    """Plans the jobs of one input file after another, keeping output names apart."""

    to: str
    out: Path  # resolved
    force: bool
    input_files: set[Path]  # resolved
    plan: BatchPlan
    taken: set[Path] = field(default_factory=set)  # output paths planned so far
    next_number: dict[Path, int] = field(default_factory=dict)  # per name: next '-n' to try

    def add_file(self, root: Path, f: Path) -> None:
        label = str(f)
        if not f.exists():
            self._early(JobResult(label, "failed", reason="no such file"))
            return
        folder = self.out / f.parent.relative_to(root)
        resolved_folder = folder.resolve()
        # Names are made safe (no separators, no '..'): only a symlinked folder could lead out.
        if not resolved_folder.is_relative_to(self.out):
            reason = f"output would fall outside {self.out}"
            self._early(JobResult(label, "failed", reason=reason))
            return
        units = self._units(f, label)
        ext = ".mid" if self.to == "mid" else ".abc"
        for stem, tune in units:
            unit_label = tune.label if tune is not None else label
            name = self._unique_name(_safe(stem), ext, folder)
            target = folder / name
            if resolved_folder / name in self.input_files:
                reason = f"output {target} is an input; not overwriting it"
                self._early(JobResult(unit_label, "failed", reason=reason))
            elif target.exists() and not self.force:
                self._early(JobResult(unit_label, "skipped", str(target), EXISTS))
            else:
                self.plan.jobs.append(Job(str(f), str(target), unit_label, tune, self.force))

    def _units(self, f: Path, label: str) -> list[tuple[str, AbcTune | None]]:
        """(output stem, tune) for each job of a file: one per tune of an ABC file, one for a
        MIDI file; none (with the reason in the plan) for a file that cannot be converted."""
        if self.to == "mid":
            try:
                tunes = split_tunes(read_abc_file(f), label)
            except ConversionError as err:
                self._early(JobResult(label, "failed", reason=failure_reason(err, label)))
                return []
            return list(zip(_tune_stems(f.stem, tunes), tunes, strict=True))
        try:  # refused here, before a worker reads it
            check_midi_file_size(f.stat().st_size, label)
        except ConversionError as err:
            self._early(JobResult(label, "failed", reason=err.reason))
            return []
        return [(f.stem, None)]

    def _unique_name(self, stem: str, ext: str, folder: Path) -> str:
        """The first of stem.ext, stem-2.ext, ... (each cut to fit) not planned already; a
        name asked for again goes on from its last number, so that many inputs with one name
        (X: numbers alike once cut) take linear time."""
        first = folder / fit_name(stem, ext)
        candidate, n = first, self.next_number.get(first, 2)
        while candidate in self.taken:
            candidate = folder / fit_name(stem, f"-{n}{ext}")
            n += 1
        self.next_number[first] = n
        self.taken.add(candidate)
        return candidate.name

    def _early(self, result: JobResult) -> None:
        self.plan.early.append(result)


def _tune_stems(stem: str, tunes: list[AbcTune]) -> list[str]:
    """One tune: the file's stem. Several: stem_<X number>, or stem_<position> where a tune has
    no number or shares it with another."""
    if len(tunes) == 1:
        return [stem]
    count = Counter(t.number for t in tunes)
    return [
        f"{stem}_{t.number}" if t.number and count[t.number] == 1 else f"{stem}_{t.index + 1}"
        for t in tunes
    ]


def _safe(stem: str) -> str:
    cleaned = re.sub(r"[^\w.+-]+", "_", stem, flags=re.UNICODE)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._")
    return cleaned or "tune"


def fit_name(stem: str, tail: str) -> str:
    """``stem + tail`` within MAX_NAME_BYTES of UTF-8, the stem cut on a character boundary:
    the tail (``-2.mid``) is what keeps names apart and says what the file is."""
    budget = MAX_NAME_BYTES - len(tail.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + tail


def failure_reason(err: BaseException, label: str) -> str:
    """One line saying why the input named ``label`` failed: a structured error's reason (with
    its own place when that is not ``label``), an OS error's message, or an internal error."""
    if isinstance(err, ConversionError):
        reason = err.reason
        if err.line is not None:  # the line (and column) in the tune that ``label`` names
            reason = f"{place_text(err.line, err.column)}: {reason}"
        if err.where not in ("", label):
            reason = f"{err.where}: {reason}"
    elif isinstance(err, ModelError):
        reason = err.reason if err.where in ("", label) else str(err)
    elif isinstance(err, OSError | RecursionError | MemoryError):
        reason = first_line(err)
    else:
        reason = f"internal error ({type(err).__name__}: {err})"
    lines = reason.strip().splitlines()
    return lines[0] if lines else type(err).__name__


_ENGINES: dict[EngineSpec, Engine] = {}  # one engine per spec in each process


def _engine(spec: EngineSpec) -> Engine:
    if spec not in _ENGINES:
        _ENGINES[spec] = spec.build()
    return _ENGINES[spec]


def convert_job(spec: EngineSpec, job: Job) -> EngineOutput | str:
    """In a worker process: the engine's output for one job, or the one-line reason it
    failed (:func:`failure_reason`). MemoryError goes up to the worker, which reports it."""
    try:
        engine = _engine(spec)
        if job.tune is not None:
            return engine.abc_to_midi(job.tune)
        return engine.midi_to_abc(read_midi_file(job.source), source=job.label)
    except MemoryError:
        raise
    except Exception as err:  # a bug in an engine must not stop the batch either
        return failure_reason(err, job.label)


def _written(job: Job, out: EngineOutput, seconds: float) -> JobResult:
    """Write an engine's output: converted, skipped (another run wrote the name first without
    --force) or failed."""
    try:
        write_atomic(job.output, out.data, replace=job.overwrite)
    except FileExistsError:
        return JobResult(job.label, "skipped", job.output, EXISTS, seconds=seconds)
    except (ConversionError, OSError) as err:
        return _failed(job, err, seconds)
    return JobResult(
        job.label,
        "converted",
        job.output,
        warnings=out.warnings,
        seconds=seconds,
        bytes_written=len(out.data),
        fallback=out.fallback,
        note_f1=out.note_f1,
    )


def _failed(job: Job, err: BaseException | str, seconds: float) -> JobResult:
    """``err``: the error, or the reason already put in words."""
    reason = err if isinstance(err, str) else failure_reason(err, job.label)
    return JobResult(job.label, "failed", job.output, reason, seconds=seconds)


def run_isolated(
    spec: EngineSpec,
    jobs: list[Job],
    workers: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    memory_gib: float | None = DEFAULT_MEMORY_GIB,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[JobResult]:
    """Run jobs in ``workers`` worker processes, each job stopped at ``timeout`` seconds and
    each worker at ``memory_gib`` GiB; outputs are written here as results come."""
    results: list[JobResult] = []
    tasks = (Task((spec, job), timeout) for job in jobs)
    with WorkerPool(workers, memory_gib, WORKER_PRELOAD) as pool:
        for i, outcome in pool.run(convert_job, tasks, cancel):
            job = jobs[i]
            if not outcome.ok:  # stopped at the time limit, out of memory, crashed
                result = _failed(job, outcome.reason, outcome.seconds)
            elif isinstance(outcome.value, str):
                result = _failed(job, outcome.value, outcome.seconds)
            else:
                result = _written(job, outcome.value, outcome.seconds)
            results.append(result)
            if on_result:
                on_result(result)
    return results


def run_batched(
    spec: EngineSpec,
    jobs: list[Job],
    timeout: float | None = DEFAULT_TIMEOUT_S,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[JobResult]:
    """Run jobs on an engine that converts many inputs together (``convert_many``), in this
    process; each result is written as soon as it comes. Same rules as :func:`run_isolated`:
    a failure is one job's, and ``seconds`` is the time from the start of the batch.

    Not isolated: the model runs here, and ``timeout`` reaches the engine only as the soft,
    in-process :func:`~abcmidi_bgpt.core.io.time_limit` around its preparation and checks of each input, which
    library code can swallow (see there). The memory limit does not apply.
    """
    start = time.perf_counter()
    results: list[JobResult] = []

    def done(r: JobResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    try:
        engine = _engine(spec)
    except Exception as err:  # e.g. no such checkpoint: every job fails with the reason
        for job in jobs:
            done(_failed(job, err, time.perf_counter() - start))
        return results
    inputs: list[EngineInput] = []
    queued: list[Job] = []
    for job in jobs:
        if job.tune is not None:
            inputs.append(EngineInput(tune=job.tune, source=job.label))
        else:
            try:
                inputs.append(EngineInput(midi=read_midi_file(job.source), source=job.label))
            except (ConversionError, OSError) as err:
                done(_failed(job, err, time.perf_counter() - start))
                continue
        queued.append(job)
    pending = set(range(len(queued)))
    try:
        for i, out in engine.convert_many(inputs, timeout):  # type: ignore[attr-defined]
            pending.discard(i)
            elapsed = time.perf_counter() - start
            if isinstance(out, BaseException):
                done(_failed(queued[i], out, elapsed))
            else:
                done(_written(queued[i], out, elapsed))
            if cancel is not None and cancel.is_set():
                return results
    except Exception as err:  # the engine broke down: what it had not finished fails with it
        for i in sorted(pending):
            done(_failed(queued[i], err, time.perf_counter() - start))
    return results


def run_batch(
    jobs: list[Job],
    spec: EngineSpec,
    workers: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
    memory_gib: float | None = DEFAULT_MEMORY_GIB,
) -> list[JobResult]:
    """Run jobs in worker processes (:func:`run_isolated`, however many ``workers``), or, for
    an engine that converts many inputs together, in this process (:func:`run_batched`).

    ``on_result`` is called with each result as it arrives; setting ``cancel`` stops the batch
    after the jobs under way (results come back in completion order, then sorted by input).
    """
    if spec.engine_class.batched:  # one model, many inputs at a time, in this process
        results = run_batched(spec, jobs, timeout, on_result, cancel)
    else:
        results = run_isolated(spec, jobs, workers, timeout, memory_gib, on_result, cancel)
    order = {job.output: i for i, job in enumerate(jobs)}
    results.sort(key=lambda r: order.get(r.output, len(order)))
    return results


def convert_paths(
    paths: Iterable[str | Path],
    to: str,
    out_dir: str | Path,
    spec: EngineSpec = SYMBOLIC,
    force: bool = False,
    workers: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    on_planned: Callable[[BatchPlan], None] | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
    memory_gib: float | None = DEFAULT_MEMORY_GIB,
) -> BatchReport:
    """Plan and run a whole batch; the library call behind ``abcmidi-bgpt convert``."""
    start = time.perf_counter()
    plan = plan_batch(paths, to, out_dir, force)
    if on_planned:
        on_planned(plan)
    results = run_batch(plan.jobs, spec, workers, timeout, on_result, cancel, memory_gib)
    return BatchReport(plan.early + results, time.perf_counter() - start)
