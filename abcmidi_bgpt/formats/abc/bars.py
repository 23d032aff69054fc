"""A voice's music grouped into bars of stems (notes, chords, rests), grace groups and signs
(tuplets, broken rhythm, inline fields, chord symbols, decorations), as abc2xml's grammar groups
them: a bar ends at a right bar line; one at the start of a bar may open it with a start repeat
or an ending."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from abcmidi_bgpt.formats.abc.tokens import Token, tokens


@dataclass(slots=True)
class WrittenNote:
    """One written note: accidental, step (its case says the octave), octave marks, length in
    units of L:, and whether a tie starts on it."""

    accidental: str
    step: str
    octave: int
    num: int
    den: int
    tie: bool = False


@dataclass(slots=True)
class Stem:
    """A note, a chord or a rest as written, with its length (a chord's outer length; a note's
    own length is on its _Note)."""

    kind: str  # note, chord, rest, measure-rest
    notes: list[WrittenNote] = field(default_factory=list)
    num: int = 1
    den: int = 1


@dataclass(slots=True)
class Item:
    """One thing of a bar, in order: kind 'stem' (with ``stem``), 'graces' (``graces``), or a
    sign with its ``value``: 'tuplet', 'broken', 'field', 'text', 'deco', 'junk'."""

    kind: str
    stem: Stem | None = None
    graces: list[Stem] = field(default_factory=list)
    value: object = None
    start: int = -1  # a stem or a 'junk' sign: where it starts in the music


@dataclass(slots=True)
class Bar:
    items: list[Item] = field(default_factory=list)
    forward: bool = False
    ending: str = ""  # the numbers of an ending that starts here
    right: str = ""  # the bar line that ends it ('&': an overlay follows)


def read_bars(music: str) -> list[Bar]:
    """A voice's music grouped into bars as abc2xml's grammar groups it: a bar ends at a right
    bar line; one at the start of a bar may open it with a start repeat or an ending."""
    toks = tokens(music)
    bars: list[Bar] = []
    bar = Bar()
    started = False  # something other than an inline field has been read into this bar
    chord: Stem | None = None
    chord_start = -1
    graces: list[Stem] | None = None
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        kind, m = t.kind, t.match
        if kind == "field":
            value = m.group("field_value").replace("%5d", "]").strip()
            bar.items.append(Item("field", value=(m.group("field_letter"), value)))
            i += 1
            continue
        if not started and kind == "bar" and t.text.startswith(":"):
            # ':|' where a bar starts: ':' opens it with a start repeat, '|' closes it
            bar.forward = True
            rest = t.text.lstrip(":")
            if rest:
                bar.right = rest
                bars.append(bar)
                bar, started, graces = Bar(), False, None
            else:
                started = True
            i += 1
            continue
        if not started and (kind in ("colon", "digits", "ending") or t.text in ("|", "[|")):
            j = i + 1 if kind == "bar" else i
            if j < n and toks[j].kind == "colon":
                bar.forward = True
                j += 1
            if j < n and toks[j].kind in ("digits", "ending"):
                bar.ending = _ending_text(toks[j])
                j += 1
            started = True
            i = max(j, i + 1)
            continue
        if kind in ("bar", "colon", "ending", "overlay") and chord is None:
            if kind == "ending" and not started:
                bar.ending = _ending_text(t)
                started = True
                i += 1
                continue
            bar.right = {"colon": ".|", "ending": "|", "overlay": "&"}.get(kind, t.text)
            bars.append(bar)
            bar, started, graces = Bar(), False, None
            if kind != "ending":  # '[1' with no bar line before it starts the next bar
                i += 1
            continue
        started = True
        if kind == "note":
            note = _note(m)
            if chord is not None:
                chord.notes.append(note)
            elif graces is not None:
                graces.append(Stem("note", [note]))
            else:
                bar.items.append(Item("stem", Stem("note", [note]), start=t.start))
        elif kind == "rest":
            num, den = _length(m.group("rest_num"), m.group("rest_slashes"), m.group("rest_den"))
            rest = Stem("measure-rest" if m.group("rest_kind") in "ZX" else "rest", [], num, den)
            if chord is not None:
                if not chord.notes and chord.kind == "chord":
                    chord.kind, chord.num, chord.den = "chord-rest", num, den
            elif graces is None:
                bar.items.append(Item("stem", rest, start=t.start))
        elif kind == "chord_open":
            chord, chord_start = Stem("chord"), t.start
        elif kind == "chord_close":
            if chord is not None:
                num, den = _length(m.group("num"), m.group("slashes"), m.group("den"))
                if chord.notes:
                    chord.kind, chord.num, chord.den = "chord", num, den
                elif chord.kind == "chord-rest":
                    chord.kind = "rest"
                if chord.notes or chord.kind == "rest":
                    if graces is not None:
                        graces.append(chord)
                    else:
                        bar.items.append(Item("stem", chord, start=chord_start))
                chord = None
        elif kind == "grace_open":
            graces = []
        elif kind == "grace_close":
            if graces is not None:
                bar.items.append(Item("graces", graces=graces))
            graces = None
        elif kind == "tie":
            _tie_last(chord, graces, bar.items)
        elif kind == "broken":
            if chord is None:
                bar.items.append(Item("broken", value=t.text))
            else:  # '<' or '>' inside a chord means nothing (abc2xml skips it)
                bar.items.append(Item("junk", value=t.text, start=t.start))
        elif kind == "tuplet":
            bar.items.append(Item("tuplet", value=_tuplet(m)))
        elif kind == "text":
            bar.items.append(Item("text", value=m.group("text_value")))
        elif kind == "deco":
            name = m.group("deco_bang") or m.group("deco_plus") or "plus"
            bar.items.append(Item("deco", value=name))
        elif kind == "symbol":
            bar.items.append(Item("deco", value=t.text))
        elif kind in ("junk", "digits", "bar", "colon", "ending", "overlay"):
            bar.items.append(Item("junk", value=t.text, start=t.start))
        i += 1
    if bar.items or started:
        bars.append(bar)
    return bars


def _note(m: re.Match) -> WrittenNote:
    octave = m.group("octave")
    num, den = _length(m.group("num"), m.group("slashes"), m.group("den"))
    marks = octave.count("'") - octave.count(",")
    return WrittenNote(m.group("accidental") or "", m.group("step"), marks, num, den)


def _tie_last(chord: Stem | None, graces: list[Stem] | None, items: list[Item]) -> None:
    """A tie starts on the note just written: in a chord that note, after a chord all of it."""
    if chord is not None:
        if chord.notes:
            chord.notes[-1].tie = True
        return
    if graces is not None:
        if graces and graces[-1].notes:
            graces[-1].notes[-1].tie = True
        return
    for item in reversed(items):
        if item.kind == "stem":
            for note in item.stem.notes:
                note.tie = True
            return
        if item.kind != "deco":
            return


def _tuplet(m: re.Match) -> tuple[int, int, int]:
    def number(text: str | None) -> int:
        return int(text) if text and len(text) <= 3 else 0

    return number(m.group("tuplet_p")), number(m.group("tuplet_q")), number(m.group("tuplet_r"))


def _length(num_text: str | None, slashes: str | None, den_text: str | None) -> tuple[int, int]:
    """A written length as abc2xml reads it: 'A3/2' is 3/2, 'A/' 1/2, 'A//' 1/4, 'A/4' 1/4."""
    # Over nine digits a length is absurd: kept absurd (the reader refuses it), never read in
    # full (Python will not even read an integer of 4,300 digits).
    num = (int(num_text) if len(num_text) <= 9 else 10**9) if num_text else 1
    d = (int(den_text) if len(den_text) <= 9 else 10**9) if den_text else 2
    den = (d << min(len(slashes or ""), 12)) >> 1
    return (num or 1, den or 1)


def _ending_text(t: Token) -> str:
    return t.match.group("ending_numbers") if t.kind == "ending" else t.text
