"""Import of official bGPT checkpoints, checked against the official architecture rebuilt from
Hugging Face GPT-2 classes (as github.com/sanderwood/bgpt builds it) with random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers  # a dev dependency: the official architecture is built from its GPT-2
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.checkpoint import ModelFileError, load_model
from abcmidi_bgpt.bgpt.dataset import load_pairs
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.bgpt.official import convert_official, read_official
from abcmidi_bgpt.bgpt.patches import SPECIAL, VOCAB, PatchLayout, encode_direction, pad_batch
from abcmidi_bgpt.cli.app import app

PATCH_SIZE = 16


class OfficialBGPT(torch.nn.Module):
    """The official model's modules and key names: patch_level_decoder.{patch_embedding, base}
    (a GPT2Model) and byte_level_decoder.base (a GPT2LMHeadModel)."""

    def __init__(self, n_embd: int, patch_layers: int, byte_layers: int, patch_length: int):
        super().__init__()
        GPT2Config = transformers.GPT2Config
        patch_config = GPT2Config(
            num_hidden_layers=patch_layers,
            max_position_embeddings=patch_length,
            hidden_size=n_embd,
            n_head=n_embd // 64,
            vocab_size=1,
        )
        byte_config = GPT2Config(
            num_hidden_layers=byte_layers,
            max_position_embeddings=PATCH_SIZE + 1,
            hidden_size=n_embd,
            n_head=n_embd // 64,
            vocab_size=VOCAB,
        )
        self.patch_level_decoder = torch.nn.Module()
        self.patch_level_decoder.patch_embedding = torch.nn.Linear(PATCH_SIZE * VOCAB, n_embd)
        self.patch_level_decoder.base = transformers.GPT2Model(patch_config)
        self.byte_level_decoder = torch.nn.Module()
        self.byte_level_decoder.base = transformers.GPT2LMHeadModel(byte_config)

    def logits(self, ids: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The official forward pass (utils.py, bGPTLMHeadModel.forward) up to the byte
        logits: ``(N, 16, V)`` for the patches the official loss scores."""
        patches = ids.reshape(len(ids), -1, PATCH_SIZE)
        one_hot = F.one_hot(patches, num_classes=VOCAB).float()
        embedded = self.patch_level_decoder.patch_embedding(
            one_hot.reshape(len(patches), -1, PATCH_SIZE * VOCAB)
        )
        encoded = self.patch_level_decoder.base(
            inputs_embeds=embedded, attention_mask=masks
        ).last_hidden_state
        left_shift_masks = masks * (masks.flip(1).cumsum(1).flip(1) > 1)
        masks = masks.clone()
        masks[:, 0] = 0
        encoded = encoded[left_shift_masks == 1]
        targets = patches[masks == 1]
        targets = torch.cat((torch.full_like(targets[:, :1], SPECIAL), targets), dim=1)
        base = self.byte_level_decoder.base
        embeds = F.embedding(targets, base.transformer.wte.weight)
        embeds = torch.cat((encoded.unsqueeze(1), embeds[:, 1:, :]), dim=1)  # 17 positions
        # GPT2LMHeadModel's loss shifts: logit i predicts label i + 1, so logits 0..15 score
        # the 16 bytes and the 17th is unused.
        return base(inputs_embeds=embeds).logits[:, :PATCH_SIZE]


def random_official(n_embd=128, patch_layers=2, byte_layers=2, patch_length=128, seed=0):
    torch.manual_seed(seed)
    model = OfficialBGPT(n_embd, patch_layers, byte_layers, patch_length)
    with torch.no_grad():
        for p in model.parameters():  # LayerNorms and biases too; the head stays tied
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def official_state_dict(model: OfficialBGPT, old_buffers: bool = True) -> dict:
    """The state dict as the official training script saves it; older transformers versions
    also saved the attention buffers ``attn.bias`` and ``attn.masked_bias``."""
    state = dict(model.state_dict())
    if old_buffers:
        for key in list(state):
            if key.endswith("attn.c_attn.weight"):
                prefix = key[: -len("c_attn.weight")]
                n = 17 if key.startswith("byte") else 128
                state[prefix + "bias"] = torch.tril(torch.ones(n, n, dtype=torch.bool))[None, None]
                state[prefix + "masked_bias"] = torch.tensor(-1e4)
    return state


