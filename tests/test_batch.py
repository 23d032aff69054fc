"""Batch conversion through the CLI and the library: naming, bad input, safe writing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import pytest
from typer.testing import CliRunner

from abcmidi_bgpt.cli.app import app
from abcmidi_bgpt.cli.corpus import corpus_app
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.engines.batch import convert_paths, plan_batch
from abcmidi_bgpt.formats.abc.text import MAX_ABC_FILE_BYTES, decode_abc, split_tunes
from abcmidi_bgpt.formats.midi import MAX_MIDI_FILE_BYTES, read_performance
from tests.support.paths import EXAMPLES

runner = CliRunner()

GOOD = "X:1\nT:Good\nM:4/4\nL:1/4\nK:G\nG A B c|d4|]\n"

BAD_INPUTS = {
    "empty.abc": b"",
    "junk.abc": bytes(range(256)) * 8,
    "prose.abc": b"Dear diary, today I learnt nothing about music at all.\n",
    "no-key.abc": b"X:1\nT:No key\nM:4/4\nABcd|\n",
    "absurd.abc": b"X:1\nT:Absurd\nK:C\nA99999999 B|\n",
    "not-music.abc": b"X:1\nT:Essay\nK:C\n"
    b"The quick brown fox jumps over the lazy dog; it was a dark and stormy night.\n",
    "letter.abc": b"X:1\nT:P\nK:C\n"
    b"This is a letter about the tune, not the tune itself; we never wrote it down, sorry!\n",
}


def test_real_examples_convert_one_file_per_tune(tmp_path):
    result = runner.invoke(app, ["convert", str(EXAMPLES), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    made = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.mid")
    )
    assert made == [
        "big-man-within-meter-change.mid",
        "butterfly-slip-jig.mid",
        "cliffs-of-moher-endings.mid",
        "jennys-chickens-key-change.mid",
        "jigs_1.mid",
        "jigs_2.mid",
        "reels_1.mid",
        "reels_2.mid",
    ]
    for path in (tmp_path / "out").rglob("*.mid"):
        midi = mido.MidiFile(path)
        assert sum(1 for t in midi.tracks for m in t if m.type == "note_on" and m.velocity) > 50
    assert "converted" in result.output and "8" in result.output


def test_bad_inputs_fail_one_by_one_and_the_batch_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name, data in BAD_INPUTS.items():
        (src / name).write_bytes(data)
    (src / "good.abc").write_text(GOOD)
    out = tmp_path / "out"
    report = convert_paths([src], "mid", out)
    assert report.count("converted") == 1 and report.count("failed") == len(BAD_INPUTS)
    for r in report.failed:
        assert "\n" not in r.message and r.message.startswith(str(src))
    reasons = {Path(r.label.split(":")[0]).name: r.message for r in report.failed}
    assert "empty file" in reasons["empty.abc"]
    assert "binary" in reasons["junk.abc"]
    assert "no ABC tune" in reasons["prose.abc"]
    assert "no K: field" in reasons["no-key.abc"]
    assert "absurd duration" in reasons["absurd.abc"]
    assert ": line " in reasons["absurd.abc"]  # the place in the tune, not only the tune
    assert "not ABC music" in reasons["not-music.abc"]
    assert "reads as text" in reasons["letter.abc"]
    assert [p.name for p in out.rglob("*")] == ["good.mid"]  # no partial or empty files


def test_cli_exit_code_and_one_line_per_failure(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.abc").write_text(GOOD)
    (src / "empty.abc").write_bytes(b"")
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "empty file" in result.output
    assert (tmp_path / "out" / "good.mid").exists()


def test_version_and_short_help_on_every_command():
    from abcmidi_bgpt import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"abcmidi-bgpt {__version__}"
    commands = [[c.name or c.callback.__name__] for c in app.registered_commands]
    commands += [["corpus", c.name or c.callback.__name__] for c in corpus_app.registered_commands]
    assert ["convert"] in commands and ["corpus", "build"] in commands
    for command in [[], *commands]:
        result = runner.invoke(app, [*command, "-h"])
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_the_direction_follows_the_inputs_unless_to_says_otherwise(tmp_path):
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    (tmp_path / "tune.mid").write_bytes(abc_to_midi(GOOD).midi)
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "tune.abc").write_text(GOOD)
    result = runner.invoke(
        app, ["convert", str(tmp_path / "tune.mid"), "--out", str(tmp_path / "a")]
    )
    assert result.exit_code == 0 and (tmp_path / "a" / "tune.abc").exists()
    result = runner.invoke(app, ["convert", str(tmp_path / "abc"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0 and (tmp_path / "m" / "tune.mid").exists()
    both = [str(tmp_path / "tune.mid"), str(tmp_path / "abc")]
    result = runner.invoke(app, ["convert", *both, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "choose --to mid or --to abc" in result.output
    result = runner.invoke(app, ["convert", *both, "--to", "abc", "--out", str(tmp_path / "x")])
    assert result.exit_code == 0 and (tmp_path / "x" / "tune.abc").exists()
    # an earlier run's outputs next to the inputs do not make the folder mixed
    folder = tmp_path / "abc"
    for _ in range(2):
        result = runner.invoke(app, ["convert", str(folder), "--out", str(folder)])
        assert result.exit_code == 0 and sorted(p.name for p in folder.iterdir()) == [
            "tune.abc",
            "tune.mid",
        ]


def _cli(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def test_dash_reads_standard_input_and_writes_standard_output(tmp_path):
    """`cat tune.abc | abcmidi-bgpt convert - > tune.mid`, and back: the output stream holds
    the file alone (the summary and any message go to standard error)."""
    midi = _cli("convert", "-", stdin=GOOD.encode(), cwd=tmp_path)
    assert midi.returncode == 0 and midi.stdout[:4] == b"MThd", midi.stderr
    assert [n.pitch for n in read_performance(midi.stdout).notes()] == [67, 69, 71, 72, 74]
    abc = _cli("convert", "-", stdin=midi.stdout, cwd=tmp_path)  # MIDI in: ABC out
    assert abc.returncode == 0 and abc.stdout.startswith(b"X:1\n")
    assert b"transcribed from stdin.mid" in abc.stdout and b"G A B c" in abc.stdout
    bad = _cli("convert", "-", stdin=b"X:1\nT:No key\nABcd|\n", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == b"" and b"no K: field" in bad.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_dash_o_writes_one_file_and_keeps_an_existing_one(tmp_path):
    (tmp_path / "tune.abc").write_text(GOOD)
    target = tmp_path / "tune.mid"
    first = _cli("convert", str(tmp_path / "tune.abc"), "-o", str(target))
    assert first.returncode == 0 and target.read_bytes()[:4] == b"MThd" and first.stdout == b""
    target.write_bytes(b"keep me")
    again = _cli("convert", str(tmp_path / "tune.abc"), "-o", str(target))
    assert again.returncode == 1 and b"use --force" in again.stderr
    assert target.read_bytes() == b"keep me"
    forced = _cli("convert", str(tmp_path / "tune.abc"), "-o", str(target), "--force")
    assert forced.returncode == 0 and target.read_bytes()[:4] == b"MThd"
    (tmp_path / "book.abc").write_text(GOOD + "\n" + GOOD.replace("X:1", "X:2"))
    book = _cli("convert", str(tmp_path / "book.abc"), "-o", str(tmp_path / "book.mid"))
    assert book.returncode == 1 and b"2 outputs" in book.stderr
    assert not (tmp_path / "book.mid").exists()


def test_recoverable_problems_convert_with_warnings(tmp_path):
    src = tmp_path / "odd.abc"
    src.write_text(
        "X:1\nT:Unbalanced\nM:4/4\nL:1/4\nK:C\n|: A B c d | e f g a |: b4 |]\n\n"
        "X:2\nT:Wrong bars\nM:4/4\nL:1/4\nK:C\nABC|DEFGA|B4|c4|\n"
    )
    report = convert_paths([src], "mid", tmp_path / "out")
    assert report.count("converted") == 2
    warnings = [w for r in report.results for w in r.warnings]
    assert any("unbalanced repeat" in w for w in warnings)
    assert any("differ from the meter" in w for w in warnings)


def test_warnings_are_listed_with_v_and_kept_as_json_lines_with_log(tmp_path):
    src = tmp_path / "odd.abc"
    src.write_text("X:1\nT:Unbalanced\nM:4/4\nL:1/4\nK:C\n|: A B c d | e f g a |: b4 |]\n")
    quiet = _cli("convert", str(src), "--out", str(tmp_path / "a"))
    assert quiet.returncode == 0 and b"1 output(s) with warnings; -v lists them" in quiet.stderr
    log = tmp_path / "log.jsonl"
    loud = _cli("convert", str(src), "--out", str(tmp_path / "b"), "-v", "--log", str(log))
    lines = [ln for ln in loud.stderr.decode().splitlines() if "unbalanced repeat" in ln]
    assert lines and lines[0].startswith(f"warning: {src}:1 X:1: ")
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["input"] == f"{src}:1 X:1" and entry["status"] == "converted"
    assert any("unbalanced repeat" in w for w in entry["warnings"])


@pytest.mark.parametrize(
    ("name", "to", "limit"),
    [("big.abc", "mid", MAX_ABC_FILE_BYTES), ("big.mid", "abc", MAX_MIDI_FILE_BYTES)],
)
def test_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch, name, to, limit):
    big = tmp_path / name
    with open(big, "wb") as fh:
        fh.truncate(limit + 1)  # sparse: cheap to make
    read_bytes = Path.read_bytes

    def refuse_the_big_file(path: Path) -> bytes:
        assert path != big, "the huge file was read"
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse_the_big_file)
    report = convert_paths([big], to, tmp_path / "out")
    (failure,) = report.failed
    assert "limit" in failure.message and str(big) in failure.message


def test_existing_outputs_are_kept_unless_forced(tmp_path):
    src = tmp_path / "good.abc"
    src.write_text(GOOD)
    out = tmp_path / "out"
    out.mkdir()
    (out / "good.mid").write_bytes(b"precious")
    report = convert_paths([src], "mid", out)
    assert report.count("skipped") == 1
    assert (out / "good.mid").read_bytes() == b"precious"
    report = convert_paths([src], "mid", out, force=True)
    assert report.count("converted") == 1
    assert (out / "good.mid").read_bytes().startswith(b"MThd")


def test_outputs_never_land_outside_out_or_on_an_input(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "odd.abc").write_text(GOOD.replace("X:1", "X:../../escape") + "\n" + GOOD)
    # An ABC file named .mid, given directly, whose output would replace it.
    (src / "tune.mid").write_text(GOOD)
    plan = plan_batch([src / "odd.abc", src / "tune.mid"], "mid", src)
    outputs = [Path(j.output) for j in plan.jobs]
    assert all(p.resolve().is_relative_to(src.resolve()) for p in outputs)
    assert all(".." not in p.name and "/" not in p.name for p in outputs)
    assert any("is an input" in r.message for r in plan.early)
    convert_paths([src / "tune.mid"], "mid", src, force=True)
    assert (src / "tune.mid").read_text() == GOOD


def test_tune_book_names_use_x_numbers_and_positions_for_duplicates(tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(GOOD.replace("X:1", "X:7") + "\n" + GOOD + "\n" + GOOD)
    plan = plan_batch([book], "mid", tmp_path / "out")
    assert [Path(j.output).name for j in plan.jobs] == ["book_7.mid", "book_2.mid", "book_3.mid"]


def test_folders_keep_their_layout(tmp_path):
    (tmp_path / "in" / "reels").mkdir(parents=True)
    (tmp_path / "in" / "jigs").mkdir()
    (tmp_path / "in" / "reels" / "a.abc").write_text(GOOD)
    (tmp_path / "in" / "jigs" / "a.abc").write_text(GOOD)
    report = convert_paths([tmp_path / "in"], "mid", tmp_path / "out")
    assert report.count("converted") == 2
    assert (tmp_path / "out" / "reels" / "a.mid").exists() and (
        tmp_path / "out" / "jigs" / "a.mid"
    ).exists()


def test_write_atomic_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "x.mid"
    with pytest.raises(ConversionError):
        write_atomic(target, b"")
    assert list(tmp_path.iterdir()) == []
    write_atomic(target, b"MThd")
    assert target.read_bytes() == b"MThd" and [p.name for p in tmp_path.iterdir()] == ["x.mid"]


def test_parallel_jobs_give_the_same_bytes_as_one_process(tmp_path):
    one = convert_paths([EXAMPLES], "mid", tmp_path / "one")
    two = convert_paths([EXAMPLES], "mid", tmp_path / "two", workers=2)
    assert one.count("converted") == two.count("converted") == 8
    for path in (tmp_path / "one").rglob("*.mid"):
        assert (
            path.read_bytes()
            == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes()
        )


def test_same_bytes_in_a_fresh_process_with_another_hash_seed(tmp_path):
    code = (
        "import sys; from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi;"
        "sys.stdout.buffer.write(abc_to_midi(open(sys.argv[1]).read()).midi)"
    )
    tune_file = tmp_path / "t.abc"
    tune_file.write_text((EXAMPLES / "cliffs-of-moher-endings.abc").read_text())
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tune_file)], capture_output=True, env=env, check=True
        )
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and outs[0].startswith(b"MThd")


def test_crlf_and_latin1_files_read_like_utf8(tmp_path):
    text = "X:1\nT:Sí Bheag\nM:4/4\nL:1/4\nK:D\nd e f g|\n"
    utf8 = decode_abc(text.encode("utf-8"))
    latin = decode_abc(text.replace("\n", "\r\n").encode("latin-1"))
    assert utf8 == latin
    assert split_tunes(latin)[0].title == "Sí Bheag"


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_abc2midi_engine_plugs_into_the_same_batch(tmp_path):
    result = runner.invoke(
        app,
        ["convert", str(EXAMPLES / "jigs.abc"), "--engine", "abc2midi", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == ["jigs_1.mid", "jigs_2.mid"]
    assert all(mido.MidiFile(tmp_path / name).length > 10 for name in made)
