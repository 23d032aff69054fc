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
The file is read with ``torch.load(..., weights_only=True, mmap=True)``: nothing in it is
unpickled as code, and its tensors stay in the file until used. A checkpoint is data from
anyone: the config its shapes imply is checked (``checkpoint.check_config``), and so is every
tensor's shape against that config, before anything is copied or made contiguous (a 2 KB file
can hold a 10^6 x 10^6 tensor expanded from one float). A file that is not one raises
:class:`~abcmidi_bgpt.bgpt.checkpoint.ModelFileError`, one line.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

from abcmidi_bgpt.bgpt.checkpoint import ModelFileError, check_config, expected_shapes, save_model
from abcmidi_bgpt.bgpt.model import BGPT, BGPTConfig
from abcmidi_bgpt.bgpt.patches import VOCAB
from abcmidi_bgpt.core.errors import first_line

PATCH = "patch_level_decoder."
BYTE = "byte_level_decoder.base."
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
BUFFERS = (".attn.bias", ".attn.masked_bias")  # not ".attn.c_attn.bias"
BLOCK_KEY = re.compile(r"h\.(\d{1,9})\.")  # (a longer number is no block of ours either)
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
HEAD_DIM = 64  # the official code's hidden size per attention head
STATE_DICT = "<state dict>"  # how errors name a state dict that came from no file


def read_official(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an official checkpoint file (``{"model": ...}`` or a bare one)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            magic = f.read(len(ZIP_MAGIC))
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except OSError as err:  # a folder, no permission
        raise ModelFileError(path, f"cannot be read: {err.strerror or err}") from None
    if magic != ZIP_MAGIC:
        raise ModelFileError(path, "not a PyTorch checkpoint (torch.save writes a zip archive)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise ModelFileError(
            path, "holds objects other than tensors (torch.load with weights_only refused it)"
        ) from None
    except MemoryError:
        raise
    except Exception as err:  # the zip reader and unpickler fail in many ways on other bytes
        raise ModelFileError(path, f"not a readable checkpoint: {first_line(err)}") from None
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelFileError(path, "not a bGPT state dict (tensors by name)")
    return state


def _layers(state: dict[str, torch.Tensor], prefix: str) -> int:
    found = {
        int(m.group(1))
        for k in state
        if k.startswith(prefix) and (m := BLOCK_KEY.match(k[len(prefix) :]))
    }
    return max(found) + 1 if found else 0


def _shape(state: dict[str, torch.Tensor], key: str, rank: int, path) -> tuple[int, ...]:
    if key not in state:
        raise ModelFileError(path, f"not an official bGPT state dict: no {key}")
    if state[key].dim() != rank:
        raise ModelFileError(path, f"{key} has {state[key].dim()} dimensions, not {rank}")
    return tuple(state[key].shape)


def official_config(state: dict[str, torch.Tensor], path: str | Path = STATE_DICT) -> BGPTConfig:
    """The model config the weights imply, checked; the context length comes from the patch
    ``wpe``. Only shapes are read."""
    _, patch_in = _shape(state, PATCH + "patch_embedding.weight", 2, path)
    max_patches, n_embd = _shape(state, PATCH + "base.wpe.weight", 2, path)
    vocab, _ = _shape(state, BYTE + "transformer.wte.weight", 2, path)
    if vocab != VOCAB or patch_in % VOCAB:
        raise ModelFileError(path, f"byte vocabulary of {vocab} and patch input of {patch_in}")
    values = {
        "patch_size": patch_in // vocab,
        "max_patches": max_patches,
        "n_embd": n_embd,
        "n_head": max(n_embd // HEAD_DIM, 1),
        "n_patch_layer": _layers(state, PATCH + "base."),
        "n_byte_layer": _layers(state, BYTE + "transformer."),
        "vocab_size": vocab,
    }
    return check_config(values, path)


def convert_official(
    state: dict[str, torch.Tensor], path: str | Path = STATE_DICT
) -> tuple[BGPTConfig, dict[str, torch.Tensor]]:
    """The config and this package's state dict for an official state dict. Every tensor
    kept is checked (shape for the config, floating point, no more elements than its storage
    holds) while it is still a view: only then is it made contiguous."""
    config = official_config(state, path)
    ours: dict[str, torch.Tensor] = {}
    wte = state[BYTE + "transformer.wte.weight"]
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
            # the official 17th position is never used (see the module notes)
            ours["byte_decoder.transformer.wpe.weight"] = value[: config.patch_size]
        elif key.startswith(BYTE + "transformer."):
            ours["byte_decoder.transformer." + key[len(BYTE + "transformer.") :]] = value
        elif key == BYTE + "lm_head.weight":
            # shapes first: comparing an expanded tensor would read 10^12 elements
            if value.shape != wte.shape or not torch.equal(value, wte):
                raise ModelFileError(path, "lm_head.weight is not tied to the byte embedding")
        else:
            raise ModelFileError(path, f"unexpected key in an official bGPT state dict: {key}")
    for key in list(ours):
        if key.endswith(CONV1D):
            if ours[key].dim() != 2:
                raise ModelFileError(path, f"{key} has {ours[key].dim()} dimensions, not 2")
            ours[key] = ours[key].t()  # GPT-2 Conv1D (in, out) -> nn.Linear (out, in)
    _check_tensors(ours, expected_shapes(config), path)
    ours = {k: v.contiguous() for k, v in ours.items()}
    return config, ours


def _check_tensors(ours: dict[str, torch.Tensor], expected: dict[str, tuple], path) -> None:
    """Names and shapes as the config gives them, floating point, and no tensor larger than
    the data behind it (a stride-0 view expanded from a few numbers is not a weight)."""
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise ModelFileError(path, f"not the weights of its config: no {missing[0]}")
    extra = sorted(set(ours) - set(expected))
    if extra:  # never made contiguous unchecked: it could be of any size
        raise ModelFileError(path, f"not the weights of its config: unexpected {extra[0]}")
    for key, shape in expected.items():
        t = ours[key]
        if tuple(t.shape) != shape:
            raise ModelFileError(path, f"{key} has shape {list(t.shape)}, not {list(shape)}")
        if not t.is_floating_point():
            raise ModelFileError(path, f"{key} is {t.dtype}, not floating point")
        held = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
        if t.numel() * t.element_size() > held:
            raise ModelFileError(path, f"{key} is expanded from a smaller tensor (stride 0)")


def load_official(path: str | Path, dtype: torch.dtype = torch.float32) -> BGPT:
    """An official checkpoint as a :class:`BGPT` in eval mode."""
    config, state = convert_official(read_official(path), path)
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
