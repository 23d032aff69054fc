"""What the tests share that is not a pytest fixture (the fixtures are in ``tests/conftest.py``).

- :mod:`.paths` -- ``REPO``, ``EXAMPLES``, :func:`music21_corpus`: where the repository's
  examples and music21's tune collections are.
- :mod:`.rendering` -- :func:`rendered`, :func:`note_triples`: ABC rendered to MIDI bytes and
  read back, as a user gets it.
- :mod:`.corpus_pairs` -- ``FOLK``, :func:`real_pairs`, :func:`write_corpus`: real ABC/MIDI
  pairs made as the corpus builder makes them, and corpus folders of them (the ``tiny_corpus``
  fixture is built from these).
- :mod:`.models` -- the models the generation, engine and comparison tests run (the fixed
  fixture model, an untrained one, a randomised one) and the Essen tunes and pairs they are
  checked on; ``scripts/make_test_model.py`` makes the fixture model with it.
- :mod:`.torch_threads` -- :func:`single_thread`: torch on one thread (the ``one_thread``
  fixture applies it to every test).
- :mod:`.limits` -- :class:`TooSlow`, :func:`time_limit`, :func:`memory_limit`: limits on a
  test itself, so that a hostile input fails it instead of hanging or exhausting the machine
  (also used by ``scripts/fuzz.py``).
- :mod:`.hostile_tasks` -- functions that misbehave (spin, crash, allocate, die), which worker
  processes run by name in the batch isolation tests. Standard library only, and this file
  imports nothing, so that a fresh worker imports them quickly.
- :mod:`.humanise` -- seeded "real-world" performed MIDI of a tune, and :func:`strip_meta`: for
  the transcription tests and ``scripts/bench_transcribe.py``.

Nothing here imports a test module or a script; scripts may import from here (they run from
the repository root as ``python -m scripts.NAME``).
"""
