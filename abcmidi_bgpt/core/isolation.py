"""Worker processes that run conversions of untrusted input under limits kept from outside.

A time limit raised inside the parsing code does not hold: abc2xml catches every exception with
bare ``except:`` clauses (the time limit's too, which then reads as a parse error or is lost
and the parse goes on), and C code (a huge integer power, a regular expression) never sees the
signal at all. So conversions run in worker processes, and the parent keeps the limits:

- time: each task has a deadline; at the deadline the parent kills the worker (SIGKILL) and
  the next task goes to a fresh worker;
- memory: a worker's address space is capped (``RLIMIT_AS``): an allocation over the cap fails
  with MemoryError in that worker, not on the machine;
- processor time, as a backstop: ``RLIMIT_CPU`` is set a little past each task's limit, so a
  worker whose parent was killed cannot spin for ever.

Workers fork from multiprocessing's fork server, which has imported the converters once
(``preload``): a fresh worker costs a fork, not an interpreter start, and a worker serves task
after task until one fails hard. The fork server and the resource tracker are ``python -c``
processes, which put the working folder first on ``sys.path``: they start with
``PYTHONSAFEPATH=1``, so that a folder named like one of our packages (``corpus``) in the
user's working folder is never imported instead of it.

Why one module of over 400 lines: the pool, the worker's side of its wire protocol and the
limits each worker sets are one mechanism; apart, the two ends of the protocol would be read in
two places.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from abcmidi_bgpt.core.errors import TimeLimitExceeded, first_line

DEFAULT_MEMORY_GIB = 4.0  # per worker; converting a large tune takes well under 1 GiB
MAX_START_FAILURES = 3  # workers in a row that die before their first task: stop trying
START_TIMEOUT_S = 60.0  # a worker not ready by then is killed, as one that died
CPU_GRACE_S = 10  # RLIMIT_CPU is set this far past a task's time limit
POLL_S = 0.2  # how often a waiting batch looks at its cancel event

TIMEOUT, MEMORY, CRASH, ERROR = "timeout", "memory", "crash", "error"


@dataclass(frozen=True, slots=True)
class Task:
    """One call of the pool's function: its arguments and its time limit (None: none)."""

    args: tuple
    seconds: float | None = None


@dataclass(slots=True)
class Outcome:
    """What became of a task: the function's value, or why there is none."""

    value: object = None
    failure: str = ""  # '', TIMEOUT, MEMORY, CRASH or ERROR
    reason: str = ""  # one line, without the input's name
    seconds: float = 0.0  # wall time from handing the task over to its end

    @property
    def ok(self) -> bool:
        return not self.failure


def timeout_reason(seconds: float) -> str:
    return TimeLimitExceeded(seconds).reason


def memory_reason(memory_gib: float | None) -> str:
    return f"ran out of memory (limit {memory_gib:g} GiB)" if memory_gib else "ran out of memory"


