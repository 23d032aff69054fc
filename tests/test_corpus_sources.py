"""Sources: IrishMAN (on local files of its schema), the music21 collections, folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abcmidi_bgpt.bgpt.dataset import load_split
from abcmidi_bgpt.corpus.build import BuildSettings, build_corpus
from abcmidi_bgpt.corpus.pipeline import PipelineSettings, render_tune
from abcmidi_bgpt.corpus.sources import (
    IRISHMAN_REPO,
    SourceError,
    irishman_tunes,
    music21_corpus_dir,
    music21_tunes,
    read_source,
)


def irishman_rows(paths: list[Path]) -> list[dict]:
    """Rows shaped like IrishMAN's JSON files: control codes and normalised ABC from 'X:1'."""
    rows = []
    for path in paths:
        abc = render_tune(path.read_text(encoding="utf-8"), PipelineSettings()).rendered.abc
        bars = abc.count("|")
        rows.append(
            {"control code": f"S:2\nB:{bars // 2}\nE:0\nB:{bars // 2}\n", "abc notation": abc}
        )
    return rows


@pytest.fixture(scope="module")
def irishman_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("irishman")
    tunes = sorted((music21_corpus_dir() / "ryansMammoth").glob("*Reel.abc"))[:6]
    train, validation = irishman_rows(tunes[:4]), irishman_rows(tunes[4:])
    train.append({"control code": "S:1\n", "abc notation": ""})  # an empty row
    (folder / "train.json").write_text(json.dumps(train), encoding="utf-8")
    (folder / "validation.json").write_text(json.dumps(validation), encoding="utf-8")
    return folder


def test_irishman_loader_reads_both_splits_of_local_files(irishman_folder, tmp_path):
    read = irishman_tunes(irishman_folder, cache_dir=tmp_path / "hf")
    expected = json.loads((irishman_folder / "train.json").read_text())
    expected += json.loads((irishman_folder / "validation.json").read_text())
    assert [t.text for t in read.tunes] == [
        r["abc notation"] for r in expected if r["abc notation"]
    ]
    assert [t.key for t in read.tunes][:2] == ["irishman/train/0", "irishman/train/1"]
    assert read.tunes[-1].key == "irishman/validation/1"
    assert [p.key for p in read.problems] == ["irishman/train/4"]
    assert read.info["rows"] == {"train": 5, "validation": 2}
    described = read.describe()
    assert described["tunes"] == 6 and described["unreadable"] == 1


def test_irishman_source_by_name_and_single_file(irishman_folder, tmp_path):
    by_name = read_source(f"irishman:{irishman_folder}", cache_dir=tmp_path / "hf")
    assert len(by_name.tunes) == 6 and by_name.info["kind"] == "irishman"
    one_file = irishman_tunes(irishman_folder / "validation.json", cache_dir=tmp_path / "hf")
    assert [t.key for t in one_file.tunes] == ["irishman/train/0", "irishman/train/1"]


def test_irishman_without_its_abc_column_is_refused(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps([{"abc": "X:1\nK:C\nC|\n"}]))
    with pytest.raises(SourceError, match="no 'abc notation' column"):
        irishman_tunes(tmp_path, cache_dir=tmp_path / "hf")


def test_irishman_from_the_hub_asks_for_its_files_and_explains_when_offline(monkeypatch):
    import datasets

    calls = []

    def offline(*args, **kwargs):
        calls.append((args, kwargs))
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SourceError, match="irishman:FOLDER"):
        read_source("irishman")
    ((args, kwargs),) = calls
    assert args == (IRISHMAN_REPO,)
    assert kwargs["data_files"] == {"train": "train.json", "validation": "validation.json"}


def test_corpus_built_from_irishman_files_keeps_where_each_tune_came_from(
    irishman_folder, tmp_path
):
    report = build_corpus(
        [f"irishman:{irishman_folder}"],
        tmp_path / "corpus",
        BuildSettings(scales=(2,), validation_fraction=0.0, test_fraction=0.0, stop_early=False),
    )
    assert report.manifest["counts"]["tunes_converted"] == 6
    assert report.manifest["sources"][0]["rows"] == {"train": 5, "validation": 2}
    train = load_split(tmp_path / "corpus", "train")
    assert sorted(train["source"]) == sorted(
        [f"irishman/train/{i}" for i in range(4)]
        + ["irishman/validation/0", "irishman/validation/1"]
    )
    # IrishMAN is already normalised: normalising again changes nothing.
    originals = {t.key: t.text for t in irishman_tunes(irishman_folder, tmp_path / "hf").tunes}
    for row in train:
        assert row["abc"] == originals[row["source"]]


def test_music21_collections_are_the_embedded_source():
    misc = music21_tunes(["miscFolk"])
    assert len(misc.tunes) == 185 and not misc.problems
    assert misc.tunes[0].key.startswith("music21/miscFolk/") and "#1" in misc.tunes[0].key
    assert misc.info["kind"] == "music21" and misc.info["version"]
    with pytest.raises(SourceError, match="no music21 collection nosuch"):
        read_source("music21:nosuch")


def test_folders_are_searched_recursively_and_bad_files_are_recorded(tmp_path):
    tune = (music21_corpus_dir() / "ryansMammoth" / "AcaciaReel.abc").read_text()
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "acacia.abc").write_text(tune)
    (tmp_path / "two.abc").write_text(tune + "\n" + tune.replace("X:1", "X:2"))
    (tmp_path / "binary.abc").write_bytes(b"\x00\x01\x02" * 50)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.abc").write_text(tune)
    (tmp_path / "notes.txt").write_text(tune)
    read = read_source(str(tmp_path))
    assert [t.key for t in read.tunes] == [
        f"{tmp_path.name}/a/b/acacia.abc#1",
        f"{tmp_path.name}/two.abc#1",
        f"{tmp_path.name}/two.abc#2",
    ]
    assert len(read.problems) == 1 and "binary" in read.problems[0].reason
    assert read.info["files"] == 3
    with pytest.raises(SourceError, match="no such folder"):
        read_source(str(tmp_path / "missing"))


IRISH = Path(__file__).resolve().parents[2] / "shared" / "data" / "irish.abc"


@pytest.mark.skipif(not IRISH.exists(), reason="../shared/data/irish.abc is not in this checkout")
def test_a_single_tune_book_is_a_source(tmp_path):
    read = read_source(str(IRISH))
    assert len(read.tunes) == 804 and not read.problems
    assert read.tunes[0].key == "irish.abc#1"
    report = build_corpus(
        [str(IRISH)], tmp_path / "irish",
        BuildSettings(scales=(4,), validation_fraction=0.0, test_fraction=0.0, limit=6,
                      stop_early=False),
    )  # fmt: skip
    assert report.manifest["counts"]["tunes_found"] == 6
    assert report.manifest["counts"]["tunes_converted"] == 6
    assert report.manifest["sources"][0]["tunes"] == 804
