"""checks.diagnostics: the lexical scan of ABC and the placing of the converter's complaints."""

from __future__ import annotations

import itertools

import pytest

from abcmidi_bgpt.checks.diagnostics import bar_location, check_tune, scan_abc
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from tests.support.paths import music21_corpus

HEADER = "X:1\nT:Test\nM:4/4\nL:1/8\nK:G\n"


def spans(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each span."""
    lines = text.split("\n")
    return [(s.kind, lines[s.line][s.start : s.end]) for s in scan_abc(text)]


def test_scan_names_header_fields_bars_repeats_endings_chords_and_decorations():
    text = (
        "X:1\nT:Cliffs % a comment\nM:6/8\nK:D\n"
        '|:"D"A2d !trill!f2e|[1 d3 d2B:|[2d3-d3||\n'
        "{g}A (3ABc ~B2 | [CEG]2 [K:Am] z2 .c :: A2B |1 c3 :|2 d3 |]\n"
        "w: la la\n%%MIDI program 1\n"
    )
    found = spans(text)
    assert found[:9] == [
        ("field", "X:"),
        ("field_value", "1"),
        ("field", "T:"),
        ("title", "Cliffs "),
        ("comment", "% a comment"),
        ("field", "M:"),
        ("field_value", "6/8"),
        ("field", "K:"),
        ("field_value", "D"),
    ]
    kinds = {}
    for kind, piece in found[9:]:
        kinds.setdefault(kind, []).append(piece)
    assert kinds["repeat"] == ["|:", ":|", "::", ":|"]
    assert kinds["bar"] == ["|", "||", "|", "|", "|]"]
    assert kinds["ending"] == ["[1", "[2", "1", "2"]
    assert kinds["chord_symbol"] == ['"D"']
    assert kinds["decoration"] == ["!trill!", "~", "."]
    assert kinds["chord"] == ["[", "]2"]
    assert kinds["grace"] == ["{", "}"]
    assert kinds["tuplet"] == ["(3"]
    assert kinds["rest"] == ["z2"]
    assert ("field", "[K:") in found and ("field_value", "Am") in found
    assert ("lyrics", " la la") in found
    assert ("directive", "%%MIDI program 1") in found
    assert "error" not in kinds


@pytest.mark.parametrize(
    ("music", "bad"),
    [
        ("GABc ### dedB|", "###"),
        ("GABc [dedB|", "["),
        ('GABc "Am c2ec|', '"'),
        ("GABc {ga dedB|", "{"),
        ("GABc d}edB|", "}"),
        ("GA@Bc dedB|", "@"),
    ],
)
def test_scan_marks_what_is_no_abc_symbol(music, bad):
    errors = [piece for kind, piece in spans(HEADER + music) if kind == "error"]
    assert errors == [bad]


def test_scan_finds_no_error_in_nearly_all_real_tunes():
    """On 2,000 real tunes the scan marks errors in almost none (those it marks are typos
    in the collection, such as a stray '=20' or a lone digit)."""
    files = sorted((music21_corpus() / "oneills1850").glob("*.abc")) + sorted(
        (music21_corpus() / "ryansMammoth").glob("*.abc")
    )
    tunes = itertools.islice((t for f in files for t in split_tunes(read_abc_file(f))), 2000)
    flagged = [t for t in tunes if any(s.kind == "error" for s in scan_abc(t.text))]
    assert len(flagged) <= 10  # 0.5 %


def test_check_places_a_misplaced_symbol_on_its_line_and_column():
    check = check_tune(HEADER + "GABc dedB|dedB dedB|\nGABc # dedB|dedB dedB|\n")
    assert check.ok
    (warning,) = check.warnings
    assert (warning.line, warning.column) == (7, 6)
    assert str(warning) == "line 7, col 6: cannot read '#'; skipped"


def test_check_places_an_unclosed_chord_symbol():
    check = check_tune(HEADER + 'GABc d2 "Am c2ec|\n')
    placed = [(d.line, d.column) for d in check.warnings if "cannot read" in d.message]
    assert placed == [(6, 9)]


def test_check_places_bars_that_differ_from_the_meter_a_pickup_counting_as_bar_one():
    check = check_tune(HEADER + "D|E2BE dEBE|E2BE AFDF|E2BE dEB|BABc dAF:|\n")
    (warning,) = check.warnings
    assert "bar 4" in warning.message
    assert (warning.line, warning.column) == (6, 23)


def test_check_of_text_that_is_not_music_is_an_error_with_a_place():
    check = check_tune("X:1\nT:junk\nK:C\nhello world this is not music at all\nfoo bar baz\n")
    assert not check.ok and check.result is None
    (error,) = check.errors
    assert "not ABC music" in error.message
    assert error.line == 4


def test_check_of_no_tune_and_of_two_tunes():
    assert check_tune("shopping list").errors[0].message.startswith("no ABC tune found")
    two = check_tune("X:1\nK:C\nabc|\n\nX:2\nK:C\ncba|\n")
    assert (two.errors[0].line, two.errors[0].column) == (5, 1)


def test_check_of_a_real_tune_converts_it_with_no_problems():
    tune = split_tunes(read_abc_file(music21_corpus() / "ryansMammoth" / "AcaciaReel.abc"))[0]
    check = check_tune(tune)
    assert check.ok and not check.diagnostics
    assert check.result is not None and check.result.performance.notes()


def test_bar_location_skips_empty_segments_and_refuses_several_voices():
    text = HEADER + "E2BE dEBE|E2BE AFDF:|\n|:d2fd c2ec|defg afg|\n"
    assert bar_location(text, 3) == (7, 3)  # '|:' after ':|' starts no bar of its own
    assert bar_location(text, 9) == (None, None)
    voices = HEADER.replace("K:G", "V:1\nK:G") + "abc|def|\n"
    assert bar_location(voices, 1) == (None, None)