def exit_text(exitcode: int | None) -> str:
    """How a worker ended, for a message: 'killed by SIGSEGV', 'exit code 1'."""
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """Up to ``workers`` worker processes, each with at most ``memory_gib`` GiB of address
    space; :meth:`run` calls a function on each task in them, with the task's time limit.

    ``fn`` must be importable by name (a module-level function) and return a picklable value;
    an exception it raises becomes an ERROR outcome, MemoryError a MEMORY outcome. Use as a
    context manager: leaving it kills the workers.
    """

    def __init__(
        self,
        workers: int = 1,
        memory_gib: float | None = DEFAULT_MEMORY_GIB,
        preload: Sequence[str] = (),
    ):
        self.size = max(1, workers)
        self.memory_gib = memory_gib or None
        self.preload = list(preload)
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._last_start_failure = ""

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            worker.kill()
        self._workers.clear()

    def run(
        self,
        fn: Callable,
        tasks: Iterable[Task],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        """(task index, outcome) for every task, in the order they end. Setting ``cancel``
        stops handing out tasks; those under way still end (within their time limits)."""
        queue = deque(enumerate(tasks))
        while queue or self._busy():
            if cancel is not None and cancel.is_set():
                queue.clear()
            if queue and self._start_failures >= MAX_START_FAILURES:
                reason = f"could not start a worker process ({self._last_start_failure})"
                while queue:
                    yield queue.popleft()[0], Outcome(failure=CRASH, reason=reason)
                continue
            self._staff(len(queue))
            for worker in self._workers:
                if queue and worker.idle:
                    index, task = queue.popleft()
                    if not worker.give(fn, index, task):
                        queue.appendleft((index, task))
            yield from self._events()

    def _busy(self) -> bool:
        return any(w.index is not None for w in self._workers)

    def _staff(self, waiting: int) -> None:
        """Start workers until there are enough for the tasks under way and waiting."""
        wanted = min(self.size, waiting + sum(w.index is not None for w in self._workers))
        serving = sum(not w.retiring for w in self._workers)
        for _ in range(wanted - serving):
            try:
                self._workers.append(_Worker(_context(self.preload), self.memory_gib))
            except Exception as err:  # no fork server, no more processes: counted, bounded
                self._start_failed(f"{type(err).__name__}: {first_line(err)}")
                return

    def _start_failed(self, why: str) -> None:
        self._start_failures += 1
        self._last_start_failure = why

    def _events(self) -> Iterator[tuple[int, Outcome]]:
        """Wait for a message, a worker's end or the next deadline, and act on what came."""
        if not self._workers:
            return
        next_deadline = min(w.deadline for w in self._workers)
        timeout = min(POLL_S, max(0.0, next_deadline - time.monotonic()))
        handles = [w.conn for w in self._workers] + [w.process.sentinel for w in self._workers]
        ready = set(wait(handles, timeout))
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                yield from self._heard(worker)
            elif time.monotonic() >= worker.deadline:
                yield from self._expired(worker)

    def _heard(self, worker: _Worker) -> Iterator[tuple[int, Outcome]]:
        try:
            while worker.conn.poll():
                kind, payload, retiring = worker.conn.recv()
                worker.retiring = worker.retiring or retiring
                if kind == "ready":
                    worker.ready, worker.deadline = True, math.inf
                    self._start_failures = 0
                    continue
                index, outcome = worker.finished(kind, payload, self.memory_gib)
                yield index, outcome
        except (EOFError, OSError):
            pass  # the worker is gone; its sentinel tells how
        if not worker.process.is_alive():
            yield from self._ended(worker)

    def _ended(self, worker: _Worker) -> Iterator[tuple[int, Outcome]]:
        """A worker's process ended: fail the task it held, count a failed start."""
        worker.process.join(1)
        how = exit_text(worker.process.exitcode)
        self._drop(worker)
        if worker.index is not None:
            failure, reason = CRASH, f"the worker process crashed ({how})"
            if worker.process.exitcode == -signal.SIGXCPU:  # the processor-time backstop
                failure, reason = TIMEOUT, timeout_reason(worker.limit or 0)
            yield worker.index, Outcome(failure=failure, reason=reason, seconds=worker.elapsed)
        elif not worker.ready:
            self._start_failed(how)

    def _expired(self, worker: _Worker) -> Iterator[tuple[int, Outcome]]:
        index, seconds, limit = worker.index, worker.elapsed, worker.limit or 0
        worker.kill()
        self._drop(worker)
        if index is None:  # it never became ready
            self._start_failed(f"not ready after {START_TIMEOUT_S:g} s")
            return
        yield index, Outcome(failure=TIMEOUT, reason=timeout_reason(limit), seconds=seconds)

    def _drop(self, worker: _Worker) -> None:
        worker.conn.close()
        self._workers.remove(worker)


class _Worker:
    """The parent's side of one worker process: its pipe, and the task it holds."""

    def __init__(self, ctx, memory_gib: float | None):
        self.conn, child = ctx.Pipe()
        memory_bytes = int(memory_gib * 2**30) if memory_gib else None
        self.process = ctx.Process(target=_serve, args=(child, memory_bytes), daemon=True)
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child.close()
        self.ready = False  # it has set its limits and waits for tasks
        self.retiring = False  # it ends after its task (memory spent): give it no other
        self.index: int | None = None  # the task it holds
        self.limit: float | None = None
        self.started = time.monotonic()
        self.deadline = self.started + START_TIMEOUT_S  # to become ready; then its task's

    @property
    def idle(self) -> bool:
        return self.ready and not self.retiring and self.index is None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def give(self, fn: Callable, index: int, task: Task) -> bool:
        try:
            self.conn.send((fn, task.args, task.seconds))
        except (OSError, ValueError):  # it died meanwhile; its end is seen on the next wait
            self.retiring = True
            return False
        self.index, self.limit = index, task.seconds or None
        self.started = time.monotonic()
        self.deadline = self.started + self.limit if self.limit else math.inf
        return True

    def finished(self, kind: str, payload, memory_gib: float | None) -> tuple[int, Outcome]:
        index, seconds = self.index, self.elapsed
        self.index, self.limit, self.deadline = None, None, math.inf
        if kind == "done":
            return index, Outcome(payload, seconds=seconds)
        if kind == "memory":
            return index, Outcome(failure=MEMORY, reason=memory_reason(memory_gib), seconds=seconds)
        return index, Outcome(failure=ERROR, reason=str(payload), seconds=seconds)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


# ---------------------------------------------------------------------------------------------
# The worker's side


def _serve(conn, memory_bytes: int | None) -> None:
    """A worker's life: set the limits, then run tasks until the pipe closes or the memory
    is spent (a fresh worker then takes over)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills workers
    _set_soft_limit(resource.RLIMIT_CORE, 0)  # a crash leaves no core file in the user's folder
    if memory_bytes:
        _set_soft_limit(resource.RLIMIT_AS, memory_bytes)
    conn.send(("ready", None, False))
    while True:
        try:
            fn, args, seconds = conn.recv()
        except EOFError:
            return
        except Exception as err:  # a function or argument this process cannot import
            conn.send(("error", f"internal error (task not received: {first_line(err)})", False))
            continue
        _limit_cpu(seconds)
        try:
            reply = ("done", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except Exception as err:  # the function's bug: this task's failure, not the worker's
            reply = ("error", f"internal error ({type(err).__name__}: {first_line(err)})")
        retiring = reply[0] == "memory" or _bloated(memory_bytes)
        try:
            conn.send((*reply, retiring))
        except MemoryError:
            conn.send(("memory", None, True))
            return
        except Exception as err:  # a value that cannot be pickled
            conn.send(("error", f"internal error (result not sent: {err})", retiring))
        if retiring:
            return


def _set_soft_limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    with contextlib.suppress(ValueError, OSError):  # systems that do not support it
        resource.setrlimit(which, (value, hard))


def _limit_cpu(seconds: float | None) -> None:
    """Processor time up to this task's limit and a margin; none without a limit."""
    if not seconds:
        _set_soft_limit(resource.RLIMIT_CPU, resource.RLIM_INFINITY)
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_soft_limit(
        resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + seconds + CPU_GRACE_S)
    )


