"""Building a corpus from real tunes: failures recorded, splits by hash and nested, no tune in
two splits, transpositions kept together, determinism, resume after a kill, incremental rebuilds,
the exported bGPT file layout, and the command line.

One small build (19 real tunes and a few bad ones, one extra key per tune) is shared; later
builds reuse its result cache, so they only redo what they change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.dataset import load_manifest, load_split
from abcmidi_bgpt.bgpt.patches import encode_pair, fits, split_sequence
from abcmidi_bgpt.core.errors import ModelError
from abcmidi_bgpt.corpus.build import BuildSettings, build_corpus
from abcmidi_bgpt.corpus.cache import ResultCache
from abcmidi_bgpt.corpus.pipeline import PipelineSettings
from abcmidi_bgpt.corpus.sources import SourceError, music21_corpus_dir
from abcmidi_bgpt.formats.midi import read_performance

# Every tune converted (not only as many as the scales need), so that every failure is seen.
SETTINGS = BuildSettings(
    scales=(4, 8),
    transpose="1",
    validation_fraction=0.15,
    test_fraction=0.15,
    export_files=True,
    stop_early=False,
)
# A short tune in two keys, written out by hand: the same tune, so the same split.
TWO_KEYS = """X:1
T:Up
M:4/4
L:1/8
K:G
GABc dBGB|c2A2 B2G2|dcBA G2D2|G8|]

X:2
T:Down
M:4/4
L:1/8
K:D
DEFG AFDF|G2E2 F2D2|AGFE D2A,2|D8|]
"""


def ryans(n: int, start: int = 0) -> list[Path]:
    """Real tunes of Ryan's Mammoth Collection, the shortest first (to keep the tests quick)."""
    paths = (music21_corpus_dir() / "ryansMammoth").glob("*.abc")
    return sorted(paths, key=lambda p: (p.stat().st_size, p.name))[start : start + n]


def make_folder(root: Path) -> Path:
    """16 tunes of Ryan's Mammoth Collection, a duplicate under another title, one tune in two
    keys, and inputs that must fail: binary data, a tune without notes, symbols that are not
    music, and a tune too long for the model's context."""
    root.mkdir(parents=True)
    for path in ryans(16):
        shutil.copy(path, root / path.name)
    first = ryans(1)[0].read_text()
    (root / "extra").mkdir()
    (root / "extra" / "copy.abc").write_text(first.replace("T:", "T:Another name for ", 1))
    (root / "extra" / "keys.abc").write_text(TWO_KEYS)
    (root / "bad").mkdir()
    (root / "bad" / "binary.abc").write_bytes(bytes(range(256)) * 4)
    (root / "bad" / "silent.abc").write_text("X:1\nT:Nothing here\nM:4/4\nK:C\nz8|z8|]\n")
    (root / "bad" / "symbols.abc").write_text("X:1\nT:Not music\nK:C\n@@@ ### $$$ *** ;;; ???\n")
    header, key_line, body = re.split(r"(?m)^(K:.*\n)", first, maxsplit=1)
    (root / "bad" / "long.abc").write_text(
        header.replace("T:", "T:Long ", 1) + key_line + body * 20
    )
    return root


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="module")
def folder(workspace) -> Path:
    return make_folder(workspace / "tunes")


@pytest.fixture(scope="module")
def cache(workspace) -> Path:
    return workspace / "results.sqlite"


@pytest.fixture(scope="module")
def built(workspace, folder, cache):
    return build_corpus([str(folder)], workspace / "built", SETTINGS, cache_path=cache)


def rows(corpus: Path, split: str) -> list[dict]:
    return list(load_split(corpus, split))


def test_every_failure_is_recorded_with_its_stage_and_the_build_goes_on(built):
    manifest = load_manifest(built.out_dir)
    counts = manifest["counts"]
    by_source = {}
    for f in built.failures:
        by_source.setdefault(f.source.split("/", 1)[1], set()).add(f.stage)
    assert by_source["bad/binary.abc"] == {"read"}
    assert by_source["bad/long.abc#1"] == {"too-long"}
    assert by_source["extra/copy.abc#1"] == {"duplicate"}
    pipeline_stages = {"musicxml", "normalise", "midi", "validate-abc", "validate-midi"}
    assert len(by_source["bad/silent.abc#1"] & pipeline_stages) == 1
    assert len(by_source["bad/symbols.abc#1"] & pipeline_stages) == 1
    assert (
        counts["tunes_found"]
        == 16 + 1 + 2 + 3
        == counts["tunes_converted"] + counts["tunes_failed"]
    )
    assert counts["pairs_kept"] == sum(
        manifest["splits"][s]["rows"] for s in ("train", "validation", "test")
    )
    recorded = [json.loads(line) for line in (built.out_dir / "failures.jsonl").open()]
    assert len(recorded) == len(built.failures)
    assert all(r["reason"] for r in recorded)
    assert manifest["failure_reasons"]["too-long"]


