"""The terminal UI driven through Textual's pilot, on real tunes from the music21 corpus:
open a folder, select tunes, convert both ways, round trip, compare, batch with cancel, save,
bad files; and snapshots of the main screens at 120x40."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from abcmidi_bgpt.checks.validate import validate_midi
from abcmidi_bgpt.core.performance import Performance, Voice
from abcmidi_bgpt.engines.base import EngineOutput, external_tools_available
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance, render_midi
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.batch import BatchScreen
from abcmidi_bgpt.tui.screens.compare import CompareColumn, CompareScreen
from abcmidi_bgpt.tui.screens.dialogs import ConfirmScreen, SaveScreen
from abcmidi_bgpt.tui.screens.engine import EngineScreen
from abcmidi_bgpt.tui.screens.help import HelpScreen
from abcmidi_bgpt.tui.widgets.library_tree import LibraryTree
from tests.support.tui import (
    SIZE,
    corpus,
    facts,
    labels,
    notifications,
    oneills,
    pilot_test,
    save_where_proposed,
    select,
    settle,
    status,
)


@pytest.fixture
def tunes_dir(tmp_path: Path) -> Path:
    """A folder as a musician has one: a tune book, single tunes, a subfolder, a MIDI file
    rendered from one of the tunes, and junk (a corrupt MIDI file, a text file and a binary
    file named .abc)."""
    root = tmp_path / "tunes"
    root.mkdir()
    book = oneills()
    (root / "book.abc").write_text("\n".join(book[n].text for n in ("38", "16", "29")))
    shutil.copy(corpus() / "ryansMammoth" / "AcaciaReel.abc", root / "acacia.abc")
    (root / "sub").mkdir()
    (root / "sub" / "monroe.abc").write_text(book["37"].text)
    midi = abc_to_midi(book["38"]).midi
    (root / "good-morning.mid").write_bytes(midi)
    (root / "corrupt.mid").write_bytes(midi[:40])
    (root / "junk.abc").write_text("shopping list\neggs, milk, flour\n")
    (root / "binary.abc").write_bytes(bytes(range(256)) * 4)
    return root


@pilot_test
async def test_open_folder_lists_music_files_and_expands_tune_books(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.query_one(LibraryTree)
        assert str(tree.root.label) == "tunes/"
        assert labels(tree.root) == [
            "sub/",
            "acacia.abc",
            "⚠ binary.abc",
            "book.abc  3 tunes",
            "corrupt.mid",  # MIDI files are read when selected
            "good-morning.mid",
            "⚠ junk.abc",
        ]
        book = tree.root.children[3]
        book.expand()
        await pilot.pause()
        assert labels(book) == [
            "X:38 Good Morning Fair Maid",
            "X:16 My Darling I Am Fond of You",
            "X:29 Fair Mary Mulholland",
        ]
        sub = tree.root.children[0]
        assert not sub.children  # folders are read when opened
        sub.expand()
        await pilot.pause()
        assert labels(sub) == ["monroe.abc"]


@pilot_test
async def test_select_tune_with_keys_shows_its_text_and_parse_status(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # root, sub/, acacia.abc, binary.abc, book.abc: open the book, take its second tune
        await pilot.press("down", "down", "down", "down", "enter", "down", "down")
        await settle(pilot)
        tune = oneills()["16"]
        assert app.main.abc_pane.text == tune.text
        assert "book.abc X:16" in app.main.abc_pane.border_title
        line = status(app)
        assert line.startswith("✓ parses")
        notes = sum(len(v.notes) for v in abc_to_midi(tune).performance.voices)
        assert f"{notes} notes" in line
        # the converter's warning about bars 17 and 18 is placed on the line of bar 17
        assert "line 12, col 25: 2 bar(s) differ from the meter" in line


@pilot_test
async def test_convert_tune_to_midi_shows_facts_and_roll_and_saves(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        await pilot.press("c")
        await settle(pilot)
        expected = abc_to_midi(split_tunes(read_abc_file(tunes_dir / "acacia.abc"))[0])
        notes = read_performance(expected.midi).notes()
        assert f"{len(notes)} notes" in facts(app)
        assert "2/4" in facts(app)
        roll = app.query_one("#piano-roll")
        assert roll.notes == notes
        assert "(unsaved)" in app.main.midi_pane.border_title

        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen)
        await pilot.press("enter")
        await pilot.pause()
        saved = tunes_dir / "acacia.mid"
        assert saved.read_bytes() == expected.midi

        # saving again asks before replacing: the first Enter only warns
        saved.write_bytes(b"MThd other")
        await save_where_proposed(pilot)
        assert isinstance(app.screen, SaveScreen)
        assert saved.read_bytes() == b"MThd other"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SaveScreen)
        assert saved.read_bytes() == expected.midi


@pilot_test
async def test_editing_places_the_error_and_keeps_the_edit_until_saved(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "book.abc", "X:38")
        original = app.main.abc_pane.text
        editor = app.main.abc_pane.editor
        row = original.split("\n").index(next(ln for ln in original.split("\n") if "|" in ln))
        editor.insert("#", (row, 3))
        await settle(pilot)
        assert f"line {row + 1}, col 4: cannot read '#'; skipped" in status(app)
        key = (tunes_dir / "book.abc", 0)
        assert app.main.edits[key] == editor.text
        tree = app.query_one(LibraryTree)
        assert tree.find_node(lambda e: getattr(e, "key", None) == key).label.plain.endswith("●")

        # moving away and back keeps the edit
        await select(pilot, "acacia.abc")
        await select(pilot, "book.abc", "X:38")
        assert app.main.abc_pane.text == editor.text != original

        # quitting asks first
        await pilot.press("escape", "q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)


@pilot_test
async def test_saving_an_edited_tune_replaces_only_that_tune_in_its_book(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    book = tunes_dir / "book.abc"
    before = split_tunes(read_abc_file(book))
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "book.abc", "X:16")
        editor = app.main.abc_pane.editor
        editor.replace("My Darling (edited)", (1, 3), (1, len(editor.document.lines[1])))
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen)
        await pilot.press("enter")  # the book exists: the first Enter warns
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        after = split_tunes(read_abc_file(book))
        assert [t.title for t in after] == [
            "Good Morning Fair Maid",
            "My Darling (edited)",
            "Fair Mary Mulholland",
        ]
        assert after[0].text == before[0].text and after[2].text == before[2].text
        assert after[1].text.replace("My Darling (edited)", "My Darling I Am Fond of You") == (
            before[1].text
        )
        assert not app.main.edits
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running  # nothing unsaved: no question


@pilot_test
async def test_bad_files_show_errors_in_their_pane_and_nothing_else_breaks(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "corrupt.mid")
        assert facts(app).startswith("✗ corrupt.mid: corrupt MIDI file")
        await pilot.press("c")  # converting it fails with a notification, nothing more
        await settle(pilot)
        assert any(m.startswith("corrupt.mid: ") for m in notifications(app))

        await select(pilot, "⚠ junk.abc")
        assert "no ABC tune found" in status(app)
        assert app.main.abc_pane.text.startswith("shopping list")
        assert app.main.abc_pane.editor.read_only

        await select(pilot, "⚠ binary.abc")
        assert "not a text file" in status(app)
        await pilot.press("c")
        await pilot.pause()
        assert any("Select a tune or a MIDI file" in m for m in notifications(app))

        await select(pilot, "good-morning.mid")
        assert "format 0" in facts(app)
        await select(pilot, "acacia.abc")
        assert status(app).startswith("✓ parses")


@pilot_test
async def test_an_engine_bug_is_a_notification_not_a_traceback(tunes_dir, monkeypatch):
    def broken(self, tune):
        raise KeyError("oops")

    monkeypatch.setattr("abcmidi_bgpt.engines.base.SymbolicEngine.abc_to_midi", broken)
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        await pilot.press("c")
        await settle(pilot)
        assert app.is_running
        assert any(
            "internal error while converting to MIDI: KeyError" in m for m in notifications(app)
        )
        assert not app.main.midi_pane.loading


@pilot_test
async def test_midi_to_abc_shows_the_transcription_and_saves_it(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "good-morning.mid")
        await pilot.press("c")
        await settle(pilot)
        text = app.main.abc_pane.text
        assert text.startswith("X:") and "\nK:" in text
        assert "good-morning.mid → ABC by symbolic" in app.main.abc_pane.border_title
        assert status(app).startswith("✓ parses")
        await save_where_proposed(pilot)
        assert (tunes_dir / "good-morning.abc").read_text() == text


@pilot_test
async def test_round_trip_scores_the_midi_file_and_shows_the_transcription(tunes_dir):
    from abcmidi_bgpt.checks.metrics import note_f1

    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "good-morning.mid")
        await pilot.press("r")
        await settle(pilot)
        abc = app.main.abc_pane.text
        reference = read_performance((tunes_dir / "good-morning.mid").read_bytes()).notes()
        again = abc_to_midi(split_tunes(abc)[0]).performance.notes()
        score = note_f1(reference, again)
        result = str(app.query_one("#midi-result").render())
        assert f"note F1 {score.f1:.3f}" in result
        assert "round trip" in app.main.abc_pane.border_title


class DroppingEngine:
    """Transcribes the MIDI file of Good Morning Fair Maid to its own ABC and renders ABC with
    the symbolic converter, dropping the last note: a round trip that loses exactly one."""

    name = "dropping"

    def __init__(self, abc: str) -> None:
        self.abc = abc

    def midi_to_abc(self, data: bytes, source: str = "") -> EngineOutput:
        return EngineOutput(self.abc.encode())

    def abc_to_midi(self, tune) -> EngineOutput:
        perf = abc_to_midi(tune).performance
        notes = perf.notes()[:-1]
        voices = [Voice(notes, name=perf.voices[0].name)]
        return EngineOutput(render_midi(Performance(voices, perf.tempos, perf.meters, perf.keys)))


@pytest.fixture
def lossy_app(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    engine = DroppingEngine(oneills()["38"].text)
    app.cache.get = lambda spec: engine
    return app


@pilot_test
async def test_round_trip_highlights_the_notes_it_lost(lossy_app, tunes_dir):
    app = lossy_app
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "good-morning.mid")
        await pilot.press("r")
        await settle(pilot)
        reference = read_performance((tunes_dir / "good-morning.mid").read_bytes()).notes()
        roll = app.query_one("#piano-roll")
        assert roll.missing == [reference[-1]] and roll.extra == []
        recall = (len(reference) - 1) / len(reference)
        f1 = 2 * recall / (1 + recall)
        result = str(app.query_one("#midi-result").render())
        assert f"note F1 {f1:.3f}" in result and "■ 1 lost" in result and "■ 0 added" in result


@pilot_test
async def test_compare_view_runs_every_engine_on_the_tune(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "book.abc", "X:38")
        await pilot.press("v")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        columns = {c.engine_name: c for c in screen.query(CompareColumn)}
        symbolic = str(columns["symbolic"].query_one(".compare-status").render())
        assert symbolic.startswith("✓ valid") and "reference" in symbolic
        assert columns["symbolic"].query_one("PianoRoll").notes
        other = str(columns["abc2midi"].query_one(".compare-status").render())
        if external_tools_available():
            assert other.startswith("✓ valid") and "note F1" in other
        else:
            assert "not installed" in other
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


@pilot_test
async def test_batch_converts_a_folder_and_reports_each_input(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "sub/")
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BatchScreen) and screen.folder == tunes_dir / "sub"
        await pilot.press("s")
        await settle(pilot)
        assert [r.status for r in screen.results] == ["converted"]
        out = tunes_dir / "out" / "monroe.mid"
        assert validate_midi(out.read_bytes())
        assert str(screen.query_one("#batch-summary").render()).startswith("done: 1 converted")
        await pilot.press("s")  # again: the output exists and is kept
        await settle(pilot)
        assert "1 skipped" in str(screen.query_one("#batch-summary").render())
        await pilot.press("escape")
        await pilot.pause()
        assert labels(app.query_one(LibraryTree).root)[:2] == ["out/", "sub/"]  # read again


@pilot_test
async def test_batch_cancel_stops_after_the_conversions_under_way(tunes_dir):
    many = tunes_dir / "many"
    many.mkdir()
    books = sorted((corpus() / "oneills1850").glob("*.abc"))[:20]  # 1,000 tunes: seconds of work
    for i, book in enumerate(books):
        shutil.copy(book, many / f"oneills{i:02}.abc")
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "many/")
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        await pilot.press("s")
        for _ in range(600):  # until the first tune is converted (the pool starts first)
            await pilot.pause(0.05)
            if screen.results:
                break
        assert screen.running
        await pilot.press("escape")  # cancels; a second escape would leave
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.running
        planned = screen.planned
        assert planned >= 900 and 0 < len(screen.results) < planned
        assert str(screen.query_one("#batch-summary").render()).startswith(
            f"cancelled after {len(screen.results)} of {planned}"
        )
        written = sorted((tunes_dir / "out").rglob("*"))
        assert written and all(validate_midi(p.read_bytes()) for p in written if p.is_file())
        assert not [p for p in written if p.name.endswith(".part")]
        assert isinstance(app.screen, BatchScreen)


@pilot_test
async def test_engine_dialog_sets_the_engine(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EngineScreen)
        screen.query_one("#chords").value = True
        await pilot.click("#use")
        await pilot.pause()
        assert app.main.engine_spec == EngineSpec.of("symbolic", chords=True)
        assert "engine: symbolic +chords" in app.sub_title


@pilot_test
async def test_engine_dialog_asks_bgpt_for_an_existing_checkpoint(tunes_dir, tmp_path):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        button = next(b for b in screen.query("RadioButton") if b.name == "bgpt")
        button.value = True
        screen.query_one("#checkpoint").value = str(tmp_path / "missing.pt")
        await pilot.click("#use")
        await pilot.pause()
        assert app.screen is screen
        assert "no such checkpoint" in str(screen.query_one("#engine-error").render())


@pilot_test
async def test_help_screen_lists_the_keys(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


# --- snapshots --------------------------------------------------------------------------------


@pytest.fixture
def two_engines(monkeypatch):
    """Fix the engines the screens offer, so snapshots do not change when one is added."""
    from abcmidi_bgpt.engines.registry import ENGINES

    for name in list(ENGINES):
        if name not in ("symbolic", "abc2midi"):
            monkeypatch.delitem(ENGINES, name)


def snapshot_app(tunes_dir: Path) -> AbcMidiApp:
    return AbcMidiApp(tunes_dir)


def test_snapshot_main_screen_after_converting_a_tune(tunes_dir, snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "book.abc", "X:38")
        await pilot.press("c")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, run_before=run_before)


def test_snapshot_round_trip_with_lost_note(lossy_app, snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "good-morning.mid")
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("3", "end")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(lossy_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_bad_abc_file(tunes_dir, snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "⚠ junk.abc")

    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, run_before=run_before)


@pytest.mark.skipif(not external_tools_available(), reason="abc2midi is not installed")
def test_snapshot_compare_view(tunes_dir, snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "book.abc", "X:38")
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, run_before=run_before)


def test_snapshot_batch_screen(tunes_dir, snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "sub/")
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, run_before=run_before)


def test_snapshot_help_screen(tunes_dir, snap_compare, two_engines):
    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, press=["question_mark"])


def test_snapshot_engine_dialog(tunes_dir, snap_compare, two_engines):
    assert snap_compare(snapshot_app(tunes_dir), terminal_size=SIZE, press=["e"])


@pilot_test
async def test_f8_puts_the_cursor_on_the_problem_and_letters_type_while_editing(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        await pilot.press("2")
        editor = app.main.abc_pane.editor
        assert app.focused is editor
        await pilot.press("end", "c", "v")  # typed, not convert and compare
        editor.move_cursor((10, 0))
        await pilot.press("number_sign")
        await settle(pilot)
        assert editor.document.lines[0] == "X: 1cv"
        assert editor.document.lines[10].startswith("#")
        assert not isinstance(app.screen, CompareScreen)
        assert "line 11, col 1: cannot read '#'; skipped" in status(app)
        editor.move_cursor((0, 0))
        await pilot.press("f8")
        assert editor.cursor_location == (10, 0)


@pilot_test
async def test_names_with_markup_characters_are_shown_as_they_are(tmp_path):
    """Brackets in folder, file and tune names are text, not Textual markup."""
    root = tmp_path / "[b]tunes"
    (root / "[old]").mkdir(parents=True)
    tune = oneills()["38"].text.replace("T: Good Morning Fair Maid", "T: Maid [G] [/] [bold]")
    (root / "[old]" / "a[1].abc").write_text(tune)
    app = AbcMidiApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "[old]/", "a[1].abc")
        assert "[old]/a[1].abc" in app.main.abc_pane.border_title
        await pilot.press("c")
        await settle(pilot)
        assert "a[1].abc → MIDI" in app.main.midi_pane.border_title
        await save_where_proposed(pilot)
        assert validate_midi((root / "[old]" / "a[1].mid").read_bytes())
        await pilot.press("b", "s")
        await settle(pilot)
        assert [r.status for r in app.screen.results] == ["converted"]


@pilot_test
async def test_enter_on_a_tune_goes_into_its_text(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        await pilot.press("enter")
        assert app.focused is app.main.abc_pane.editor
        await pilot.press("escape")
        assert app.focused is app.query_one(LibraryTree)


def test_tui_command_checks_its_folder_and_the_cli_starts_without_textual(tmp_path):
    import subprocess
    import sys

    from typer.testing import CliRunner

    from abcmidi_bgpt.cli.app import app as cli

    result = CliRunner().invoke(cli, ["tui", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "Invalid value for FOLDER" in result.output
    probe = "import sys, abcmidi_bgpt.cli.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pilot_test
async def test_reading_the_folder_again_keeps_the_cursor_on_its_file(tunes_dir):
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "good-morning.mid")
        (tunes_dir / "added.abc").write_text(oneills()["29"].text)
        await pilot.press("f5")
        await pilot.pause()
        tree = app.query_one(LibraryTree)
        assert "added.abc" in labels(tree.root)
        assert tree.cursor_node.data.path == tunes_dir / "good-morning.mid"
        await pilot.press("enter")  # the cursor really is there: enter opens its piano roll
        assert app.focused is app.main.midi_pane.roll


@pilot_test
async def test_a_result_that_arrives_under_another_screen_lands_in_its_pane(tunes_dir, monkeypatch):
    from abcmidi_bgpt.engines.base import SymbolicEngine

    convert = SymbolicEngine.abc_to_midi

    def slow(self, tune):
        time.sleep(0.5)
        return convert(self, tune)

    monkeypatch.setattr(SymbolicEngine, "abc_to_midi", slow)
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        await pilot.press("c", "question_mark")  # the help screen opens before the MIDI is ready
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert "acacia.abc → MIDI" in app.main.midi_pane.border_title
        assert app.main.midi_pane.roll.notes


@pilot_test
async def test_main_screen_keys_do_nothing_while_another_screen_is_up(tunes_dir):
    """The main screen's keys are its own bindings: under the help, compare or batch screen
    they reach none of its actions (no conversion, no dialog, no save), and its footer lists
    none of them; back on the main screen they act."""
    app = AbcMidiApp(tunes_dir)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "acacia.abc")
        main = app.main
        for opens in ("question_mark", "v", "b"):
            await pilot.press(opens)
            await settle(pilot)
            screen = app.screen
            assert screen is not main
            await pilot.press("c", "r", "v", "b", "e", "1", "ctrl+s")
            await settle(pilot)
            assert app.screen_stack == [main, screen]
            assert main.midi_output is None and main.abc_output is None
            assert not notifications(app)  # not even "Nothing to save"
            assert not [b for b in main.active_bindings.values() if b.binding.show]
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is main
        await pilot.press("c")
        await settle(pilot)
        assert main.midi_output is not None
