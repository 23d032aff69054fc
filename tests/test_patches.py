"""The byte layout of training records: real ABC/MIDI pairs -> one sequence -> both files back,
bit-exact, in both directions, and the same ids as the official bGPT data loader makes."""

from __future__ import annotations

import numpy as np
import pytest

from abcmidi_bgpt.bgpt.dataset import row_sequence
from abcmidi_bgpt.bgpt.patches import (
    DEFAULT_LAYOUT,
    SPECIAL,
    PatchLayout,
    encode_direction,
    encode_pair,
    fits,
    pair_patches,
    split_sequence,
)
from abcmidi_bgpt.corpus.pipeline import PipelineSettings, render_tune
from abcmidi_bgpt.corpus.sources import music21_corpus_dir


def official_ids(source: bytes, source_ext: str, target: bytes, target_ext: str, p: int = 16):
    """The sequence as the official bGPT conversion training reads a pair of files, written
    from its documented format: each file is its extension (UTF-8, padded with 256 to a patch),
    its bytes padded with 256 to whole patches and an end patch of 256s; the source's end patch
    is dropped when the two are joined."""

    def file_ids(data: bytes, ext: str) -> list[int]:
        head = list(ext.encode("utf-8"))[:p]
        body = list(data) + [SPECIAL] * (-len(data) % p)
        return head + [SPECIAL] * (p - len(head)) + body + [SPECIAL] * p

    return file_ids(source, source_ext)[:-p] + file_ids(target, target_ext)


@pytest.fixture(scope="module")
def real_pairs() -> list[tuple[bytes, bytes]]:
    """Normalised ABC and rendered MIDI of real jigs and reels, as the corpus makes them."""
    folder = music21_corpus_dir() / "ryansMammoth"
    pairs = []
    for path in sorted(folder.glob("*.abc"))[:8]:
        outcome = render_tune(path.read_text(encoding="utf-8"), PipelineSettings(), path.name)
        assert outcome.rendered.ok, (path, outcome.rendered.reason)
        pairs.append((outcome.rendered.abc.encode("utf-8"), outcome.rendered.midi))
    return pairs


@pytest.mark.parametrize("direction", ["abc2mid", "mid2abc"])
def test_real_pairs_round_trip_bit_exact(real_pairs, direction):
    for abc, midi in real_pairs:
        encoded = encode_direction(abc, midi, direction)
        (src_ext, src), (tgt_ext, tgt) = split_sequence(encoded.ids, encoded.target_start)
        expected = (abc, midi) if direction == "abc2mid" else (midi, abc)
        assert (src_ext, tgt_ext) == (("abc", "mid") if direction == "abc2mid" else ("mid", "abc"))
        assert (src, tgt) == expected
        assert len(encoded.ids) % 16 == 0
        assert len(encoded.ids) // 16 == pair_patches(len(abc), len(midi))


@pytest.mark.parametrize("direction", ["abc2mid", "mid2abc"])
def test_sequence_is_what_the_official_loader_makes(real_pairs, direction):
    for abc, midi in real_pairs:
        encoded = encode_direction(abc, midi, direction)
        files = {"abc": abc, "mid": midi}
        src_ext, tgt_ext = ("abc", "mid") if direction == "abc2mid" else ("mid", "abc")
        expected = official_ids(files[src_ext], src_ext, files[tgt_ext], tgt_ext)
        assert encoded.ids.tolist() == expected
        # The separator is the target's extension patch, the end is 16 x 256.
        separator = encoded.ids[encoded.target_start : encoded.target_start + 16].tolist()
        assert bytes(i for i in separator if i != SPECIAL).decode() == tgt_ext
        assert (encoded.ids[encoded.end_start :] == SPECIAL).all()


def test_source_filling_whole_patches_still_splits_at_the_given_boundary():
    source = bytes(range(65, 65 + 32))  # exactly two patches, no padding
    target = b"MThd\x00\x00\x00\x06" + bytes(range(20))
    encoded = encode_pair(source, "abc", target, "mid")
    assert encoded.target_start == 16 + 32
    (ext_a, a), (ext_b, b) = split_sequence(encoded.ids, encoded.target_start)
    assert (ext_a, a, ext_b, b) == ("abc", source, "mid", target)


def test_bytes_that_spell_an_extension_inside_a_file_survive():
    source = b"mid" + b"abc" * 30
    target = bytes(range(256)) * 3  # every byte value, 0 and 255 included
    encoded = encode_pair(source, "abc", target, "mid")
    assert split_sequence(encoded.ids, encoded.target_start) == (("abc", source), ("mid", target))


def test_a_sequence_cut_before_its_end_patch_gives_the_target_so_far():
    encoded = encode_pair(b"X:1\nK:C\nCDEF|\n", "abc", b"MThd" + b"\x01" * 40, "mid")
    cut = encoded.ids[: encoded.end_start]  # no end patch: a generation stopped at the limit
    assert split_sequence(cut, encoded.target_start)[1] == ("mid", b"MThd" + b"\x01" * 40)


def test_context_limit_counts_both_files_their_extensions_and_the_end():
    layout = PatchLayout(patch_size=16, max_patches=8)
    # 3 + 3 patches of bytes, 2 extension patches: 8 without the end patch -> 9, over.
    assert pair_patches(48, 48, layout) == 9 and not fits(48, 48, layout)
    assert pair_patches(48, 32, layout) == 8 and fits(48, 32, layout)
    assert pair_patches(48, 33, layout) == 9
    with pytest.raises(ValueError, match="over the context of 8"):
        encode_pair(b"a" * 48, "abc", b"m" * 48, "mid", layout)
    assert DEFAULT_LAYOUT.context_bytes == 8192


def test_record_rows_encode_like_their_files(real_pairs):
    abc, midi = real_pairs[0]
    row = {"abc": abc.decode("utf-8"), "midi": midi}
    for direction in ("abc2mid", "mid2abc"):
        assert np.array_equal(
            row_sequence(row, direction).ids, encode_direction(abc, midi, direction).ids
        )


def test_real_pairs_are_normalised_abc_and_midi(real_pairs):
    for abc, midi in real_pairs:
        assert abc.startswith(b"X:1\n") and b"\nK:" in abc and b"T:" not in abc
        assert midi.startswith(b"MThd")
