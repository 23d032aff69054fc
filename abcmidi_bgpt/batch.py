"""Batch conversion of files and folders: planning outputs, running engines, writing safely.

Rules a batch keeps, whatever the input:
- one job per ABC tune (a tune book gives one MIDI file per tune) or per MIDI file;
- a bad input fails its own job with a one-line message naming the file and tune, and the
  batch goes on;
- outputs are written to a temporary name in the output folder and renamed into place, so a
  killed run leaves no partial file; an empty output is never written;
- existing outputs are kept unless ``force``; nothing is written outside the output folder
  and an input is never overwritten.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .abc_text import AbcTune, read_abc_file, split_tunes
from .engines import BATCHED_ENGINES, Engine, EngineInput, EngineOutput, EngineSpec
from .errors import ConversionError, first_line
from .midi_file import read_midi_file

ABC_SUFFIXES = (".abc",)
MIDI_SUFFIXES = (".mid", ".midi")
DEFAULT_TIMEOUT_S = 60.0  # per tune; pathological inputs can make the ABC parser crawl
SYMBOLIC = EngineSpec("symbolic")


@dataclass(frozen=True, slots=True)
class Job:
    """One conversion: a tune of an ABC file (``tune`` set) or a whole MIDI file."""

    source: str  # input file
    output: str  # output file, inside the output folder
    label: str  # how messages name the input: file, or file#X:n
    tune: AbcTune | None = None


@dataclass(slots=True)
class JobResult:
    label: str
    status: str  # "converted", "failed" or "skipped"
    output: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes_written: int = 0
    fallback: str = ""  # why the symbolic converter's result was written instead
    note_f1: float | None = None  # the engine's own check against the symbolic converter

    @property
    def reason(self) -> str:
        """The message without the input's label in front, for tables that show the label."""
        return self.message.removeprefix(f"{self.label}: ")


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


def input_suffixes(to: str) -> tuple[str, ...]:
    if to == "mid":
        return ABC_SUFFIXES
    if to == "abc":
        return MIDI_SUFFIXES
    raise ValueError(f"unknown target format {to!r} (use 'mid' or 'abc')")


