"""Models for the generation, engine and comparison tests, made once per test session.

- :func:`trained_model` is a small bGPT trained on three real folk tunes (music21's Essen
  collection) in both directions, in the form the bgpt engine feeds it: the ABC normalised by
  :func:`abcmidi_bgpt.formats.abc.normalise.normalise_abc`, the MIDI rendered from it with
  chords played. It learnt these pairs by heart, so its greedy outputs for them are the
  reference files, and other inputs get imperfect outputs. It is a fixed file (``tests/fixtures/bgpt-essen``, made
  by ``scripts/make_test_model.py``): a training run's floats differ between CPUs, the bytes a
  fixed model writes do not.
- :func:`untrained_model` is the same model freshly initialised: its outputs are noise.
- :func:`randomised` is a tiny model whose every weight is random and non-trivial.

Kept in module-level caches rather than pytest fixtures so that ``scripts/make_test_model.py``
uses the same tunes and pairs as the tests; the files live in a temporary folder removed at
exit. Torch runs on one thread in every test (the ``one_thread`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from abcmidi_bgpt.bgpt.checkpoint import load_model, read_config, save_model
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS, BGPTConfig
from abcmidi_bgpt.bgpt.patches import fits
from abcmidi_bgpt.bgpt.train import TrainConfig, train
from abcmidi_bgpt.formats.abc.normalise import normalise_abc
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.corpus_pairs import FOLK, write_corpus
from tests.support.torch_threads import single_thread

TINY = CONFIGS["tiny"]
TRAINED_TUNES = 3
HELD_OUT_TUNES = 3


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


# The trained model is a file in the repository, not a training run of each test session: the
# tests assert bytes it writes, and a run's floats (hence its weights) differ between CPUs.
TRAINED_MODEL = Path(__file__).parent.parent / "fixtures" / "bgpt-essen"
# Smaller than ``tiny`` (same context, half the width) so that the file stays small.
FIXTURE_CONFIG = replace(TINY, n_embd=32, n_head=2)


def pairs_digest(train_pairs) -> str:
    """What the model was trained on, as a SHA-256 of the pairs' bytes."""
    digest = hashlib.sha256()
    for abc, midi in train_pairs:
        digest.update(len(abc).to_bytes(8, "little") + abc + len(midi).to_bytes(8, "little") + midi)
    return digest.hexdigest()


def train_fixture_model(out: Path, steps: int, seed: int = 0) -> Path:
    """Train the fixture model on the first three pairs, both directions; write it to ``out``
    (config.json with the digest of its training pairs, model.safetensors). Run by
    ``scripts/make_test_model.py``; its result depends on the CPU's floats, hence the check of
    every output there before the file is kept."""
    train_pairs = list(pairs()[:TRAINED_TUNES])
    work = Path(tempfile.mkdtemp(prefix="bgpt-fixture-"))
    try:
        corpus = write_corpus(
            work / "corpus",
            {"train": train_pairs, "validation": train_pairs[:1], "test": list(pairs())},
        )
        torch.manual_seed(seed)
        init = save_model(BGPT(FIXTURE_CONFIG), work / "init")
        config = TrainConfig(
            corpus=str(corpus),
            out=str(work / "run"),
            init=str(init),
            direction="both",
            batch_patches=512,
            max_steps=steps,
            lr=5e-3,
            min_lr=5e-4,
            warmup=0.05,
            weight_decay=0.0,
            eval_every=10_000,
            progress=False,
            seed=seed,
        )
        with single_thread():
            train(config)
        model = load_model(work / "run" / "last")
        metadata = {
            "trained_on": "the first three pairs of tests/support/models.py, both directions",
            "pairs_sha256": pairs_digest(train_pairs),
            "steps": steps,
            "seed": seed,
            "made_by": "scripts/make_test_model.py",
        }
        return save_model(model, out, metadata=metadata)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@functools.cache
def trained_model() -> Path:
    """The folder of the fixture model, after checking that it was trained on the pairs that
    today's converter makes (if the converter's bytes changed, the model must be remade)."""
    _, metadata = read_config(TRAINED_MODEL)
    if metadata.get("pairs_sha256") != pairs_digest(pairs()[:TRAINED_TUNES]):
        raise RuntimeError(
            f"{TRAINED_MODEL} was trained on other pairs than the converter makes today: "
            "run `.venv/bin/python -m scripts.make_test_model` and commit the new files"
        )
    return TRAINED_MODEL


@functools.cache
def untrained_model() -> Path:
    torch.manual_seed(0)
    return save_model(BGPT(FIXTURE_CONFIG), session_dir() / "untrained")


@functools.cache
def corpus_dir() -> Path:
    """A corpus folder of the six pairs: the three the model learnt in its train split, all six
    in its test split."""
    train_pairs = list(pairs()[:TRAINED_TUNES])
    return write_corpus(
        session_dir() / "corpus",
        {"train": train_pairs, "validation": train_pairs[:1], "test": list(pairs())},
    )


def randomised(config: BGPTConfig = TINY, seed: int = 0) -> BGPT:
    """A model whose every weight, LayerNorms and biases included, is random and non-trivial."""
    torch.manual_seed(seed)
    model = BGPT(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()
