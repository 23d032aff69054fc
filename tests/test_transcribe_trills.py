"""Trills: a fast alternation of a note and its upper neighbour comes back as the note with the
trill sign (``TA2``), where the grid says so; melody that steps back and forth, runs, and
tremolos of wider intervals stay notes (abcmidi_bgpt/symbolic/midi_to_abc/ornaments.py)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from fractions import Fraction as F
from pathlib import Path

import mido
import pytest

from abcmidi_bgpt.corpus.sources import music21_corpus_dir
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.keys import Key
from abcmidi_bgpt.symbolic.midi_to_abc.ornaments import upper_neighbour
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc

CORPUS = music21_corpus_dir()
needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None, reason="no abc2midi")
# A trilled note in ABC: T, the note (accidental, letter, octave marks), its length.
TRILLED = re.compile(r"T([=^_]*)([A-Ga-g][,']*)(\d*(?:/+\d*)?)")


def corpus_tune(path: str, number: int) -> AbcTune:
    tunes = split_tunes(read_abc_file(CORPUS / path), path)
    return next(t for t in tunes if re.search(rf"^X:\s*{number}\s*$", t.text, re.M))


def body(abc: str) -> str:
    """The music of an ABC tune: the lines after K:, quoted strings taken out."""
    lines = abc.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("K:")) + 1
    music = [ln for ln in lines[start:] if not re.match(r"^[A-Za-z]:|^%", ln)]
    return re.sub(r'"[^"]*"', "", "\n".join(music))


def unit(abc: str) -> F:
    m = re.search(r"^L:\s*(\d+)/(\d+)", abc, re.M)
    return F(int(m.group(1)), int(m.group(2))) if m else F(1, 8)


def length_of(text: str) -> F:
    """An ABC length suffix in units of L: "" 1, "2" 2, "/" 1/2, "3/2", "/4"."""
    if "/" not in text:
        return F(int(text or 1))
    num, _, den = text.partition("/")
    slashes = text.count("/")
    den = den.lstrip("/")
    return F(int(num or 1), int(den) if den else 2**slashes)


def trilled(abc: str) -> list[tuple[str, F]]:
    """Each trilled note of a tune: its letter with octave marks, and its length in whole
    notes."""
    return [(m.group(2), length_of(m.group(3)) * unit(abc)) for m in TRILLED.finditer(body(abc))]


def without_trills(abc: str) -> str:
    """The tune with every trill sign taken out of its music (the header kept)."""
    head, sep, music = abc.partition("\nK:")
    first, nl, rest = music.partition("\n")
    return head + sep + first + nl + re.sub(r"T(?=[=^_]*[A-Ga-g])", "", rest)


def abc2midi_bytes(text: str, tmp: Path) -> bytes:
    (tmp / "t.abc").write_text(text, encoding="utf-8")
    subprocess.run(
        ["abc2midi", "t.abc", "-o", "t.mid", "-silent"], cwd=tmp, capture_output=True, check=True
    )
    return (tmp / "t.mid").read_bytes()


def midi_of(notes, meter: tuple[int, int], fifths: int, qpm: float = 120, tpq: int = 480):
    """A sequenced MIDI file (one track) of notes (onset, duration in quarter notes, pitch)."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
    track.append(
        mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0)
    )
    track.append(mido.MetaMessage("key_signature", key=_KEY_NAMES[fifths], time=0))
    events = []
    for onset, duration, pitch in notes:
        on, off = round(onset * tpq), round((onset + duration) * tpq)
        events.append((off, 0, mido.Message("note_off", note=pitch, velocity=0)))
        events.append((on, 1, mido.Message("note_on", note=pitch, velocity=90)))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1], e[2].note)):
        track.append(msg.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=tpq)
    midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


_KEY_NAMES = {-3: "Eb", -2: "Bb", -1: "F", 0: "C", 1: "G", 2: "D", 3: "A", 4: "E"}


def melody(tune: AbcTune):
    """A real tune's notes (this project's rendering), its meter and key signature."""
    perf = abc_to_midi(tune).performance
    notes = [(n.onset, n.duration, n.pitch) for n in perf.notes()]
    meter = (perf.meters[0].numerator, perf.meters[0].denominator)
    return notes, meter, perf.keys[0].fifths


def with_alternation(notes, index: int, pitches: tuple[int, int], each: F):
    """The notes with note ``index`` played as a run of ``each``-long notes alternating
    ``pitches`` (the first pitch first) over its length."""
    onset, duration, _ = notes[index]
    count = int(duration / each)
    assert count * each == duration
    run = [(onset + k * each, each, pitches[k % 2]) for k in range(count)]
    return notes[:index] + run + notes[index + 1 :]


def a_quarter_on_the_beat(notes, fifths: int, skip: int = 4) -> int:
    """The first quarter note on a beat, after the first few notes, with notes either side."""
    for i, (onset, duration, _) in enumerate(notes):
        if skip <= i < len(notes) - 2 and duration == 1 and onset.denominator == 1:
            return i
    raise AssertionError("no quarter note on a beat")


