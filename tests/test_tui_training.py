"""The training screen: attached to a real tiny run, following a log that grows, detaching and
attaching again, refusing a folder that is not a run; one snapshot of a hand-written run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from textual.widgets import Input

from abcmidi_bgpt.bgpt.train import LOG_FIELDS, TrainConfig, read_log, train
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.launch import RunRequest
from abcmidi_bgpt.tui.screens.help import KEYS
from abcmidi_bgpt.tui.screens.start_run import StartRunScreen
from abcmidi_bgpt.tui.screens.training import TrainingScreen
from abcmidi_bgpt.tui.widgets.curves import CurvePlot
from tests.support.tui import SIZE, open_screen, pilot_test, wait_for


async def attach(pilot, path: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#run-path").value = path
    await pilot.press("enter")


def summary(screen: TrainingScreen) -> str:
    return str(screen.summary.render())


def plotted(screen: TrainingScreen, plot: str) -> dict:
    return screen.query_one(f"#{plot}", CurvePlot).series


def series(rows: list[dict], column: str) -> tuple[list[int], list[float]]:
    points = [(int(r["step"]), float(r[column])) for r in rows if r[column]]
    return [s for s, _ in points], [v for _, v in points]


def append_row(log: Path, **values) -> None:
    with log.open("a") as f:
        f.write(",".join(str(values.get(name, "")) for name in LOG_FIELDS) + "\n")


@pilot_test
async def test_a_real_run_is_shown_and_followed_as_its_log_grows(tmp_path, app_folder, tiny_corpus):
    run = tmp_path / "run"
    train(
        TrainConfig(corpus=str(tiny_corpus), out=str(run), model="tiny", batch_patches=256,
                    max_steps=4, eval_every=2, log_every=1, progress=False)
    )  # fmt: skip
    rows = read_log(run / "log.csv")
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "t", TrainingScreen)
        await attach(pilot, str(run))
        await wait_for(pilot, lambda: "step 4 of 4" in summary(screen))
        assert "tiny · abc2mid · split train" in summary(screen)
        assert plotted(screen, "loss-plot")["train"] == series(rows, "train_loss")
        assert plotted(screen, "loss-plot")["validation"][0] == [2, 4]
        bpb = plotted(screen, "bpb-plot")
        assert list(bpb) == ["abc2mid: BPB_midi"]
        assert bpb["abc2mid: BPB_midi"] == series(rows, "val_abc2mid_bpb_midi")

        # The run goes on writing: the screen picks the new row up by itself.
        append_row(run / "log.csv", step=5, epoch=0, lr=0.001, train_loss=1.5, elapsed_s=99)
        await wait_for(pilot, lambda: "step 5 of 4" in summary(screen), seconds=6)
        assert plotted(screen, "loss-plot")["train"][0][-1] == 5

        await attach(pilot, "")  # detach
        await wait_for(pilot, lambda: summary(screen) == "No run attached.")
        assert plotted(screen, "loss-plot") == {} == plotted(screen, "bpb-plot")
        await attach(pilot, str(run))  # and attach again
        await wait_for(pilot, lambda: "step 5 of 4" in summary(screen))
        assert plotted(screen, "bpb-plot") == bpb

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TrainingScreen)


@pilot_test
async def test_a_folder_that_is_not_a_run_gives_one_line(tmp_path, app_folder):
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "log.csv").write_text("step,train_loss\nfour,x\n")
    for name, settings in [("listed", "[1, 2]"), ("mistyped", '{"train": 5, "total_steps": "x"}')]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "log.csv").write_text(",".join(LOG_FIELDS) + "\n")
        (tmp_path / name / "run.json").write_text(settings)
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "t", TrainingScreen)
        for path, reason in [
            (app_folder, "not a training run"),
            (tmp_path / "nowhere", "no such folder"),
            (tmp_path / "garbled", "cannot read the run"),
            (tmp_path / "listed", "run.json is not a JSON object"),
            (tmp_path / "mistyped", "cannot read the run"),
        ]:
            await attach(pilot, str(path))
            await wait_for(pilot, lambda reason=reason: reason in summary(screen))
            assert "\n" not in summary(screen)
            assert plotted(screen, "loss-plot") == {}


async def fill_start_dialog(pilot, **fields: str) -> StartRunScreen:
    await pilot.press("ctrl+n")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, StartRunScreen)
    for name, value in fields.items():
        dialog.query_one(f"#start-{name}", Input).value = value
    return dialog


def alive(pid: int) -> bool:
    """The process runs (a finished child of this process is reaped first)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not ours, or reaped
        finished = 0
    if finished:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pilot_test
async def test_a_run_started_from_the_screen_is_watched_outlives_the_app_and_reattaches(
    tmp_path, app_folder, tiny_corpus
):
    """ctrl+n, the dialog filled in, Start: the train command runs as its own process, the
    screen attaches to its folder and follows it; the app quits and the run goes on; a new
    app attaches to the finished run."""
    run = tmp_path / "run"
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "t", TrainingScreen)
        await fill_start_dialog(pilot, corpus=str(tiny_corpus), out=str(run), steps="40")
        await pilot.click("#start")
        await pilot.pause()
        assert app.screen is screen and screen.process_id is not None
        assert screen.query_one("#run-path", Input).value == str(run)
        pid = screen.process_id
        # Followed while it runs: the first log rows arrive (torch starts in a few seconds).
        await wait_for(pilot, lambda: "step " in summary(screen), seconds=120)
        assert "tiny · abc2mid · split train" in summary(screen)
    assert alive(pid)  # the app has quit; the run has not
    for _ in range(1200):
        if not alive(pid):
            break
        time.sleep(0.1)
    assert not alive(pid)
    rows = read_log(run / "log.csv")
    assert max(int(r["step"]) for r in rows) == 40
    assert "step 40/40" in (run / "train.out").read_text()
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "t", TrainingScreen)
        await attach(pilot, str(run))
        await wait_for(pilot, lambda: "step 40 of 40" in summary(screen))
        assert plotted(screen, "loss-plot")["train"] == series(rows, "train_loss")


