"""ABC constructs rendered to MIDI and read back, against hand-worked note lists.

Each expectation is (MIDI pitch, onset in beats, duration in beats), beats being quarter notes.
Many cases come from /work/shared/HARD-CASES.md: constructs that other converters get wrong.
"""

from __future__ import annotations

import io
from fractions import Fraction as F

import mido
import pytest

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.symbolic.abc_to_midi import render
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.rendering import note_triples, rendered


@pytest.fixture(autouse=True, params=render.READERS)
def reader(request, monkeypatch):
    """Every case, read by both ABC readers: through abc2xml's MusicXML, and natively."""
    monkeypatch.setattr(render, "DEFAULT_READER", request.param)
    return request.param


def tune(body: str, header: str = "M:4/4\nL:1/4\nK:C") -> str:
    return f"X:1\nT:test\n{header}\n{body}\n"


def pitches(abc: str, voice: int | None = 0) -> list[int]:
    return [p for p, _, _ in note_triples(abc, voice)]


def onsets(abc: str, voice: int | None = 0) -> list[F]:
    return [o for _, o, _ in note_triples(abc, voice)]


def meta(abc: str, kind: str, **options) -> list[tuple[int, mido.MetaMessage]]:
    """(absolute tick, message) of the meta events of one type in the rendered file."""
    result = abc_to_midi(abc, **options)
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    out = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == kind:
                out.append((tick, msg))
    return out


# --- pitch -----------------------------------------------------------------------------------


def test_accidentals_carry_to_the_end_of_the_bar():
    # music21 #1588: the last G of `_G =E D G|` must stay flat; the next bar resets.
    assert pitches(tune("_G =E D G|G4|")) == [66, 64, 62, 66, 67]


def test_accidental_on_a_tied_note_holds_for_the_rest_of_its_bar():
    # abc2xml skipped the written ^ of a note continuing a tie; abc2midi plays G# at the end.
    abc = tune("f4 f2 ^g2- | ^g2 b2 g4 |", header="M:4/4\nL:1/8\nK:Bm")
    assert pitches(abc) == [78, 78, 80, 83, 80]
    abc = tune("f4 f2 ^g2- | g2 b2 g4 |", header="M:4/4\nL:1/8\nK:Bm")  # no accidental written
    assert pitches(abc) == [78, 78, 80, 83, 79]


def test_accidental_applies_per_octave_only_in_its_bar():
    assert pitches(tune("^f f F f|f4|")) == [78, 78, 65, 78, 77]


def test_inline_key_change_mid_line():
    # [K:Amix] gives F#, C# and G natural from that point on (music21 ignores inline fields).
    abc = tune("F G [K:Amix] c F|G4|")
    assert pitches(abc) == [65, 67, 73, 66, 67]


def test_key_and_meter_lines_in_the_body():
    abc = tune("FG AB|\nK:F\nM:3/4\nB2 FG AB|", header="M:2/4\nL:1/8\nK:G")
    assert note_triples(abc) == [
        (66, F(0), F(1, 2)), (67, F(1, 2), F(1, 2)), (69, F(1), F(1, 2)), (71, F(3, 2), F(1, 2)),
        (70, F(2), F(1)), (65, F(3), F(1, 2)), (67, F(7, 2), F(1, 2)), (69, F(4), F(1, 2)),
        (70, F(9, 2), F(1, 2)),
    ]  # fmt: skip
    assert [(t, m.numerator, m.denominator) for t, m in meta(abc, "time_signature")] == [
        (0, 2, 4),
        (240, 3, 4),
    ]
    assert [(t, m.key) for t, m in meta(abc, "key_signature")] == [(0, "G"), (240, "F")]


@pytest.mark.parametrize(
    ("key", "body", "expected"),
    [
        ("K:none", "^F F c|", [66, 66, 72]),
        ("K:HP", "c f g|", [73, 78, 79]),  # highland pipes: F#, C#, G natural
        ("K:Hp", "c f g|", [73, 78, 79]),
        ("K:D exp ^f", "c f|", [72, 78]),  # explicit accidentals: only F# (no C#)
        ("K:Bb", "B e A|", [70, 75, 69]),
        ("K:Ador", "f c|", [78, 72]),  # A dorian: the signature of G major
    ],
)
def test_keys(key, body, expected):
    assert pitches(tune(body, header=f"M:4/4\nL:1/4\n{key}")) == expected


def test_clef_and_octave_shift():
    # K:... octave=-1 plays everything an octave below what is written.
    assert pitches(tune("G, G g|", header="M:4/4\nL:1/4\nK:G clef=bass octave=-1")) == [43, 55, 67]


# --- rhythm ----------------------------------------------------------------------------------


