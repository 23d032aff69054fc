"""Score and audio in the terminal UI (p): the dialog writes what ``abcmidi-bgpt render``
writes, beside the selected tune or MIDI file, asks before replacing a file, names what to
install when a tool is missing, and plays through the command-line player the system has.
Driven through Textual's pilot on examples/jigs.abc and a MIDI file rendered from it."""

from __future__ import annotations

import io
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input

from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.reports.render import ToolMissing, check_tools
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.playback import find_player, play_command
from abcmidi_bgpt.tui.screens.dialogs import ConfirmScreen
from abcmidi_bgpt.tui.screens.help import keys_table
from abcmidi_bgpt.tui.screens.render import RenderScreen
from tests.support.paths import EXAMPLES
from tests.support.tui import SIZE, notifications, pilot_test, select, settle

SVG = "{http://www.w3.org/2000/svg}"
REAL_WHICH = shutil.which


def fluidsynth_missing() -> bool:
    try:
        check_tools({"wav"})
    except ToolMissing:
        return True
    return False


needs_fluidsynth = pytest.mark.skipif(
    fluidsynth_missing(), reason="FluidSynth or a General MIDI soundfont is not installed"
)


@pytest.fixture
def tunes(tmp_path: Path) -> Path:
    """A folder with the jigs book and a MIDI file rendered from its second tune."""
    root = tmp_path / "tunes"
    root.mkdir()
    shutil.copy(EXAMPLES / "jigs.abc", root / "jigs.abc")
    morrison = split_tunes(read_abc_file(EXAMPLES / "jigs.abc"))[1]
    (root / "morrison.mid").write_bytes(abc_to_midi(morrison).midi)
    return root


def only(**programs: str):
    """A stand-in for shutil.which that finds only ``programs`` (name -> path)."""
    return lambda name, *args, **kwargs: programs.get(name)


