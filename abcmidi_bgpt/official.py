"""Import of the official bGPT checkpoints (github.com/sanderwood/bgpt, e.g.
``weights-conversion.pth``) into this package's model.

The official model is built from Hugging Face GPT-2 classes and saved with ``torch.save`` as
``{"model": state_dict, "epoch": ..., ...}``. Its state dict has 191 weights for the paper's
12 + 3 layers (older transformers versions add the ``attn.bias`` / ``attn.masked_bias``
buffers):

- ``patch_level_decoder.patch_embedding.{weight,bias}``: nn.Linear(16 * 257, C);
- ``patch_level_decoder.base.{wte,wpe,h.N.*,ln_f}``: a GPT2Model; its ``wte`` (vocabulary 1)
  is never used, since the patch embeddings go in as ``inputs_embeds``;
- ``byte_level_decoder.base.transformer.{wte,wpe,h.N.*,ln_f}`` and ``...base.lm_head.weight``:
  a GPT2LMHeadModel whose head is tied to ``wte``. Its ``wpe`` has 17 rows; the last one is
  never used by a prediction (the official loss drops the logit at position 16, and generation
  feeds at most 16 positions), so it is dropped.

GPT-2 stores its projections as Conv1D, ``(in, out)``: they are transposed to nn.Linear's
``(out, in)``. The number of heads is not stored; the official code uses hidden size / 64.
The file is read with ``torch.load(..., weights_only=True)``: nothing in it is unpickled as code.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .checkpoint import save_model
from .model import BGPT, BGPTConfig

PATCH = "patch_level_decoder."
BYTE = "byte_level_decoder.base."
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
BUFFERS = (".attn.bias", ".attn.masked_bias")  # not ".attn.c_attn.bias"
BLOCK_KEY = re.compile(r"h\.(\d+)\.")


def read_official(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an official checkpoint file (``{"model": ...}`` or a bare one)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a bGPT state dict")
    return state


def _layers(state: dict[str, torch.Tensor], prefix: str) -> int:
    found = {
        int(m.group(1))
        for k in state
        if k.startswith(prefix) and (m := BLOCK_KEY.match(k[len(prefix) :]))
    }
    return max(found) + 1 if found else 0


def official_config(state: dict[str, torch.Tensor]) -> BGPTConfig:
    """The model config the weights imply; the context length comes from the patch ``wpe``."""
    try:
        patch_in = state[PATCH + "patch_embedding.weight"].shape[1]
        max_patches, n_embd = state[PATCH + "base.wpe.weight"].shape
        vocab = state[BYTE + "transformer.wte.weight"].shape[0]
    except KeyError as missing:
        raise ValueError(f"not an official bGPT state dict: no {missing}") from None
    return BGPTConfig(
        patch_size=patch_in // vocab,
        max_patches=max_patches,
        n_embd=n_embd,
        n_head=n_embd // 64,
        n_patch_layer=_layers(state, PATCH + "base."),
        n_byte_layer=_layers(state, BYTE + "transformer."),
        vocab_size=vocab,
    )


def convert_official(state: dict[str, torch.Tensor]) -> tuple[BGPTConfig, dict[str, torch.Tensor]]:
    """The config and this package's state dict for an official state dict."""
    config = official_config(state)
    ours: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(BUFFERS):
            continue
        if key == PATCH + "patch_embedding.weight":
            ours["patch_decoder.patch_embedding.weight"] = value.t()  # Linear -> rows
        elif key == PATCH + "patch_embedding.bias":
            ours["patch_decoder.patch_embedding.bias"] = value
        elif key == PATCH + "base.wte.weight":
            continue  # vocabulary of 1, never used
        elif key.startswith(PATCH + "base."):
            ours["patch_decoder.transformer." + key[len(PATCH + "base.") :]] = value
        elif key == BYTE + "transformer.wte.weight":
            ours["byte_decoder.wte.weight"] = value
        elif key == BYTE + "transformer.wpe.weight":
            ours["byte_decoder.transformer.wpe.weight"] = value[: config.patch_size]
        elif key.startswith(BYTE + "transformer."):
            ours["byte_decoder.transformer." + key[len(BYTE + "transformer.") :]] = value
        elif key == BYTE + "lm_head.weight":
            if not torch.equal(value, state[BYTE + "transformer.wte.weight"]):
                raise ValueError("lm_head.weight is not tied to the byte embedding")
        else:
            raise ValueError(f"unexpected key in an official bGPT state dict: {key}")
    for key in list(ours):
        if key.endswith(CONV1D):
            ours[key] = ours[key].t()  # GPT-2 Conv1D (in, out) -> nn.Linear (out, in)
    ours = {k: v.contiguous() for k, v in ours.items()}
    return config, ours


def load_official(path: str | Path, dtype: torch.dtype = torch.float32) -> BGPT:
    """An official checkpoint as a :class:`BGPT` in eval mode."""
    config, state = convert_official(read_official(path))
    with torch.device("meta"):
        model = BGPT(config)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True, assign=True)
    return model.eval()


def import_official(
    path: str | Path, out: str | Path, dtype: torch.dtype | None = None
) -> tuple[Path, BGPT]:
    """Convert an official checkpoint to this package's format (safetensors + config.json)."""
    model = load_official(path)
    metadata = {"imported_from": Path(path).name, "source": "github.com/sanderwood/bgpt"}
    return save_model(model, out, dtype=dtype, metadata=metadata), model
