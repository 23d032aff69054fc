"""File formats: ABC text, MusicXML and MIDI, read and written; no conversion between them."""
