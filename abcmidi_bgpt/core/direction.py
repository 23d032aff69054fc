"""The two ways a conversion goes, named once for the whole package."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """ABC -> MIDI or MIDI -> ABC. The values are the names the corpus, the model's sequences,
    training logs and reports use ('abc2mid', 'mid2abc'); a file kind is 'abc' or 'mid'."""

    ABC_TO_MIDI = "abc2mid"
    MIDI_TO_ABC = "mid2abc"

    @property
    def source(self) -> str:
        """The kind of file read: 'abc' or 'mid'."""
        return "abc" if self is Direction.ABC_TO_MIDI else "mid"

    @property
    def target(self) -> str:
        """The kind of file written: 'mid' or 'abc'."""
        return "mid" if self is Direction.ABC_TO_MIDI else "abc"

    @property
    def label(self) -> str:
        """As reports and messages write it: 'ABC -> MIDI'."""
        return f"{KIND_NAMES[self.source]} -> {KIND_NAMES[self.target]}"

    @property
    def arrow(self) -> str:
        """As the terminal UI writes it: 'ABC → MIDI'."""
        return self.label.replace("->", "→")

    @classmethod
    def writing(cls, kind: str) -> Direction:
        """The direction that writes files of ``kind`` ('mid' or 'abc', as ``--to`` says)."""
        for direction in cls:
            if direction.target == kind:
                return direction
        raise ValueError(f"unknown file kind {kind!r} (use mid or abc)")

    @classmethod
    def parse_many(cls, text: str) -> list[Direction]:
        """The directions of 'abc2mid', 'mid2abc' or 'both'."""
        if text == "both":
            return list(cls)
        try:
            return [cls(text)]
        except ValueError:
            raise ValueError(f"direction must be abc2mid, mid2abc or both (got {text!r})") from None


KIND_NAMES = {"abc": "ABC", "mid": "MIDI"}  # a file kind as messages name it
