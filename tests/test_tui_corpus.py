"""The corpus screen on real tunes (the first 50 of O'Neill's 1850, from music21's corpus, in a
folder): a build started with keys shows its stages and then the corpus on disk, its splits and
its histograms as the dataset's lengths; a build cancelled and built again resumes from the
cache to the same corpus; bad input is one line; one snapshot of a built corpus.

One corpus is built by the library (module fixture) to compare the screen's builds with.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import datasets
import pytest

from abcmidi_bgpt.bgpt.dataset import load_manifest
from abcmidi_bgpt.bgpt.patches import PatchLayout, pair_patches
from abcmidi_bgpt.core.errors import ModelError
from abcmidi_bgpt.corpus.build import BuildSettings, build_corpus
from abcmidi_bgpt.corpus.sources import MUSIC21_COLLECTIONS, music21_corpus_dir
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.screens.corpus import (
    HISTOGRAMS,
    CorpusScreen,
    LengthHistogram,
    folder_state,
)
from abcmidi_bgpt.tui.screens.help import KEYS
from tests.support.tui import SIZE, open_screen, pilot_test, wait_for

SCALES = (10, 20)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A folder holding ``tunes/`` (one real file, 50 tunes) and ``built/``, its corpus built
    by the library with the scales the tests type."""
    root = tmp_path_factory.mktemp("corpus-screen")
    (root / "tunes").mkdir()
    shutil.copy(music21_corpus_dir() / "oneills1850" / "0001-0050.abc", root / "tunes")
    build_corpus([str(root / "tunes")], root / "built", BuildSettings(scales=SCALES), jobs=2)
    return root


def status(screen: CorpusScreen) -> str:
    return str(screen.query_one("#corpus-status").render())


def table_rows(screen: CorpusScreen, id: str) -> list[list[str]]:
    table = screen.query_one(f"#{id}")
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def histograms(screen: CorpusScreen) -> dict[str, dict[str, list[int]]]:
    return {c: screen.query_one(f"#hist-{c}", LengthHistogram).data for c, _ in HISTOGRAMS}


def read(screen: CorpusScreen) -> bool:
    """The corpus of the output folder has been read and drawn."""
    return bool(histograms(screen)["abc_bytes"])


async def open_corpus_screen(pilot, out: Path, tunes: Path, **kwargs) -> CorpusScreen:
    """The screen pushed as the main screen would, the folder source typed in."""
    await pilot.pause()
    screen = CorpusScreen(out=out, scales="10 20", **kwargs)
    await pilot.app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#folder").value = str(tunes)
    return screen


def expected_lengths(folder: Path) -> dict[str, dict[str, list[int]]]:
    """Per column, per split: each row's length, from the dataset on disk."""
    settings = load_manifest(folder)["settings"]
    layout = PatchLayout(settings["patch_size"], settings["max_patches"])
    corpus = datasets.load_from_disk(str(folder))
    lengths: dict[str, dict[str, list[int]]] = {c: {} for c, _ in HISTOGRAMS}
    for split in ("train", "validation", "test"):
        rows = corpus[split]
        if not len(rows):
            continue
        abc = [len(text.encode("utf-8")) for text in rows["abc"]]
        midi = [len(data) for data in rows["midi"]]
        lengths["abc_bytes"][split] = abc
        lengths["midi_bytes"][split] = midi
        lengths["patches"][split] = [
            pair_patches(a, m, layout) for a, m in zip(abc, midi, strict=True)
        ]
    return lengths


def expected_splits(folder: Path) -> list[list[str]]:
    splits = load_manifest(folder)["splits"]
    return [
        [name, str(s["rows"]), str(s["tunes"]), str(s["transposed_rows"]), str(s["abc_bytes"]),
         str(s["midi_bytes"])]
        for name, s in splits.items()
    ]  # fmt: skip


@pilot_test
async def test_a_build_shows_its_stages_then_the_corpus_it_wrote(tmp_path, built):
    out = tmp_path / "corpus"
    app = AbcMidiApp(built / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_corpus_screen(pilot, out, built / "tunes", jobs=2)
        await wait_for(pilot, lambda: "no corpus in" in status(screen))
        for name in MUSIC21_COLLECTIONS:  # only the folder: untick every music21 collection
            await pilot.click(f"#m21-{name}")
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: screen.running)
        assert screen.query_one("#build").disabled and not screen.query_one("#cancel").disabled
        await wait_for(pilot, lambda: not screen.running and read(screen))

        manifest = load_manifest(out)
        kept = manifest["counts"]["pairs_kept"]
        assert status(screen).startswith(f"built {out}: {kept} pairs kept")
        assert screen.stages["reading sources"] == (1, 1)
        assert screen.stages["naming tunes"] == (50, 50)
        converted, total = screen.stages["converting tunes"]
        # The build stops once the scales are filled: not every tune is converted.
        assert total == 50 and kept <= converted < 50
        assert screen.stages["writing dataset"] == (kept, kept)
        assert table_rows(screen, "corpus-stages")[1] == ["naming tunes", "50", "50"]
        # What was decided, shown as the build went: growing, and at the end the manifest's.
        shown = screen.tallies
        assert len(shown) >= 2 and shown[0].converted <= shown[-1].converted
        counts = manifest["counts"]
        assert shown[-1].converted == counts["tunes_converted"] and shown[-1].kept == kept
        assert (shown[-1].duplicates, shown[-1].too_long) == (
            counts["duplicates"],
            counts["too_long"],
        )
        assert table_rows(screen, "corpus-splits") == expected_splits(out)
        summary = str(screen.query_one("#corpus-summary").render())
        assert f"50 tunes found · {manifest['counts']['tunes_converted']} converted" in summary
        assert f"{kept} pairs kept" in summary
        assert histograms(screen) == expected_lengths(out)
        # The same corpus as the library builds from the same sources and settings.
        assert manifest["content_hash"] == load_manifest(built / "built")["content_hash"]


