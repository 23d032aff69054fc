"""File and time helpers shared by every layer: atomic writes, and a soft time limit for code
run in this process."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import threading
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError, TimeLimitExceeded


def write_atomic(path: str | Path, data: bytes, replace: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path``, then move it to ``path``: over any
    file there (``replace``), or only if there is none, else FileExistsError -- checked as the
    file lands, so two runs writing the same name cannot both succeed.

    The file gets the permissions the user's umask gives a new file, like any other program's.
    """
    path = Path(path)
    if not data:
        raise ConversionError("refusing to write an empty file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_temporary(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if replace:
            os.replace(tmp, path)
        else:
            _move_to_new_name(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _new_temporary(folder: Path) -> tuple[int, Path]:
    """A new hidden file in ``folder``, created with mode 0666 so that the umask decides (a
    short name: one made from the output's name could pass the 255-byte limit)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = folder / f".tmp-{secrets.token_hex(8)}.part"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


# Errors of a file system without hard links (FAT, exFAT, some network file systems).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _move_to_new_name(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` unless ``path`` exists (FileExistsError): a hard link fails
    on an existing name (a symlink's too), which a check before a rename cannot promise."""
    try:
        os.link(tmp, path)
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise  # FileExistsError among them
        # No hard links: claim the name with an exclusive create, then rename onto it; a kill
        # between the two leaves an empty file, never another run's output overwritten.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def time_limit(seconds: float | None, label: str):
    """A soft time limit for code run in this process: raises TimeLimitExceeded from SIGALRM
    after ``seconds`` (main thread only; elsewhere no limit).

    Best effort only: code that catches every exception (abc2xml's bare ``except:``) swallows
    it, and C code does not see it until it returns. Conversions of untrusted input in a batch
    run in worker processes that are killed at the deadline (:mod:`abcmidi_bgpt.core.isolation`);
    this is for what runs in-process (the bgpt engine's checks, comparisons).
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeLimitExceeded(seconds, label)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
