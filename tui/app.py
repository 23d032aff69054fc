"""The abcmidi-bgpt terminal app: browse tunes and MIDI files, convert them both ways, round-trip
MIDI through ABC, compare engines and batch-convert folders.

The app is thin: its first screen, :class:`~abcmidi_bgpt.tui.screens.main.MainScreen`, holds
what is on screen and the keys that act on it; the other screens (``screens/``) are pushed over
it and have keys of their own; the widgets are in ``widgets/`` and the styles in ``app.tcss``.
Conversions, checks and scores are library calls (engines, :mod:`abcmidi_bgpt.reports`).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from abcmidi_bgpt.engines.registry import EngineSpec

from .engines import EngineCache
from .screens.main import MainScreen


class AbcMidiApp(App[None]):
    """Work with the ABC tunes and MIDI files under one folder."""

    CSS_PATH = "app.tcss"
    TITLE = "abcmidi-bgpt"

    def __init__(self, folder: Path, engine: EngineSpec | None = None) -> None:
        super().__init__()
        self.folder = folder.resolve()
        self.engine = engine
        self.cache = EngineCache()  # the engines built so far, shared by every screen

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.folder, self.cache, self.engine)

    @property
    def main(self) -> MainScreen:
        """The main screen, at the bottom of the screen stack."""
        return self.screen_stack[0]

    async def action_quit(self) -> None:
        """Ctrl+Q, on any screen: quit as q on the main screen does, asking first when tunes
        have unsaved edits."""
        self.main.action_quit()
