"""The app's screens: ``main`` (the file tree and the panes), and those pushed over it:
``compare``, ``batch``, ``engine`` (choose the engine), ``help``, ``dialogs`` (save, yes/no);
``saving`` is the main screen's ctrl+s."""
