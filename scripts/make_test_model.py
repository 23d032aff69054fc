"""Make the model the generation, engine and comparison tests run: tests/fixtures/bgpt-essen.

    .venv/bin/python -m scripts.make_test_model [--steps 400] [--seed 0]

Trains the fixture model of ``tests/support/models.py`` on its three Essen tunes (both
directions), then checks what the tests rely on before keeping the files: greedy decoding gives
every learnt target byte for byte, in both directions, and the held-out tunes do not come out
exact; and the same holds with every weight perturbed by a relative 1e-4, so that another
CPU's rounding cannot flip a byte. Re-run it when the converter's output for those tunes changes (the tests say so).
A training run's floats differ between CPUs, so two machines make different files; any file
this script keeps passes the tests on every machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from copy import deepcopy as copy_module
from pathlib import Path

import torch

from abcmidi_bgpt.bgpt.checkpoint import load_model
from abcmidi_bgpt.bgpt.generate import conversion_prompt, generate
from abcmidi_bgpt.bgpt.model import BGPT
from abcmidi_bgpt.core.direction import Direction
from tests.support.models import TRAINED_MODEL, TRAINED_TUNES, pairs, train_fixture_model
from tests.support.torch_threads import single_thread


def wrong_outputs(model: BGPT) -> list[str]:
    """What the tests would find wrong with this model: learnt tunes not exact, held-out tunes
    exact (then they do not tell learnt from unseen)."""
    problems = []
    for direction in Direction:
        source, target = direction.source, direction.target
        files = [{"abc": abc, "mid": midi} for abc, midi in pairs()]
        prompts = [conversion_prompt(f[source], source, target, model.config.layout) for f in files]
        with single_thread():
            outputs = generate(model, prompts, batch_size=len(prompts))
        for i, (out, f) in enumerate(zip(outputs, files, strict=True)):
            exact = out.data == f[target] and not out.truncated
            if i < TRAINED_TUNES and not exact:
                problems.append(f"{direction}: learnt tune {i} not reproduced")
            if i >= TRAINED_TUNES and exact:
                problems.append(f"{direction}: held-out tune {i} reproduced")
    return problems


def perturbed(model: BGPT, scale: float, seed: int) -> BGPT:
    """A copy of ``model`` with every weight off by a relative ``scale``: far more than two
    CPUs' roundings differ by, so a model whose outputs survive it is safe on either."""
    copy = copy_module(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in copy.parameters():
            p.mul_(1 + scale * torch.randn(p.shape, generator=generator))
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=TRAINED_MODEL)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bgpt-fixture-out-")) / "model"
    try:
        train_fixture_model(work, args.steps, args.seed)
        model = load_model(work)
        problems = wrong_outputs(model)
        for seed in range(3):
            problems += [f"perturbed: {p}" for p in wrong_outputs(perturbed(model, 1e-4, seed))]
        if problems:
            print("not kept: " + "; ".join(problems), file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(work / name, args.out / name)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"{args.out}: {size / 1024:.0f} KB, every learnt tune exact in both directions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