def official_file(tmp_path, model: OfficialBGPT):
    path = tmp_path / "weights-conversion.pth"
    torch.save(
        {"model": official_state_dict(model), "epoch": 3, "best_epoch": 3, "min_eval_loss": 0.1},
        path,
    )
    return path


def batch_of(pairs, layout: PatchLayout, direction="abc2mid"):
    seqs = [encode_direction(a, m, direction, layout).ids for a, m in pairs]
    ids, n = pad_batch(seqs, layout)
    masks = (np.arange(ids.shape[1] // PATCH_SIZE)[None, :] < n[:, None]).astype(np.int64)
    return torch.from_numpy(ids), torch.from_numpy(n), torch.from_numpy(masks)


def test_the_official_state_dict_has_191_weights_and_the_paper_size():
    with torch.device("meta"):
        official = OfficialBGPT(768, 12, 3, 512)
        ours = BGPT(CONFIGS["paper"])
    keys = official_state_dict(official, old_buffers=False)
    assert len(keys) == 191
    assert (
        sum(k.endswith((".attn.bias", ".attn.masked_bias")) for k in official_state_dict(official))
        == 30
    )
    # Parameters (the tied head once): ours lacks the unused patch-level wte row and byte-level
    # position 16, 768 weights each.
    assert ours.num_params() == sum(p.numel() for p in official.parameters()) - 2 * 768


def test_imported_weights_give_the_official_logits_on_real_records(tmp_path, tiny_corpus):  # noqa: F811
    official = random_official()
    model = load_model(_import(tmp_path, official_file(tmp_path, official), tmp_path / "imported"))
    assert model.config.max_patches == 128  # read from the patch-level wpe
    assert model.config.n_head == 2 and model.config.n_patch_layer == 2
    pairs = load_pairs(tiny_corpus, "test") + load_pairs(tiny_corpus, "validation")
    for direction in ("abc2mid", "mid2abc"):
        ids, n, masks = batch_of(pairs, model.config.layout, direction)
        with torch.no_grad():
            expected = official.logits(ids, masks)
            ours, _ = model(ids, n)
        assert ours.shape == expected.shape
        torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


def _import(tmp_path, weights, out) -> str:
    result = CliRunner().invoke(app, ["import-official", str(weights), str(out)])
    assert result.exit_code == 0, result.output
    assert "M parameters" in " ".join(result.output.split())
    return str(out)


def test_conv1d_weights_are_transposed_and_unused_weights_dropped():
    official = random_official()
    config, state = convert_official(official_state_dict(official))
    source = official.patch_level_decoder.base.h[1].mlp.c_fc.weight  # Conv1D: (in, out)
    assert torch.equal(state["patch_decoder.transformer.h.1.mlp.c_fc.weight"], source.t())
    assert torch.equal(
        state["patch_decoder.patch_embedding.weight"],
        official.patch_level_decoder.patch_embedding.weight.t(),
    )
    assert state["byte_decoder.transformer.wpe.weight"].shape == (16, 128)
    assert not any(k.endswith((".attn.bias", "masked_bias", "lm_head.weight")) for k in state)
    assert set(state) == set(BGPT(config).state_dict())


def test_files_that_are_not_plain_tensors_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"x": torch.zeros(1)}, "hook": Exception("not a tensor")}, path)
    with pytest.raises(ModelFileError, match="objects other than tensors"):
        read_official(path)
    result = CliRunner().invoke(app, ["import-official", str(path), str(tmp_path / "out")])
    assert result.exit_code != 0
    assert not (tmp_path / "out").exists()
