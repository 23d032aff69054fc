"""BPB_abc / BPB_midi: which positions count, alignment of logits and bytes, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.checkpoint import save_model
from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.evaluate import score_sequences
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.bgpt.patches import (
    SPECIAL,
    SequenceSet,
    encode_direction,
    extension_patch,
    pad_batch,
    scored_spans,
)
from abcmidi_bgpt.cli.app import app
from tests.support.corpus_pairs import real_pairs

TINY = CONFIGS["tiny"]


def uniform_model() -> BGPT:
    """Logits are exactly 0 (the tied head is zero), so every position costs log2(257) bits."""
    model = BGPT(TINY).eval()
    with torch.no_grad():
        model.byte_decoder.wte.weight.zero_()
    return model


def test_scored_positions_are_the_file_bytes_and_one_end_of_file_position():
    abc, midi = real_pairs(1)[0]
    # A source that fills its last patch: its end-of-file position is the first id of the
    # target's extension patch; a target that does not: the first padding id.
    pair = encode_direction(abc[:32], midi[:37], "abc2mid", TINY.layout)
    source, target = scored_spans(pair, TINY.layout)
    assert (source.start, source.stop) == (16, 16 + 32 + 1)
    assert bytes(pair.ids[source.start : source.stop - 1].astype(np.uint8)) == abc[:32]
    assert pair.ids[source.stop - 1] == extension_patch("mid")[0] == ord("m")
    assert bytes(pair.ids[target.start : target.stop - 1].astype(np.uint8)) == midi[:37]
    assert pair.ids[target.stop - 1] == SPECIAL
    assert target.stop - 1 < pair.end_start  # padding inside the last patch, not the end patch


def test_a_uniform_model_costs_log2_257_bits_per_scored_position():
    pairs = list(real_pairs(5))
    sequences = SequenceSet.from_pairs(pairs, ["abc2mid", "mid2abc"], TINY.layout)
    scores = score_sequences(uniform_model(), sequences)
    abc_bytes = sum(len(a) for a, _ in pairs)
    midi_bytes = sum(len(m) for _, m in pairs)
    for direction in ("abc2mid", "mid2abc"):
        s = scores[direction]
        assert s.sequences == 5
        assert s.abc.bytes == abc_bytes and s.abc.positions == abc_bytes + 5
        assert s.midi.bytes == midi_bytes and s.midi.positions == midi_bytes + 5
        assert s.abc.bpb == pytest.approx(math.log2(257) * (abc_bytes + 5) / abc_bytes)
        assert s.midi.bpb == pytest.approx(math.log2(257) * (midi_bytes + 5) / midi_bytes)
        assert s.loss == pytest.approx(math.log(257))


def test_bpb_sums_the_cost_of_exactly_the_scored_bytes():
    torch.manual_seed(1)
    model = BGPT(TINY).eval()
    abc, midi = real_pairs(3)[2]
    pair = encode_direction(abc, midi, "mid2abc", TINY.layout)
    ids, n = pad_batch([pair.ids], TINY.layout)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(ids), torch.from_numpy(n))
    logp = F.log_softmax(logits.flatten(0, 1).double(), dim=-1)
    # Row t of the flattened logits predicts byte 16 + t.
    bits = -logp[torch.arange(len(logp)), torch.from_numpy(pair.ids[16:]).long()] / math.log(2)
    source, target = scored_spans(pair, TINY.layout)
    midi_bits = bits[source.start - 16 : source.stop - 16].sum().item()
    abc_bits = bits[target.start - 16 : target.stop - 16].sum().item()
    sequences = SequenceSet.from_pairs([(abc, midi)], ["mid2abc"], TINY.layout)
    s = score_sequences(model, sequences)["mid2abc"]
    assert s.midi.bpb == pytest.approx(midi_bits / len(midi), rel=1e-5)
    assert s.abc.bpb == pytest.approx(abc_bits / len(abc), rel=1e-5)
    assert s.loss == pytest.approx(bits.mean().item() * math.log(2), rel=1e-5)


def test_evaluate_command_prints_a_table_and_writes_json(tmp_path, tiny_corpus):  # noqa: F811
    save_model(uniform_model(), tmp_path / "model")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app,
        ["evaluate", str(tmp_path / "model"), "--corpus", str(tiny_corpus), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "BPB_abc" in result.output and "mid2abc" in result.output
    report = json.loads(out.read_text())
    assert report["split"] == "test" and report["pairs"] == 2
    test_pairs = load_pairs(tiny_corpus, "test")
    midi_bytes = sum(len(m) for _, m in test_pairs)
    for d in ("abc2mid", "mid2abc"):
        scores = report["directions"][d]
        assert scores["midi"]["bytes"] == midi_bytes
        assert scores["bpb_midi"] == pytest.approx(math.log2(257) * (midi_bytes + 2) / midi_bytes)


def test_evaluate_command_reports_a_missing_corpus(tmp_path):
    save_model(uniform_model(), tmp_path / "model")
    result = CliRunner().invoke(
        app, ["evaluate", str(tmp_path / "model"), "--corpus", str(tmp_path / "nowhere")]
    )
    assert result.exit_code == 1
    assert "not a built corpus" in result.output


def test_evaluate_command_takes_a_training_run_folder(tmp_path, tiny_corpus):  # noqa: F811
    run = tmp_path / "run"  # as train leaves it: best/ and last/
    save_model(uniform_model(), run / "best")
    save_model(BGPT(TINY), run / "last")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app, ["evaluate", str(run), "--corpus", str(tiny_corpus), "--direction", "abc2mid",
              "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())["directions"]["abc2mid"]
    midi_bytes = sum(len(m) for _, m in load_pairs(tiny_corpus, "test"))
    # The uniform model of best/, not the random one of last/.
    assert scores["bpb_midi"] == pytest.approx(math.log2(257) * (midi_bytes + 2) / midi_bytes)
