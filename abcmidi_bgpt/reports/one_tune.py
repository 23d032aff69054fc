"""One tune through one engine at a time, each output checked and scored as the comparison
(:mod:`abcmidi_bgpt.reports.compare`) scores it, with the notes that differ from the
reference: what the TUI's compare view shows, column by column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from abcmidi_bgpt.checks.validate import AbcFidelity, Validity
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note, Performance
from abcmidi_bgpt.engines.base import Engine
from abcmidi_bgpt.formats.abc.text import AbcTune
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.reports.compare import CompareTune, fidelity

if TYPE_CHECKING:  # mir_eval (and scipy) load only when notes are matched
    from abcmidi_bgpt.checks.metrics import NoteScore


@dataclass(slots=True)
class ComparedOutput:
    """One engine's output for one tune, checked and scored as the comparison scores it."""

    engine: str
    direction: Direction
    data: bytes = b""
    validity: Validity | None = None
    score: NoteScore | None = None  # (onset, pitch) against the reference notes
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    performance: Performance | None = None  # a valid MIDI output, read for its piano roll
    missing: list[Note] = field(default_factory=list)  # reference notes the output lacks
    extra: list[Note] = field(default_factory=list)  # output notes the reference lacks

    @property
    def text(self) -> str:
        return (
            self.data.decode("utf-8", "replace") if self.direction == Direction.MIDI_TO_ABC else ""
        )


def rendered_tune(name: str, tune: AbcTune, chords: bool = False) -> CompareTune:
    """A tune to compare engines on, ABC -> MIDI: its reference is the symbolic converter's
    rendering (chord symbols played when ``chords``). Raises :class:`ConversionError` when the
    symbolic converter cannot render it."""
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    return CompareTune(name, abc_to_midi(tune, chords=chords).midi, tune=tune)


def compare_one(
    name: str,
    engine: Engine,
    direction: Direction,
    tune: CompareTune,
    with_abc2midi: bool = True,
) -> ComparedOutput:
    """Convert one tune with one engine (``tune.tune`` ABC -> MIDI, ``tune.midi`` MIDI -> ABC)
    and score the output as the comparison does (``reports.compare.fidelity``); ABC -> MIDI
    also lists the notes that differ from the reference. The engine's
    :class:`ConversionError` is the result's ``error``."""
    from abcmidi_bgpt.checks.metrics import unmatched_notes

    direction = Direction(direction)
    try:
        if direction == Direction.ABC_TO_MIDI:
            out = engine.abc_to_midi(tune.tune)
        else:
            out = engine.midi_to_abc(tune.midi, tune.name)
    except ConversionError as err:
        return ComparedOutput(name, direction, error=str(err))
    result = ComparedOutput(name, direction, out.data, warnings=out.warnings)
    scored = fidelity(direction, out.data, tune, with_abc2midi)
    result.validity = scored.valid
    if scored.notes is not None:
        result.score = scored.notes.onset
    elif isinstance(scored, AbcFidelity) and scored.render_error:
        result.warnings.append(f"not scored: {scored.render_error}")
    if direction == Direction.ABC_TO_MIDI and result.validity:
        result.performance = read_performance(out.data)
        reference = read_performance(tune.midi).notes()
        result.missing, result.extra = unmatched_notes(reference, result.performance.notes())
    return result
