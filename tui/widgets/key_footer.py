"""The key footer of every screen: Textual's footer, filled from the start."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Lists the screen's keys as soon as they are known, whether or not the app has focus.

    Textual's footer leaves its keys as they are while the terminal says the app is not
    focused, so that they do not change when the user looks at another window. A terminal
    that says so at startup (focus reporting: ``ESC [ O``) therefore left the footer empty
    until the focus moved within the app, in practice until a tune was opened. This one
    fills an empty footer regardless, and keeps Textual's behaviour once it shows keys.
    """

    def bindings_changed(self, screen: Screen) -> None:
        super().bindings_changed(screen)
        if self.app.app_focus or self.children:
            return  # Textual's footer has updated, or keeps the keys it shows
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.recompose)
