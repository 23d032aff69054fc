"""Model folders as Hugging Face's tools expect them: ``config.json`` + ``model.safetensors``
(+ a ``README.md`` model card), loaded from a folder or a Hub repository, saved, published.

The same three calls as ``huggingface_hub.PyTorchModelHubMixin`` (``from_pretrained``,
``save_pretrained``, ``push_to_hub``), as functions: the mixin would write its own
``config.json`` (the constructor's arguments), which is not the checked format that
``checkpoint.py`` reads and writes, and the model class stays free of file handling.

    model = from_pretrained("runs/abc2mid")            # a model or training-run folder
    model = from_pretrained("someone/abcmidi-bgpt")     # a Hub repository (downloaded once)
    save_pretrained(model, "my-model")
    push_to_hub("my-model", "someone/abcmidi-bgpt")     # needs a token (huggingface-cli login)
"""

from __future__ import annotations

from pathlib import Path

import torch

from abcmidi_bgpt.bgpt.checkpoint import load_model, read_config, save_model
from abcmidi_bgpt.bgpt.model import BGPT
from abcmidi_bgpt.bgpt.model_folder import CONFIG_FILE, WEIGHTS_FILE, resolve_checkpoint

CARD_FILE = "README.md"
HUB_FILES = [CONFIG_FILE, WEIGHTS_FILE, CARD_FILE]


def from_pretrained(
    name_or_path: str | Path,
    revision: str | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
) -> BGPT:
    """A saved model from a local folder (a model folder or a training run's) or, when no such
    path exists, from the Hub repository of that name (only its model files are fetched)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return load_model(resolve_checkpoint(path), device=device)
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id=str(name_or_path), revision=revision, allow_patterns=HUB_FILES, cache_dir=cache_dir
    )
    return load_model(resolve_checkpoint(folder), device=device)


def model_card(folder: str | Path, params: int | None = None) -> str:
    """A model card for a saved model: YAML metadata the Hub reads, then what the model is
    (``params``: its parameter count, when the caller has the model; else it is loaded)."""
    config, metadata = read_config(folder)
    if params is None:
        params = load_model(folder).num_params()
    train = metadata.get("train", {})
    validation = metadata.get("validation", {})
    scores = "\n".join(f"- {k}: {v:.4f}" for k, v in validation.items() if isinstance(v, float))
    return (
        "---\nlibrary_name: abcmidi-bgpt\nlicense: mit\ntags:\n- bgpt\n- abc-notation\n- midi\n"
        "- byte-level\n---\n\n# bGPT ABC <-> MIDI converter\n\n"
        "A byte-level bGPT (Wu et al. 2024) trained by abcmidi-bgpt. Load it with "
        "`abcmidi_bgpt.bgpt.hub.from_pretrained(REPO)` or convert with "
        "`abcmidi-bgpt convert --engine bgpt --checkpoint FOLDER`.\n\n"
        f"- parameters: {params / 1e6:.1f} M; context "
        f"{config.max_patches} patches of {config.patch_size} bytes\n"
        f"- trained: direction {train.get('direction', '?')}, split "
        f"{train.get('train_split', '?')}, step {metadata.get('step', '?')}\n"
        + (f"\nValidation at that step:\n\n{scores}\n" if scores else "")
    )


def save_pretrained(model: BGPT, folder: str | Path, metadata: dict | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` and a model card into ``folder``."""
    folder = save_model(model, folder, metadata=metadata)
    (folder / CARD_FILE).write_text(model_card(folder, model.num_params()), encoding="utf-8")
    return folder


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload bGPT model",
) -> str:
    """Publish a saved model (a model or training-run folder) to the Hub; its URL. The model
    card is written first if the folder has none."""
    from huggingface_hub import HfApi

    model_dir = resolve_checkpoint(folder)
    if not (model_dir / CARD_FILE).exists():
        (model_dir / CARD_FILE).write_text(model_card(model_dir), encoding="utf-8")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(model_dir),
        allow_patterns=HUB_FILES,
        commit_message=commit_message,
        repo_type="model",
    )
    return str(getattr(commit, "commit_url", commit))
