"""The pytest fixtures the test modules share; their non-fixture helpers are in tests/support/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import EXAMPLES
from tests.support.torch_threads import single_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Every test runs torch on one thread (see :func:`single_thread`: on a shared 2-core
    machine a second thread makes the tiny models' steps and training several times slower).
    Torch is not imported for it: a test of a run that has not imported torch pays nothing, and
    the modules that run models import torch (or tests.support.models), so every test of theirs
    has it."""
    if "torch" not in sys.modules:
        yield
        return
    with single_thread():
        yield


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    """An empty folder for the TUI to open on (its screens other than the file tree's)."""
    folder = tmp_path / "tunes"
    folder.mkdir()
    return folder


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A corpus folder of ten real pairs: six train, two validation, two test."""
    from tests.support.corpus_pairs import real_pairs, write_corpus  # music21: only when used

    pairs = list(real_pairs(10))
    return write_corpus(
        tmp_path / "corpus",
        {"train": pairs[:6], "validation": pairs[6:8], "test": pairs[8:10]},
    )
