"""The native ABC reader: the lexer's tokens, and fuzzing (any text is read or refused with
the library's own error, in bounded time). Its notes are checked construct by construct in
tests/test_abc_to_midi.py, which runs every case through both readers."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.bars import read_bars
from abcmidi_bgpt.formats.abc.text import split_tunes
from abcmidi_bgpt.formats.abc.tokens import tokens
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi


def kinds(music: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokens(music)]


def test_lexer_tells_bar_lines_chords_endings_and_fields_apart():
    assert kinds("[K:D]|:[CEG]2 [1 A:|[2 B|]") == [
        ("field", "[K:D]"),
        ("bar", "|"),
        ("colon", ":"),
        ("chord_open", "["),
        ("note", "C"),
        ("note", "E"),
        ("note", "G"),
        ("chord_close", "]2"),
        ("ending", "[1"),
        ("note", "A"),
        ("bar", ":|"),
        ("ending", "[2"),
        ("note", "B"),
        ("bar", "|]"),
    ]


def test_lexer_reads_decorations_before_the_note_they_mark():
    assert kinds("~A !trill!d +fermata+e .f") == [
        ("symbol", "~"),
        ("note", "A"),
        ("deco", "!trill!"),
        ("note", "d"),
        ("deco", "+fermata+"),
        ("note", "e"),
        ("symbol", "."),
        ("note", "f"),
    ]


def test_bars_carry_their_repeat_signs_and_endings():
    bars = read_bars("|:AB:|[1 c:|2 d||e|:|")
    assert [(b.forward, b.ending, b.right) for b in bars] == [
        (True, "", ":|"),
        (False, "1", ":|"),
        (False, "2", "||"),
        (False, "", "|"),
        (True, "", "|"),  # '|:|' at the end: a start repeat on an empty bar
    ]


def test_a_double_repeat_keeps_the_note_before_it():
    bars = read_bars("A B::c d")
    assert [len(b.items) for b in bars] == [2, 2]
    assert bars[0].right == ":" and bars[1].forward


ABC_CHARACTERS = "ABCDEFGabcdefgzxZ^_=,'/<>()[]{}|:.-~!+\"%&0123456789 \nK:M:L:Q:V:P:T:"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.text(alphabet=ABC_CHARACTERS, max_size=300))
def test_any_text_is_read_or_refused_with_the_library_error(body):
    text = f"X:1\nL:1/8\nM:6/8\nK:G\n{body}\n"
    start = time.perf_counter()
    try:
        tunes = split_tunes(text)
        for tune in tunes:
            abc_to_midi(tune, reader="native")
    except ConversionError:
        pass
    assert time.perf_counter() - start < 10


def native_notes(text: str) -> list[tuple[int, int]]:
    """(pitch, onset in 1/120 beats) of every note the native reader plays."""
    result = abc_to_midi(text, reader="native")
    return sorted((n.pitch, int(n.onset * 120)) for n in result.performance.notes())


def test_meters_abc2xml_refused_are_read_without_evaluating_them():
    """'M:3' (no ABC meter: played in free time) and abcm2ps's dotted groups '2.2.3/8'
    (= (2+2+3)/8) were refused before abc2xml could evaluate them; the native reader evaluates
    nothing, so it plays them."""
    plain = native_notes("X:1\nM:7/8\nL:1/8\nK:C\nCDE FG AB|\n")
    assert native_notes("X:1\nM:2.2.3/8\nL:1/8\nK:C\nCDE FG AB|\n") == plain
    result = abc_to_midi("X:1\nM:2.2.3/8\nL:1/8\nK:C\nCDE FG AB|\n", reader="native")
    assert [(m.numerator, m.denominator) for m in result.performance.meters] == [(7, 8)]
    free = abc_to_midi("X:1\nM:3\nL:1/8\nK:C\nCDE FG AB|\n", reader="native")
    assert [n.pitch for n in free.performance.notes()] == [60, 62, 64, 65, 67, 69, 71]
    assert free.performance.meters == []


def test_text_blocks_and_free_text_after_the_tune_are_not_music():
    tune = (
        "X:1\nM:4/4\nL:1/4\nK:C\n%%begintext\nGrand choeur leger\nTrompette et Clairon\n"
        "%%endtext\nC D E F|\n\nThe first one and last two are never used in this music.\n"
    )
    assert native_notes(tune) == [(60, 0), (62, 120), (64, 240), (65, 360)]


def test_blank_lines_straight_after_the_key_do_not_end_the_tune():
    """Sloppy files leave a blank line after K:; only a blank line after the music ends it."""
    tune = "X:22\nT:Father Dollard's\nM:C|\nL:1/8\nK:D Major\n\nA,C|D2 F2|\n\nE2 F2|\n"
    assert native_notes(tune) == [(57, 0), (61, 60), (62, 120), (66, 240)]


def test_a_percussion_voice_plays_on_the_drum_channel():
    """clef=perc (or %%MIDI channel 10): the voice's notes go to MIDI channel 10, where their
    pitch picks the drum sound; the other voices keep their channels, 10 left out."""
    tune = (
        "X:1\nT:t\nM:4/4\nL:1/8\nK:C\nV:1\nCDEF GABc|\nV:2 clef=perc\nB,B,^F^F B,B,^F^F|\n"
        "V:3\ncdef gabc'|\n"
    )
    voices = abc_to_midi(tune, reader="native").performance.voices
    assert [(v.channel, len(v.notes)) for v in voices] == [(0, 8), (9, 8), (1, 8)]
    alone = abc_to_midi("X:1\nM:4/4\nL:1/8\nK:C\n%%MIDI channel 10\nB,^F B,^F|\n", reader="native")
    assert [v.channel for v in alone.performance.voices] == [9]


@pytest.mark.parametrize(
    ("q", "qpm"),
    [
        ("1/4=120", 120.0),
        ("1/4=ca. 80", 80.0),
        ("3/8=c.60", 90.0),
        ('"Allegro" 1/4=132', 132.0),
        ('"Andante"', 88.0),
        ("120", 60.0),
    ],  # fmt: skip
)
def test_tempo_fields(q, qpm):
    """Q: in every form; 'ca. 80' is 80 (abc2xml read it as 'Q:1', the old unit-length form);
    the old 'Q:120' counts units of L:1/8 a minute."""
    result = abc_to_midi(f"X:1\nM:4/4\nL:1/8\nQ:{q}\nK:C\nCDEF|\n", reader="native")
    assert [t.qpm for t in result.performance.tempos] == [qpm]


def test_what_cannot_be_read_is_named_with_its_line_and_column():
    """A symbol the reader cannot read is skipped with a warning at its place: lines counted
    from the tune's X: line, through continuations, inline fields and voices."""
    tune = "X:1\nT:t\nM:4/4\nL:1/4\nK:C\nC D E F|\nG # A B c|\nV:2\nc d e f|\nc d # e|\n"
    result = abc_to_midi(tune, reader="native")
    assert result.warnings == [
        "line 7, col 3: cannot read '#'; skipped",
        "line 10, col 5: cannot read '#'; skipped",
    ]


