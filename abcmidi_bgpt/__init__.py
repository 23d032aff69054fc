"""abcmidi-bgpt: ABC notation <-> MIDI, by a symbolic converter and by a byte-level bGPT model."""

__version__ = "0.1.0"
