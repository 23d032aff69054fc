"""The one list of conversion engines, and :class:`EngineSpec`, how an engine is named.

Every place that lists or builds engines reads this registry: the CLI's ``--engine`` help and
checks, the TUI's engine dialog and compare view, the comparison report and the batch runner.
An engine class declares what it can do (see :mod:`abcmidi_bgpt.engines.base`).

An :class:`EngineSpec` (a name and the engine's ``Options``, a frozen dataclass) is cheap to
compare and to pickle, so worker processes build their own engine from it. An engine that converts many inputs together (``batched``: bGPT generates a
batch of files at once) gets all of a batch's inputs in the calling process; every other engine
converts one input at a time in a worker process, killed at the batch's time limit
(:mod:`abcmidi_bgpt.core.isolation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.engines.base import Abc2MidiEngine, Engine, SymbolicEngine, missing_programs
from abcmidi_bgpt.engines.bgpt import BgptEngine  # light: torch loads when a model is built

ENGINES: dict[str, type[Engine]] = {
    engine.name: engine for engine in (SymbolicEngine, Abc2MidiEngine, BgptEngine)
}


class UnknownEngine(ConversionError):
    """An engine name the registry does not know."""

    def __init__(self, name: str):
        super().__init__(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
        self.name = name


def engine_class(name: str) -> type[Engine]:
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngine(name) from None


def engine_names() -> list[str]:
    return list(ENGINES)


def unavailable_reason(name: str) -> str:
    """Why this machine cannot run engine ``name`` ('' when it can): its external programs
    are not installed. (A model engine's model is checked when it is built.)"""
    missing = missing_programs(engine_class(name).programs)
    return f"{', '.join(missing)} not installed" if missing else ""


def available_engines() -> list[str]:
    """The engines this machine can run, in registry order."""
    return [name for name in ENGINES if not unavailable_reason(name)]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """An engine's name and settings, e.g. ``EngineSpec.of("symbolic", chords=True)``, which is
    ``EngineSpec("symbolic", SymbolicOptions(chords=True))``; the settings default to the
    engine's defaults."""

    name: str = "symbolic"
    options: object = None  # the engine's Options; None: its defaults

    def __post_init__(self):
        if self.options is None:
            object.__setattr__(self, "options", engine_class(self.name).Options())

    @classmethod
    def of(cls, name: str, **options) -> EngineSpec:
        """The engine ``name`` with the settings given (None: the default)."""
        given = {k: v for k, v in options.items() if v is not None}
        return cls(name, engine_class(name).Options(**given))

    @property
    def engine_class(self) -> type[Engine]:
        return engine_class(self.name)

    def build(self) -> Engine:
        return self.engine_class(self.options)
