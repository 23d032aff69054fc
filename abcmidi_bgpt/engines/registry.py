"""Conversion engines behind one small interface, so the CLI, the batch runner, the comparison
and the TUI treat the symbolic converter, bGPT and external tools alike.

An engine converts one ABC tune to MIDI bytes and/or one MIDI file to ABC text. Engines are
named by an :class:`EngineSpec` (name + options), which is cheap to pickle, so worker processes
build their own engine from it.

An engine that converts many inputs together (bGPT generates a batch of files at once) also has
``convert_many`` (:class:`BatchEngine`); the batch runner gives such an engine all its inputs,
in its own process (``BATCHED_ENGINES``). Every other engine converts one input at a time in a
worker process, killed at the batch's time limit (:mod:`abcmidi_bgpt.core.isolation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.engines.base import Abc2MidiEngine, Engine, SymbolicEngine


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """An engine's name and options, e.g. ``EngineSpec("symbolic", {"chords": True})``."""

    name: str = "symbolic"
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, name: str, **options) -> EngineSpec:
        return cls(name, tuple(sorted((k, v) for k, v in options.items() if v is not None)))

    def build(self) -> Engine:
        factory = _FACTORIES.get(self.name)
        if factory is None:
            raise ConversionError(f"unknown engine {self.name!r} (known: {', '.join(_FACTORIES)})")
        return factory(**dict(self.options))


def _bgpt_engine(**options) -> Engine:
    from abcmidi_bgpt.engines.bgpt import BgptEngine  # torch loads only when a bgpt engine is built

    return BgptEngine(**options)


_FACTORIES = {
    "symbolic": SymbolicEngine,
    "abc2midi": Abc2MidiEngine,
    "bgpt": _bgpt_engine,
}
# Converted with convert_many in the calling process (a model loaded once), where the batch's
# time limit is only the soft in-process one: see BgptEngine.convert_many.
BATCHED_ENGINES = frozenset({"bgpt"})


def engine_names() -> list[str]:
    return list(_FACTORIES)
