"""The program works in the environments users have: a long TMPDIR (the worker processes'
socket lives under it), a narrow terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import EXAMPLES, REPO


def test_conversion_works_under_a_temporary_folder_with_a_long_path(tmp_path):
    long_tmp = tmp_path / ("a-temporary-folder-with-a-long-name-" * 4)
    long_tmp.mkdir()
    assert len(str(long_tmp)) > 110  # a socket path holds 107 bytes
    result = subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt", "convert", str(EXAMPLES / "jigs.abc"),
         "--out", str(tmp_path / "out"), "--jobs", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "TMPDIR": str(long_tmp), "COLUMNS": "50"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["jigs_1.mid", "jigs_2.mid"]