def test_rebuilding_gives_the_same_bytes(built, workspace, folder, cache):
    again = build_corpus([str(folder)], workspace / "again", SETTINGS, cache_path=cache)
    assert again.computed == 0 and again.cached > 0
    assert again.manifest["content_hash"] == built.manifest["content_hash"]
    assert (workspace / "again" / "corpus.json").read_bytes() == (
        built.out_dir / "corpus.json"
    ).read_bytes()
    written = [
        path
        for path in sorted(built.out_dir.rglob("*"))
        if path.is_file() and path.relative_to(built.out_dir).parts[0] != "cache"
    ]
    assert {p.relative_to(built.out_dir).parts[0] for p in written} >= {
        "README.md", "dataset_dict.json", "train", "train_4", "train_8", "validation", "test",
    }  # fmt: skip
    for path in written:
        twin = workspace / "again" / path.relative_to(built.out_dir)
        assert path.read_bytes() == twin.read_bytes(), path


def test_nested_training_splits_are_prefixes_of_the_training_rows(built):
    train = [r["id"] for r in rows(built.out_dir, "train")]
    small, large = ([r["id"] for r in rows(built.out_dir, name)] for name in ("train-4", "train-8"))
    assert len(small) == 4 and len(large) == 8
    assert large[:4] == small and train[:8] == large
    splits = built.manifest["splits"]
    assert splits["train-8"]["rows"] == 8 and splits["train-8"]["scale"] == 8
    # Round 0 first: the small splits hold tunes in their own keys (the tune written in two
    # keys counts once).
    assert splits["train-8"]["transposed_rows"] == 0
    first_eight = rows(built.out_dir, "train-8")
    assert all(r["transpose"] == 0 for r in first_eight)
    assert splits["train-8"]["tunes"] == len({r["tune_id"] for r in first_eight}) >= 7
    assert splits["train"]["transposed_rows"] > 0
    assert len(set(train)) == len(train)


def test_no_tune_or_transposition_of_one_is_in_two_splits(built):
    tune_ids = {
        s: {r["tune_id"] for r in rows(built.out_dir, s)} for s in ("train", "validation", "test")
    }
    assert not tune_ids["train"] & tune_ids["validation"]
    assert not tune_ids["train"] & tune_ids["test"]
    assert not tune_ids["validation"] & tune_ids["test"]
    assert tune_ids["validation"] and tune_ids["test"]
    everything = [r for s in ("train", "validation", "test") for r in rows(built.out_dir, s)]
    up_down = [r for r in everything if r["source"].split("/", 1)[1].startswith("extra/keys")]
    # Written in G and in D by hand, found to be one tune, kept in one split.
    originals = [r for r in up_down if r["transpose"] == 0]
    assert len(originals) == 2 and originals[0]["tune_id"] == originals[1]["tune_id"]
    # Held-out tunes are held out in their own key only.
    for split in ("validation", "test"):
        assert all(r["transpose"] == 0 for r in rows(built.out_dir, split))


def test_transposed_rows_are_their_tune_moved(built):
    train = rows(built.out_dir, "train")
    originals = {(r["source"]): r for r in train if r["transpose"] == 0}
    moved = [r for r in train if r["transpose"] and r["source"] in originals]
    assert len(moved) > 8
    for row in moved[:10]:
        original = originals[row["source"]]
        assert row["tune_id"] == original["tune_id"]
        assert row["key"] != original["key"] or row["transpose"] % 12 == 0
        before = read_performance(original["midi"]).notes()
        after = read_performance(row["midi"]).notes()
        assert [(n.onset, n.pitch + row["transpose"]) for n in before] == [
            (n.onset, n.pitch) for n in after
        ]
    assert {r["transpose"] for r in moved} <= set(range(-5, 7)) - {0}


