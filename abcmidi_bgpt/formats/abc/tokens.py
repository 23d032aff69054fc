"""The lexer of ABC tune bodies: music text to tokens, each with its place.

One compiled expression, tried at each position, gives the next token; what it does not know is
a ``junk`` token (the reader warns and goes on). No token is evaluated here and nothing names a
file: the reader (:mod:`abcmidi_bgpt.symbolic.abc_to_midi.abc_reader`) gives tokens meaning.

The grammar follows ABC 2.1 as abc2xml reads it (its measures end at right bar lines, a bar line
may open the next measure with a repeat sign or an ending), since the converter's output must not
change with the reader behind it. Like abc2xml, a note's length may follow it after spaces or a
line end ("d\n/"): hard-wrapped files split notes that way, and a number standing alone after a
note has no other meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Order matters: inline fields before chords ('[K:G]' against '[CEG]'), bar lines before
# chords and endings ('[|', '[1'), decorations before the '+' and '!' of other uses.
_TOKEN = re.compile(
    r"""
    (?P<field>\[(?P<field_letter>[A-Za-z]):(?P<field_value>[^\]\n]*)\])
  | (?P<text>"(?P<text_value>[^"\n]*)")                # an unclosed '"' is junk
  | (?P<deco>!(?P<deco_bang>[^!+ \n]+)!|\+(?P<deco_plus>[^!+ \n]+)\+|!\+!)
  | (?P<bar>
        \[\|\]|\[\]                                 # invisible bar lines
      | :(?=:)                                      # '::' is ':' (end) then ':' (start)
      | :*\[*[|\]]+                                 # | || |] [| :| :|| ...
      | \.\|
    )
  | (?P<ending>\[(?P<ending_numbers>\d+(?:[,-]\d+)*)) # [1  [1,3  [2-4
  | (?P<colon>:)                                    # a start repeat, or a stray colon
  | (?P<tuplet>\((?P<tuplet_p>\d+)(?::(?P<tuplet_q>\d*))?(?::(?P<tuplet_r>\d*))?)
  | (?P<slur>\.?\((?:[,'])?|\))
  | (?P<grace_open>\{(?P<grace_slash>/)?)
  | (?P<grace_close>\})
  | (?P<chord_open>\[)
  | (?P<chord_close>\])
  | (?P<note>
        (?:(?P<accidental>\^\^|__|\^|_|=)[ \t\n]*)?      # abc2xml lets space follow a sign
        (?P<step>[A-Ga-g])(?P<octave>[,']*)
        (?:\s*(?P<num>\d+))?(?:\s*(?P<slashes>/+))?(?:\s*(?P<den>\d+))?
    )
  | (?P<rest>(?P<rest_kind>[zxZX])
        (?:\s*(?P<rest_num>\d+))?(?:\s*(?P<rest_slashes>/+))?(?:\s*(?P<rest_den>\d+))?)
  | (?P<spacer>y(?P<spacer_len>\d*/*\d*))
  | (?P<tie>\.?-)
  | (?P<broken><+|>+)
  | (?P<overlay>&+)
  | (?P<digits>\d+)                                 # an ending number after '|' or ':|'
  | (?P<symbol>[.~H-Wh-w])                          # one-letter decorations, user symbols
  | (?P<space>[ \t\n`$*\\]+|!)                    # '!' alone: an old line break
  | (?P<junk>.)
    """,
    re.X,
)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind (a group name of the grammar), the match, and where it starts in
    the text it was read from."""

    kind: str
    match: re.Match

    @property
    def text(self) -> str:
        return self.match.group(0)

    @property
    def start(self) -> int:
        return self.match.start()


def tokens(music: str) -> list[Token]:
    """The tokens of a stretch of music, spaces left out. Inside a chord ``]`` closes it
    (elsewhere it is a bar line)."""
    out = []
    pos, end = 0, len(music)
    match = _TOKEN.match
    in_chord = False
    while pos < end:
        m = match(music, pos)
        kind = m.lastgroup  # the outermost group closes last: the token's kind
        if in_chord and kind == "bar" and m.group(0)[0] == "]":
            m = _CHORD_CLOSE.match(music, pos)
            kind = "chord_close"
        if kind == "chord_open":
            in_chord = True
        elif kind in ("chord_close", "bar"):
            in_chord = False
        if kind != "space":
            out.append(Token(kind, m))
        pos = m.end()
    return out


_CHORD_CLOSE = re.compile(
    r"(?P<chord_close>\](?:\s*(?P<num>\d+))?(?:\s*(?P<slashes>/+))?(?:\s*(?P<den>\d+))?)"
)
