"""A model folder on disk, without loading anything: the names of its files, the packaged
default model, what a ``--checkpoint`` argument points at, and the models found under some
folders (:func:`find_models`). No torch here, so the command line and the TUI can check a
choice at once (:mod:`abcmidi_bgpt.bgpt.checkpoint` reads and writes the files)."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.core.errors import ModelError, first_line

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"
CARD_FILE = "README.md"  # the model card save_pretrained writes (hub.py)
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "default"


def _is_model(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def packaged_model_note() -> str:
    """What ``--checkpoint`` defaults to, truthfully, for help texts."""
    if _is_model(DEFAULT_MODEL_DIR):
        return "default: the packaged model"
    return "needed: no model is packaged in this version"


def resolve_checkpoint(checkpoint: str | Path | None = None) -> Path:
    """The model folder to load: ``checkpoint`` (a folder with ``config.json`` and
    ``model.safetensors``, a file in one, or a training run folder, whose ``best/`` then
    ``last/`` is taken), or the packaged default model when none is given. Raises
    :class:`ModelError` saying what is wrong with it."""

    is_model = _is_model
    if checkpoint is None or not str(checkpoint):
        if is_model(DEFAULT_MODEL_DIR):
            return DEFAULT_MODEL_DIR
        raise ModelError(
            "no bGPT model is packaged yet (abcmidi_bgpt/models/default/); "
            "pass --checkpoint MODEL_DIR"
        )
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise ModelError(f"no such checkpoint: {checkpoint}")
    if path.suffix in (".pt", ".pth"):
        raise ModelError(
            "an official bGPT checkpoint? Convert it first: "
            "abcmidi-bgpt import-official FILE --out MODEL_DIR",
            checkpoint,
        )
    folder = path.parent if path.is_file() else path
    for candidate in (folder, folder / "best", folder / "last"):
        if is_model(candidate):
            return candidate
    raise ModelError(
        "not a bGPT model (config.json + model.safetensors, or a training run folder with best/)",
        checkpoint,
    )


# What find_models tells apart, in the order it lists them.
KINDS = {
    "packaged": "packaged",
    "run": "training run",
    "official": "imported official",
    "model": "model folder",
}
SEARCH_DEPTH = 4  # folders below a root that are looked into
SEARCH_FOLDERS = 5000  # folders looked into in all: a home folder is not walked whole
SKIPPED_FOLDERS = {"__pycache__", "node_modules", "site-packages", "tensorboard"}
MAX_JSON_BYTES = 1 << 20  # as checkpoint.MAX_CONFIG_BYTES: ours are under 2 KB


@dataclass(frozen=True)
class ModelEntry:
    """A model found on disk: ``path`` is what to choose (a model folder, or a training run
    folder, which :func:`resolve_checkpoint` takes), ``model_dir`` the folder that would be
    loaded, ``config`` and ``metadata`` its ``config.json``'s (empty when ``problem`` says why
    it cannot be read)."""

    kind: str
    path: Path
    model_dir: Path
    config: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def step(self) -> int | None:
        """The training step its weights are from, when its metadata says."""
        step = self.metadata.get("step")
        return step if isinstance(step, int) and not isinstance(step, bool) else None

    @property
    def card(self) -> Path | None:
        """Its model card (README.md), if it has one."""
        for folder in (self.model_dir, self.path):
            if (folder / CARD_FILE).is_file():
                return folder / CARD_FILE
        return None

    def arch(self) -> str:
        """Its size as the config gives it, e.g. '32 wide, 2+1 layers, 128 x 16 bytes'."""
        c = self.config
        if not c:
            return ""
        return (
            f"{c.get('n_embd', '?')} wide, {c.get('n_patch_layer', '?')}+"
            f"{c.get('n_byte_layer', '?')} layers, {c.get('max_patches', '?')} x "
            f"{c.get('patch_size', '?')} bytes"
        )


def packaged_model() -> Path | None:
    """The packaged default model's folder, or None when this version has none."""
    return DEFAULT_MODEL_DIR if _is_model(DEFAULT_MODEL_DIR) else None


def read_model_json(folder: Path) -> tuple[dict, dict]:
    """The ``model`` and ``metadata`` objects of a folder's config.json, without checking
    them (checkpoint.read_config does, with torch); raises ModelError, one line."""
    path = folder / CONFIG_FILE
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ModelError(f"{CONFIG_FILE} is over {MAX_JSON_BYTES} bytes", str(folder))
        data = json.loads(path.read_bytes())
    except OSError as err:
        raise ModelError(f"cannot read {CONFIG_FILE}: {err.strerror or err}", str(folder)) from None
    except (ValueError, RecursionError) as err:
        raise ModelError(f"{CONFIG_FILE} is not JSON: {first_line(err)}", str(folder)) from None
    if not isinstance(data, dict):
        raise ModelError(f"{CONFIG_FILE} is not an object", str(folder))
    model, metadata = data.get("model", {}), data.get("metadata", {})
    return (model if isinstance(model, dict) else {}), (
        metadata if isinstance(metadata, dict) else {}
    )


def _entry(folder: Path, packaged: Path) -> ModelEntry | None:
    """The model at ``folder`` (a model folder or a run folder), or None if none is."""
    if _is_model(folder):
        model_dir, kind = folder, "model"
    else:
        runs = [folder / name for name in ("best", "last") if _is_model(folder / name)]
        if not runs:
            return None
        model_dir, kind = runs[0], "run"  # as resolve_checkpoint takes them
    try:
        config, metadata = read_model_json(model_dir)
        problem = None
    except ModelError as err:
        config, metadata, problem = {}, {}, first_line(err)
    if folder == packaged:
        kind = "packaged"
    elif kind == "model" and "imported_from" in metadata:  # what import_official writes
        kind = "official"
    return ModelEntry(kind, folder, model_dir, config, metadata, problem)


def _subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder`` worth looking into: not hidden, not a symbolic link (a link
    may lead out of the tree, or round in a loop), not a cache."""
    try:
        with os.scandir(folder) as entries:
            found = [
                Path(e.path)
                for e in entries
                if not e.name.startswith(".")
                and e.name not in SKIPPED_FOLDERS
                and e.is_dir(follow_symlinks=False)
            ]
    except OSError:  # no permission, gone meanwhile
        return []
    return sorted(found)


def find_models(
    roots: Sequence[Path],
    depth: int = SEARCH_DEPTH,
    max_folders: int = SEARCH_FOLDERS,
) -> list[ModelEntry]:
    """The models in and under ``roots`` (at most ``depth`` folders down, ``max_folders``
    looked into in all; hidden folders and symbolic links skipped): model folders, training
    run folders (not their best/ and last/ again), imported official weights and the packaged
    model, each once, in the order of :data:`KINDS` then by path. Reads config.json files
    only, never weights; a root that does not exist is passed over."""
    packaged = DEFAULT_MODEL_DIR.resolve()
    seen: set[Path] = set()
    found: list[ModelEntry] = []
    looked = 0
    for root in roots:
        try:
            start = Path(root).expanduser().resolve()
        except (OSError, RuntimeError):  # a loop of links
            continue
        queue = deque([(start, 0)]) if start.is_dir() else deque()
        while queue and looked < max_folders:
            folder, level = queue.popleft()
            if folder in seen:
                continue
            seen.add(folder)
            looked += 1
            entry = _entry(folder, packaged)
            if entry is not None:
                found.append(entry)  # a model's folders hold no other model
            elif level < depth:
                queue.extend((sub, level + 1) for sub in _subfolders(folder))
    order = list(KINDS)
    return sorted(found, key=lambda e: (order.index(e.kind), str(e.path)))