@pilot_test
async def test_the_start_dialog_says_what_is_wrong_before_starting(
    tmp_path, app_folder, tiny_corpus
):
    held = tmp_path / "held"
    train(
        TrainConfig(corpus=str(tiny_corpus), out=str(held), model="tiny", batch_patches=256,
                    max_steps=1, log_every=1, progress=False)
    )  # fmt: skip
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "t", TrainingScreen)
        for fields, reason in [
            (dict(corpus=str(app_folder), out=str(tmp_path / "a")), "is not a built corpus"),
            (dict(corpus=str(tiny_corpus), out=""), "run folder: needed"),
            (dict(corpus=str(tiny_corpus), out=str(tmp_path / "a"), steps="ten"),
             "steps: not a whole number"),
            (dict(corpus=str(tiny_corpus), out=str(held)), "holds a run: resume it"),
            (dict(corpus=str(tiny_corpus), out=str(tmp_path / "a"), config="nowhere.toml"),
             "config: no such file"),
        ]:  # fmt: skip
            dialog = await fill_start_dialog(pilot, **fields)
            await pilot.click("#start")
            await pilot.pause()
            assert app.screen is dialog
            assert reason in str(dialog.query_one("#start-error").render())
            await pilot.press("escape")
            await pilot.pause()
        assert screen.process_id is None and not (tmp_path / "a").exists()


def test_a_run_request_is_the_train_command_line(tmp_path):
    """Options left empty are the config's: they are not on the command line."""
    request = RunRequest(corpus=tmp_path / "c", out=tmp_path / "r", config=tmp_path / "x.toml")
    assert request.argv()[1:] == [
        "-m", "abcmidi_bgpt", "train", "--config", str(tmp_path / "x.toml"),
        "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "r"),
    ]  # fmt: skip
    full = RunRequest(tmp_path / "c", tmp_path / "r", "small", "both", "train_1e3", 9, None, True)
    assert full.argv()[6:] == [
        "--out", str(tmp_path / "r"), "--model", "small", "--direction", "both",
        "--train-split", "train_1e3", "--max-steps", "9", "--resume",
    ]  # fmt: skip


def test_the_help_screen_lists_the_key():
    assert any(key == "t" and "training run" in what for key, what in KEYS)


def write_run(folder: Path) -> None:
    """A run as train writes it, with fixed numbers (a real run's floats vary by CPU)."""
    (folder / "last").mkdir(parents=True)
    settings = {"model": "small", "arch": "", "direction": "abc2mid", "train_split": "train-1e4",
                "max_steps": 200}  # fmt: skip
    (folder / "last" / "config.json").write_text(json.dumps({"metadata": {"train": settings}}))
    position = {"position": {"step": 100, "total_steps": 200}}
    (folder / "last" / "train_state.json").write_text(json.dumps(position))
    (folder / "log.csv").write_text(",".join(LOG_FIELDS) + "\n")
    for step in range(10, 130, 10):
        loss = 3.0 * 0.985**step + 0.4
        append_row(folder / "log.csv", step=step, epoch=0, lr=1e-4, train_loss=f"{loss:.4f}",
                   grad_norm=1.0, bytes_per_s=12345.6, elapsed_s=step * 3)  # fmt: skip
        if step % 40 == 0:
            append_row(folder / "log.csv", step=step, val_loss=f"{loss + 0.1:.4f}",
                       val_abc2mid_bpb_abc=f"{loss * 1.2:.4f}",
                       val_abc2mid_bpb_midi=f"{loss * 1.5:.4f}")  # fmt: skip


def test_snapshot_training_screen(tmp_path, app_folder, snap_compare, monkeypatch):
    write_run(tmp_path / "run")
    monkeypatch.chdir(tmp_path)  # the path typed, shown on screen, is the same on every machine

    async def run_before(pilot):
        screen = await open_screen(pilot, "t", TrainingScreen)
        await attach(pilot, "run")
        await wait_for(pilot, lambda: "step 120 of 200" in summary(screen))
        await pilot.pause()

    assert snap_compare(AbcMidiApp(app_folder), terminal_size=SIZE, run_before=run_before)


def test_snapshot_start_run_dialog(tmp_path, app_folder, snap_compare, monkeypatch):
    """The dialog filled in with relative paths and refused: the corpus is not built."""
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot):
        await open_screen(pilot, "t", TrainingScreen)
        dialog = await fill_start_dialog(pilot, corpus="corpora/none", out="runs/a", steps="300")
        await pilot.click("#start")
        await pilot.pause()
        assert "not a built corpus" in str(dialog.query_one("#start-error").render())

    assert snap_compare(AbcMidiApp(app_folder), terminal_size=SIZE, run_before=run_before)