def find_inputs(paths: Iterable[str | Path], to: str, exclude: Path | None = None):
    """(root, file) pairs for every input file: files given directly, and files with the
    input suffixes found recursively in folders, in a stable order."""
    suffixes = input_suffixes(to)
    exclude = exclude.resolve() if exclude else None
    found: list[tuple[Path, Path]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.suffix.lower() not in suffixes:
                    continue
                if any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if exclude and f.resolve().is_relative_to(exclude):
                    continue
                found.append((p, f))
        else:
            found.append((p.parent, p))
    return found


def plan_batch(
    paths: Iterable[str | Path], to: str, out_dir: str | Path, force: bool = False
) -> BatchPlan:
    """Work out every job and its output name; read and split ABC files on the way."""
    out = Path(out_dir).resolve()
    inputs = find_inputs(paths, to, exclude=out)
    input_files = {f.resolve() for _, f in inputs}
    jobs: list[Job] = []
    early: list[JobResult] = []
    taken: set[Path] = set()
    ext = "mid" if to == "mid" else "abc"
    for root, f in inputs:
        label = str(f)
        if not f.exists():
            early.append(JobResult(label, "failed", message=f"{label}: no such file"))
            continue
        rel = f.parent.resolve().relative_to(root.resolve()) if f.parent != root else Path()
        if to == "mid":
            try:
                tunes = split_tunes(read_abc_file(f), label)
            except (ConversionError, OSError) as err:
                early.append(JobResult(label, "failed", message=_one_line(err, label)))
                continue
            names = _tune_stems(f.stem, tunes)
            units = [(name, t.label, t) for name, t in zip(names, tunes, strict=True)]
        else:
            units = [(f.stem, label, None)]
        for stem, unit_label, tune in units:
            target = _unique(out / rel / f"{_safe(stem)}.{ext}", taken)
            if not target.resolve().is_relative_to(out):
                early.append(
                    JobResult(
                        unit_label,
                        "failed",
                        message=f"{unit_label}: output would fall outside {out}",
                    )
                )
                continue
            if target.resolve() in input_files:
                early.append(
                    JobResult(
                        unit_label,
                        "failed",
                        message=f"{unit_label}: output {target} is an input; not overwriting it",
                    )
                )
                continue
            taken.add(target)
            if target.exists() and not force:
                early.append(
                    JobResult(
                        unit_label, "skipped", str(target), "exists (use --force to overwrite)"
                    )
                )
                continue
            jobs.append(Job(str(f), str(target), unit_label, tune))
    return BatchPlan(jobs, early)


def _tune_stems(stem: str, tunes: list[AbcTune]) -> list[str]:
    """One tune: the file's stem. Several: stem_<X number>, or stem_<position> where a tune has
    no number or shares it with another."""
    if len(tunes) == 1:
        return [stem]
    numbers = [t.number for t in tunes]
    return [
        f"{stem}_{n}" if n and numbers.count(n) == 1 else f"{stem}_{t.index + 1}"
        for n, t in zip(numbers, tunes, strict=True)
    ]


def _safe(stem: str) -> str:
    cleaned = re.sub(r"[^\w.+-]+", "_", stem, flags=re.UNICODE)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._")
    return cleaned or "tune"


def _unique(path: Path, taken: set[Path]) -> Path:
    candidate, n = path, 2
    while candidate in taken:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _one_line(err: BaseException, label: str) -> str:
    text = first_line(err)
    return text if text.startswith(label) else f"{label}: {text}"


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    if not data:
        raise ConversionError(f"{path}: refusing to write an empty file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def time_limit(seconds: float | None, label: str):
    """Stop the conversion after ``seconds`` (main thread only: SIGALRM; elsewhere no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise ConversionError(f"{label}: conversion took over {seconds:g} s; stopped")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_ENGINES: dict[EngineSpec, Engine] = {}  # one engine per spec in each process


def _engine(spec: EngineSpec) -> Engine:
    if spec not in _ENGINES:
        _ENGINES[spec] = spec.build()
    return _ENGINES[spec]


def run_job(spec: EngineSpec, job: Job, timeout: float | None = DEFAULT_TIMEOUT_S) -> JobResult:
    """Convert one job and write its output; every failure becomes a failed result."""
    start = time.perf_counter()
    try:
        engine = _engine(spec)
        with time_limit(timeout, job.label):
            if job.tune is not None:
                out = engine.abc_to_midi(job.tune)
            else:
                out = engine.midi_to_abc(read_midi_file(job.source), source=job.label)
        return _written(job, out, start)
    except Exception as err:  # a bug in an engine must not stop the batch either
        return _failed(job, err, start)


def _written(job: Job, out: EngineOutput, start: float) -> JobResult:
    """Write an engine's output; the converted result (raises what writing raises)."""
    write_atomic(job.output, out.data)
    return JobResult(
        job.label,
        "converted",
        job.output,
        warnings=out.warnings,
        seconds=time.perf_counter() - start,
        bytes_written=len(out.data),
        fallback=out.fallback,
        note_f1=out.note_f1,
    )


def _failed(job: Job, err: BaseException, start: float) -> JobResult:
    if isinstance(err, ConversionError | OSError | RecursionError | MemoryError):
        message = _one_line(err, job.label)
    else:
        message = f"{job.label}: internal error ({type(err).__name__}: {err})"
    elapsed = time.perf_counter() - start
    return JobResult(job.label, "failed", job.output, message.splitlines()[0], seconds=elapsed)


def run_batched(
    spec: EngineSpec,
    jobs: list[Job],
    timeout: float | None = DEFAULT_TIMEOUT_S,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[JobResult]:
    """Run jobs on an engine that converts many inputs together (``convert_many``), in this
    process; each result is written as soon as it comes. Same rules as :func:`run_job`: a
    failure is one job's, and ``seconds`` is the time from the start of the batch."""
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
            done(_failed(job, err, start))
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
                done(_failed(job, err, start))
                continue
        queued.append(job)
    pending = set(range(len(queued)))
    try:
        for i, out in engine.convert_many(inputs, timeout):  # type: ignore[attr-defined]
            pending.discard(i)
            if isinstance(out, BaseException):
                done(_failed(queued[i], out, start))
            else:
                try:
                    done(_written(queued[i], out, start))
                except Exception as err:
                    done(_failed(queued[i], err, start))
            if cancel is not None and cancel.is_set():
                return results
    except Exception as err:  # the engine broke down: what it had not finished fails with it
        for i in sorted(pending):
            done(_failed(queued[i], err, start))
    return results


def run_batch(
    jobs: list[Job],
    spec: EngineSpec,
    workers: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    on_result: Callable[[JobResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[JobResult]:
    """Run jobs, in this process (``workers`` = 1, main thread) or in a process pool; an
    engine that converts many inputs together runs in this process (:func:`run_batched`).

    ``on_result`` is called with each result as it arrives; setting ``cancel`` stops the batch
    after the jobs under way (results come back in completion order, then sorted by input).
    """
    results: list[JobResult] = []

    def done(r: JobResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    if spec.name in BATCHED_ENGINES:  # one model, many inputs at a time, in this process
        results = run_batched(spec, jobs, timeout, on_result, cancel)
    elif workers <= 1 and threading.current_thread() is threading.main_thread():
        for job in jobs:
            if cancel is not None and cancel.is_set():
                break
            done(run_job(spec, job, timeout))
    else:
        ctx = multiprocessing.get_context("forkserver")
        _start_pool_helpers()
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool:
            pending = {pool.submit(run_job, spec, job, timeout) for job in jobs}
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    if not fut.cancelled():
                        done(fut.result())
                if cancel is not None and cancel.is_set():
                    for fut in pending:
                        fut.cancel()
                    pending = {f for f in pending if not f.cancelled()}
    order = {job.output: i for i, job in enumerate(jobs)}
    results.sort(key=lambda r: order.get(r.output, len(order)))
    return results


def _start_pool_helpers() -> None:
    """Start multiprocessing's resource tracker and fork server with standard error on
    /dev/null.

    Under a terminal UI (Textual) ``sys.stderr`` captures prints and has no usable file
    descriptor, and the helpers fail to start without one ("bad value(s) in fds_to_keep");
    workers report every failure in their results, so nothing of theirs is lost.
    """
    from multiprocessing import forkserver, resource_tracker

    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            resource_tracker.ensure_running()
            forkserver.ensure_running()
        finally:
            sys.stderr = saved


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
) -> BatchReport:
    """Plan and run a whole batch; the library call behind ``abcmidi-bgpt convert``."""
    start = time.perf_counter()
    plan = plan_batch(paths, to, out_dir, force)
    if on_planned:
        on_planned(plan)
    results = run_batch(plan.jobs, spec, workers, timeout, on_result, cancel)
    return BatchReport(plan.early + results, time.perf_counter() - start)
