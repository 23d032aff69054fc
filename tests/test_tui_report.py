"""The comparison report screen: a hand-written tunes.csv (the real header, fixed numbers) listed
worst first, re-sorted by a header, summed up per direction and engine; a folder without a
comparison; one snapshot."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from abcmidi_bgpt.cli.app import app as cli
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.reports.compare_report import CSV_FIELDS
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.compare import CompareScreen
from abcmidi_bgpt.tui.screens.help import KEYS
from abcmidi_bgpt.tui.screens.report import ReportScreen
from tests.support.paths import EXAMPLES
from tests.support.tui import SIZE, notifications, open_screen, pilot_test

ROWS = [
    dict(tune="reel", direction="abc2mid", engine="symbolic", valid=True, f1=1, exact=True),
    dict(tune="reel", direction="abc2mid", engine="bgpt", valid=True, f1=0.75, exact=False),
    dict(tune="jig", direction="abc2mid", engine="symbolic", valid=True, f1=1, exact=True),
    dict(tune="jig", direction="abc2mid", engine="bgpt", valid=False, f1=0,
         message="bad MIDI: no end of track\nsecond line"),
    dict(tune="air", direction="abc2mid", engine="bgpt", valid=True, f1=0.5, exact=False),
    dict(tune="air", direction="mid2abc", engine="bgpt", valid=True, f1=0.9, exact=False),
    dict(tune="hornpipe", direction="abc2mid", engine="bgpt", valid=False, f1=0,
         message="timed out"),
]  # fmt: skip


def write_comparison(folder: Path, rows: list[dict] = ROWS) -> Path:
    """A tunes.csv as compare_report.write_csv writes it: every column, None as empty."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "tunes.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({"seconds": 0.5, "f1_offset": row["f1"], **row})
    return folder


async def load(pilot, path: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#report-path").value = path
    await pilot.press("enter")
    for _ in range(100):
        await pilot.pause(0.05)
        if not str(summary(screen)).startswith("Reading"):
            break
    await pilot.pause()


def summary(screen: ReportScreen) -> str:
    return str(screen.summary.render())


def shown(screen: ReportScreen, *columns: str) -> list[tuple[str, ...]]:
    table = screen.table
    return [
        tuple(table.get_row_at(i)[[c.value for c in table.columns].index(c)] for c in columns)
        for i in range(table.row_count)
    ]


async def click_header(pilot, screen: ReportScreen, column: str) -> None:
    table = screen.table
    x = 0
    for key, col in table.columns.items():
        if key.value == column:
            break
        x += col.get_render_width(table)
    await pilot.click("#report-table", offset=(x + 1, 0))
    await pilot.pause()


@pilot_test
async def test_rows_are_listed_worst_first_and_a_header_resorts(tmp_path, app_folder):
    folder = write_comparison(tmp_path / "cmp")
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "m", ReportScreen)
        await load(pilot, str(folder))
        assert shown(screen, "tune", "engine", "f1") == [
            ("hornpipe", "bgpt", "0.000"),
            ("jig", "bgpt", "0.000"),
            ("air", "bgpt", "0.500"),
            ("reel", "bgpt", "0.750"),
            ("air", "bgpt", "0.900"),
            ("jig", "symbolic", "1.000"),
            ("reel", "symbolic", "1.000"),
        ]
        # Only the first line of a message, valid as yes / no.
        assert shown(screen, "valid", "message")[1] == ("no", "bad MIDI: no end of track")

        await click_header(pilot, screen, "f1")  # the table is sorted by F1: reversed
        assert [f1 for (f1,) in shown(screen, "f1")][:2] == ["1.000", "1.000"]
        assert shown(screen, "tune")[-2:] == [("jig",), ("hornpipe",)]
        await click_header(pilot, screen, "tune")  # another column: by it, ascending
        assert [t for (t,) in shown(screen, "tune")] == sorted(r["tune"] for r in ROWS)
        await click_header(pilot, screen, "f1")  # back to worst first
        assert shown(screen, "tune", "f1")[0] == ("hornpipe", "0.000")

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ReportScreen)