@pilot_test
async def test_a_cancelled_build_resumes_from_the_cache_when_built_again(tmp_path, built):
    out = tmp_path / "corpus"
    app = AbcMidiApp(built / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_corpus_screen(pilot, out, built / "tunes", collections=(), jobs=1)
        await pilot.click("#build")
        await wait_for(pilot, lambda: screen.stages.get("converting tunes", (0, 0))[0] >= 3)
        await pilot.press("escape")  # while building, Escape cancels
        await wait_for(pilot, lambda: not screen.running)
        assert status(screen) == "cancelled; build again to resume from the cache"
        assert isinstance(app.screen, CorpusScreen)
        assert "writing dataset" not in screen.stages
        # Stopped cleanly: no worker left, the folder not a corpus, the finished tunes cached.
        assert multiprocessing.active_children() == []
        assert folder_state(out) == "incomplete"
        with pytest.raises(ModelError, match="did not finish"):
            load_manifest(out)
        with sqlite3.connect(out / "cache" / "results.sqlite") as db:
            cached = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        assert cached >= 3
        assert not read(screen)

        await pilot.press("ctrl+b")  # an unfinished build: no question asked
        await wait_for(pilot, lambda: not screen.running and read(screen))
        assert "from the cache" in status(screen)
        from_cache = int(status(screen).split(", ")[-1].split()[0])
        assert from_cache >= cached
        assert load_manifest(out)["content_hash"] == load_manifest(built / "built")["content_hash"]
        assert histograms(screen) == expected_lengths(out)


@pilot_test
async def test_bad_input_is_one_line_and_a_finished_corpus_is_not_rebuilt_unasked(tmp_path, built):
    other = tmp_path / "music"
    other.mkdir()
    (other / "notes.txt").write_text("not a corpus")
    app = AbcMidiApp(built / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_corpus_screen(pilot, tmp_path / "out", tmp_path / "typo", jobs=1)
        await pilot.click("#m21-oneills1850")  # the others stay ticked: not the error here
        screen.query_one("#scales").value = "ten"
        await pilot.press("ctrl+b")
        assert status(screen) == "✗ not a scale: 'ten' (write 1e3, 1000 or 10^3)"
        screen.query_one("#scales").value = "10"
        for name in MUSIC21_COLLECTIONS[1:]:
            await pilot.click(f"#m21-{name}")
        await pilot.press("ctrl+b")  # a folder that is not there
        await wait_for(pilot, lambda: not screen.running and "✗" in status(screen))
        assert status(screen).startswith("✗ build stopped: ")
        assert "typo: no such folder or file" in status(screen)
        screen.query_one("#folder").value = ""
        await pilot.press("ctrl+b")
        assert status(screen) == "✗ no source: tick a music21 collection or type a folder"

        screen.query_one("#folder").value = str(built / "tunes")
        screen.query_one("#out").value = str(other)
        await pilot.press("ctrl+b")
        assert status(screen) == f"✗ {other} is not a corpus folder: choose another output"
        screen.query_one("#out").focus()
        await pilot.press("enter")  # read what is there
        await wait_for(pilot, lambda: "cannot read" in status(screen))
        assert "\n" not in status(screen) and not read(screen)

        # A corpus folder from elsewhere whose manifest is garbled: one line each.
        for manifest, reason in [
            ('{"complete": true, "counts": [], "splits": {}, "settings": 3}', "cannot read"),
            ("[1, 2]", "not a corpus manifest"),
            ('{"complete": true, "splits": []}', "not a corpus manifest"),
        ]:
            garbled = tmp_path / f"garbled{len(reason)}{len(manifest)}"
            garbled.mkdir()
            (garbled / "corpus.json").write_text(manifest)
            screen.query_one("#out").value = str(garbled)
            await pilot.press("enter")
            await wait_for(pilot, lambda reason=reason: reason in status(screen))
            assert "\n" not in status(screen) and not read(screen)

        screen.query_one("#out").value = str(built / "built")
        await pilot.press("enter")
        await wait_for(pilot, lambda: read(screen))
        assert status(screen) == f"{built / 'built'}: a finished corpus"
        await pilot.click("#build")
        assert "holds a finished corpus: Ctrl+B again rebuilds it" in status(screen)
        assert not screen.running
        await pilot.press("escape")
        assert not isinstance(app.screen, CorpusScreen)


def test_snapshot_corpus_screen(built, snap_compare, monkeypatch):
    monkeypatch.chdir(built)  # the paths typed, shown on screen, are the same on every machine

    async def run_before(pilot):
        screen = CorpusScreen(out=Path("built"), collections=(), scales="10 20", jobs=1)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#folder").value = "tunes"
        await wait_for(pilot, lambda: read(screen))
        await pilot.pause()

    assert snap_compare(AbcMidiApp(Path("tunes")), terminal_size=SIZE, run_before=run_before)


@pilot_test
async def test_o_opens_the_screen_from_the_main_screen(tmp_path):
    (tmp_path / "tunes").mkdir()
    app = AbcMidiApp(tmp_path / "tunes")
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, "o", CorpusScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CorpusScreen)
    assert any(key == "o" and "corpus" in what for key, what in KEYS)