@pytest.mark.parametrize(
    "body",
    ["[V:1]C|[V:2]D|" * 1200, "C D|\\\n" * 3000, "C| |" * 4000],
    ids=["voice switches", "continuation lines", "spaced bar lines"],
)
def test_text_made_to_be_slow_reads_in_linear_time(body):
    """Thousands of voice switches, continuation lines or spaced bar lines in a tune under the
    size limit: read in well under the batch's time limit (they were quadratic once)."""
    start = time.perf_counter()
    result = abc_to_midi(f"X:1\nM:4/4\nL:1/4\nK:C\n{body}\n"[:32000], reader="native")
    assert result.performance.notes()
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("directive", "expected"),
    [
        ("", [73, 73, 60, 73]),
        ("%%propagate-accidentals pitch\n", [73, 73, 61, 73]),
        ("%%propagate-accidentals not\n", [73, 72, 60, 72]),
    ],  # fmt: skip
    ids=["same octave (default)", "every octave", "not"],
)
def test_propagate_accidentals(directive, expected):
    """'^c c C c': the sharp holds for the rest of the bar in its octave (ABC 2.1's default, and
    abc2midi's), in every octave with 'pitch', for the note alone with 'not'."""
    result = abc_to_midi(f"X:1\nM:4/4\nL:1/4\n{directive}K:C\n^c c C c|\n", reader="native")
    assert [n.pitch for n in result.performance.notes()] == expected


