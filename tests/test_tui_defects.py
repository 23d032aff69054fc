"""Defects users reported in the terminal UI, each driven through Textual's pilot on the tunes
in examples/: the key footer empty at startup, the compare view's piano rolls neither fitting
the tune nor aligned, an ABC status saying "✓ parses" and "✗ cannot parse" at once, and radio
buttons that look the same chosen or not in a terminal without colour."""

from __future__ import annotations

import dataclasses

import pytest
from textual import events
from textual.widgets import Checkbox, Footer, RadioButton

from abcmidi_bgpt.core.performance import Performance, Voice
from abcmidi_bgpt.engines.base import EngineOutput, external_tools_available
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance, render_midi
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.compare import CompareColumn, CompareScreen
from abcmidi_bgpt.tui.screens.engine import EngineScreen
from abcmidi_bgpt.tui.widgets.library_tree import FolderEntry
from abcmidi_bgpt.tui.widgets.piano_roll import PITCH_MARGIN, PianoRoll, pitch_name
from tests.support.paths import EXAMPLES
from tests.support.tui import SIZE, pilot_test, select, settle, status

MAIN_KEYS = [
    ("c", "Convert"),
    ("r", "Round trip"),
    ("v", "Compare"),
    ("b", "Batch"),
    ("e", "Engine"),
    ("ctrl+s", "Save"),
    ("question_mark", "Help"),
    ("q", "Quit"),
]


@pytest.fixture
def two_engines(monkeypatch):
    """Fix the engines the screens offer, so snapshots do not change when one is added."""
    from abcmidi_bgpt.engines.registry import ENGINES

    for name in list(ENGINES):
        if name not in ("symbolic", "abc2midi"):
            monkeypatch.delitem(ENGINES, name)


def unfocused_app() -> AbcMidiApp:
    """The app as a terminal starts it that reports, on startup, that its window is not the
    focused one (focus reporting, ESC [ O): Textual's footer then stayed empty."""
    app = AbcMidiApp(EXAMPLES)
    app.post_message(events.AppBlur())
    return app


def footer_keys(app: AbcMidiApp) -> list[tuple[str, str]]:
    footer = app.screen.query_one(Footer)
    return [(key.key, key.description) for key in footer.query("FooterKey") if key.description]


# --- 1. the key footer from the start -------------------------------------------------------


@pilot_test
async def test_the_footer_lists_the_keys_from_the_start_when_the_terminal_is_unfocused():
    app = unfocused_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.app_focus  # the terminal's report arrived
        assert isinstance(app.main.selected, FolderEntry)  # no file selected
        assert footer_keys(app)[: len(MAIN_KEYS)] == MAIN_KEYS
        await pilot.press("down")  # moving to a tune, focused again: the keys stay
        await settle(pilot)
        assert app.app_focus and footer_keys(app)[: len(MAIN_KEYS)] == MAIN_KEYS


def test_snapshot_main_screen_at_start_unfocused(snap_compare, two_engines):
    async def run_before(pilot):
        await pilot.pause()  # the main screen composes after the app is ready
        await settle(pilot)

    assert snap_compare(unfocused_app(), terminal_size=SIZE, run_before=run_before)


# --- 2. the compare view's piano rolls fit the tune and align -------------------------------


def butterfly():
    """The Butterfly, a slip jig from E4 to B5."""
    return split_tunes(read_abc_file(EXAMPLES / "butterfly-slip-jig.abc"))[0]


class RaisingEngine:
    """The symbolic converter's rendering with its highest notes a tone higher: an engine
    whose notes reach above the reference's (C#6), with notes missing and extra."""

    name = "raising"

    def abc_to_midi(self, tune) -> EngineOutput:
        perf = abc_to_midi(tune).performance
        notes = perf.notes()
        top = max(n.pitch for n in notes)
        raised = [dataclasses.replace(n, pitch=n.pitch + 2) if n.pitch == top else n for n in notes]
        voices = [Voice(raised, name=perf.voices[0].name)]
        return EngineOutput(render_midi(Performance(voices, perf.tempos, perf.meters, perf.keys)))


