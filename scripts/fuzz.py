"""Long fuzz runs of what reads untrusted input: the ABC reader, the MIDI reader, the model
folder loader. The test suite runs the same properties for a bounded few hundred examples;
this runs them for as long as you give it, with fresh random seeds.

    .venv/bin/python -m scripts.fuzz --minutes 30 [--target abc midi model] [--seed 1]

Each input must convert (or load) or be refused with a one-line ConversionError, in bounded
time and memory, and no ABC text may run code (a canary file in a scratch folder). Prints, per
target, how many inputs were tried and every failure hypothesis found (shrunk), and exits 1
if there was one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

# The properties and their strategies live with the tests, which run them on every `make test`.
from tests import test_hostile_abc as abc_cases
from tests import test_hostile_midi as midi_cases
from tests import test_hostile_model as model_cases
from tests.support.limits import memory_limit

ROUND = 200  # examples per hypothesis run; a new seed each round


def abc_target(scratch: Path):
    """(strategies, check) for ABC text: real tunes with hostile fields and symbols inserted."""
    canary = scratch / abc_cases.CANARY
    strategies = {
        "seed": st.sampled_from(abc_cases.SEEDS),
        "edits": st.lists(
            st.tuples(st.integers(0, 4000), abc_cases.INSERTS), min_size=1, max_size=6
        ),
    }

    def check(seed, edits):
        abc_cases.fuzz_one_abc(abc_cases._mutated(seed, edits), canary)

    return strategies, check


def midi_target(scratch: Path):
    """(strategies, check) for MIDI bytes: real files flipped, cut and stuffed."""
    strategies = {
        "seed": st.sampled_from(midi_cases.SEEDS),
        "mutations": st.lists(midi_cases.MUTATION, min_size=1, max_size=8),
    }

    def check(seed, mutations):
        with memory_limit():
            midi_cases.fuzz_one_midi(midi_cases.mutated(seed, mutations))

    return strategies, check


def model_target(scratch: Path):
    """(strategies, check) for model folders: config.json and safetensors bytes damaged."""
    folder = scratch / "model"
    strategies = {
        "edits": st.lists(st.tuples(model_cases.FIELDS, model_cases.JSON_VALUES), max_size=3),
        "config_cut": st.none() | st.integers(0, 400),
        "flips": st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=4),
        "weights_cut": st.none() | st.integers(0, 20_000),
    }

    def check(edits, config_cut, flips, weights_cut):
        with memory_limit():
            model_cases.fuzz_one_model_folder(
                model_cases.config_bytes(edits, config_cut),
                model_cases.weights_bytes(flips, weights_cut),
                folder,
            )

    return strategies, check


TARGETS = {"abc": abc_target, "midi": midi_target, "model": model_target}


def fuzz(target: str, seconds: float, first_seed: int) -> tuple[int, list[str]]:
    """Run one target's property round after round until ``seconds`` have passed: (inputs
    tried, failures found)."""
    tried, failures = 0, []
    end = time.monotonic() + seconds
    round_seed = first_seed
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)  # a hostile meter that ran would write its canary here
        try:
            strategies, check = TARGETS[target](Path(scratch))

            def counted(**kwargs):
                nonlocal tried
                tried += 1
                check(**kwargs)

            run = settings(
                max_examples=ROUND,
                deadline=None,  # the checks keep their own time limits
                database=None,
                suppress_health_check=list(HealthCheck),
            )(given(**strategies)(counted))
            while time.monotonic() < end:
                try:
                    hypothesis_seed(round_seed)(run)()
                except Exception as err:  # hypothesis has shrunk it and printed the input
                    failures.append(f"seed {round_seed}: {why(err)}")
                round_seed += 1
        finally:
            os.chdir(cwd)
    return tried, failures


def why(err: BaseException) -> str:
    """What went wrong, in one line: for a failure hypothesis could not repeat (FlakyFailure),
    what each try raised, the input last."""
    tries = getattr(err, "exceptions", ())
    said = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}" for e in tries]
    return f"{type(err).__name__} ({'; '.join(said)}): {str(err).splitlines()[0]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per target")
    parser.add_argument("--target", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    found = False
    for target in args.target:
        start = time.monotonic()
        tried, failures = fuzz(target, args.minutes * 60, args.seed)
        minutes = (time.monotonic() - start) / 60
        print(f"{target}: {tried} inputs in {minutes:.1f} min, {len(failures)} failure(s)")
        for failure in failures:
            print(f"  {failure}")
        found = found or bool(failures)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
