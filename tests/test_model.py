"""The bGPT model: patch embedding, shapes, causality, padding, configs, FLOPs, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from abcmidi_bgpt.bgpt.checkpoint import load_model, load_train_state, save_model, save_train_state
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.bgpt.patches import VOCAB, encode_direction, pad_batch
from tests.support.corpus_pairs import real_pairs
from tests.support.models import randomised

TINY = CONFIGS["tiny"]


def real_sequences(count: int, direction: str = "abc2mid") -> list[np.ndarray]:
    return [encode_direction(a, m, direction, TINY.layout).ids for a, m in real_pairs(count)]


def all_logits(model: BGPT, ids: np.ndarray) -> torch.Tensor:
    """Logits ``(T - 16, V)`` of one sequence: row t predicts ``ids[16 + t]``."""
    batch, n = pad_batch([ids], TINY.layout)
    logits, _ = model(torch.from_numpy(batch), torch.from_numpy(n))
    return logits.flatten(0, 1)


def test_patch_embedding_equals_the_one_hot_linear_map():
    model = randomised()
    emb = model.patch_decoder.patch_embedding
    ids = torch.from_numpy(np.stack(real_sequences(2)[0:1])).long()
    patches = ids.view(1, -1, 16)
    one_hot = F.one_hot(patches, VOCAB).float().flatten(-2)  # (1, P, 16 * 257)
    expected = one_hot @ emb.weight + emb.bias
    assert one_hot.shape[-1] == 16 * 257
    torch.testing.assert_close(emb(patches), expected, rtol=1e-5, atol=1e-5)


def test_forward_shapes_and_targets_are_the_real_patches_after_the_first():
    model = randomised()
    seqs = real_sequences(3)
    ids, n = pad_batch(seqs, TINY.layout)
    logits, targets = model(torch.from_numpy(ids), torch.from_numpy(n))
    expected = np.concatenate([s[16:] for s in seqs]).reshape(-1, 16)
    assert logits.shape == (len(expected), 16, VOCAB)
    assert np.array_equal(targets.numpy(), expected)


def test_changing_byte_k_never_changes_the_predictions_of_bytes_up_to_k():
    model = randomised()
    ids = real_sequences(1)[0]
    base = all_logits(model, ids)
    # The source's first byte, a byte inside a patch, a patch's last byte, the separator.
    target_start = encode_direction(*real_pairs(1)[0], "abc2mid", TINY.layout).target_start
    for k in (16, 16 * 3 + 7, 16 * 5 + 15, target_start):
        changed = ids.copy()
        changed[k] = (changed[k] + 1) % 256
        logits = all_logits(model, changed)
        before = k - 16 + 1  # rows predicting bytes 16 .. k
        torch.testing.assert_close(logits[:before], base[:before], rtol=0, atol=1e-6)
        assert not torch.allclose(logits[before:], base[before:], atol=1e-4)
        # The very next byte is predicted from byte k.
        assert not torch.allclose(logits[before], base[before], atol=1e-6)


def test_padding_after_the_end_patch_changes_nothing():
    model = randomised()
    short, long_ = real_sequences(2)[1], real_sequences(2)[0]
    if len(short) > len(long_):
        short, long_ = long_, short
    alone = all_logits(model, short)
    ids, n = pad_batch([long_, short], TINY.layout, multiple=8)
    logits, targets = model(torch.from_numpy(ids), torch.from_numpy(n))
    rows = (len(long_) - 16) // 16
    assert targets.shape[0] == rows + (len(short) - 16) // 16
    torch.testing.assert_close(logits[rows:].flatten(0, 1), alone, rtol=1e-4, atol=1e-5)


def test_keep_runs_the_byte_decoder_on_the_chosen_patches_only():
    model = randomised()
    ids, n = pad_batch(real_sequences(2), TINY.layout)
    ids, n = torch.from_numpy(ids), torch.from_numpy(n)
    full, targets = model(ids, n)
    keep = torch.tensor([0, 5, 17, len(targets) - 1])
    part, part_targets = model(ids, n, keep)
    assert torch.equal(part_targets, targets[keep])
    torch.testing.assert_close(part, full[keep], rtol=1e-5, atol=1e-5)


def test_named_configs_have_the_promised_sizes():
    sizes = {}
    for name, config in CONFIGS.items():
        with torch.device("meta"):
            sizes[name] = BGPT(config).num_params()
    assert 109e6 < sizes["paper"] < 111e6  # the official count is in test_official.py
    assert sizes["small"] * 2 < 60e6  # bf16 weights under 60 MB
    assert sizes["tiny"] < 2e6
    assert CONFIGS["paper"].layout.context_bytes == 8192


def test_flops_formula_matches_a_flop_counter_on_a_real_batch():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = randomised().train()
    ids, n = pad_batch(real_sequences(3), TINY.layout)
    ids, n = torch.from_numpy(ids), torch.from_numpy(n)
    # The counter sees attention only as the math kernel's matmuls (not the fused CPU kernel).
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        logits, targets = model(ids, n)
        F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
    P = ids.shape[1] // 16
    expected = model.flops_per_batch(ids.shape[0] * P, P, targets.shape[0])
    assert counter.get_total_flops() == pytest.approx(expected, rel=0.002)


def test_saved_model_reloads_to_the_same_logits(tmp_path):
    model = randomised()
    ids, n = pad_batch(real_sequences(2), TINY.layout)
    ids, n = torch.from_numpy(ids), torch.from_numpy(n)
    save_model(model, tmp_path / "m", metadata={"note": "test"})
    again = load_model(tmp_path / "m")
    assert again.config == model.config
    torch.testing.assert_close(again(ids, n)[0], model(ids, n)[0], rtol=0, atol=0)
    half = load_model(save_model(model, tmp_path / "bf16", dtype=torch.bfloat16))
    assert next(half.parameters()).dtype == torch.bfloat16
    assert (tmp_path / "bf16" / "model.safetensors").stat().st_size < 0.55 * (
        tmp_path / "m" / "model.safetensors"
    ).stat().st_size


def test_training_state_round_trips_through_safetensors(tmp_path):
    model = randomised().train()
    opt = model.configure_optimizer(1e-3, 0.1, (0.9, 0.95), "cpu")
    ids, n = pad_batch(real_sequences(2), TINY.layout)
    for _ in range(2):
        logits, targets = model(torch.from_numpy(ids), torch.from_numpy(n))
        F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
        opt.step()
        opt.zero_grad()
    save_train_state(tmp_path, model, opt, {"step": 2, "epoch": 0})
    fresh = model.configure_optimizer(5.0, 0.0, (0.5, 0.5), "cpu")
    assert load_train_state(tmp_path, model, fresh) == {"step": 2, "epoch": 0}
    saved, loaded = opt.state_dict(), fresh.state_dict()
    assert saved["param_groups"] == loaded["param_groups"]
    for i, slots in saved["state"].items():
        for slot, value in slots.items():
            assert torch.equal(loaded["state"][i][slot], value)


def test_bf16_autocast_runs_the_blocks_in_bf16_and_gives_fp32_logits():
    # The GPU path (bf16 autocast) on the CPU: the head stays fp32 so tiny costs survive.
    model = randomised()
    ids, n = pad_batch(real_sequences(2), TINY.layout)
    ids, n = torch.from_numpy(ids), torch.from_numpy(n)
    with torch.no_grad():
        reference = model(ids, n)[0].softmax(-1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(ids, n)[0]
    assert logits.dtype == torch.float32
    difference = (logits.softmax(-1) - reference).abs().max().item()
    assert 0 < difference < 0.05  # bf16 really ran, and stayed close
