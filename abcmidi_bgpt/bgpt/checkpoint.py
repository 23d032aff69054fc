"""Model weights and training state on disk: safetensors + JSON, nothing pickled.

A model folder holds ``config.json`` (the model config and free-form metadata) and
``model.safetensors``. A training state (``train_state.json`` + ``train_state.safetensors``) sits
next to it: the optimizer's tensors by parameter name, its hyperparameters and the loop's
position (step, epoch, batch, best validation loss) as JSON.

A model folder may come from anyone, so loading one checks before it allocates: the config's
fields (types, ranges, :data:`MAX_PARAMETERS`), then the safetensors header (names, shapes and
types of the tensors, against the config), and only then reads the weights. A bad file raises
:class:`ModelFileError`, one line.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from abcmidi_bgpt.bgpt.model import BGPT, BGPTConfig
from abcmidi_bgpt.bgpt.model_folder import CONFIG_FILE, STATE_JSON, STATE_TENSORS, WEIGHTS_FILE
from abcmidi_bgpt.bgpt.patches import VOCAB
from abcmidi_bgpt.core.errors import ModelError, first_line

FORMAT = "abcmidi-bgpt/1"

MAX_CONFIG_BYTES = 1 << 20  # ours are under 2 KB
MAX_HEADER_BYTES = 1 << 20  # a safetensors header: ours list 200 tensors in 20 KB
MAX_PARAMETERS = 2_000_000_000  # 8 GB in fp32; the paper's model has 110 M
# Whole-number fields of the model config and their ranges: far beyond any bGPT (the paper's
# has 12 + 3 layers of 768), short of what takes long to build (a layer is a module to make,
# about 10 ms even on the meta device) or memory to hold (MAX_PARAMETERS).
CONFIG_RANGES = {
    "patch_size": (1, 256),
    "max_patches": (1, 65_536),
    "n_embd": (1, 16_384),
    "n_head": (1, 256),
    "n_patch_layer": (1, 64),
    "n_byte_layer": (1, 64),
    "vocab_size": (VOCAB, VOCAB),  # the byte layout's 256 bytes and its special id
}
WEIGHT_DTYPES = ("F32", "F16", "BF16")  # as safetensors names them: what save_model writes


class ModelFileError(ModelError):
    """A model file that cannot be used: ``path`` and a one-line ``reason``."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(reason, str(path))
        self.args = (path, reason)
        self.path = Path(path)


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
    """The model config and metadata of a saved model, checked (see :func:`check_config`)."""
    path = Path(directory) / CONFIG_FILE
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(path, "not a model saved by abcmidi-bgpt (no format field)")
    model, metadata = data.get("model"), data.get("metadata", {})
    if not isinstance(model, dict):
        raise ModelFileError(path, "'model' is not an object of config fields")
    if not isinstance(metadata, dict):
        raise ModelFileError(path, "'metadata' is not an object")
    known = {f.name for f in fields(BGPTConfig)}
    return check_config({k: v for k, v in model.items() if k in known}, path), metadata


def _read_json(path: Path):
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    if size > MAX_CONFIG_BYTES:
        raise ModelFileError(path, f"{size} bytes, over the {MAX_CONFIG_BYTES} byte limit")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, nested too deep
        raise ModelFileError(path, f"not JSON: {first_line(err)}") from None


def check_config(values: dict, path: str | Path) -> BGPTConfig:
    """A model config from field values (missing ones take their defaults), each checked
    for type and range before anything is built from it (:data:`CONFIG_RANGES`)."""
    for name, (low, high) in CONFIG_RANGES.items():
        if name in values:
            value = values[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelFileError(path, f"{name} is {_shown(value)}, not a whole number")
            if not low <= value <= high:
                raise ModelFileError(path, f"{name} is {_shown(value)}, outside {low}..{high}")
    for name in ("dropout", "layer_norm_eps"):
        if name in values and not _is_number(values[name]):
            raise ModelFileError(path, f"{name} is {_shown(values[name])}, not a number")
    config = BGPTConfig(**values)
    if not 0 <= config.dropout < 1:
        raise ModelFileError(path, f"dropout is {_shown(config.dropout)}, outside [0, 1)")
    if not 0 < config.layer_norm_eps < 1:
        eps = _shown(config.layer_norm_eps)
        raise ModelFileError(path, f"layer_norm_eps is {eps}, outside (0, 1)")
    if config.n_embd % config.n_head:
        raise ModelFileError(
            path, f"n_embd ({config.n_embd}) is not a multiple of n_head ({config.n_head})"
        )
    parameters = sum(math.prod(shape) for shape in expected_shapes(config).values())
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(
            path, f"{parameters:,} parameters, over the limit of {MAX_PARAMETERS:,}"
        )
    return config


def _shown(value) -> str:
    """A config value as a message shows it: its repr, cut short (it may be a long string)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or isinstance(value, float) and math.isfinite(value)


def expected_shapes(config: BGPTConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor of a model of this config (built on the meta
    device: no memory, no initialisation)."""
    with torch.device("meta"):
        model = BGPT(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def check_weights_header(path: Path, config: BGPTConfig) -> None:
    """The safetensors header of ``path`` against the model config: the same tensor names,
    shapes as the config gives them, floating-point types. Reads the header only."""
    try:
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8).ljust(8, b"\0"))
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    if size > MAX_HEADER_BYTES:
        raise ModelFileError(path, f"header of {size} bytes, over {MAX_HEADER_BYTES}")
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {name: f.get_slice(name) for name in f.keys()}  # noqa: SIM118 (not a dict)
            shapes = {name: tuple(s.get_shape()) for name, s in found.items()}
            dtypes = {name: s.get_dtype() for name, s in found.items()}
    except SafetensorError as err:
        raise ModelFileError(path, f"not a safetensors file: {first_line(err)}") from None
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise ModelFileError(path, f"not the tensors of the config in {CONFIG_FILE}: {what}")
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise ModelFileError(path, f"{name} has shape {list(shapes[name])}, not {list(shape)}")
        if dtypes[name] not in WEIGHT_DTYPES:
            raise ModelFileError(path, f"{name} is {dtypes[name]}, not floating point")


def read_weights(
    directory: str | Path, config: BGPTConfig, device: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """The weights of a saved model, after :func:`check_weights_header`."""
    path = Path(directory) / WEIGHTS_FILE
    check_weights_header(path, config)
    try:
        return load_file(str(path), device=str(device))
    except SafetensorError as err:
        raise ModelFileError(path, f"unreadable weights: {first_line(err)}") from None


def load_model(
    directory: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> BGPT:
    """A saved model, in eval mode, on ``device`` (weights cast to ``dtype`` if given).
    Raises :class:`ModelFileError` for a folder whose files are not a model."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    config, _ = read_config(directory)
    state = read_weights(directory, config, device)
    with torch.device("meta"):  # no random init of weights about to be replaced
        model = BGPT(config)
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
        raise ModelError("the saved optimizer state is for other parameters", str(directory))
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
