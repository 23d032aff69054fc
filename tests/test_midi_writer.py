"""The canonical MIDI writer (formats.midi.render_midi) writes its bytes itself, for speed: they
must be the bytes mido's MidiFile.save writes for the same events, running status included."""

from __future__ import annotations

import io
from fractions import Fraction

import mido
from hypothesis import given, settings
from hypothesis import strategies as st

from abcmidi_bgpt.core.performance import (
    KeyChange,
    MeterChange,
    Note,
    Performance,
    TempoChange,
    Voice,
)
from abcmidi_bgpt.formats import midi
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.paths import EXAMPLES, music21_corpus


def mido_bytes(perf: Performance) -> bytes:
    """The same events as render_midi makes, written by mido."""
    meta = []
    if perf.title:
        meta.append((0, 0, 0, "track_name", {"name": midi._latin1(perf.title)}))
    for m in perf.meters:
        fields = {"numerator": m.numerator, "denominator": m.denominator}
        meta.append((midi._tick(m.onset), 0, 1, "time_signature", fields))
    for k in perf.keys:
        key = midi.key_name(k.fifths, k.minor)
        meta.append((midi._tick(k.onset), 0, 2, "key_signature", {"key": key}))
    tempos = perf.tempos
    if not tempos or tempos[0].onset != 0:
        tempos = [TempoChange(Fraction(0), 120.0), *tempos]
    for t in tempos:
        tempo = round(60_000_000 / t.qpm)
        meta.append((midi._tick(t.onset), 0, 3, "set_tempo", {"tempo": tempo}))
    voices = [v for v in perf.voices if v.notes]
    out = mido.MidiFile(type=0 if len(voices) <= 1 else 1, ticks_per_beat=120)
    for i, voice in enumerate(voices or [Voice()]):
        events = list(meta) if i == 0 else []
        if i > 0 and voice.name:
            events.append((0, 0, 0, "track_name", {"name": midi._latin1(voice.name)}))
        if voice.program is not None:
            fields = {"channel": voice.channel, "program": voice.program}
            events.append((0, 1, 0, "program_change", fields))
        events += midi._note_events(voice)
        events.sort(key=lambda e: e[:3])
        track, now = mido.MidiTrack(), 0
        for tick, group, _, kind, fields in events:
            cls = mido.MetaMessage if group == 0 else mido.Message
            track.append(cls(kind, time=tick - now, **fields))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(track)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def test_real_tunes_are_written_as_mido_writes_them():
    tunes = []
    for path in sorted(EXAMPLES.glob("*.abc")):
        tunes += split_tunes(read_abc_file(path))
    book = music21_corpus() / "oneills1850" / "0001-0050.abc"
    tunes += split_tunes(read_abc_file(book))
    for tune in tunes:
        for chords in (False, True):  # chords: a second track, with its own channel
            result = abc_to_midi(tune, chords=chords)
            assert result.midi == mido_bytes(result.performance), tune.label


notes = st.builds(
    Note,
    onset=st.fractions(min_value=0, max_value=300, max_denominator=48),
    pitch=st.integers(0, 127),
    duration=st.fractions(min_value=Fraction(1, 48), max_value=20, max_denominator=48),
    velocity=st.integers(1, 127),
)
voices = st.builds(
    Voice,
    notes=st.lists(notes, max_size=40),
    name=st.text(max_size=12),
    program=st.none() | st.integers(0, 127),
    channel=st.integers(0, 15),
)
performances = st.builds(
    Performance,
    voices=st.lists(voices, max_size=4),
    tempos=st.lists(
        st.builds(TempoChange, st.fractions(0, 300, max_denominator=8), st.floats(4, 500)),
        max_size=3,
    ).map(lambda ts: sorted(ts, key=lambda t: t.onset)),
    meters=st.lists(
        st.builds(
            MeterChange,
            st.fractions(0, 300, max_denominator=4),
            st.integers(1, 32),
            st.sampled_from([1, 2, 4, 8, 16, 32]),
        ),  # fmt: skip
        max_size=3,
    ),
    keys=st.lists(
        st.builds(
            KeyChange, st.fractions(0, 300, max_denominator=4), st.integers(-7, 7), st.booleans()
        ),  # fmt: skip
        max_size=3,
    ),
    title=st.text(max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(performances)
def test_any_performance_is_written_as_mido_writes_it(perf):
    assert midi.render_midi(perf) == mido_bytes(perf)
