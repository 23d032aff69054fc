"""Where the tests' real tunes are: the repository's examples and music21's collections."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "examples"


def music21_corpus() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"
