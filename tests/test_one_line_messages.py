"""Errors and warnings are one line each, whatever the terminal's width or the paths' length:
users grep them. Each test runs the real command in a fresh process, as a user's shell does,
on a 40-column terminal with paths of over 100 characters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

GOOD = "X:1\nT:Good\nM:4/4\nL:1/4\nK:G\nG A B c|d4|]\n"


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    """A folder whose path is over 100 characters long, markup-like brackets included."""
    folder = tmp_path / ("long-folder-name-" * 4) / ("[red]nested-" * 4)
    folder.mkdir(parents=True)
    assert len(str(folder)) > 100
    return folder


def run_cli(*args: str, columns: int = 40) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "20", "TERM": "xterm"}
    return subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def line_with(text: str, output: str) -> str:
    """The one line of ``output`` that holds ``text`` whole."""
    lines = [ln for ln in output.splitlines() if text in ln]
    assert len(lines) == 1, f"{text!r} is not on one line of:\n{output}"
    return lines[0]


def test_a_missing_corpus_is_one_line(deep):
    model = REPO / "tests" / "fixtures" / "bgpt-essen"
    result = run_cli("evaluate", str(model), "--corpus", str(deep / "nowhere"))
    assert result.returncode == 1
    line = line_with(str(deep / "nowhere"), result.stderr)
    assert line.startswith("error: ") and "not a built corpus" in line


def test_failures_and_warnings_of_a_batch_are_one_line_each(deep):
    src = deep / "in"
    src.mkdir()
    (src / "good.abc").write_text(GOOD)
    (src / "empty.abc").write_bytes(b"")
    (src / "no-key.abc").write_text("X:1\nT:No key\nM:4/4\nABcd|\n")
    out = deep / "out"
    first = run_cli("convert", str(src), "--out", str(out))
    assert first.returncode == 1
    for name in ("empty.abc", "no-key.abc"):
        line = line_with(str(src / name), first.stderr)
        assert line.startswith("failed: ")
    assert "empty file" in line_with(str(src / "empty.abc"), first.stderr)
    again = run_cli("convert", str(src / "good.abc"), "--out", str(out))
    assert again.returncode == 0
    line = line_with("existing output(s) kept", again.stderr)
    assert line == "warning: 1 existing output(s) kept; use --force to overwrite"


def test_a_usage_error_is_one_line(deep):
    (deep / "t.abc").write_text(GOOD)
    result = run_cli("convert", str(deep / "t.abc"), "--checkpoint", "x", "--out", str(deep))
    assert result.returncode == 2
    line = line_with("only apply to --engine bgpt", result.stderr)
    assert line == "error: --checkpoint only apply to --engine bgpt"