# --- a tune written with trills, as abc2midi plays it ----------------------------------------


def onsets_and_pitches(data: bytes) -> list[tuple[F, int]]:
    """Every note of a MIDI file: its onset in quarter notes, its pitch."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    tick, out = 0, []
    for msg in mido.merge_tracks(midi.tracks):
        tick += msg.time
        if msg.type == "note_on" and msg.velocity:
            out.append((F(tick, midi.ticks_per_beat), msg.note))
    return sorted(out)


@needs_abc2midi
@pytest.mark.parametrize(
    "number",
    [
        78,  # McLean's Lamentation, 6/8: twenty trilled eighths, repeats
        71,  # The Little Black Rose, 3/4: a trilled quarter
        53,  # Black Eyed Susan, 6/8 in G minor: a trilled eighth under a slur
    ],
)
def test_a_tune_written_with_trills_comes_back_with_them(tmp_path: Path, number: int):
    """abc2midi plays ``T`` as 32nd notes alternating the note and the one above. The
    transcription of that writes the trilled notes with ``T`` (the same letters and lengths as
    the tune has them), every other note as it transcribes the tune written without the
    trills, and abc2midi plays the transcription back to the same notes."""
    tune = corpus_tune("oneills1850/0051-0100.abc", number)
    written = trilled(tune.full_text)
    assert written
    first = abc2midi_bytes(tune.full_text, tmp_path)
    played = midi_to_abc(first, "t.mid").abc
    plain = midi_to_abc(abc2midi_bytes(without_trills(tune.full_text), tmp_path), "t.mid").abc
    assert not trilled(plain)
    # (as many as written, counted through its repeats: the transcription may write a
    # repeated section out or fold one, so the same kinds of trilled note)
    assert trilled(played) and set(trilled(played)) == set(written)
    assert without_trills(played) == plain
    assert onsets_and_pitches(abc2midi_bytes(played, tmp_path)) == onsets_and_pitches(first)


# --- a sequenced trill in a real melody --------------------------------------------------------


@pytest.mark.parametrize("upper_first", [False, True])
def test_a_sequenced_trill_in_a_real_melody_becomes_one_trilled_note(upper_first: bool):
    """A quarter note of a real air played as eight alternating 32nds (the note and the next
    note of the scale): written as that note with T, the rest of the tune as without it."""
    tune = corpus_tune("oneills1850/0051-0100.abc", 71)
    notes, meter, fifths = melody(tune)
    i = a_quarter_on_the_beat(notes, fifths)
    main = notes[i][2]
    upper = upper_neighbour(main, Key(fifths))
    pair = (upper, main) if upper_first else (main, upper)
    plain = midi_to_abc(midi_of(notes, meter, fifths)).abc
    played = midi_to_abc(midi_of(with_alternation(notes, i, pair, F(1, 8)), meter, fifths)).abc
    assert len(trilled(played)) == 1
    assert without_trills(played) == plain


def with_tempo_change(data: bytes, at: F, qpm: float) -> bytes:
    """The one-track file with the tempo changed at ``at`` quarter notes."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    track, tick, now = midi.tracks[0], round(at * midi.ticks_per_beat), 0
    for k, msg in enumerate(track):
        if now + msg.time >= tick:
            track[k] = msg.copy(time=now + msg.time - tick)
            track.insert(
                k, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=tick - now)
            )
            break
        now += msg.time
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def test_a_trill_across_a_tempo_change_stays_notes():
    """A trill that the file slows down in the middle of would be written "TA-[Q:]A", which
    abc2midi plays out of time (every later note moved, on a Liszt score): left as notes."""
    tune = corpus_tune("oneills1850/0051-0100.abc", 71)
    notes, meter, fifths = melody(tune)
    i = a_quarter_on_the_beat(notes, fifths)
    main = notes[i][2]
    run = with_alternation(notes, i, (main, upper_neighbour(main, Key(fifths))), F(1, 8))
    steady = midi_of(run, meter, fifths)
    assert len(trilled(midi_to_abc(steady).abc)) == 1
    slowed = midi_to_abc(with_tempo_change(steady, notes[i][0] + F(1, 2), 80)).abc
    assert "Q:1/4=80" in slowed and trilled(slowed) == []


def test_a_dotted_quarter_trilled_in_six_eight():
    """In a real 6/8 tune, a dotted quarter played as twelve alternating 32nds."""
    tune = corpus_tune("oneills1850/0051-0100.abc", 53)
    tune = split_tunes(without_trills(tune.full_text), tune.label)[0]
    notes, meter, fifths = melody(tune)
    i = next(
        k
        for k, (onset, duration, _) in enumerate(notes)
        if k > 2 and duration == F(3, 2) and (onset * 2).denominator == 1
    )
    main = notes[i][2]
    trill = with_alternation(notes, i, (upper_neighbour(main, Key(fifths)), main), F(1, 8))
    plain = midi_to_abc(midi_of(notes, meter, fifths)).abc
    played = midi_to_abc(midi_of(trill, meter, fifths)).abc
    assert [length for _, length in trilled(played)] == [F(3, 8)]
    assert without_trills(played) == plain


