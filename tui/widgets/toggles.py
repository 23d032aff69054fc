"""Radio buttons and checkboxes that show whether they are on without colour.

Textual's draw the same mark either way (● in a radio button, X in a checkbox) and tell on
from off by its colour alone, which a terminal without colour (``NO_COLOR``, a monochrome
terminal) does not show. These draw the mark only when on; ``app.tcss`` styles them.
"""

from __future__ import annotations

from textual.widgets import Checkbox, RadioButton


class MarkedRadioButton(RadioButton):
    """A radio button drawn ▐●▌ when chosen and ▐ ▌ when not."""

    @property
    def BUTTON_INNER(self) -> str:  # the name Textual draws the mark from
        return "●" if self.value else " "


class MarkedCheckbox(Checkbox):
    """A checkbox drawn ▐X▌ when ticked and ▐ ▌ when not."""

    @property
    def BUTTON_INNER(self) -> str:  # the name Textual draws the mark from
        return "X" if self.value else " "
