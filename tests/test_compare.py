"""The comparison of bgpt with the symbolic converter (and abc2midi where installed): on a corpus
split and on files, with the per-tune CSV, the report and the figures."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from abcmidi_bgpt.cli.app import app
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.engines.base import external_tools_available
from abcmidi_bgpt.reports.compare import Row, summarise, worst
from abcmidi_bgpt.reports.compare_report import read_checkpoint, read_csv, read_inputs
from tests.support.models import (
    HELD_OUT_TUNES,
    TRAINED_TUNES,
    corpus_dir,
    pairs,
    trained_model,
    tunes_file,
)

PNG = b"\x89PNG\r\n\x1a\n"


def read_rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_compare_on_a_corpus_split(tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app,
        ["compare", "--corpus", str(corpus_dir()), "--split", "test",
         "--checkpoint", str(trained_model()), "--out", str(out), "--worst", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    engines = ["bgpt", "symbolic"] + (["abc2midi"] if external_tools_available() else [])
    rows = read_rows(out / "tunes.csv")
    n = TRAINED_TUNES + HELD_OUT_TUNES
    back = read_csv(out / "tunes.csv")  # the library reads its own file back, typed
    assert [(r.tune, str(r.direction), r.engine, str(r.valid), str(r.exact)) for r in back] == [
        (r["tune"], r["direction"], r["engine"], r["valid"], r["exact"]) for r in rows
    ]
    assert all(isinstance(r.f1, float) and isinstance(r.direction, Direction) for r in back)
    assert len(rows) == 2 * n * len(engines)
    assert [r["engine"] for r in rows[: len(engines)]] == engines
    mine = {(r["direction"], r["tune"]): r for r in rows if r["engine"] == "bgpt"}
    for i in range(n):
        to_midi, to_abc = mine["abc2mid", f"test-{i}"], mine["mid2abc", f"test-{i}"]
        if i < TRAINED_TUNES:  # learnt by heart: the reference itself, at almost no cost
            assert to_midi["exact"] == to_abc["exact"] == "True"
            assert float(to_midi["f1"]) == float(to_abc["f1"]) == 1.0
            assert float(to_abc["cer"]) == 0.0
            assert float(to_midi["bpb"]) < 0.1 and float(to_abc["bpb"]) < 0.1
        else:  # never seen: the model does not know these
            assert float(to_midi["f1"]) < 1.0 and to_midi["exact"] == "False"
            assert float(to_midi["bpb"]) > 1.0
    for r in rows:
        if r["engine"] == "symbolic" and r["direction"] == "abc2mid":
            # The corpus's MIDI is the symbolic converter's rendering of its ABC.
            assert r["exact"] == "True" and float(r["f1"]) == 1.0
    report = (out / "report.md").read_text()
    assert "## ABC -> MIDI" in report and "## MIDI -> ABC" in report
    assert "| bgpt | 6 | " in report
    for direction in ("abc2mid", "mid2abc"):
        assert (out / f"f1_{direction}.png").read_bytes()[:8] == PNG
        for k in (1, 2):  # the two worst bgpt tunes, each drawn and linked, with its score
            figure = f"roll_{direction}_{k}.png"
            assert (out / figure).read_bytes()[:8] == PNG and figure in report
            score = ET.parse(out / f"score_{direction}_{k}.svg").getroot()
            notes = [g for g in score.iter("{http://www.w3.org/2000/svg}g")
                     if "note" in (g.get("class") or "").split()]  # fmt: skip
            assert notes and f"score_{direction}_{k}.svg" in report
        assert not (out / f"roll_{direction}_3.png").exists()


def test_compare_on_files_lists_what_it_left_out(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "tunes.abc").write_text(tunes_file().read_text())
    (folder / "first.mid").write_bytes(pairs()[0][1])
    (folder / "broken.abc").write_text("X:1\nT:no key line\nabc|\n")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app,
        ["compare", str(folder), "--checkpoint", str(trained_model()), "--out", str(out),
         "--engine", "bgpt", "--engine", "symbolic", "--direction", "mid2abc"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "tunes.csv")
    n = TRAINED_TUNES + HELD_OUT_TUNES + 1  # the tunes of the ABC file and the MIDI file
    assert len(rows) == 2 * n and {r["direction"] for r in rows} == {"mid2abc"}
    first = [r for r in rows if r["tune"].endswith("first.mid")]
    assert [r["engine"] for r in first] == ["bgpt", "symbolic"]
    assert first[0]["f1"] == "1" and first[0]["cer"] == ""  # no reference ABC for a MIDI file
    report = (out / "report.md").read_text()
    assert "## Inputs left out" in report and "broken.abc" in report
    assert "left out:" in result.output
    # Every tune compared can be read back from the folder, to be opened again.
    inputs = read_inputs(out / "inputs.jsonl")
    assert set(inputs) == {r["tune"] for r in rows}
    midi_file = inputs[first[0]["tune"]]
    assert midi_file.midi == pairs()[0][1] and midi_file.abc is None and midi_file.tune is None
    tunes = [t for name, t in inputs.items() if "tunes.abc" in name]
    assert all(t.tune is not None and t.tune.text.startswith("X:") for t in tunes)
    assert read_checkpoint(out) == str(trained_model())


def test_compared_inputs_that_are_not_records_fail_with_the_line(tmp_path):
    path = tmp_path / "inputs.jsonl"
    path.write_text('{"name": "a", "abc": null, "midi": ""}\n{"name": "b", "midi": "%%%"}\n')
    with pytest.raises(ValueError, match=r"inputs.jsonl:2: not a tune record"):
        read_inputs(path)
    path.write_text('{"name": "a", "abc": "no tune here", "midi": "TVRoZA=="}\n')
    assert read_inputs(path)["a"].tune is None  # the text is kept, it is just not a tune
    assert read_checkpoint(tmp_path) is None


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.one_of(
    st.text(max_size=60),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["name", "abc", "midi"]),
                                          st.one_of(st.none(), st.integers(), st.text(max_size=20),
                                                    st.lists(st.integers(), max_size=3))))),
    max_size=4))  # fmt: skip
def test_any_inputs_file_is_read_or_refused_with_its_line(tmp_path, lines):
    """A comparison folder from elsewhere: each line a tune record or ValueError naming it."""
    path = tmp_path / "inputs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        tunes = read_inputs(path)
    except ValueError as err:
        assert "inputs.jsonl:" in str(err) and "\n" not in str(err)
    else:
        assert all(isinstance(t.midi, bytes) for t in tunes.values())


def test_compare_needs_files_or_a_corpus_but_not_both(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["compare", "--out", str(tmp_path)]).exit_code == 2
    both = runner.invoke(app, ["compare", str(tunes_file()), "--corpus", str(tmp_path)])
    assert both.exit_code == 2 and "either" in both.output
    unknown = runner.invoke(app, ["compare", str(tunes_file()), "--engine", "magic"])
    assert unknown.exit_code == 2 and "magic" in unknown.output


def test_summary_and_worst_rows_on_hand_made_rows():
    rows = [
        Row("a", "abc2mid", "bgpt", valid=True, f1=1.0, f1_offset=1.0, exact=True, seconds=1.0),
        Row("b", "abc2mid", "bgpt", valid=True, f1=0.5, f1_offset=0.25, seconds=1.0),
        Row("c", "abc2mid", "bgpt", message="output reached the model's context", seconds=2.0),
        Row("a", "abc2mid", "symbolic", valid=True, f1=1.0, f1_offset=1.0, seconds=0.5),
    ]
    mine, symbolic = summarise(rows)
    assert (mine.tunes, mine.valid, mine.exact) == (3, 2, 1)
    assert mine.f1_mean == pytest.approx(0.5) and mine.f1_median == 0.5  # no output counts 0
    assert mine.tunes_per_s == pytest.approx(0.75)
    assert symbolic.engine == "symbolic" and symbolic.f1_mean == 1.0
    assert [r.tune for r in worst(rows, "abc2mid", 5)] == ["c", "b"]  # perfect ones left out
