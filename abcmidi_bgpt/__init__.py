"""abcmidi-bgpt: ABC notation <-> MIDI, by a symbolic converter and by a byte-level bGPT model.

The public API, importable from here (each name is loaded on first use, so importing the
package stays cheap):

- :func:`abc_to_midi` -- one ABC tune to MIDI by the symbolic converter (``.midi`` bytes);
- :func:`midi_to_abc` -- one MIDI file's bytes to ABC by the symbolic converter (``.abc``);
- :func:`read_abc_file`, :func:`split_tunes`, :class:`AbcTune` -- ABC files and their tunes;
- :func:`read_performance`, :class:`Performance`, :class:`Note` -- MIDI read as a note list;
- :func:`validate_abc`, :func:`validate_midi` -- is an output valid;
- :func:`convert_paths`, :class:`EngineSpec` -- batch conversion of files and folders by an
  engine (``symbolic``, ``bgpt``, ``abc2midi``);
- :class:`ConversionError` -- what every conversion raises for a bad input.

The layers, lowest first (a module never imports a higher layer; ``tests/test_layering.py``):
``core`` < ``formats`` < ``symbolic`` < ``checks`` < ``bgpt`` < ``engines`` < ``reports`` <
``cli``. See the README's Layout section.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "abc_to_midi": "abcmidi_bgpt.symbolic.abc_to_midi.render",
    "midi_to_abc": "abcmidi_bgpt.symbolic.midi_to_abc.transcribe",
    "AbcTune": "abcmidi_bgpt.formats.abc.text",
    "read_abc_file": "abcmidi_bgpt.formats.abc.text",
    "split_tunes": "abcmidi_bgpt.formats.abc.text",
    "read_performance": "abcmidi_bgpt.formats.midi",
    "Performance": "abcmidi_bgpt.core.performance",
    "Note": "abcmidi_bgpt.core.performance",
    "validate_abc": "abcmidi_bgpt.checks.validate",
    "validate_midi": "abcmidi_bgpt.checks.validate",
    "convert_paths": "abcmidi_bgpt.engines.batch",
    "EngineSpec": "abcmidi_bgpt.engines.registry",
    "ConversionError": "abcmidi_bgpt.core.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'abcmidi_bgpt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
