"""Tune books: decoding, splitting, and replacing one tune."""

from __future__ import annotations

import pytest

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.text import decode_abc, read_abc_file, replace_tune, split_tunes
from tests.support.paths import music21_corpus


def oneills() -> list:
    path = music21_corpus() / "oneills1850" / "0001-0050.abc"
    return split_tunes(read_abc_file(path), "0001-0050.abc")


def test_split_keeps_numbers_titles_lines_and_the_file_header():
    text = "%%MIDI program 41\n% not a field\n\nX:3\nT:One\nK:G\nGABc|\n\nX:4\nT:Two\nT:Part\nK:D\nd4|\n"
    one, two = split_tunes(text, "book.abc")
    assert (one.number, one.title, one.line) == ("3", "One", 4)
    assert (two.number, two.title, two.line) == ("4", "Two", 9)
    assert one.header == "%%MIDI program 41"
    assert one.full_text.startswith("%%MIDI program 41\nX:3")
    assert two.label == "book.abc:9 X:4"


def test_a_text_without_x_but_with_k_is_one_tune():
    (tune,) = split_tunes("T:Loose\nK:C\nCDEF|\n")
    assert tune.number == "" and tune.title == "Loose"


def test_no_tune_at_all_is_an_error():
    with pytest.raises(ConversionError, match="no ABC tune"):
        split_tunes("Dear diary,\nnothing here.\n", "diary.abc")


def test_decoding_utf8_bom_latin1_and_line_ends():
    assert decode_abc("\ufeffX:1\r\nK:C\r\n".encode()) == "X:1\nK:C\n"
    assert decode_abc("X:1\rT:Café\rK:C\r".encode("latin-1")) == "X:1\nT:Café\nK:C\n"
    with pytest.raises(ConversionError, match="binary"):
        decode_abc(b"X:1\x00\x01\x02")


def test_replace_tune_changes_one_tune_of_a_book_and_nothing_else():
    tunes = oneills()[:3]
    book = "% my tunes\n\n" + "\n\n".join(t.text for t in tunes) + "\n"
    second = split_tunes(book)[1]
    edited = second.text.replace("T:", "T: Edited", 1)
    new_book = replace_tune(book, second, edited)
    assert new_book.replace(edited.rstrip("\n"), second.text.rstrip("\n")) == book
    before, after = split_tunes(book), split_tunes(new_book)
    assert [t.text for t in after][0::2] == [t.text for t in before][0::2]
    with pytest.raises(ConversionError, match="changed since it was read"):
        replace_tune(book.replace("X: 2", "X: 22"), second, edited)