def pitch_lines(roll: PianoRoll) -> dict[str, int]:
    """The screen line of each pitch the roll labels, by its name."""
    lines = roll.render().plain.split("\n")
    labels = {i: line[:4].strip() for i, line in enumerate(lines)}
    return {name: roll.region.y + i for i, name in labels.items() if name[:1].isalpha()}


@pilot_test
async def test_compare_rolls_show_the_range_of_every_engines_notes_on_the_same_lines(
    two_engines, monkeypatch
):
    raising = RaisingEngine()
    monkeypatch.setattr("abcmidi_bgpt.tui.engines.unavailable_reason", lambda name: None)
    app = AbcMidiApp(EXAMPLES)
    real_get = app.cache.get
    app.cache.get = lambda spec: raising if spec.name == "abc2midi" else real_get(spec)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "butterfly")
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        columns = list(app.screen.query(CompareColumn))
        statuses = [c.query_one(".compare-status") for c in columns]
        assert statuses[0].size.height != statuses[1].size.height  # the rolls start apart
        tune = butterfly()
        pitches = [n.pitch for n in abc_to_midi(tune).performance.notes()]
        assert (pitch_name(min(pitches)), pitch_name(max(pitches))) == ("E4", "B5")
        raised = [n.pitch for n in read_performance(raising.abc_to_midi(tune).data).notes()]
        low = min(pitches + raised) - PITCH_MARGIN
        high = max(pitches + raised) + PITCH_MARGIN
        expected = [pitch_name(p) for p in range(high, low - 1, -1)]  # D#6 down to D4
        rolls = [c.query_one(PianoRoll) for c in columns]
        lines = [pitch_lines(roll) for roll in rolls]
        for shown in lines:
            assert list(shown) == expected
        assert lines[0] == lines[1]  # each pitch on the same screen line in both panes


@pytest.mark.skipif(not external_tools_available(), reason="abc2midi is not installed")
def test_snapshot_compare_rolls_fit_the_tune(snap_compare, two_engines):
    async def run_before(pilot):
        await select(pilot, "butterfly")
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(AbcMidiApp(EXAMPLES), terminal_size=SIZE, run_before=run_before)


# --- 3. one verdict on the ABC status line --------------------------------------------------


@pilot_test
async def test_garbage_typed_into_the_editor_gets_one_verdict_naming_the_failed_check():
    app = AbcMidiApp(EXAMPLES)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "big-man")
        assert status(app).startswith("✓ parses · 140 notes")
        editor = app.main.abc_pane.editor
        await pilot.press("2")
        editor.move_cursor(editor.document.end)  # the empty line after the tune's last
        await pilot.press(*"qwe }}} {{{ ]]] [[[")
        await settle(pilot)
        assert app.main.abc_pane.text.endswith("D2:|\nqwe }}} {{{ ]]] [[[")
        line = status(app)
        assert "✓" not in line
        assert line.startswith("✗ invalid: music21 cannot parse the ABC: Bad chord indicator")
        assert "(the symbolic converter reads 141 notes in 1 voice)" in line  # e is a note


# --- 4. radio buttons and checkboxes without colour -----------------------------------------


def marks(screen) -> list[str]:
    """The mark each radio button and checkbox draws, as text: no colour."""
    return [b.render().plain[:3] for b in screen.query("RadioButton, Checkbox")]


@pilot_test
async def test_the_engine_dialog_marks_the_chosen_engine_in_text(two_engines):
    app = AbcMidiApp(EXAMPLES)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EngineScreen)
        names = [b.name for b in screen.query(RadioButton)]
        assert names == ["symbolic", "abc2midi"]
        # symbolic is chosen, chord accompaniment off
        assert marks(screen) == ["▐●▌", "▐ ▌", "▐ ▌"]
        next(b for b in screen.query(RadioButton) if b.name == "abc2midi").value = True
        screen.query_one("#chords", Checkbox).value = True
        await pilot.pause()
        assert marks(screen) == ["▐ ▌", "▐●▌", "▐X▌"]


def test_snapshot_engine_dialog_without_colour(snap_compare, two_engines, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(AbcMidiApp(EXAMPLES), terminal_size=SIZE, press=["e"])
