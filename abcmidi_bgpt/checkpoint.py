"""Model weights and training state on disk: safetensors + JSON, nothing pickled.

A model folder holds ``config.json`` (the model config and free-form metadata) and
``model.safetensors``. A training state (``train_state.json`` + ``train_state.safetensors``) sits
next to it: the optimizer's tensors by parameter name, its hyperparameters and the loop's
position (step, epoch, batch, best validation loss) as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .model import BGPT, BGPTConfig

FORMAT = "abcmidi-bgpt/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def save_model(
    model: BGPT,
    directory: str | Path,
    dtype: torch.dtype | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (cast to ``dtype`` if given)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) for k, v in state.items()}
    _save_tensors(state, directory / WEIGHTS_FILE)
    config = {"format": FORMAT, "model": asdict(model.config), "metadata": metadata or {}}
    _write_json(directory / CONFIG_FILE, config)
    return directory


def read_config(directory: str | Path) -> tuple[BGPTConfig, dict]:
    """The model config and metadata of a saved model."""
    data = json.loads((Path(directory) / CONFIG_FILE).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{directory}: not a model saved by abcmidi-bgpt ({CONFIG_FILE})")
    known = {f.name for f in fields(BGPTConfig)}
    return BGPTConfig(**{k: v for k, v in data["model"].items() if k in known}), data["metadata"]


def load_model(
    directory: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> BGPT:
    """A saved model, in eval mode, on ``device`` (weights cast to ``dtype`` if given)."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    config, _ = read_config(directory)
    with torch.device("meta"):  # no random init of weights about to be replaced
        model = BGPT(config)
    state = load_file(str(directory / WEIGHTS_FILE), device=str(device))
    if dtype is not None:
        state = {k: v.to(dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def save_train_state(
    directory: str | Path, model: BGPT, optimizer: torch.optim.Optimizer, position: dict
) -> None:
    """The optimizer (tensors by parameter name, hyperparameters) and the loop's position."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = {id(p): n for n, p in model.named_parameters()}
    state = optimizer.state_dict()
    index_to_name = {}
    for group, saved in zip(optimizer.param_groups, state["param_groups"], strict=True):
        for p, i in zip(group["params"], saved["params"], strict=True):
            index_to_name[i] = names[id(p)]
    tensors = {}
    for i, slots in state["state"].items():
        for slot, value in slots.items():
            tensors[f"{index_to_name[i]}.{slot}"] = torch.as_tensor(value)
    groups = [
        {k: (v if k != "params" else [index_to_name[i] for i in v]) for k, v in g.items()}
        for g in state["param_groups"]
    ]
    _save_tensors(tensors, directory / STATE_TENSORS)
    _write_json(directory / STATE_JSON, {"position": position, "param_groups": groups})


def load_train_state(directory: str | Path, model: BGPT, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer saved by :func:`save_train_state`; returns the loop's position."""
    directory = Path(directory)
    data = json.loads((directory / STATE_JSON).read_text())
    names = {id(p): n for n, p in model.named_parameters()}
    ours = [[names[id(p)] for p in group["params"]] for group in optimizer.param_groups]
    saved = [g["params"] for g in data["param_groups"]]
    if ours != saved:
        raise ValueError(f"{directory}: the saved optimizer state is for other parameters")
    name_to_index = {name: i for i, name in enumerate(n for group in saved for n in group)}
    groups = []
    for g in data["param_groups"]:
        group = dict(g, params=[name_to_index[n] for n in g["params"]])
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    # Loaded on the CPU: load_state_dict moves moments to their parameter's device and keeps
    # "step" where the optimizer variant expects it.
    state: dict[int, dict] = {}
    for key, value in load_file(str(directory / STATE_TENSORS)).items():
        name, slot = key.rsplit(".", 1)
        state.setdefault(name_to_index[name], {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return data["position"]
