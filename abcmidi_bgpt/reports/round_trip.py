"""A round trip, MIDI -> ABC -> MIDI with one engine, and how close it comes back: note F1 of
the result against the input (see :mod:`abcmidi_bgpt.checks.metrics`) and the notes it lost
and added. The TUI's ``r`` key shows it."""

from __future__ import annotations

from dataclasses import dataclass, field

from abcmidi_bgpt.checks.metrics import NoteScore, note_f1, unmatched_notes
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.engines.base import Engine
from abcmidi_bgpt.formats.abc.text import decode_abc, split_tunes
from abcmidi_bgpt.formats.midi import read_performance


@dataclass(slots=True)
class RoundTrip:
    """MIDI -> ABC -> MIDI with one engine, and how close the result came to the input."""

    abc: str
    midi: bytes
    reference: list[Note]
    output: list[Note]
    score: NoteScore
    score_with_offsets: NoteScore
    missing: list[Note]  # input notes the round trip lost
    extra: list[Note]  # output notes the input did not have
    warnings: list[str] = field(default_factory=list)


def round_trip(engine: Engine, data: bytes, source: str = "") -> RoundTrip:
    """Transcribe MIDI to ABC and render it back with the same engine; compare the notes.
    Raises :class:`~abcmidi_bgpt.core.errors.ConversionError` when a step fails."""
    reference = read_performance(data, source).notes()
    transcribed = engine.midi_to_abc(data, source)
    abc = decode_abc(transcribed.data, f"{source} as ABC")
    tunes = split_tunes(abc, f"{source} as ABC")
    rendered = engine.abc_to_midi(tunes[0])
    output = read_performance(rendered.data, f"{source} round trip").notes()
    missing, extra = unmatched_notes(reference, output)
    notes = (
        [f"the transcription holds {len(tunes)} tunes; the first was rendered"]
        if len(tunes) > 1
        else []
    )
    return RoundTrip(
        abc=abc,
        midi=rendered.data,
        reference=reference,
        output=output,
        score=note_f1(reference, output),
        score_with_offsets=note_f1(reference, output, with_offsets=True),
        missing=missing,
        extra=extra,
        warnings=transcribed.warnings + rendered.warnings + notes,
    )
