"""The app's widgets: the file tree (``library_tree``), the ABC pane (``abc_pane``, with its
editor ``abc_editor``), the MIDI pane (``midi_pane``, with its ``piano_roll``), the key footer
of every screen (``key_footer``) and the radio buttons and checkboxes of the forms
(``toggles``)."""
