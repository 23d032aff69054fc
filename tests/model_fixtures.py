"""Models for the generation, engine and comparison tests, made once per test session.

- :func:`trained_model` is a ``tiny`` bGPT trained on three real folk tunes (music21's Essen
  collection) in both directions, in the form the bgpt engine feeds it: the ABC normalised by
  :func:`abcmidi_bgpt.neural.normalise_abc`, the MIDI rendered from it with chords played. It
  learns these pairs by heart (about 15 s on one core), so its greedy outputs for them are the
  reference files, and other inputs get imperfect outputs.
- :func:`untrained_model` is the same model freshly initialised: its outputs are noise.

Kept in module-level caches rather than pytest fixtures so that any test module can share them
without a conftest; the files live in a temporary folder removed at exit. :func:`one_thread` is
an autouse fixture for the modules that run these models: they import it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from abcmidi_bgpt.abc_text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.checkpoint import save_model
from abcmidi_bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.neural import normalise_abc
from abcmidi_bgpt.patches import fits
from abcmidi_bgpt.symbolic import abc_to_midi
from abcmidi_bgpt.train import TrainConfig, train
from tests.test_train_corpus import FOLK, write_corpus

TINY = CONFIGS["tiny"]
TRAINED_TUNES = 3
HELD_OUT_TUNES = 3


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Torch on one thread. The tiny model's steps are small: they gain nothing from threads,
    and on a shared 2-core machine a second thread waiting for a busy core makes every small op
    (and training) several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_thread():
        yield


@functools.cache
def session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="abcmidi-bgpt-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def tunes_file() -> Path:
    """An ABC file of six short Essen tunes: the three the model learns first, then three it
    never saw. Tunes are read back from this file, so the engine sees exactly these texts."""
    chosen = []
    for path in sorted(FOLK.glob("*.abc")):
        for tune in split_tunes(read_abc_file(path), str(path)):
            try:
                abc, midi = engine_pair(tune)
            except Exception:  # tunes that do not convert are not in a corpus either
                continue
            if fits(len(abc), len(midi), TINY.layout):
                chosen.append((len(abc) + len(midi), tune.full_text))
            if len(chosen) == 10:
                break
        if len(chosen) == 10:
            break
    chosen.sort()  # the shortest six of the first ten that fit
    texts = [text for _, text in chosen[: TRAINED_TUNES + HELD_OUT_TUNES]]
    out = session_dir() / "essen.abc"
    out.write_text("\n\n".join(t.strip() + "\n" for t in texts))
    return out


def engine_pair(tune: AbcTune) -> tuple[bytes, bytes]:
    """(ABC, MIDI) of a tune as the engine's training pairs are made."""
    abc = normalise_abc(tune)
    return abc.encode("utf-8"), abc_to_midi(abc, chords=True).midi


@functools.cache
def tunes() -> tuple[AbcTune, ...]:
    """The tunes of :func:`tunes_file`, as a batch reads them."""
    return tuple(split_tunes(read_abc_file(tunes_file()), str(tunes_file())))


@functools.cache
def pairs() -> tuple[tuple[bytes, bytes], ...]:
    """(ABC, MIDI) of every tune of :func:`tunes`; the first three are the training pairs."""
    return tuple(engine_pair(t) for t in tunes())


@functools.cache
def trained_model() -> Path:
    """The folder of the tiny model trained on the first three pairs, both directions."""
    train_pairs = list(pairs()[:TRAINED_TUNES])
    corpus = write_corpus(
        session_dir() / "corpus",
        {"train": train_pairs, "validation": train_pairs[:1], "test": list(pairs())},
    )
    config = TrainConfig(
        corpus=str(corpus),
        out=str(session_dir() / "run"),
        model="tiny",
        direction="both",
        batch_patches=512,
        max_steps=150,
        lr=5e-3,
        min_lr=5e-4,
        warmup=0.05,
        weight_decay=0.0,
        eval_every=10_000,
        progress=False,
        seed=0,
    )
    with single_thread():  # about 15 s
        train(config)
    return session_dir() / "run" / "last"


@functools.cache
def untrained_model() -> Path:
    torch.manual_seed(0)
    return save_model(BGPT(TINY), session_dir() / "untrained")


def corpus_dir() -> Path:
    """The corpus folder the model was trained from (its test split: all six pairs)."""
    trained_model()
    return session_dir() / "corpus"
