"""The app's widgets: the file tree (``library_tree``), the ABC pane (``abc_pane``, with its
editor ``abc_editor``) and the MIDI pane (``midi_pane``, with its ``piano_roll``)."""
