"""Normalisation (natural language out, music kept) and MusicXML transposition, on real tunes."""

from __future__ import annotations

import random

import pytest
from music21 import stream

from abcmidi_bgpt.checks.validate import validate_abc
from abcmidi_bgpt.corpus.pipeline import (
    PipelineSettings,
    _normalised,
    _parse,
    render_transpositions,
    render_tune,
    tune_id,
    validate_abc_without_beaming,
)
from abcmidi_bgpt.corpus.sources import music21_tunes
from abcmidi_bgpt.corpus.transpose import (
    Interval,
    TranspositionError,
    key_fifths,
    shift_interval,
    transpose_score,
)
from abcmidi_bgpt.formats.abc.normalise import strip_natural_language
from abcmidi_bgpt.formats.abc.text import header_value
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml

WORDY = """X:17
T:The Wordy Reel
T:alternative title
C:Trad.
O:Ireland
A:Kerry
B:Some Book, p. 3
D:Some Record
F:http://example.org/tune.abc
G:reels
H:collected in 1890
N:play it fast
R:reel
S:from a manuscript
Z:transcribed by someone
W:written words
L:1/8
M:4/4
Q:"Allegro" 1/4=120
K:G
V:1 name="Fiddle" clef=treble
"G"GABc "^slowly"dedB|"Am"A2 "_fine"AB c2 z2|]
w: la la la la la la la la la la la la
V:2 name="Bass" clef=bass
G,4 D,4|A,,4 E,4|]
"""


def normalised(text: str, chords: bool = True) -> str:
    settings = PipelineSettings(chords=chords)
    return _normalised(_parse(text, settings, "test"), settings)


def test_natural_language_fields_and_annotations_are_dropped():
    abc = normalised(WORDY)
    for letter in "TCOABDFGHNRSZWwI":
        assert not any(line.startswith(f"{letter}:") for line in abc.splitlines()), letter
    for word in ("Wordy", "Trad", "Ireland", "slowly", "fine", "Fiddle", "Bass", "la la", " %"):
        assert word not in abc
    assert [ln for ln in abc.splitlines() if "%" in ln] == ["%%score 1 2"]
    assert abc.startswith("X:1\n")
    assert header_value(abc, "M") == "4/4" and header_value(abc, "K") == "G"
    assert "Q:1/4=120" in abc
    # Two voices: the voice lines stay, without their names; chord symbols stay.
    assert "V:1" in abc and "V:2" in abc and '"G"' in abc and '"Am"' in abc
    assert "\n\n" not in abc and abc.endswith("\n")


def test_without_chords_the_symbols_go_too():
    abc = normalised(WORDY, chords=False)
    assert '"' not in abc
    assert "GABc" in abc


def test_normalisation_keeps_every_note():
    settings = PipelineSettings()
    for tune in sample_tunes(12):
        source_notes = pitched_onsets(tune.text)
        outcome = render_tune(tune.text, settings, tune.key)
        assert outcome.rendered.ok, (tune.key, outcome.rendered.reason)
        played = read_performance(outcome.rendered.midi).notes()
        assert [(n.onset, n.pitch) for n in played] == source_notes, tune.key


def test_single_voice_tunes_lose_their_voice_lines_like_irishman():
    tune = sample_tunes(1)[0]
    abc = render_tune(tune.text, PipelineSettings(), tune.key).rendered.abc
    assert not any(line.startswith("V:") for line in abc.splitlines())
    lines = abc.splitlines()
    assert lines[0] == "X:1" and any(line.startswith("K:") for line in lines[1:5])


def test_strip_keeps_inline_fields_and_drops_trailing_bar_numbers():
    text = "X:1\nT:x\nL:1/8\nM:6/8\nI:linebreak $\nK:D\n ABc [K:G] def | %2\nw: a b c\n"
    assert strip_natural_language(text) == "X:1\nL:1/8\nM:6/8\nK:D\n ABc [K:G] def |\n"


