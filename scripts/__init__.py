"""Benchmarks, the fuzzer and the fixture-model maker, run from the repository root as modules:

    .venv/bin/python -m scripts.bench_symbolic --limit 300

so that they import the library, :mod:`scripts._common` and the tests' shared helpers
(``tests/support/``) without touching ``sys.path``. Scripts import nothing from each other but
``_common`` (and ``bench_symbolic`` its MIDI -> ABC half, ``bench_transcribe``); tests never
import scripts. ``requirements.py`` (standard library only, run by the Makefile before the
install) and ``scaling/`` run as files.
"""
