"""Torch on one thread, for the tests (the ``one_thread`` fixture of ``tests/conftest.py``)
and for training the fixture model (``tests/support/models.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Torch on one thread. The tiny model's steps are small: they gain nothing from threads,
    and on a shared 2-core machine a second thread waiting for a busy core makes every small op
    (and training) several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
