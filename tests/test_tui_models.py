"""Finding the models on disk (a real training run, a saved model with its card, imported
official weights, the packaged model) and the picker that shows them and returns the choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from textual.widgets import DataTable, Markdown, RadioSet

from abcmidi_bgpt.bgpt import model_folder
from abcmidi_bgpt.bgpt.checkpoint import save_model
from abcmidi_bgpt.bgpt.hub import save_pretrained
from abcmidi_bgpt.bgpt.model import BGPT
from abcmidi_bgpt.bgpt.model_folder import (
    CARD_FILE,
    find_models,
    packaged_model,
    packaged_model_note,
    resolve_checkpoint,
)
from abcmidi_bgpt.bgpt.train import TrainConfig, train
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.engine import EngineScreen
from abcmidi_bgpt.tui.screens.models import ModelsScreen, strip_front_matter
from tests.support.models import FIXTURE_CONFIG
from tests.support.tui import SIZE, open_screen, pilot_test

# What import_official writes into config.json's metadata (abcmidi_bgpt/bgpt/official.py).
IMPORTED = {"imported_from": "weights-conversion.pth", "source": "github.com/sanderwood/bgpt"}


def small_model(seed: int = 0) -> BGPT:
    torch.manual_seed(seed)
    return BGPT(FIXTURE_CONFIG)


def write_models(root: Path, run: Path) -> dict[str, Path]:
    """A saved model with its card and imported official weights under ``root``; ``run`` is
    a training run folder, written by the caller."""
    saved = save_pretrained(small_model(1), root / "work" / "models" / "essen-small")
    official = save_model(small_model(2), root / "work" / "official" / "bgpt", metadata=IMPORTED)
    return {"run": run, "model": saved, "official": official}


@pytest.fixture
def real_run(tmp_path: Path, tiny_corpus: Path) -> Path:
    """A real training run of two steps, validated at the second (so it has best/)."""
    run = tmp_path / "runs" / "abc2mid"
    train(
        TrainConfig(corpus=str(tiny_corpus), out=str(run), model="tiny",
                    arch="n_embd=32,n_head=2", batch_patches=256, max_steps=2, eval_every=2,
                    progress=False)
    )  # fmt: skip
    return run


def test_find_models_tells_each_kind_apart_without_loading_weights(tmp_path, real_run):
    made = write_models(tmp_path, real_run)
    # Not found: a model in a hidden folder, one deeper than the search goes, one reached
    # by a symbolic link only (it could lead anywhere), and a folder of other files.
    save_model(small_model(), tmp_path / "work" / ".cache" / "hidden")
    deep = tmp_path / "work" / "a" / "b" / "c" / "d" / "e"
    save_model(small_model(), deep)
    outside = save_model(small_model(), tmp_path / "elsewhere" / "linked")
    os.symlink(outside, tmp_path / "work" / "link")
    (tmp_path / "work" / "notes").mkdir()
    (tmp_path / "work" / "notes" / "config.json").write_text("{}")

    found = find_models([tmp_path / "work", tmp_path / "runs", tmp_path / "nowhere"])
    assert [(e.kind, e.path) for e in found] == [
        ("run", made["run"]),
        ("official", made["official"]),
        ("model", made["model"]),
    ]
    run, official, saved = found
    # The run: the model its folder resolves to, the step of that checkpoint, its size.
    assert run.model_dir == resolve_checkpoint(made["run"]) == made["run"] / "best"
    assert run.step == 2 and run.arch() == "32 wide, 2+1 layers, 128 x 16 bytes"
    assert run.metadata["train"]["model"] == "tiny" and run.card is None
    assert official.metadata == IMPORTED and official.card is None
    assert saved.card == made["model"] / CARD_FILE and saved.kind_name == "model folder"
    assert deep in [e.path for e in find_models([tmp_path / "work"], depth=5)]  # when asked
    assert find_models([tmp_path / "work", tmp_path / "work" / "models"]) == found[1:]  # once

    # A model folder whose config.json is not JSON is listed, with why it cannot be read.
    (made["official"] / "config.json").write_text("{not json")
    broken = find_models([made["official"]])[0]
    assert broken.kind == "model" and "not JSON" in broken.problem and broken.config == {}


def test_the_packaged_model_is_listed_first_when_there_is_one(tmp_path, monkeypatch):
    # This version packages no model: the note and the search say so alike.
    if packaged_model() is None:
        assert "no model is packaged" in packaged_model_note()
        assert find_models([model_folder.DEFAULT_MODEL_DIR]) == []
    packaged = save_model(small_model(), tmp_path / "package" / "default")
    monkeypatch.setattr(model_folder, "DEFAULT_MODEL_DIR", packaged)
    saved = save_pretrained(small_model(1), tmp_path / "mine")
    found = find_models([tmp_path / "mine", packaged])
    assert [(e.kind, e.path) for e in found] == [("packaged", packaged), ("model", saved)]
    assert packaged_model() == packaged


async def wait_for_models(pilot, screen: ModelsScreen) -> None:
    for _ in range(300):
        await pilot.pause(0.1)
        if screen.query_one("#models-table", DataTable).row_count or "found" in note(screen):
            break
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def note(screen: ModelsScreen) -> str:
    return str(screen.query_one("#models-note").render())


def card(screen: ModelsScreen) -> str:
    return screen.query_one("#models-card", Markdown).source


def hand_written_run(run: Path) -> Path:
    """A run folder as train leaves it, with fixed metadata (a real run's holds its paths)."""
    save_model(small_model(3), run / "best", metadata={"step": 40, "train": {
        "model": "tiny", "direction": "abc2mid", "train_split": "train-1e3", "max_steps": 60}})  # fmt: skip
    return run


@pilot_test
async def test_the_picker_shows_each_models_card_and_returns_the_choice(tmp_path, monkeypatch):
    made = write_models(tmp_path, hand_written_run(tmp_path / "runs" / "abc2mid"))
    monkeypatch.chdir(tmp_path)  # ./runs is one of the folders searched
    chosen: list[Path | None] = []
    app = AbcMidiApp(tmp_path / "work")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = ModelsScreen()
        await app.push_screen(screen, callback=chosen.append)
        await wait_for_models(pilot, screen)
        table = screen.query_one("#models-table", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [
            ["training run", "abc2mid", "32 wide, 2+1 layers, 128 x 16 bytes", "40",
             "runs/abc2mid"],
            ["imported official", "bgpt", "32 wide, 2+1 layers, 128 x 16 bytes", "",
             "work/official/bgpt"],
            ["model folder", "essen-small", "32 wide, 2+1 layers, 128 x 16 bytes", "",
             "work/models/essen-small"],
        ]  # fmt: skip
        assert note(screen).startswith("3 models found")
        if packaged_model() is None:
            assert "No model is packaged in this version" in note(screen)
        # No card: the config summarised (the run's settings, the official weights' origin).
        assert "no card" in card(screen) and "- direction: abc2mid" in card(screen)
        await pilot.press("down")
        assert "- imported_from: weights-conversion.pth" in card(screen)
        await pilot.press("down")  # save_pretrained's card, without its YAML header
        readme = (made["model"] / CARD_FILE).read_text()
        assert card(screen) == strip_front_matter(readme) and readme.startswith("---")
        assert card(screen).startswith("# bGPT ABC <-> MIDI converter")
        await pilot.press("enter")
        await pilot.pause()
        assert chosen == [made["model"]]
        assert not isinstance(app.screen, ModelsScreen)

        screen = ModelsScreen([tmp_path / "nowhere"])  # nothing found; escape chooses nothing
        await app.push_screen(screen, callback=chosen.append)
        await wait_for_models(pilot, screen)
        assert note(screen).startswith("No models found")
        await pilot.press("escape")
        await pilot.pause()
        assert chosen == [made["model"], None]


def test_snapshot_models_picker(tmp_path, snap_compare, monkeypatch):
    write_models(tmp_path, hand_written_run(tmp_path / "runs" / "abc2mid"))
    monkeypatch.chdir(tmp_path)  # paths are shown relative to it: the same on every machine

    async def run_before(pilot):
        await pilot.pause()
        screen = ModelsScreen()
        await pilot.app.push_screen(screen)
        await wait_for_models(pilot, screen)
        await pilot.press("down", "down")  # the saved model's card
        await pilot.pause()

    assert snap_compare(AbcMidiApp(tmp_path / "work"), terminal_size=SIZE, run_before=run_before)


@pilot_test
async def test_the_engine_dialog_takes_the_model_picked(tmp_path, monkeypatch):
    """e, then ctrl+o: the model picked fills the checkpoint and chooses bgpt; Use engine
    makes it the app's engine."""
    made = write_models(tmp_path, hand_written_run(tmp_path / "runs" / "abc2mid"))
    monkeypatch.chdir(tmp_path)
    app = AbcMidiApp(tmp_path / "work")
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_screen(pilot, "e", EngineScreen)
        await pilot.press("ctrl+o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ModelsScreen)
        await wait_for_models(pilot, picker)
        await pilot.press("down", "down", "enter")  # the saved model
        await pilot.pause()
        assert app.screen is dialog
        assert dialog.query_one("#checkpoint").value == str(made["model"])
        assert dialog.query_one(RadioSet).pressed_button.name == "bgpt"
        await pilot.click("#use")
        await pilot.pause()
        spec = app.main.engine_spec
        assert spec.name == "bgpt" and spec.options.checkpoint == str(made["model"])