@pilot_test
async def test_the_summary_has_one_line_per_direction_and_engine(tmp_path, app_folder):
    folder = write_comparison(tmp_path / "cmp")
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "m", ReportScreen)
        await load(pilot, str(folder))
        lines = summary(screen).splitlines()
        assert lines == [
            "ABC → MIDI · symbolic: 2 tunes, 2 valid, 2 exact · note F1 median 1.000, mean 1.000",
            "ABC → MIDI · bgpt: 4 tunes, 2 valid, 0 exact · note F1 median 0.250, mean 0.312",
            "MIDI → ABC · bgpt: 1 tune, 1 valid, 0 exact · note F1 median 0.900, mean 0.900",
        ]


@pilot_test
async def test_a_folder_without_a_comparison_gives_one_line(tmp_path, app_folder):
    (tmp_path / "empty").mkdir()
    write_comparison(tmp_path / "garbled", [dict(tune="x", direction="sideways", engine="e",
                                                 valid=True, f1=1)])  # fmt: skip
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "m", ReportScreen)
        for path, reason in [
            (tmp_path / "empty", "has no tunes.csv"),
            (tmp_path / "nowhere", "no such folder"),
            (tmp_path / "garbled", "cannot read"),
        ]:
            await load(pilot, str(path))
            assert reason in summary(screen)
            assert "\n" not in summary(screen)
            assert screen.table.row_count == 0


@pilot_test
async def test_enter_on_a_row_opens_its_tune_in_the_compare_view(tmp_path, app_folder):
    """A real comparison (the compare command on a real tune book and a MIDI file, rule-based
    engines): Enter on a row opens that tune, in that row's direction, in the compare view."""
    source = tmp_path / "in"
    source.mkdir()
    book = split_tunes(read_abc_file(EXAMPLES / "reels.abc"))[:2]
    (source / "reels.abc").write_text("\n".join(t.full_text for t in book))
    midi = abc_to_midi(book[0].full_text).midi
    (source / "first.mid").write_bytes(midi)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        cli, ["compare", str(source), "--out", str(out), "--engine", "symbolic"]
    )
    assert result.exit_code == 0, result.output
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "m", ReportScreen)
        await load(pilot, str(out))
        rows = shown(screen, "tune", "direction")
        assert len(rows) == 5  # two tunes both ways, the MIDI file one way
        tune_row = rows.index(next(r for r in rows if r[1] == "abc2mid"))
        file_row = rows.index(next(r for r in rows if r[0].endswith("first.mid")))
        for index in (tune_row, file_row):
            name, direction = rows[index]
            screen.table.focus()
            screen.table.move_cursor(row=index)
            await pilot.press("enter")
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, CompareScreen):
                    break
            compare = app.screen
            assert isinstance(compare, CompareScreen)
            assert compare.subject.label == name and str(compare.subject.direction) == direction
            if compare.subject.tune is not None:
                assert compare.subject.tune.title == book[int(name[-1]) - 1].title
            else:
                assert compare.subject.midi == midi
            await app.workers.wait_for_complete()
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen


@pilot_test
async def test_a_comparison_without_its_inputs_says_so(tmp_path, app_folder):
    folder = write_comparison(tmp_path / "cmp")  # hand-written: no inputs.jsonl
    app = AbcMidiApp(app_folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, "m", ReportScreen)
        await load(pilot, str(folder))
        screen.table.focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen
        assert any("has no inputs.jsonl" in m for m in notifications(app))


def test_the_help_screen_lists_the_key():
    assert any(key == "m" and "comparison" in what for key, what in KEYS)


def test_snapshot_report_screen(tmp_path, app_folder, snap_compare, monkeypatch):
    write_comparison(tmp_path / "cmp")
    monkeypatch.chdir(tmp_path)  # the path typed, shown on screen, is the same on every machine

    async def run_before(pilot):
        screen = await open_screen(pilot, "m", ReportScreen)
        await load(pilot, "cmp")
        assert screen.table.row_count == len(ROWS)

    assert snap_compare(AbcMidiApp(app_folder), terminal_size=SIZE, run_before=run_before)
