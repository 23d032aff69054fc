"""Limits on a test itself: a hostile input that makes the code under test loop or allocate
without end fails the test instead of hanging the suite or taking the machine. Used by the
hostile-input tests and by ``scripts/fuzz.py``."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading


class TooSlow(BaseException):
    """Raised by the alarm of :func:`time_limit` (a BaseException: no 'except Exception' in
    the code under test swallows it; a bare 'except:' may, so the alarm repeats until it gets
    through)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`TooSlow` in the main thread after ``seconds``: a loop that never ends
    fails the test instead of hanging the suite."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise TooSlow(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _address_space() -> int:
    """Bytes of address space this process holds now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_limit(extra: int = 2 << 30):
    """The address space capped at what the process holds now plus ``extra`` bytes: an
    unbounded allocation raises MemoryError instead of taking the machine (8 GB for a
    37-byte file of tests/test_hostile_midi.py, before it was bounded)."""
    if not os.path.exists("/proc/self/statm"):  # not Linux: no cap, the other checks hold
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