def test_held_out_sets_stay_the_same_across_scales_transposition_and_sources(
    built, workspace, folder, cache
):
    other = build_corpus(
        [str(folder)],
        workspace / "other",
        BuildSettings(scales=(4, 1000), validation_fraction=0.15, test_fraction=0.15),
        cache_path=cache,
    )
    for split in ("validation", "test"):
        assert rows(other.out_dir, split) == rows(built.out_dir, split)
    assert other.manifest["unfilled_scales"] == {
        "train-1e3": {"requested": 1000, "available": other.manifest["splits"]["train"]["rows"]}
    }
    with pytest.raises(ModelError, match="only .* training pairs were built"):
        load_split(other.out_dir, "train-1e3")
    # Fewer tunes: those left keep their split.
    subset = workspace / "subset"
    subset.mkdir()
    for path in ryans(12):
        shutil.copy(path, subset / path.name)
    fewer = build_corpus(
        [str(subset)], workspace / "fewer", BuildSettings(scales=(4,), validation_fraction=0.15,
        test_fraction=0.15), cache_path=cache,
    )  # fmt: skip
    full_split = {
        r["tune_id"]: s for s in ("train", "validation", "test") for r in rows(built.out_dir, s)
    }
    for split in ("train", "validation", "test"):
        for row in rows(fewer.out_dir, split):
            assert full_split[row["tune_id"]] == split


def test_exported_files_are_the_rows_in_the_bgpt_layout(built):
    files = built.out_dir / "files"
    assert sorted(p.name for p in files.iterdir()) == [
        "test", "train", "train-4", "train-8", "validation",
    ]  # fmt: skip
    for split in ("train", "validation", "test"):
        dataset_rows = rows(built.out_dir, split)
        assert len(list((files / split).glob("*.abc"))) == len(dataset_rows)
        for row in dataset_rows:
            abc = (files / split / f"{row['id']}.abc").read_bytes()
            midi = (files / split / f"{row['id']}.mid").read_bytes()
            assert abc == row["abc"].encode("utf-8") and midi == row["midi"]
            assert fits(len(abc), len(midi))
            encoded = encode_pair(midi, "mid", abc, "abc")
            assert split_sequence(encoded.ids, encoded.target_start) == (
                ("mid", midi),
                ("abc", abc),
            )
    for row in rows(built.out_dir, "train-8"):
        linked = files / "train-8" / f"{row['id']}.mid"
        assert os.path.samefile(linked, files / "train" / linked.name)


def test_a_killed_build_resumes_where_it_stopped(built, workspace, cache):
    tunes = workspace / "resume-tunes"
    tunes.mkdir()
    for path in ryans(8):
        shutil.copy(path, tunes / path.name)
    settings = BuildSettings(
        scales=(4,), validation_fraction=0.15, test_fraction=0.15, stop_early=False
    )
    fresh = workspace / "resume.sqlite"

    def kill_after_four(stage, done, total):
        if stage == "converting tunes" and done >= 4:
            raise KeyboardInterrupt

    out = workspace / "resumed"
    with pytest.raises(KeyboardInterrupt):
        build_corpus([str(tunes)], out, settings, cache_path=fresh, progress=kill_after_four)
    with pytest.raises(ValueError, match="did not finish"):
        load_manifest(out)
    with ResultCache(fresh) as results:
        kept = results._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert kept == 4
    resumed = build_corpus([str(tunes)], out, settings, cache_path=fresh)
    assert (resumed.cached, resumed.computed) == (4, 4)
    assert load_manifest(out)["complete"] is True
    # The same corpus as a build that was never interrupted.
    whole = build_corpus([str(tunes)], workspace / "whole", settings, cache_path=cache)
    assert resumed.manifest["content_hash"] == whole.manifest["content_hash"]


def test_an_interrupted_rebuild_does_not_leave_a_corpus_that_looks_complete(built, workspace):
    out = workspace / "interrupted"
    shutil.copytree(built.out_dir, out)
    assert load_manifest(out)["complete"]

    def kill_while_writing(stage, done, total):
        if stage == "writing dataset":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_corpus(
            [str(built.out_dir.parent / "tunes")], out, SETTINGS,
            cache_path=built.out_dir.parent / "results.sqlite", progress=kill_while_writing,
        )  # fmt: skip
    with pytest.raises(ValueError, match="did not finish"):
        load_manifest(out)


