"""MIDI -> ABC: quantising, meter, key, repeats, and writing the ABC."""
