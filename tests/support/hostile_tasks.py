"""What a hostile input does to a converter, as functions worker processes run in
tests/test_hostile_batch.py. Standard library only, so that a fresh worker imports this quickly
(the import counts against a task's time limit)."""

from __future__ import annotations

import os
import signal
import time


def echo(value):
    return value


def spin_swallowing_everything(soft_limit_s: float) -> None:
    """A loop that catches every exception, as abc2xml's bare ``except:`` clauses do, under
    the in-process SIGALRM time limit: the limit's exception is swallowed and it never ends."""
    from abcmidi_bgpt.core.io import time_limit

    with time_limit(soft_limit_s, "spin"):
        while True:
            try:  # noqa: SIM105 -- written as abc2xml writes it
                time.sleep(0.01)
            except:  # noqa: E722 -- the point: nothing raised in here gets out
                pass


def allocate_gib(gib: float) -> int:
    """Ask for ``gib`` GiB of zeroed memory (calloc: no page is touched, so without a memory
    limit this succeeds without using the machine's memory)."""
    return len(bytes(int(gib * 2**30)))


def crash(_=None) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def die_at_start(conn, memory_bytes) -> None:
    """Stands in for a worker's main function: a worker that dies before it is ready, as one
    importing a broken module from the user's folder did."""
    os._exit(1)


def convert_or_spin(spec, job):
    """``batch.convert_job``, but a tune titled 'Spin' never ends, as abc2xml did on
    ``M:9**9**9/4``: stands in for the batch's conversion in a worker."""
    from abcmidi_bgpt.engines.batch import convert_job

    if job.tune is not None and job.tune.title == "Spin":
        spin_swallowing_everything(0.2)
    return convert_job(spec, job)


def render_or_spin(text, settings, label=""):
    """``corpus.pipeline.render_tune``, but a tune titled 'Spin' never ends."""
    from abcmidi_bgpt.corpus.pipeline import render_tune

    if "T:Spin" in text:
        spin_swallowing_everything(0.2)
    return render_tune(text, settings, label)