# --- what is no trill ----------------------------------------------------------------------


@needs_abc2midi
@pytest.mark.parametrize("number", [1281, 1284])  # Follow Me Down to Carlow, The Musical Priest
def test_a_reels_eighth_notes_stepping_back_and_forth_stay_notes(tmp_path: Path, number: int):
    """AGAG, dcdc in a reel's eighth notes: melody, not a trill."""
    tune = corpus_tune("oneills1850/1276-1375.abc", number)
    assert re.search(r"AGAG|dcdc", tune.text)
    for data in (abc2midi_bytes(tune.full_text, tmp_path), abc_to_midi(tune).midi):
        assert not trilled(midi_to_abc(data, "reel.mid").abc)


def test_runs_tremolos_chromatic_and_slow_alternations_stay_notes():
    """In the same air and place as the trill above: a run of 32nds up the scale, a 32nd
    tremolo of a third, an alternation with a note outside the key signature, and the
    alternation in 16ths at a slow tempo: all stay notes."""
    tune = corpus_tune("oneills1850/0051-0100.abc", 71)
    notes, meter, fifths = melody(tune)
    i = a_quarter_on_the_beat(notes, fifths)
    onset, _, main = notes[i]
    upper = upper_neighbour(main, Key(fifths))
    scale = [main + s for s in (0, 2, 3, 5, 7, 8, 10, 12)]
    run = notes[:i] + [(onset + F(k, 8), F(1, 8), p) for k, p in enumerate(scale)] + notes[i + 1 :]
    cases = {
        "run": midi_of(run, meter, fifths),
        "third": midi_of(with_alternation(notes, i, (main + 4, main), F(1, 8)), meter, fifths),
        "chromatic": midi_of(
            with_alternation(notes, i, (main, main + (3 - (upper - main))), F(1, 8)), meter, fifths
        ),
        "slow 16ths": midi_of(
            with_alternation(notes, i, (upper, main), F(1, 4)), meter, fifths, 60
        ),
    }
    for name, data in cases.items():
        out = midi_to_abc(data).abc
        assert not trilled(out), name
        assert "T" not in body(out), name


def test_sixteenths_alternating_in_a_reel_stay_notes():
    """A reel's eighth notes with one beat played as four 16ths alternating a step (a common
    figure): the passage moves in eighths, so these are notes, not a trill."""
    tune = corpus_tune("oneills1850/1276-1375.abc", 1281)
    notes, meter, fifths = melody(tune)
    i = next(k for k, (on, d, _) in enumerate(notes) if k > 4 and d == F(1, 2) and on % 1 == 0)
    j = i + 1
    assert notes[j][0] == notes[i][0] + F(1, 2)
    main = notes[i][2]
    upper = upper_neighbour(main, Key(fifths))
    beat = [(notes[i][0] + F(k, 4), F(1, 4), (upper, main)[k % 2]) for k in range(4)]
    out = midi_to_abc(midi_of(notes[:i] + beat + notes[j + 1 :], meter, fifths)).abc
    assert not trilled(out)


# --- determinism ---------------------------------------------------------------------------


def test_the_same_trill_gives_the_same_abc():
    tune = corpus_tune("oneills1850/0051-0100.abc", 71)
    notes, meter, fifths = melody(tune)
    i = a_quarter_on_the_beat(notes, fifths)
    main = notes[i][2]
    pair = (upper_neighbour(main, Key(fifths)), main)
    data = midi_of(with_alternation(notes, i, pair, F(1, 8)), meter, fifths)
    outs = {midi_to_abc(data, "x.mid").abc for _ in range(3)}
    assert len(outs) == 1
    assert trilled(outs.pop())


@needs_abc2midi
@pytest.mark.parametrize(
    ("key", "fifths", "note", "upper"),
    [("D", 2, "c", 74), ("Cm", -3, "d", 75), ("F", -1, "A", 70), ("G", 1, "=F", 67)],
)
def test_the_upper_note_is_the_one_abc2midi_trills_with(
    tmp_path: Path, key: str, fifths: int, note: str, upper: int
):
    """The next letter up, as the key signature has it (abc2midi's choice, whatever the
    accidentals of the bar): what the transcription asks of an alternation before it writes T."""
    text = f"X:1\nT:t\nM:4/4\nL:1/8\nQ:1/4=120\nK:{key}\nT{note}2 z6 |]\n"
    played = onsets_and_pitches(abc2midi_bytes(text, tmp_path))
    pitches = {p for _, p in played}
    main = min(pitches)
    assert pitches == {main, upper}
    mode = "m" if key.endswith("m") else ""
    assert upper_neighbour(main, Key(fifths, mode)) == upper
