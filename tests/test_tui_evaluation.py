"""The evaluation screen and the progress / cancel hooks of the evaluation it runs: a real model
scored on a real corpus, the screen's table against evaluate_checkpoint's own report, a cancel
between batches, a folder that is not a model; one snapshot of a hand-made report."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from textual.widgets import DataTable, Input, ProgressBar, Select

from abcmidi_bgpt.bgpt import evaluate
from abcmidi_bgpt.bgpt.evaluate import (
    DirectionScore,
    EvaluationCancelled,
    EvaluationReport,
    SegmentScore,
    evaluate_checkpoint,
    score_sequences,
)
from abcmidi_bgpt.bgpt.model import BGPT, CONFIGS
from abcmidi_bgpt.bgpt.patches import SequenceSet
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.evaluation import EvaluationScreen
from abcmidi_bgpt.tui.screens.help import KEYS
from tests.support.corpus_pairs import real_pairs
from tests.support.models import TRAINED_MODEL
from tests.support.tui import SIZE, open_screen, pilot_test

# The fixture model (a small bGPT trained on three Essen tunes): a real model, read as is.
MODEL = TRAINED_MODEL


async def open_evaluation(pilot, **kwargs) -> EvaluationScreen:
    await pilot.pause()  # the main screen composes after the app is ready
    screen = EvaluationScreen(**kwargs)
    await pilot.app.push_screen(screen)
    await pilot.pause()
    return screen


async def fill(pilot, screen, model: Path, corpus: Path, split: str, limit: str = "") -> None:
    """The paths set as typed text; the limit typed with keys, into the focused input."""
    screen.query_one("#eval-model", Input).value = str(model)
    screen.query_one("#eval-corpus", Input).value = str(corpus)
    screen.query_one("#eval-split", Select).value = split
    screen.query_one("#eval-limit", Input).focus()
    await pilot.pause()
    if limit:
        await pilot.press(*limit)


async def finished(pilot, screen: EvaluationScreen, seconds: float = 60.0) -> None:
    for _ in range(int(seconds * 10)):
        await pilot.pause(0.1)
        if not screen.running:
            break
    assert not screen.running
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def status(screen: EvaluationScreen) -> str:
    return str(screen.query_one("#eval-status").render())


def table_rows(screen: EvaluationScreen) -> list[list[str]]:
    table = screen.query_one("#eval-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pilot_test
async def test_the_table_shows_the_report_of_evaluate_checkpoint(app_folder, tiny_corpus):
    expected = evaluate_checkpoint(MODEL, tiny_corpus, "train", list(Direction), limit=4)
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_evaluation(pilot)
        await fill(pilot, screen, MODEL, tiny_corpus, "train", limit="4")
        await pilot.press("enter")  # in the limit input: starts the evaluation
        await finished(pilot, screen)
        assert screen.report is not None
        assert screen.report.as_dict() == expected.as_dict()
        rows = table_rows(screen)
        assert len(rows) == 2 == len(expected.scores)
        for row, (direction, s) in zip(rows, expected.scores.items(), strict=True):
            target = s.midi if direction == "abc2mid" else s.abc
            assert row == [
                Direction(direction).arrow,
                str(s.sequences),
                str(expected.pairs - s.sequences),
                f"{s.abc.bpb:.5f}",
                f"{s.midi.bpb:.5f}",
                f"{target.bpb:.5f}",
                f"{s.loss:.5f}",
            ]
        assert expected.pairs == 4 and all(s.sequences == 4 for s in expected.scores.values())
        assert f"{MODEL.name} on corpus, split train: 4 pairs" in status(screen)
        bar = screen.query_one(ProgressBar)
        assert bar.progress == bar.total == 8

        # One direction, by the Select, started with Ctrl+R.
        screen.query_one("#eval-direction", Select).value = "mid2abc"
        await pilot.press("ctrl+r")
        await finished(pilot, screen)
        assert list(screen.report.scores) == ["mid2abc"]
        assert screen.report.scores["mid2abc"].as_dict() == expected.scores["mid2abc"].as_dict()

        await pilot.press("escape")  # nothing running: back
        await pilot.pause()
        assert not isinstance(app.screen, EvaluationScreen)


@pilot_test
async def test_escape_cancels_between_batches(app_folder, tiny_corpus, monkeypatch):
    # The first batch waits until the test has pressed escape: the cancel then comes between
    # batches whatever the machine's speed. Small batches (one context each) make several.
    started, release = threading.Event(), threading.Event()
    real = evaluate.sequence_nats

    def gated(*args):
        started.set()
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(evaluate, "sequence_nats", gated)
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_evaluation(pilot, batch_patches=1)
        await fill(pilot, screen, MODEL, tiny_corpus, "train")
        await pilot.press("ctrl+r")
        for _ in range(300):
            if started.is_set():
                break
            await pilot.pause(0.1)
        assert started.is_set()
        await pilot.press("escape")
        assert "Cancelling" in status(screen)
        assert isinstance(app.screen, EvaluationScreen)  # a cancel does not close the screen
        release.set()
        await finished(pilot, screen)
        text = status(screen)
        assert text.startswith("Cancelled after ") and text.endswith(" of 12 sequences.")
        done = int(text.split()[2])
        assert 0 < done < 12
        assert screen.report is None and table_rows(screen) == []
        assert not screen.query_one("#eval-model", Input).disabled  # the form is back


@pilot_test
async def test_a_folder_that_is_not_a_model_gives_one_line(app_folder, tiny_corpus):
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_evaluation(pilot)
        await pilot.press("ctrl+r")  # nothing typed
        assert status(screen) == "✗ type a model folder and a corpus folder"
        for model, split, reason in [
            (tiny_corpus, "test", "not a bGPT model"),
            (MODEL, "train-1e5", "no split 'train-1e5'"),
        ]:
            await fill(pilot, screen, model, tiny_corpus, split)
            await pilot.press("ctrl+r")
            await finished(pilot, screen)
            assert status(screen).startswith("✗ ") and reason in status(screen)
            assert "\n" not in status(screen) and "Traceback" not in status(screen)
            assert table_rows(screen) == []


def test_progress_is_told_before_each_batch_and_a_stop_raises_between_batches():
    torch.manual_seed(0)
    model = BGPT(CONFIGS["tiny"]).train()
    pairs = list(real_pairs(6))
    sequences = SequenceSet.from_pairs(pairs, list(Direction), model.config.layout)
    told: list[tuple[int, int]] = []
    plain = score_sequences(model, sequences, batch_patches=1)
    scores = score_sequences(model, sequences, 1, progress=lambda d, t: told.append((d, t)))
    assert {d: s.as_dict() for d, s in scores.items()} == {d: s.as_dict() for d, s in plain.items()}
    assert told[0] == (0, 12) and told[-1] == (12, 12) and len(told) > 2
    assert [d for d, _ in told] == sorted(d for d, _ in told)

    # Stop once a batch is done: the scoring ends there, the model back in training mode.
    asked: list[int] = []

    def second_time() -> bool:
        asked.append(1)
        return len(asked) == 2

    with pytest.raises(EvaluationCancelled) as cancelled:
        score_sequences(model, sequences, 1, should_stop=second_time)
    assert cancelled.value.done == told[1][0] and cancelled.value.total == 12
    assert model.training


def test_evaluate_checkpoint_stops_before_loading_when_asked(tmp_path):
    with pytest.raises(EvaluationCancelled) as cancelled:
        evaluate_checkpoint(MODEL, tmp_path / "no corpus", should_stop=lambda: True)
    assert (cancelled.value.done, cancelled.value.total) == (0, 0)


def fixed_report() -> EvaluationReport:
    """A report with fixed numbers (a real model's floats vary by CPU)."""

    def score(direction: str, abc: float, midi: float) -> DirectionScore:
        return DirectionScore(
            direction,
            sequences=9,
            abc=SegmentScore(bits=abc * 1000, bytes=1000, positions=1009),
            midi=SegmentScore(bits=midi * 800, bytes=800, positions=809),
            nats=1234.5,
            positions=1818,
        )

    scores = {"abc2mid": score("abc2mid", 2.345, 0.4567), "mid2abc": score("mid2abc", 3.21, 0.12)}
    return EvaluationReport("runs/abc2mid", "corpora/essen", "test", 10, 2, scores)


def test_snapshot_evaluation_screen(app_folder, snap_compare):
    async def run_before(pilot):
        screen = await open_evaluation(pilot, model="runs/abc2mid", corpus="corpora/essen")
        screen.show_report(fixed_report())
        await pilot.pause()

    assert snap_compare(AbcMidiApp(app_folder), terminal_size=SIZE, run_before=run_before)


@pilot_test
async def test_n_opens_the_screen_with_the_engines_model(app_folder):
    """From the main screen, n: the model field holds the checkpoint of the bgpt engine."""
    app = AbcMidiApp(app_folder, engine=EngineSpec.of("bgpt", checkpoint=str(TRAINED_MODEL)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "n", EvaluationScreen)
        assert screen.query_one("#eval-model", Input).value == str(TRAINED_MODEL)
    assert any(key == "n" and "evaluate a model" in what for key, what in KEYS)
