"""ABC -> MIDI: ABC through MusicXML to a performance, rendered as MIDI."""
