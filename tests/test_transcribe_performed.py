"""MIDI -> ABC on performed MIDI: timing jitter, swing, rubato, legato and staccato, made by
the seeded humaniser in tests/support/humanise.py from real tunes the transcription was not tuned
on (music21's essenFolksong and miscFolk collections are not the benchmark's)."""

from __future__ import annotations

import io
import statistics
from fractions import Fraction as F

import mido
import pytest

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.checks.validate import validate_abc
from abcmidi_bgpt.core.performance import TempoChange
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc
from tests.support.humanise import Humanise, humanise, written_pickup
from tests.support.paths import EXAMPLES, music21_corpus


def performed(abc: str, seed: int, style: Humanise | None = None):
    """The tune's score notes, and a performance of it as MIDI bytes."""
    style = style or Humanise()
    result = abc_to_midi(abc)
    perf = result.performance
    m = perf.meters[0]
    data = humanise(perf, seed, style, (m.numerator, m.denominator), written_pickup(abc))
    return perf.notes(), data


def transcribed_notes(abc: str):
    return abc_to_midi(abc).performance.notes()


def example(name: str, index: int = 0) -> str:
    return split_tunes(read_abc_file(EXAMPLES / name), name)[index].full_text


def test_straight_eighths_played_loosely_are_not_triplets():
    """music21's quantiser turns loose straight eighths into triplets; here they stay eighths."""
    reel = example("reels.abc")
    score, data = performed(reel, seed=1, style=Humanise(jitter_ms=20.0))
    out = midi_to_abc(data, "reel.mid")
    assert out.performed
    assert "(3" not in out.abc
    assert note_f1(score, transcribed_notes(out.abc)).f1 >= 0.97


def test_performed_triplets_are_written_as_triplets():
    abc = (
        "X:1\nT:Triplets\nM:4/4\nL:1/8\nK:D\n"
        "|:(3ABA GF E2 (3FED|DEFG A2 (3Bcd|(3ABA GF E2 (3FED|DEFA d4:|\n"
    )
    score, data = performed(abc, seed=2)
    out = midi_to_abc(data)
    assert out.abc.count("(3") >= 6
    assert note_f1(score, transcribed_notes(out.abc)).f1 >= 0.95


def test_swung_eighths_are_written_straight():
    hornpipe = example("reels.abc", 1)
    score, data = performed(hornpipe, seed=3, style=Humanise(swing=0.64, jitter_ms=8.0))
    out = midi_to_abc(data, "hornpipe.mid")
    # (the beat tracker follows much of a performed swing, so it is not always reported)
    assert "(3" not in out.abc
    assert note_f1(score, transcribed_notes(out.abc)).f1 >= 0.95


def test_swung_file_on_the_grid_is_written_straight():
    """abc2midi swings hornpipes 2:1 on the grid: written straight, not as triplets."""
    score = abc_to_midi(example("reels.abc")).performance
    swung = humanise(
        score,
        seed=0,
        style=Humanise(
            swing=2 / 3,
            jitter_ms=0.0,
            rubato=0.0,
            ritardando=0.0,
            articulation=(1.0, 1.0),
            leading_silence_s=0.0,
            ticks_per_beat=480,
        ),
    )
    out = midi_to_abc(swung)
    assert not out.performed and out.swing is not None and 0.64 < out.swing < 0.69
    assert "swing" in out.abc.split("K:")[0]
    assert "(3" not in out.abc
    assert note_f1(score.notes(), transcribed_notes(out.abc)).f1 == 1.0


def test_rubato_and_a_ritardando_are_followed():
    jig = example("jigs.abc")
    style = Humanise(rubato=0.06, ritardando=0.25, jitter_ms=10.0)
    score, data = performed(jig, seed=4, style=style)
    out = midi_to_abc(data)
    assert note_f1(score, transcribed_notes(out.abc)).f1 >= 0.95


def test_staccato_is_articulation_not_rests():
    reel = example("reels.abc")
    score, data = performed(reel, seed=5, style=Humanise(articulation=(0.5, 0.7)))
    out = midi_to_abc(data)
    body = out.abc.split("K:")[1]
    assert body.count("z") <= 2
    assert note_f1(score, transcribed_notes(out.abc)).f1 >= 0.95


def test_a_recording_without_a_click_is_rescaled():
    """The file's tempo says 120 but the fiddler played at 96: beats are estimated."""
    jig = example("jigs.abc")
    result = abc_to_midi(jig)
    perf = result.performance
    perf.tempos = [TempoChange(F(0), 96.0)]  # played slower than the file will say
    data = humanise(perf, 6, Humanise(), (6, 8), written_pickup(jig))
    # the file claims 120 beats a minute: every beat is 25 % longer than the file's
    midi = mido.MidiFile(file=io.BytesIO(data))
    for msg in midi.tracks[0]:
        if msg.type == "set_tempo":
            msg.tempo = 500000
    buf = io.BytesIO()
    midi.save(file=buf)
    out = midi_to_abc(buf.getvalue())
    assert note_f1(perf.notes(), transcribed_notes(out.abc)).f1 >= 0.9


def unseen_tunes(count: int) -> list[str]:
    """Dance-like tunes from collections the transcription was not tuned on."""
    tunes = []
    for name in ("miscFolk", "essenFolksong"):
        for f in sorted((music21_corpus() / name).glob("*.abc")):
            for t in split_tunes(read_abc_file(f), f.name):
                text = t.full_text
                if "M:" in text and "K:" in text and len(text) < 1500:
                    tunes.append(text)
    return tunes[:: max(1, len(tunes) // count)][:count]


def test_humanised_performances_of_unseen_tunes():
    scores = []
    for seed, abc in enumerate(unseen_tunes(12)):
        try:
            score, data = performed(abc, seed=100 + seed)
        except Exception:  # a tune the ABC side cannot render is not this test's business
            continue
        out = midi_to_abc(data, f"unseen-{seed}.mid")
        assert validate_abc(out.abc, with_abc2midi=False).ok, out.abc
        scores.append(note_f1(score, transcribed_notes(out.abc)).f1)
    assert len(scores) >= 10
    assert statistics.median(scores) >= 0.95, scores


@pytest.mark.parametrize("seed", [7, 8])
def test_performed_files_are_deterministic(seed):
    _, data = performed(example("jigs.abc"), seed=seed)
    assert midi_to_abc(data).abc == midi_to_abc(data).abc
