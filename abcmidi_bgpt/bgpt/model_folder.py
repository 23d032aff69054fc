"""A model folder on disk, without loading anything: the names of its files, the packaged
default model, and what a ``--checkpoint`` argument points at. No torch here, so the command
line and the TUI can check a choice at once (:mod:`abcmidi_bgpt.bgpt.checkpoint` reads and
writes the files)."""

from __future__ import annotations

from pathlib import Path

from abcmidi_bgpt.core.errors import ModelError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"
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