def test_default_unit_length_follows_the_meter():
    # ABC 2.1: no L: field -> 1/16 when the meter is below 3/4, else 1/8 (abc2xml used 1/8).
    assert note_triples(tune("CD|", header="M:2/4\nK:C"))[1] == (62, F(1, 4), F(1, 4))
    assert note_triples(tune("CD|", header="M:3/4\nK:C"))[1] == (62, F(1, 2), F(1, 2))
    assert note_triples(tune("CD|", header="M:C\nK:C"))[1] == (62, F(1, 2), F(1, 2))


def test_broken_rhythm_next_to_decorations():
    # abcMIDI #13: '.c>d', 'c>.d', 'c<<d' and 'c>>>d' around staccato dots.
    abc = tune(".c>d c>.d|c<<d c>>>d|")
    assert note_triples(abc) == [
        (72, F(0), F(3, 2)), (74, F(3, 2), F(1, 2)),
        (72, F(2), F(3, 2)), (74, F(7, 2), F(1, 2)),
        (72, F(4), F(1, 4)), (74, F(17, 4), F(7, 4)),
        (72, F(6), F(15, 8)), (74, F(63, 8), F(1, 8)),
    ]  # fmt: skip


def test_broken_rhythm_across_a_grace_note():
    # abc2xml gave the grace note the short half: 'G>{B}A' must still shorten A.
    abc = tune("G>{B}A z2|", header="M:4/4\nL:1/8\nK:G")
    g, grace, a = note_triples(abc)
    assert g == (67, F(0), F(3, 4))
    assert grace == (71, F(3, 4), F(1, 8))  # a quarter of its written eighth
    assert a == (69, F(7, 8), F(1, 8))


def test_tuplets():
    abc = tune("(3abc (3:2:3abc d2 (5abcde|", header="M:4/4\nL:1/8\nK:C")
    assert onsets(abc) == [
        F(0), F(1, 3), F(2, 3), F(1), F(4, 3), F(5, 3), F(2),
        F(3), F(16, 5), F(17, 5), F(18, 5), F(19, 5),
    ]  # fmt: skip
    assert note_triples(abc)[-1][2] == F(1, 5)


def test_five_tuplet_in_compound_meter_takes_three_notes_time():
    # ABC 2.1 section 4.13: (5 is 5 in the time of 3 in compound meters (abc2xml used 2).
    abc = tune("(5abcde z3|", header="M:6/8\nL:1/8\nK:C")
    assert onsets(abc) == [F(0), F(3, 10), F(3, 5), F(9, 10), F(6, 5)]


def test_tuplets_with_rests_and_chords():
    abc = tune("(3z[CE]G c2|", header="M:2/4\nL:1/8\nK:C")
    assert note_triples(abc) == [
        (60, F(1, 3), F(1, 3)), (64, F(1, 3), F(1, 3)), (67, F(2, 3), F(1, 3)), (72, F(1), F(1)),
    ]  # fmt: skip


def test_grace_notes_take_time_from_the_following_note():
    # As abc2midi: each grace note lasts a quarter of its written length (here an eighth).
    abc = tune("{g}A2 {/g}A2 {gag}A2 B2|", header="M:4/4\nL:1/8\nK:C")
    assert note_triples(abc) == [
        (79, F(0), F(1, 8)), (69, F(1, 8), F(7, 8)),
        (79, F(1), F(1, 8)), (69, F(9, 8), F(7, 8)),
        (79, F(2), F(1, 8)), (81, F(17, 8), F(1, 8)), (79, F(9, 4), F(1, 8)), (69, F(19, 8), F(5, 8)),
        (71, F(3), F(1)),
    ]  # fmt: skip


def test_decorations_and_bowings_do_not_change_the_notes():
    plain = note_triples(tune("A B c d|e A B c|"))
    decorated = note_triples(tune("~A T.B Hc !trill!d|!fermata!e uA vB !p!c|"))
    assert [(p, o, d) for p, o, d in decorated] == plain


def test_ties_merge_across_bar_lines():
    assert note_triples(tune("A2-|A2 B2|", header="M:2/4\nL:1/4\nK:C")) == [
        (69, F(0), F(4)),
        (71, F(4), F(2)),
    ]


def test_tie_into_both_endings():
    abc = tune("|:C D E F-|[1 F2 G2:|[2 F4|]")
    assert note_triples(abc) == [
        (60, F(0), F(1)), (62, F(1), F(1)), (64, F(2), F(1)), (65, F(3), F(3)), (67, F(6), F(2)),
        (60, F(8), F(1)), (62, F(9), F(1)), (64, F(10), F(1)), (65, F(11), F(5)),
    ]  # fmt: skip


def test_tied_notes_of_different_pitch_are_not_merged():
    assert pitches(tune("A2-B2|")) == [69, 71]


