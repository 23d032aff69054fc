"""The shared real ABC/MIDI pairs and the ``tiny_corpus`` fixture are what the model, training,
evaluation and official-import tests take them for (see ``tests/support/corpus_pairs.py``)."""

from __future__ import annotations

from tests.support.corpus_pairs import real_pairs


def test_real_pairs_are_real_abc_and_midi():
    pairs = real_pairs(4)
    assert len(set(pairs)) == 4
    for abc, midi in pairs:
        assert b"K:" in abc and abc.startswith(b"X:")
        assert midi.startswith(b"MThd")


def test_tiny_corpus_reads_back_through_records(tiny_corpus):
    from abcmidi_bgpt.bgpt.dataset import load_pairs

    assert load_pairs(tiny_corpus, "train") == list(real_pairs(10)[:6])
    assert load_pairs(tiny_corpus, "test", limit=1) == [real_pairs(10)[8]]
