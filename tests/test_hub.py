"""Hugging Face conventions: from_pretrained / save_pretrained / push_to_hub on model folders."""

from __future__ import annotations

import shutil

import huggingface_hub
import torch
import yaml

from abcmidi_bgpt.bgpt.checkpoint import load_model
from abcmidi_bgpt.bgpt.hub import HUB_FILES, from_pretrained, push_to_hub, save_pretrained
from tests.support.models import trained_model


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_pretrained_then_from_pretrained_gives_the_same_model_and_a_card(tmp_path):
    model = load_model(trained_model())
    folder = save_pretrained(
        model, tmp_path / "m", metadata={"step": 7, "train": {"direction": "abc2mid"}}
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(HUB_FILES)
    assert same_weights(from_pretrained(folder), model)
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["library_name"] == "abcmidi-bgpt" and "midi" in header["tags"]
    assert "direction abc2mid" in card and "step 7" in card
    run = tmp_path / "run"  # a training run folder loads its best/
    shutil.copytree(folder, run / "best")
    assert same_weights(from_pretrained(run), model)


def test_from_pretrained_fetches_a_hub_repository_by_name(tmp_path, monkeypatch):
    # The Hub is out of reach here: its download is replaced by a local folder of the same files.
    mirror = save_pretrained(load_model(trained_model()), tmp_path / "mirror")
    asked = {}

    def fake_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        asked.update(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns)
        return str(mirror)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    model = from_pretrained("someone/abcmidi-bgpt", revision="v1")
    assert asked == {
        "repo_id": "someone/abcmidi-bgpt",
        "revision": "v1",
        "allow_patterns": HUB_FILES,
    }
    assert same_weights(model, load_model(mirror))


def test_push_to_hub_uploads_the_model_files_with_a_card(tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(trained_model(), run / "best")
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create", repo_id, kwargs["exist_ok"]))

        def upload_folder(self, **kwargs):
            calls.append(
                ("upload", kwargs["repo_id"], kwargs["folder_path"], kwargs["allow_patterns"])
            )
            return "https://huggingface.co/someone/m/commit/abc"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_to_hub(run, "someone/m", token="t")
    assert url.endswith("/commit/abc")
    assert calls == [("token", "t"), ("create", "someone/m", True),
                     ("upload", "someone/m", str(run / "best"), HUB_FILES)]  # fmt: skip
    assert (run / "best" / "README.md").exists()
