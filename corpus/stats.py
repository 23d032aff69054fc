"""What a built corpus holds: length distributions, drawn as histograms (matplotlib)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from datasets import DatasetDict

from abcmidi_bgpt.bgpt.dataset import load_corpus, load_manifest
from abcmidi_bgpt.bgpt.patches import PatchLayout, pair_patches
from abcmidi_bgpt.core.io import write_atomic

from .splits import SPLITS

HISTOGRAMS = "lengths.png"


def split_lengths(corpus: DatasetDict, layout: PatchLayout) -> dict[str, dict[str, list[int]]]:
    """Per split: ABC bytes, MIDI bytes and patches per conversion sequence of every row."""
    lengths = {}
    for split, ds in corpus.items():
        abc = ds["abc_bytes"] if len(ds) else []
        midi = ds["midi_bytes"] if len(ds) else []
        lengths[split] = {
            "abc_bytes": list(abc),
            "midi_bytes": list(midi),
            "patches": [pair_patches(a, m, layout) for a, m in zip(abc, midi, strict=True)],
        }
    return lengths


def write_histograms(corpus_dir: str | Path, out_path: str | Path | None = None) -> Path:
    """Histograms of ABC bytes, MIDI bytes and patches per pair, one colour per split, with the
    model's context marked; written as PNG (default ``<corpus>/stats/lengths.png``)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on the machines this runs on
    import matplotlib.pyplot as plt

    corpus_dir = Path(corpus_dir)
    out_path = Path(out_path) if out_path else corpus_dir / "stats" / HISTOGRAMS
    manifest = load_manifest(corpus_dir)
    settings = manifest["settings"]
    layout = PatchLayout(settings["patch_size"], settings["max_patches"])
    corpus = load_corpus(corpus_dir)
    # The nested scales are prefixes of 'train': drawn, they would only repeat it.
    lengths = split_lengths(DatasetDict({s: corpus[s] for s in SPLITS if s in corpus}), layout)
    panels = [
        ("abc_bytes", "normalised ABC (bytes)"),
        ("midi_bytes", "MIDI (bytes)"),
        ("patches", f"conversion sequence ({layout.patch_size}-byte patches)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (column, title) in zip(axes, panels, strict=True):
        values = [v for data in lengths.values() for v in data[column]]
        bins = np.histogram_bin_edges(values or [0], bins=40)
        for split, data in lengths.items():
            if data[column]:
                # Densities, so the small held-out sets compare with the training set.
                ax.hist(data[column], bins=bins, density=True, histtype="step", linewidth=1.4,
                        label=f"{split} ({len(data[column])})")  # fmt: skip
        if column == "patches":
            ax.axvline(
                layout.max_patches, color="black", linestyle="--", linewidth=1, label="context"
            )
        ax.set_title(title)
        ax.set_ylabel("share of pairs per unit")
        ax.legend(fontsize=8)
    fig.suptitle(f"{corpus_dir.name}: lengths per split", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    write_atomic(out_path, buffer.getvalue())
    return out_path
