"""The engines as the app uses them: built once per spec and shared by every screen, named for
the header, and listed for the compare view. Engine names, capabilities and the reason one
cannot run come from the registry (:mod:`abcmidi_bgpt.engines.registry`). Nothing here
imports Textual."""

from __future__ import annotations

import threading
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError, ModelError, first_line
from abcmidi_bgpt.engines.base import Engine
from abcmidi_bgpt.engines.registry import EngineSpec, engine_class, engine_names, unavailable_reason


class EngineCache:
    """One engine per spec, built on first use (building bgpt loads a model), safe to share
    between worker threads."""

    def __init__(self) -> None:
        self._engines: dict[EngineSpec, Engine] = {}
        self._lock = threading.Lock()

    def get(self, spec: EngineSpec) -> Engine:
        with self._lock:
            engine = self._engines.get(spec)
            if engine is None:
                problem = model_problem(spec.name, getattr(spec.options, "checkpoint", None))
                if problem:
                    raise ConversionError(f"{problem} (press e to choose one)")
                engine = self._engines[spec] = spec.build()
            return engine


def model_problem(name: str, checkpoint: str | None = None) -> str | None:
    """Why engine ``name`` has no model to run (the library's reason: no such checkpoint, or
    none chosen and none packaged); None when it has one or needs none."""
    if not engine_class(name).needs_model:
        return None
    from abcmidi_bgpt.bgpt.model_folder import resolve_checkpoint

    try:
        resolve_checkpoint(checkpoint or None)
    except (ConversionError, ModelError) as err:
        return first_line(err)
    return None


def describe_engine(spec: EngineSpec) -> str:
    """The engine as the header shows it: 'symbolic', 'symbolic +chords', 'bgpt (small.pt)':
    its checkpoint, and chord symbols played where the engine does not play them by default."""
    text = spec.name
    if checkpoint := getattr(spec.options, "checkpoint", None):
        text += f" ({Path(str(checkpoint)).name})"
    default = spec.engine_class.Options()
    if getattr(spec.options, "chords", False) and not getattr(default, "chords", False):
        text += " +chords"
    return text


def engines_to_compare(current: EngineSpec) -> list[tuple[str, EngineSpec | None, str]]:
    """Every registered engine with the spec to run it (``current`` for the chosen one), or
    None and the reason it cannot run."""
    engines = []
    for name in engine_names():
        if name == current.name:
            engines.append((name, current, ""))
        elif reason := unavailable_reason(name):
            engines.append((name, None, reason))
        elif problem := model_problem(name):
            engines.append((name, None, f"{problem}: press e and pick {name}"))
        else:
            engines.append((name, EngineSpec(name), ""))
    return engines