def _bloated(memory_bytes: int | None) -> bool:
    """Whether the worker has grown past half its memory limit (Linux): a fresh one then
    takes the next tasks, so one input's leftovers cannot make another run out."""
    if not memory_bytes:
        return False
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return pages * os.sysconf("SC_PAGE_SIZE") > memory_bytes // 2


# ---------------------------------------------------------------------------------------------
# Starting the fork server

_HELPERS = threading.Lock()


def _context(preload: Sequence[str]):
    """The forkserver context, its helper processes started (once) the safe way."""
    ctx = multiprocessing.get_context("forkserver")
    with _HELPERS:
        # Only the first call's list counts: the server imports it when it starts.
        ctx.set_forkserver_preload(list(preload))
        _start_helpers()
    return ctx


def _start_helpers() -> None:
    """Start multiprocessing's resource tracker and fork server (if not running) with
    ``PYTHONSAFEPATH=1`` and standard error on /dev/null.

    Safe path: these are ``python -c`` processes, whose ``sys.path`` would start with the
    working folder. Standard error: under a terminal UI (Textual) ``sys.stderr`` has no file
    descriptor, and the helpers fail to start without one ("bad value(s) in fds_to_keep");
    workers report every failure in their results.
    """
    from multiprocessing import forkserver, resource_tracker

    _short_socket_folder()
    saved_stderr, saved_safe_path = sys.stderr, os.environ.get("PYTHONSAFEPATH")
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        os.environ["PYTHONSAFEPATH"] = "1"
        try:
            resource_tracker.ensure_running()
            forkserver.ensure_running()
        finally:
            sys.stderr = saved_stderr
            if saved_safe_path is None:
                del os.environ["PYTHONSAFEPATH"]
            else:
                os.environ["PYTHONSAFEPATH"] = saved_safe_path


# A Unix socket's path holds at most 107 bytes (103 on macOS), and the fork server's socket is
# made in multiprocessing's temporary folder, under TMPDIR: a long TMPDIR would stop every
# conversion ("AF_UNIX path too long").
MAX_SOCKET_FOLDER_CHARS = 60
SHORT_TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def _short_socket_folder() -> None:
    """Have multiprocessing make its temporary folder (once per process) under a short path
    when TMPDIR's is too long for the socket's."""
    import tempfile
    from multiprocessing import util

    if len(tempfile.gettempdir()) <= MAX_SOCKET_FOLDER_CHARS:
        return
    for folder in SHORT_TEMP_FOLDERS:
        if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            saved, tempfile.tempdir = tempfile.tempdir, folder
            try:
                util.get_temp_dir()  # made now under ``folder``, then kept for the process
            finally:
                tempfile.tempdir = saved
            return
