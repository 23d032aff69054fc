"""The terminal UI (imported as ``abcmidi_bgpt.tui``): ``app.py`` (a thin Textual App),
``screens/`` (the main screen and those pushed over it), ``widgets/`` (file tree, ABC and MIDI
panes, piano roll), ``app.tcss`` (styles), the helpers the screens use that import no Textual
(``engines.py``, ``files.py``, ``midi_view.py``) and the ``tui`` command (``command.py``)."""