def test_a_source_that_cannot_be_read_leaves_an_existing_corpus_alone(built, workspace):
    out = workspace / "kept"
    shutil.copytree(built.out_dir, out)
    with pytest.raises(SourceError, match="no such folder"):
        build_corpus([str(workspace / "typo")], out, SETTINGS)
    assert load_manifest(out)["content_hash"] == built.manifest["content_hash"]


def test_a_rebuild_with_one_more_source_only_processes_its_tunes(workspace):
    first, second = workspace / "first", workspace / "second"
    first.mkdir()
    second.mkdir()
    for path in ryans(3, start=30):
        shutil.copy(path, first / path.name)
    for path in ryans(1, start=40):
        shutil.copy(path, second / path.name)
    cache = workspace / "incremental.sqlite"
    settings = BuildSettings(
        scales=(2,), validation_fraction=0.0, test_fraction=0.0, stop_early=False
    )
    one = build_corpus([str(first)], workspace / "inc", settings, cache_path=cache)
    assert one.computed == 3
    two = build_corpus([str(first), str(second)], workspace / "inc", settings, cache_path=cache)
    assert (two.computed, two.cached) == (1, 3)
    assert two.manifest["splits"]["train"]["rows"] == 4
    assert [s["spec"] for s in two.manifest["sources"]] == [str(first), str(second)]


def test_the_time_limit_stops_a_tune_and_its_failure_is_retried(workspace):
    tunes = workspace / "slow"
    tunes.mkdir()
    for path in ryans(2, start=50):
        shutil.copy(path, tunes / path.name)
    cache = workspace / "slow.sqlite"
    hurried = BuildSettings(scales=(1,), pipeline=PipelineSettings(timeout_s=0.001))
    report = build_corpus([str(tunes)], workspace / "slow-out", hurried, cache_path=cache)
    assert {f.stage for f in report.failures} == {"timeout"}
    assert all("over 0.001 s" in f.reason for f in report.failures)
    relaxed = BuildSettings(scales=(1,), validation_fraction=0.0, test_fraction=0.0, limit=1)
    again = build_corpus([str(tunes)], workspace / "slow-out", relaxed, cache_path=cache)
    assert again.computed == 1 and again.manifest["counts"]["tunes_converted"] == 1
    assert again.manifest["settings"]["limit"] == 1


def test_worker_processes_make_the_same_corpus(workspace, cache):
    tunes = workspace / "pool"
    tunes.mkdir()
    for path in ryans(4):
        shutil.copy(path, tunes / path.name)
    settings = BuildSettings(
        scales=(2,), validation_fraction=0.2, test_fraction=0.2, stop_early=False
    )
    pooled = build_corpus([str(tunes)], workspace / "pool-2", settings, jobs=2,
                          cache_path=workspace / "pool.sqlite")  # fmt: skip
    assert pooled.computed == 4
    here = build_corpus([str(tunes)], workspace / "pool-1", settings, jobs=1, cache_path=cache)
    assert here.computed == 0
    assert pooled.manifest["content_hash"] == here.manifest["content_hash"]


def test_auto_transposition_renders_keys_until_the_largest_scale_is_filled(
    built, workspace, folder, cache
):
    train = built.manifest["splits"]["train"]
    own_key = train["rows"] - train["transposed_rows"]
    target = own_key * 2 + 2  # needs a third key for a few tunes
    report = build_corpus(
        [str(folder)], workspace / "auto",
        BuildSettings(scales=(target,), transpose="auto", validation_fraction=0.15,
                      test_fraction=0.15),
        cache_path=cache,
    )  # fmt: skip
    assert report.manifest["settings"]["transpose_rounds"] >= 2
    assert report.manifest["splits"][f"train-{target}"]["rows"] == target
    assert not report.manifest["unfilled_scales"]