def test_chords_and_chords_with_different_lengths():
    # The chord lasts as long as its first note: [C2E] advances two beats.
    abc = tune("[CEG] [C2E] z|")
    assert note_triples(abc) == [
        (60, F(0), F(1)), (64, F(0), F(1)), (67, F(0), F(1)),
        (60, F(1), F(2)), (64, F(1), F(1)),
    ]  # fmt: skip


def test_chord_symbols_are_silent_by_default_and_accompany_on_request():
    abc = tune('"Am7"A "G"B "^text"c d|')
    result, perf = rendered(abc)
    assert len(perf.voices) == 1 and [n.pitch for n in perf.voices[0].notes] == [69, 71, 72, 74]
    result, perf = rendered(abc, chords=True)
    assert len(perf.voices) == 2
    melody, chords = perf.voices
    assert [n.pitch for n in melody.notes] == [69, 71, 72, 74]
    am7 = [(n.pitch, n.onset, n.duration) for n in chords.notes if n.onset == 0]
    g = [(n.pitch, n.onset, n.duration) for n in chords.notes if n.onset == 1]
    assert sorted(am7) == [(57, F(0), F(1)), (60, F(0), F(1)), (64, F(0), F(1)), (67, F(0), F(1))]
    assert sorted(g) == [
        (55, F(1), F(3)),
        (59, F(1), F(3)),
        (62, F(1), F(3)),
    ]  # "^text" is no chord
    assert melody.channel != chords.channel


# --- structure -------------------------------------------------------------------------------


def test_repeat_is_played_twice():
    assert pitches(tune("|:C D E F:|G4|")) == [60, 62, 64, 65, 60, 62, 64, 65, 67]


def test_end_repeat_without_start_repeats_from_the_beginning():
    assert pitches(tune("C4|D4:|E4|")) == [60, 62, 60, 62, 64]


def test_second_end_repeat_repeats_from_the_previous_one():
    assert pitches(tune("|:C4:|D4:|E4|")) == [60, 60, 62, 62, 64]


@pytest.mark.parametrize("sign", ["::", ":|:", ":||:"])
def test_double_repeat_keeps_the_note_before_it(sign):
    # music21 #202: in 'A4::' the note before the sign must not be swallowed.
    abc = tune(f"|:C4|A4{sign}B4:|")
    assert pitches(abc) == [60, 69, 60, 69, 71, 71]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("|:C4|[1 D4:|[2 E4|]", [60, 62, 60, 64]),
        ("|:C4|1 D4:|2 E4|]", [60, 62, 60, 64]),
        ("|:C4|[1,3 D4:|[2,4 E4:|", [60, 62, 60, 64, 60, 62, 60, 64]),  # music21 #1483
        ("|:C4|[1-3 D4:|[4 E4|]", [60, 62, 60, 62, 60, 62, 60, 64]),
        ("|:C4|[1 D4:|[2 E4:|[3 F4|]", [60, 62, 60, 64, 60, 65]),
        ("|:C4|[1 D4 | D4:|[2 E4|]", [60, 62, 62, 60, 64]),  # a two-bar first ending
    ],
)
def test_variant_endings(body, expected):
    assert pitches(tune(body)) == expected


def test_pickup_and_repeat():
    abc = tune("A|:d3 d2A:|", header="M:6/8\nL:1/8\nK:D")
    assert note_triples(abc) == [
        (69, F(0), F(1, 2)),
        (74, F(1, 2), F(3, 2)), (74, F(2), F(1)), (69, F(3), F(1, 2)),
        (74, F(7, 2), F(3, 2)), (74, F(5), F(1)), (69, F(6), F(1, 2)),
    ]  # fmt: skip


def test_parts_play_in_the_order_of_the_header():
    abc = "X:1\nT:parts\nM:4/4\nL:1/4\nP:ABA\nK:C\nP:A\nC4|D4:|\nP:B\nE4|]\n"
    assert pitches(abc) == [60, 62, 60, 62, 64, 60, 62, 60, 62]


def test_several_voices_become_separate_tracks():
    abc = tune("V:1\nc d e f|\nV:2\nC D E F|")
    result, perf = rendered(abc)
    assert [[n.pitch for n in v.notes] for v in perf.voices] == [[72, 74, 76, 77], [60, 62, 64, 65]]
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    assert midi.type == 1 and len(midi.tracks) == 2
    assert [o for _, o, _ in note_triples(abc, voice=1)] == [F(0), F(1), F(2), F(3)]


def test_inline_voice_switches():
    abc = tune("[V:1] c d e f|\n[V:2] C D E F|\n[V:1] g4|\n[V:2] G,4|")
    assert pitches(abc, voice=0) == [72, 74, 76, 77, 79]
    assert pitches(abc, voice=1) == [60, 62, 64, 65, 55]


