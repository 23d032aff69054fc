"""Data flows one way: formats -> converters -> corpus/model -> validation -> CLI/TUI.

The library (``abcmidi_bgpt``) never imports the corpus builder or the TUI, except its CLI
module, which is the interface layer; the corpus builder never imports the TUI.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_library_modules_do_not_import_higher_layers():
    offenders = {}
    for path in sorted((REPO / "abcmidi_bgpt").rglob("*.py")):
        if path.name == "cli.py":
            continue
        higher = imported_packages(path) & {"corpus", "tui"}
        if higher:
            offenders[path.name] = sorted(higher)
    assert offenders == {}


def test_corpus_does_not_import_the_tui():
    offenders = [p.name for p in (REPO / "corpus").rglob("*.py") if "tui" in imported_packages(p)]
    assert offenders == []


def test_cli_start_up_imports_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, abcmidi_bgpt.cli;"
        "print(sorted(m for m in ('torch', 'textual', 'music21', 'datasets', 'transformers')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
