"""Where a model runs: the device and the precision asked for ('auto' picks for the machine)."""

from __future__ import annotations

import contextlib

import torch

from abcmidi_bgpt.core.errors import ModelError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype: 'auto' is bf16 on CUDA and fp32 elsewhere."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    if name not in dtypes:
        raise ModelError(f"dtype must be one of auto, {', '.join(dtypes)} (got {name!r})")
    return dtypes[name]


def autocast(device: torch.device, dtype: torch.dtype):
    """bf16 autocast where asked; fp32 runs without autocast."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
