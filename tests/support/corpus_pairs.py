"""Real ABC/MIDI pairs and corpus folders in the bgpt/dataset.py layout, for the model,
training, evaluation and official-import tests (the ``tiny_corpus`` fixture of
``tests/conftest.py`` is made of them) and the fixture models of :mod:`tests.support.models`.

The pairs are made the way the corpus builder makes them: a folk tune from the music21 corpus,
its ABC normalised through MusicXML, and the canonical MIDI rendered from that ABC.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import music21

from abcmidi_bgpt.bgpt.patches import PatchLayout, fits
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml, musicxml_to_abc
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

FOLK = Path(music21.__file__).parent / "corpus" / "essenFolksong"


@functools.cache
def real_pairs(count: int, max_patches: int = 128) -> tuple[tuple[bytes, bytes], ...]:
    """The first ``count`` tunes of the Essen collection (music21) whose pair fits a context
    of ``max_patches`` patches in both directions, as (ABC bytes, MIDI bytes)."""
    layout = PatchLayout(16, max_patches)
    pairs = []
    for path in sorted(FOLK.glob("*.abc")):
        for tune in split_tunes(read_abc_file(path), str(path)):
            try:
                score = abc_to_musicxml(tune.full_text, tune.label)
                abc = musicxml_to_abc(score.root)
                midi = abc_to_midi(abc).midi
            except Exception:  # the corpus builder drops tunes that do not convert
                continue
            abc_bytes = abc.encode("utf-8")
            if fits(len(abc_bytes), len(midi), layout):
                pairs.append((abc_bytes, midi))
            if len(pairs) == count:
                return tuple(pairs)
    raise RuntimeError(f"only {len(pairs)} tunes fit {max_patches} patches")


def write_corpus(
    directory: Path, splits: dict[str, list[tuple[bytes, bytes]]], legacy: bool = False
) -> Path:
    """A corpus folder as the corpus builder writes it (see abcmidi_bgpt/bgpt/dataset.py): the
    DatasetDict at the top of the folder, or (``legacy``) in ``dataset/`` as the first layout
    had it."""
    import datasets

    def rows(pairs, split):
        return {
            "id": [f"{split}-{i}" for i in range(len(pairs))],
            "tune_id": [f"tune-{split}-{i}" for i in range(len(pairs))],
            "source": ["music21:essenFolksong"] * len(pairs),
            "abc": [a.decode("utf-8") for a, _ in pairs],
            "midi": [m for _, m in pairs],
            "abc_bytes": [len(a) for a, _ in pairs],
            "midi_bytes": [len(m) for _, m in pairs],
            "key": [""] * len(pairs),
            "meter": [""] * len(pairs),
            "transpose": [0] * len(pairs),
        }

    from abcmidi_bgpt.bgpt.dataset import FEATURES

    dd = datasets.DatasetDict(
        {
            name: datasets.Dataset.from_dict(rows(pairs, name), features=FEATURES)
            for name, pairs in splits.items()
        }
    )
    dd.save_to_disk(str(directory / "dataset" if legacy else directory))
    manifest = {
        "complete": True,
        "splits": {name: {"rows": len(pairs)} for name, pairs in splits.items()},
    }
    (directory / "corpus.json").write_text(json.dumps(manifest))
    return directory