def notes_and_text(path: Path) -> tuple[int, str]:
    """Verovio's note groups and every text of an SVG page (which must parse)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    notes = [g for g in root.iter(f"{SVG}g") if "note" in (g.get("class") or "").split()]
    return len(notes), " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def is_wav(data: bytes) -> bool:
    return len(data) > 44 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


async def open_dialog(pilot, *labels: str) -> RenderScreen:
    await select(pilot, *labels)
    await pilot.press("p")
    await settle(pilot)  # the dialog's tool check runs in a worker
    assert isinstance(pilot.app.screen, RenderScreen)
    return pilot.app.screen


async def render(pilot) -> None:
    await pilot.click("#render-go")
    await settle(pilot)


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


# --- writing ----------------------------------------------------------------------------------


@pilot_test
async def test_the_score_of_a_tune_of_a_book_is_written_beside_it(tunes):
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "jigs.abc", "X:2")
        assert dialog.query_one("#render-score-path", Input).value == "jigs_X2.svg"
        assert dialog.query_one("#render-audio-path", Input).value == "jigs_X2.wav"
        await render(pilot)
        assert "✓ wrote jigs_X2.svg" in shown(dialog, "#render-status")
        assert "wrote jigs_X2.svg" in notifications(app)
        assert sorted(p.name for p in tunes.iterdir()) == [
            "jigs.abc",
            "jigs_X2.svg",
            "morrison.mid",
        ]
    count, text = notes_and_text(tunes / "jigs_X2.svg")
    assert count > 40 and "Morrison" in text


@pilot_test
async def test_the_score_shows_the_tune_as_edited_at_the_path_typed(tunes):
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "jigs.abc", "X:1")
        editor = app.main.abc_pane.editor
        editor.text = editor.text.replace("T:Kesh", "T:Kesh Edited Here")
        await settle(pilot)
        await pilot.press("escape", "p")
        await settle(pilot)
        path = app.screen.query_one("#render-score-path", Input)
        path.value = "scores/kesh.svg"
        await render(pilot)
    assert not (tunes / "jigs_X1.svg").exists()
    count, text = notes_and_text(tunes / "scores" / "kesh.svg")
    assert count > 40 and "Kesh Edited Here" in text


@needs_fluidsynth
@pilot_test
async def test_a_midi_file_gives_its_score_and_a_wav(tunes):
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "morrison.mid")
        await pilot.click("#render-audio")
        await render(pilot)
        assert "✓ wrote morrison.svg, morrison.wav" in shown(dialog, "#render-status")
    count, _ = notes_and_text(tunes / "morrison.svg")
    assert count > 40
    assert is_wav((tunes / "morrison.wav").read_bytes())


@pilot_test
async def test_an_existing_output_is_only_replaced_once_confirmed(tunes):
    old = tunes / "jigs_X2.svg"
    old.write_text("my own drawing")
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "jigs.abc", "X:2")
        assert "jigs_X2.svg exists" in shown(dialog, "#render-note")
        await pilot.click("#render-go")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is dialog
        assert "Nothing written" in shown(dialog, "#render-status")
        assert old.read_text() == "my own drawing"
        await pilot.click("#render-go")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert "✓ wrote jigs_X2.svg" in shown(dialog, "#render-status")
    assert notes_and_text(old)[0] > 40


# --- missing tools, players --------------------------------------------------------------------


@pilot_test
async def test_missing_tools_are_named_with_what_to_install_and_nothing_is_written(
    tunes, monkeypatch
):
    monkeypatch.setattr(shutil, "which", only())  # no FluidSynth, no player
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "jigs.abc", "X:2")
        assert "No audio player found (paplay, aplay, ffplay, afplay)" in shown(
            dialog, "#render-no-player"
        )
        assert dialog.query_one("#render-play", Checkbox).disabled
        await pilot.click("#render-audio")
        await settle(pilot)
        hint = "FluidSynth is not installed: apt install fluidsynth fluid-soundfont-gm"
        assert hint in shown(dialog, "#render-note")
        await render(pilot)
        assert hint in shown(dialog, "#render-status")
        monkeypatch.setitem(sys.modules, "verovio", None)  # import fails
        await pilot.click("#render-audio")
        await settle(pilot)
        assert "verovio is not installed: pip install verovio" in shown(dialog, "#render-note")
        await render(pilot)
        assert "verovio is not installed" in shown(dialog, "#render-status")
    assert sorted(p.name for p in tunes.iterdir()) == ["jigs.abc", "morrison.mid"]


def test_the_player_is_the_first_installed_with_its_options(monkeypatch, tmp_path):
    wav = tmp_path / "tune.wav"
    cases = [
        (only(aplay="/usr/bin/aplay", ffplay="/usr/bin/ffplay"), ["/usr/bin/aplay", str(wav)]),
        (
            only(ffplay="/opt/bin/ffplay", afplay="/usr/bin/afplay"),
            ["/opt/bin/ffplay", "-nodisp", "-autoexit", str(wav)],
        ),
        (only(afplay="/usr/bin/afplay"), ["/usr/bin/afplay", str(wav)]),
        (only(paplay="/usr/bin/paplay", aplay="/usr/bin/aplay"), ["/usr/bin/paplay", str(wav)]),
    ]
    for which, command in cases:
        monkeypatch.setattr(shutil, "which", which)
        assert play_command(find_player(), wav) == command
    monkeypatch.setattr(shutil, "which", only())
    assert find_player() is None


def fake_player(folder: Path, then: str = "exit 0") -> Path:
    """A program named paplay that keeps a copy of what it is asked to play, then ``then``."""
    program = folder / "paplay"
    program.write_text(
        "#!/bin/sh\n"
        f'cp "$1" "{folder}/played.wav"\n'
        'echo "Connection failure: Connection refused" >&2\n'
        f"{then}\n"
    )
    program.chmod(0o755)
    return program


def with_player(monkeypatch, player: Path) -> None:
    monkeypatch.setattr(
        shutil, "which", only(paplay=str(player), fluidsynth=REAL_WHICH("fluidsynth"))
    )


@needs_fluidsynth
@pilot_test
async def test_play_runs_the_player_on_the_wav_and_writes_nothing(tunes, tmp_path, monkeypatch):
    player = fake_player(tmp_path)
    with_player(monkeypatch, player)
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "jigs.abc", "X:1")
        assert "Play with paplay" in shown(dialog, "#render-play")
        await pilot.click("#render-score")  # off: play only
        await pilot.click("#render-play")
        await render(pilot)
        assert "✓ played" in shown(dialog, "#render-status")
        assert is_wav((tmp_path / "played.wav").read_bytes())
        assert sorted(p.name for p in tunes.iterdir()) == ["jigs.abc", "morrison.mid"]
        player.write_text(player.read_text().replace("exit 0", "exit 1"))  # no sound device
        await render(pilot)
        status = shown(dialog, "#render-status")
        assert "✗ jigs.abc X:1 Kesh: paplay failed: Connection failure" in status


@needs_fluidsynth
@pilot_test
async def test_closing_the_dialog_stops_the_player(tunes, tmp_path, monkeypatch):
    with_player(monkeypatch, fake_player(tmp_path, then="exec sleep 60"))
    app = AbcMidiApp(tunes)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, "jigs.abc", "X:1")
        await pilot.click("#render-play")
        await pilot.click("#render-go")
        for _ in range(300):  # until the player runs
            await pilot.pause(0.1)
            if "playing with paplay" in shown(dialog, "#render-status"):
                break
        assert "▶ playing with paplay (escape stops)" in shown(dialog, "#render-status")
        started = time.monotonic()
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        assert time.monotonic() - started < 10
        assert not isinstance(app.screen, RenderScreen)


def test_the_help_screen_lists_the_key():
    from rich.console import Console

    console = Console(width=120, file=io.StringIO())
    console.print(keys_table())
    text = console.file.getvalue()
    assert re.search(r"^p +score and audio: SVG, WAV, or play it", text, re.M)


# --- snapshot ---------------------------------------------------------------------------------


def test_snapshot_score_and_audio_dialog(tunes, snap_compare, monkeypatch):
    monkeypatch.setattr(shutil, "which", only(paplay="/usr/bin/paplay"))

    async def run_before(pilot):
        await open_dialog(pilot, "jigs.abc", "X:2")

    assert snap_compare(AbcMidiApp(tunes), terminal_size=SIZE, run_before=run_before)