def test_overlay_is_its_own_voice_not_a_chord():
    # music21 merges '&' overlays into one part; here the overlaid line keeps its own timing.
    abc = tune("c4 & E2 G2|")
    _, perf = rendered(abc)
    voices = sorted([(n.pitch, n.onset, n.duration) for n in v.notes] for v in perf.voices)
    assert voices == [[(64, F(0), F(2)), (67, F(2), F(2))], [(72, F(0), F(4))]]


# --- meta events -----------------------------------------------------------------------------


def test_tempo_meter_and_key_meta_events():
    abc = tune("A B c d|", header="M:6/8\nL:1/8\nQ:3/8=120\nK:Em")
    assert [m.tempo for _, m in meta(abc, "set_tempo")] == [round(60_000_000 / 180)]
    assert [(m.numerator, m.denominator) for _, m in meta(abc, "time_signature")] == [(6, 8)]
    assert [m.key for _, m in meta(abc, "key_signature")] == ["Em"]


def test_default_tempo_is_written():
    assert [m.tempo for _, m in meta(tune("A4|"), "set_tempo")] == [500_000]


def test_inline_tempo_and_meter_changes():
    abc = tune("F G A B|[M:6/8][L:1/8] c3 F3|[Q:1/4=90] C6|")
    assert [(t, m.tempo) for t, m in meta(abc, "set_tempo")] == [(0, 500_000), (840, 666_667)]
    assert [(t, m.numerator) for t, m in meta(abc, "time_signature")] == [(0, 4), (480, 6)]
    assert note_triples(abc)[4:] == [(72, F(4), F(3, 2)), (65, F(11, 2), F(3, 2)), (60, F(7), F(3))]


@pytest.mark.parametrize(
    ("meter", "expected"),
    [("M:C", [(4, 4)]), ("M:C|", [(2, 2)]), ("M:2+3+2/8", [(7, 8)]), ("M:none", [])],
)
def test_meters(meter, expected):
    abc = tune("A B c d|", header=f"{meter}\nL:1/8\nK:C")
    assert [(m.numerator, m.denominator) for _, m in meta(abc, "time_signature")] == expected


def test_midi_program_directive():
    abc = tune("%%MIDI program 73\nA B c d|")
    assert [m.program for m in _messages_of(abc_to_midi(abc).midi, "program_change")] == [73]


# --- text around the music -------------------------------------------------------------------


def test_comments_directives_continuations_spacers_and_lyrics():
    abc = tune(
        "% a comment line\n%%score 1\nA B y c d | % end-of-line comment\n"
        "e f \\\n g a |\nw: la la la la\nb4 !\nc'4|"
    )
    assert pitches(abc) == [69, 71, 72, 74, 76, 77, 79, 81, 83, 84]


def test_latin1_title_becomes_the_track_name():
    from abcmidi_bgpt.formats.abc.text import decode_abc, split_tunes

    data = "X:1\r\nT:Caf\xe9 na Sr\xe1ide\r\nM:4/4\r\nL:1/4\r\nK:G\r\nG A B c|\r\n".encode(
        "latin-1"
    )
    (t,) = split_tunes(decode_abc(data))
    assert t.title == "Café na Sráide"
    names = [m.name for m in _messages_of(abc_to_midi(t).midi, "track_name")]
    assert names == ["Café na Sráide"]


def _messages_of(data: bytes, kind: str):
    midi = mido.MidiFile(file=io.BytesIO(data))
    return [m for t in midi.tracks for m in t if m.type == kind]


def test_long_tune_of_1200_bars():
    # abcMIDI #3 crashes on tunes over 1,000 bars.
    body = "|".join(["dfaf"] * 1200) + "|]"
    notes = note_triples(tune(body, header="M:2/4\nL:1/8\nK:D"))
    assert len(notes) == 4800
    assert notes[-1] == (78, F(1199 * 4 + 3, 2), F(1, 2))


# --- canonical bytes -------------------------------------------------------------------------


def test_rendering_is_byte_identical_across_runs(examples_dir):
    text = (examples_dir / "reels.abc").read_text()
    assert abc_to_midi(text.split("\n\n")[0]).midi == abc_to_midi(text.split("\n\n")[0]).midi


def test_single_voice_is_format_0_with_120_ticks_and_running_status():
    result = abc_to_midi(tune("A B c d|"))
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    assert midi.type == 0 and midi.ticks_per_beat == 120
    # Header 14 + track header 8 + meta (title 8, time sig 8, key sig 6, tempo 7) + 4 notes in
    # running status (the first note-on 4 bytes, every other event 3) + end of track 4.
    assert len(result.midi) == 14 + 8 + 8 + 8 + 6 + 7 + (4 + 3 * 7) + 4


def test_no_notes_is_an_error():
    with pytest.raises(ConversionError, match="no notes"):
        abc_to_midi(tune("z4|"))
