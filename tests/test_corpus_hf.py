"""A built corpus as Hugging Face tools see it: the folder itself is a DatasetDict whose splits
include every scale, its README.md is a dataset card that ``datasets`` and the hub read (YAML
header with the real split sizes, Markdown body), and corpora of the first layout (the
DatasetDict in ``dataset/``) are still read.

One small build of a real source (music21's miscellaneous folk tunes) is shared.
"""

from __future__ import annotations

import json
import re

import datasets
import pytest
import yaml
from markdown_it import MarkdownIt

from abcmidi_bgpt.bgpt.dataset import FEATURES, load_corpus, load_manifest, load_pairs, load_split
from abcmidi_bgpt.corpus.build import BuildSettings, build_corpus
from abcmidi_bgpt.corpus.card import COLUMNS, card_text
from tests.support.corpus_pairs import real_pairs, write_corpus

SETTINGS = BuildSettings(scales=(5, 12), validation_fraction=0.05, test_fraction=0.05)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "corpus"
    build_corpus(["music21:miscFolk"], out, SETTINGS, cache_path=out.parent / "cache.sqlite")
    return out


def front_matter(text: str) -> tuple[dict, str]:
    """The YAML header and the Markdown body of a card."""
    match = re.match(r"---\n(.*?\n)---\n(.*)", text, re.DOTALL)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1)), match.group(2)


def test_the_corpus_folder_loads_as_a_datasetdict_with_every_scale_as_a_split(corpus):
    dd = datasets.load_from_disk(str(corpus))
    manifest = load_manifest(corpus)
    assert set(dd) == {"train", "validation", "test", "train_5", "train_12"}
    assert set(manifest["splits"]) == {"train", "validation", "test", "train-5", "train-12"}
    for split in manifest["splits"].values():
        assert dd[split["dataset_split"]].num_rows == split["rows"]
    assert dd["train_12"].num_rows == 12 and dd["train_5"].num_rows == 5
    assert dd["validation"].num_rows > 0 and dd["test"].num_rows > 0
    # Nested: each scale is a prefix of 'train', saved whole.
    assert dd["train_5"]["id"] == dd["train_12"]["id"][:5] == dd["train"]["id"][:5]
    assert dd["train_12"]["midi"] == dd["train"]["midi"][:12]
    # Both names of a scale read it through the project's loaders.
    assert load_split(corpus, "train-5")["id"] == load_split(corpus, "train_5")["id"]
    assert load_pairs(corpus, "train-12", limit=3) == [
        (r["abc"].encode("utf-8"), r["midi"]) for r in dd["train"].select(range(3))
    ]
    assert set(load_corpus(corpus)) == set(dd)
    assert not (corpus / "dataset").exists()


def test_the_dataset_card_is_yaml_and_markdown_with_the_real_split_sizes(corpus):
    text = (corpus / "README.md").read_text()
    manifest = json.loads((corpus / "corpus.json").read_text())
    assert text == card_text(manifest)  # made from the manifest alone
    header, body = front_matter(text)
    dd = datasets.load_from_disk(str(corpus))
    sizes = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert sizes == {name: ds.num_rows for name, ds in dd.items()}
    assert header["license"] == "bsd-3-clause"
    assert header["pretty_name"] and header["task_categories"] and "music" in header["tags"]
    files = {f["split"]: f["path"] for f in header["configs"][0]["data_files"]}
    assert files == {name: f"{name}/*.arrow" for name in dd}
    assert [f["name"] for f in header["dataset_info"]["features"]] == list(FEATURES)
    # The hub's own parser takes it.
    from huggingface_hub import DatasetCard

    card = DatasetCard(text)
    assert card.data.license == "bsd-3-clause" and card.data.size_categories == ["n<1K"]
    # Markdown: the sections, a row per column and per split, with its real size.
    tokens = MarkdownIt().enable("table").parse(body)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[1:] == ["Loading", "Sources", "Splits", "Fields", "How it was built"]
    for column in FEATURES:
        assert f"| `{column}` | {FEATURES[column].dtype} | {COLUMNS[column]} |" in body
    for name, ds in dd.items():
        assert re.search(rf"^\| `{name}` \| {ds.num_rows} \|", body, re.MULTILINE), name
    assert "music21" in body and "BSD-3-Clause" in body and "xml2abc" in body


def test_datasets_loads_the_splits_the_card_names(corpus, tmp_path):
    """What the hub does with the card: load each split's files as the header names them."""
    loaded = datasets.load_dataset(str(corpus), cache_dir=str(tmp_path / "hf"))
    dd = datasets.load_from_disk(str(corpus))
    assert {name: ds.num_rows for name, ds in loaded.items()} == {
        name: ds.num_rows for name, ds in dd.items()
    }
    assert loaded["train_5"]["abc"] == dd["train_5"]["abc"]


def test_a_corpus_of_the_first_layout_is_still_read(tmp_path):
    pairs = list(real_pairs(6))
    old = write_corpus(tmp_path / "old", {"train": pairs[:4], "validation": pairs[4:5],
                                          "test": pairs[5:]}, legacy=True)  # fmt: skip
    manifest = json.loads((old / "corpus.json").read_text())
    manifest["splits"]["train-2"] = {"scale": 2, "rows": 2}
    (old / "corpus.json").write_text(json.dumps(manifest))
    assert (old / "dataset" / "dataset_dict.json").exists()
    assert load_pairs(old, "train-2") == pairs[:2] == load_pairs(old, "train_2")
    assert load_pairs(old, "test") == pairs[5:]
    assert set(load_corpus(old)) == {"train", "validation", "test"}


def test_rebuilding_a_corpus_of_the_first_layout_moves_it_to_the_new_one(corpus, tmp_path):
    old = write_corpus(tmp_path / "old", {"train": list(real_pairs(2))}, legacy=True)
    build_corpus(["music21:miscFolk"], old, SETTINGS, cache_path=corpus.parent / "cache.sqlite")
    assert not (old / "dataset").exists()
    assert datasets.load_from_disk(str(old))["train_5"]["id"] == load_split(corpus, "train-5")["id"]