def test_user_defined_symbols_play_their_decoration():
    result = abc_to_midi("X:1\nM:4/4\nL:1/4\nU:W=!ff!\nK:C\nC W D E F|\n", reader="native")
    assert [n.velocity for n in result.performance.notes()] == [80, 110, 110, 110]


def test_a_refusal_names_the_line_and_column_of_what_it_refuses():
    tune = "X:1\nT:t\nM:4/4\nL:1/4\nK:C\nC D E F|\nG A/99999999 B c|\n"
    with pytest.raises(ConversionError) as refused:
        abc_to_midi(tune, reader="native")
    assert (refused.value.line, refused.value.column) == (7, 3)
    assert str(refused.value).endswith(
        "line 7, col 3: a note of 1/99999999 of L: (the shortest is 1/1024); absurd duration"
    )


def test_a_multi_bar_rest_of_thousands_of_digits_is_written_out_within_the_limit():
    """The guard refuses such a tune before reading; the voice splitter, on its own, still never
    reads the number whole and writes out at most the limit of bars."""
    from abcmidi_bgpt.formats.abc.guard import MAX_REST_BARS
    from abcmidi_bgpt.formats.abc.voices import split_voices

    _, voices = split_voices("X:1\nK:C\nZ" + "9" * 5000 + "|C|\n")
    assert voices[0][1].text.count("Z") == MAX_REST_BARS


def test_a_new_part_closes_an_ending_left_open():
    """'[2 cBAG|' with no closing bar line: the part that follows is not inside the ending, so
    it is played (it was lost: its bars were taken for ending 2 of part A)."""
    tune = "X:1\nP:AB\nM:2/4\nL:1/8\nK:C\nP:A\n|:CDEF|[1 GABc:| [2 cBAG|\nP:B\nABcd|\n"
    played = sorted((onset, pitch) for pitch, onset in native_notes(tune))
    assert [pitch for _, pitch in played] == [
        60, 62, 64, 65, 67, 69, 71, 72, 60, 62, 64, 65, 72, 71, 69, 67, 69, 71, 72, 74,
    ]  # fmt: skip


def test_a_part_marked_before_the_first_voice_is_a_part_of_every_voice():
    """A P: line in the body marks the part for all voices, whichever voice was named last."""
    tune = "X:1\nM:2/4\nL:1/8\nV:S\nV:A\nP:AA\nK:C\nP:A\n[V:S] |:CDEF:|\n[V:A] |:C,D,E,F,:|\n"
    result = abc_to_midi(tune, reader="native")
    assert [len(v.notes) for v in result.performance.voices] == [16, 16]


def test_sound_and_shift_transpose_what_is_played():
    """ABC 2.2's shift=/sound= (abcm2ps, abc2midi): 'shift=c^F' plays a written c as F sharp."""
    tune = "X:1\nM:4/4\nL:1/4\nK:C\nV:1\nc A z2|\nV:2 shift=c^F\nc A z2|\nV:3 sound=CD\nc A z2|\n"
    voices = abc_to_midi(tune, reader="native").performance.voices
    assert [[n.pitch for n in v.notes] for v in voices] == [[72, 69], [66, 63], [74, 71]]


def test_a_voice_line_ending_in_a_tab_and_comment_names_its_voice():
    """'V:s<TAB>% bar 4' went to a voice of its own ('1'), merging two voices' bars."""
    tune = "X:1\nM:4/4\nL:1/4\nK:C\nV:s\nc4|\nV:1\nC4|\nV:s\t\t% bar 2\nd4|\nV:1\nD4|\n"
    voices = abc_to_midi(tune, reader="native").performance.voices
    assert [[(n.pitch, n.onset) for n in v.notes] for v in voices] == [
        [(72, 0), (74, 4)],
        [(60, 0), (62, 4)],
    ]