def test_command_line_builds_and_describes_a_corpus(built, workspace, folder, cache):
    from abcmidi_bgpt.cli.app import app

    out = workspace / "cli"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["corpus", "build", "--source", str(folder), "--scales", "4", "8", "--out", str(out),
         "--jobs", "1", "--cache", str(cache), "--validation-fraction", "0.15",
         "--test-fraction", "0.15", "--all-tunes"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pairs kept" in result.output and "too-long" in result.output
    assert set(load_manifest(out)["splits"]) == {
        "train",
        "train-4",
        "train-8",
        "validation",
        "test",
    }
    stats = runner.invoke(app, ["corpus", "stats", str(out)])
    assert stats.exit_code == 0, stats.output
    png = out / "stats" / "lengths.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "Splits" in stats.output
    missing = runner.invoke(app, ["corpus", "build", "--source", str(workspace / "nope"),
                                  "--out", str(workspace / "nope-out")])  # fmt: skip
    assert missing.exit_code == 1 and "no such folder" in missing.output


def test_a_rebuild_without_export_removes_the_old_files(built, workspace, folder, cache):
    out = workspace / "unexported"
    shutil.copytree(built.out_dir, out)
    assert (out / "files").is_dir()
    settings = BuildSettings(scales=(4, 8), transpose="1", validation_fraction=0.15,
                             test_fraction=0.15, stop_early=False)  # fmt: skip
    report = build_corpus([str(folder)], out, settings, cache_path=cache)
    assert report.computed == 0
    assert not (out / "files").exists()
    assert report.manifest["content_hash"] == built.manifest["content_hash"]


def ids(corpus: Path, split: str) -> list[str]:
    return [r["id"] for r in rows(corpus, split)]


def test_a_build_stops_once_the_held_out_sets_and_the_largest_scale_are_filled(workspace):
    """Through the command line, on a real source of 185 tunes: a small --scales converts the
    held-out tunes and the first training tunes only (counted by the results cached), and
    gives the splits that converting every tune (--all-tunes) gives, whatever the workers."""
    from abcmidi_bgpt.cli.app import app

    runner = CliRunner()
    common = ["corpus", "build", "--source", "music21:miscFolk", "--scales", "10", "20",
              "--validation-fraction", "0.05", "--test-fraction", "0.05"]  # fmt: skip

    def build(out: str, cache: str, *more: str) -> Path:
        args = [*common, "--out", str(workspace / out), "--cache", str(workspace / cache)]
        result = runner.invoke(app, [*args, *more])
        assert result.exit_code == 0, result.output
        return workspace / out

    def conversions(cache: str) -> int:
        with ResultCache(workspace / cache) as results:
            return results._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    early = build("stopped", "stopping.sqlite", "--jobs", "1")
    counts = load_manifest(early)["counts"]
    assert counts["tunes_found"] == 185
    held_out = len(rows(early, "validation")) + len(rows(early, "test"))
    converted = held_out + 20 + counts["duplicates"] + counts["too_long"]
    assert held_out > 0 and converted < 185 // 3
    assert conversions("stopping.sqlite") == converted == counts["tunes_converted"]
    assert counts["tunes_not_needed"] == 185 - converted
    assert len(rows(early, "train")) == 20

    full = build("unstopped", "stopping.sqlite", "--jobs", "2", "--all-tunes")
    assert conversions("stopping.sqlite") == 185
    assert load_manifest(full)["counts"]["tunes_not_needed"] == 0
    assert len(rows(full, "train")) > 150
    for split in ("validation", "test", "train-10", "train-20"):
        assert rows(early, split) == rows(full, split), split

    # Two workers finish tunes out of order and may convert a few past the stopping point:
    # the corpus is the same.
    pooled = build("stopped-pooled", "pooled.sqlite", "--jobs", "2")
    assert load_manifest(pooled)["content_hash"] == load_manifest(early)["content_hash"]
    assert converted <= conversions("pooled.sqlite") < 185 // 2


def test_a_build_that_needs_transpositions_stops_inside_a_round_with_the_same_splits(
    built, workspace, folder, cache
):
    train = built.manifest["splits"]["train"]
    own_key = train["rows"] - train["transposed_rows"]
    scale = own_key + 3  # three pairs from the first round of transpositions
    early = build_corpus(
        [str(folder)], workspace / "stopped-in-a-round",
        BuildSettings(scales=(4, scale), transpose="1", validation_fraction=0.15,
                      test_fraction=0.15),
        cache_path=cache,
    )  # fmt: skip
    splits, counts = early.manifest["splits"], early.manifest["counts"]
    assert splits["train"]["rows"] == scale and splits[f"train-{scale}"]["transposed_rows"] == 3
    taken = counts["transpositions_rendered"] + counts["transpositions_failed"]
    full = built.manifest["counts"]
    assert 3 <= taken < full["transpositions_rendered"] + full["transpositions_failed"]
    assert ids(early.out_dir, f"train-{scale}") == ids(built.out_dir, "train")[:scale]
    for split in ("validation", "test", "train-4"):
        assert ids(early.out_dir, split) == ids(built.out_dir, split)