def test_interval_spelling_follows_the_key():
    up_a_fourth = Interval.from_fifths(-1, 5)  # G major -> C major
    assert up_a_fourth == Interval(3, 5)
    assert up_a_fourth.pitch("F", 1, 4) == ("B", 0, 4)
    assert up_a_fourth.pitch("B", 0, 4) == ("E", 0, 5)
    down_a_tone = Interval.from_fifths(-2, -2)
    assert down_a_tone.pitch("C", 0, 5) == ("B", -1, 4)
    # A semitone up from G major is A flat (4 flats), not G sharp (8 sharps).
    assert shift_interval(1, 1).pitch("G", 0, 4) == ("A", -1, 4)
    # A tritone from C: G flat (6 flats) rather than F sharp (6 sharps), flats on a tie.
    assert shift_interval(0, 6).pitch("C", 0, 4) == ("G", -1, 4)


def test_transposed_pairs_play_the_same_notes_moved():
    settings = PipelineSettings()
    for tune in sample_tunes(6, seed=3):
        base = render_tune(tune.text, settings, tune.key)
        assert base.rendered.ok, tune.key
        original = read_performance(base.rendered.midi).notes()
        for moved in render_transpositions(tune.text, [-5, -1, 2, 6], settings, tune.key):
            assert moved.ok, (tune.key, moved.transpose, moved.reason)
            notes = read_performance(moved.midi).notes()
            assert [(n.onset, n.pitch - moved.transpose, n.duration) for n in notes] == [
                (n.onset, n.pitch, n.duration) for n in original
            ]
            # All transpositions of a tune carry its name.
            assert tune_id(read_performance(moved.midi)) == base.tune_id


def test_key_signatures_chord_symbols_and_key_changes_move_together():
    text = 'X:1\nL:1/8\nM:4/4\nK:G\n"G"GABc "D7/F#"d2 ^c2|[K:Ador]"Am"A4 =F4|]\n'
    root = _parse(text, PipelineSettings(), "t")
    assert key_fifths(root) == 1
    up = transpose_score(root, shift_interval(1, 2))  # G -> A major
    abc = _normalised(up, PipelineSettings())
    assert header_value(abc, "K") == "A"
    assert '"A"' in abc and '"E7/G#"' in abc and '"Bm"' in abc
    assert "[K:Bdor]" in abc
    assert key_fifths(root) == 1  # the original tree is left as it was


def test_untransposable_scores_fail_with_a_reason():
    root = abc_to_musicxml("X:1\nL:1/8\nK:C\n^^^c2|\n").root
    for pitch in root.iter("alter"):
        pitch.text = "0.5"  # a quarter-tone
    with pytest.raises(TranspositionError, match="cannot transpose"):
        transpose_score(root, Interval(1, 2))
    high = abc_to_musicxml("X:1\nL:1/8\nK:C\nc''''''2|\n").root
    with pytest.raises(TranspositionError, match="MIDI range"):
        transpose_score(high, Interval(7, 12))


def sample_tunes(n: int, seed: int = 0):
    tunes = music21_tunes(["ryansMammoth", "essenFolksong"]).tunes
    return random.Random(seed).sample(tunes, n)


def pitched_onsets(text: str) -> list:
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    return [(n.onset, n.pitch) for n in abc_to_midi(text).performance.notes()]


def test_validation_without_beaming_agrees_with_music21s_full_parse():
    texts = [normalised(t.text) for t in sample_tunes(8, seed=5)]
    texts += ["X:1\nK:C\nz4|z4|\n", "X:1\nL:1/8\nK:C\n(3abc (3\n"]
    beaming = stream.Stream.makeBeams
    for text in texts:
        assert validate_abc_without_beaming(text).ok == validate_abc(text, with_abc2midi=False).ok
    assert not validate_abc_without_beaming(texts[-2]).ok  # no notes
    assert stream.Stream.makeBeams is beaming  # put back
