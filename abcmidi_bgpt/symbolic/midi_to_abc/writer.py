"""Writing a transcribed tune as ABC text.

The input is a tune already cut into bars (:class:`Bar`: per voice, the notes, chords and
rests of one bar, times exact) and its repeat structure (:mod:`abcmidi_bgpt.symbolic.midi_to_abc.repeats`). The
writer chooses how to spell it: note lengths against ``L:``, ties where a length needs two
notes or crosses a bar line, tuplets where times are not binary, accidentals against the key
and the bar, beaming by beats, a line break every few bars and at section ends.

Accidentals are written so that both readings of ABC 2.1 agree: a sharp or natural carries to
the end of the bar for that note in that octave only (abc2midi) or in all octaves (some
readers), so after an accidental on a letter in a bar every later note of that letter gets an
explicit one unless it repeats the same note.

Why one module of over 400 lines: how one note is written (its length against L:, ties,
tuplets, beaming, chords, graces, accidentals carried through the bar) depends on its
neighbours at every step; the writer is one pass over the bars.
"""

from __future__ import annotations

import bisect
import collections
import functools
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from abcmidi_bgpt.symbolic.midi_to_abc.keys import NATURAL_PC, Key, key_alterations, spell
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter, is_binary
from abcmidi_bgpt.symbolic.midi_to_abc.repeats import Section

ACCIDENTAL = {1: "^", -1: "_", 0: "=", 2: "^^", -2: "__"}
SPANS = tuple(Fraction(x) for x in ("1/4", "1/2", "1", "3/2", "2", "3", "4"))
TUPLET_SIZES = (3, 5, 7, 9)
# The longest span (in beats) each tuplet takes: a nine is a run of 64ths, not a whole bar.
MAX_TUPLET_SPAN = {3: Fraction(4), 5: Fraction(2), 7: Fraction(2), 9: Fraction(1, 2)}
MIN_WRITTEN = Fraction(1, 16)  # beats: a 64th note, the shortest abc2xml writes


@dataclass(frozen=True, slots=True)
class Item:
    """What one voice does in one bar, in time order: a note, chord (several pitches) or rest
    (no pitch). ``start`` counts from the bar's start, in beats."""

    start: Fraction
    length: Fraction
    pitches: tuple[int, ...] = ()
    tie: bool = False  # tied to the next item, which has the same pitches
    graces: tuple[int, ...] = ()
    grace_length: Fraction = Fraction(0)
    tied_in: bool = False  # the continuation of a tied note
    staccato: bool = False  # written with a dot (played short of its length)

    def key(self) -> tuple:
        """Its fields, the times as integer pairs: equal for equal items, and hashed and
        compared much faster (every bar of a tune is, to find its repeats)."""
        return (
            (self.start.numerator, self.start.denominator),
            (self.length.numerator, self.length.denominator),
            self.pitches,
            self.tie,
            self.graces,
            (self.grace_length.numerator, self.grace_length.denominator),
            self.tied_in,
            self.staccato,
        )


@dataclass(frozen=True, slots=True)
class TrilledItem(Item):
    """A note written with the trill sign, ``TA2`` (see ornaments): an item of its own kind,
    not a field of every item, so that items without one stay what they were."""

    def key(self) -> tuple:
        return (*Item.key(self), "T")


@dataclass(slots=True)
class Bar:
    start: Fraction  # in beats from the start of the tune
    length: Fraction
    meter: Meter
    key: Key
    voices: list[list[Item]] = field(default_factory=list)
    offset: Fraction = Fraction(0)  # where in a full bar this one starts (a pickup: late)
    qpm: float | None = None  # the tempo it starts at (as a Q: field writes it)
    tempi: list[tuple[Fraction, float]] = field(default_factory=list)  # (where, qpm) inside

    def ident(self) -> tuple:
        """Everything that makes two bars the same bar to a reader. Not the tempo: a performed
        repeat is written once, at its first time's tempo (the notation a reader wants)."""
        return (
            self.length,
            self.offset,
            self.meter,
            self.key,
            tuple(tuple(it.key() for it in v) for v in self.voices),
        )


@dataclass(slots=True)
class Header:
    title: str
    meter: Meter
    key: Key
    unit: Fraction  # L:, in whole notes (1/8)
    qpm: float | None = None
    comments: list[str] = field(default_factory=list)
    bass: frozenset[int] = frozenset()  # voices (0-based) written in the bass clef
    percussion: int | None = None  # the drum voice (0-based): clef=perc, on MIDI channel 10


def write_abc(header: Header, bars: Sequence[Bar], sections: Sequence[Section]) -> str:
    """The ABC text of a tune (one X: tune, LF line ends)."""
    lines = ["X:1", f"T:{field_text(header.title) or 'Untitled'}"]
    lines += [f"% {_one_line(c)}" for c in header.comments]
    lines.append(f"M:{header.meter.abc}")
    lines.append(f"L:{header.unit.numerator}/{header.unit.denominator}")
    if header.qpm:
        lines.append(_tempo_field(header.meter, header.qpm))
    voices = max((len(b.voices) for b in bars), default=1)
    named = voices > 1 or header.percussion is not None
    if named:
        lines += [f"V:{v + 1}" + _clef(header, v) for v in range(voices)]
    lines.append(f"K:{header.key.abc}")
    for v in range(voices):
        if named:
            lines.append(f"V:{v + 1}")
        if v == header.percussion:
            lines.append(PERCUSSION_CHANNEL)
        lines += _voice_lines(v, header, bars, sections)
    return "\n".join(lines) + "\n"


PERCUSSION_CHANNEL = "%%MIDI channel 10"  # abc2midi plays the voice as drums (clef=perc does not)


def _clef(header: Header, v: int) -> str:
    """What a voice's V: line says besides its number: its clef (and name, for the drums)."""
    if v == header.percussion:
        return ' name="Drums" clef=perc'
    return " clef=bass" if v in header.bass else ""


# A title from a MIDI track name may be a megabyte of anything; titles and file names are
# shorter than this.
MAX_FIELD_CHARS = 1000
# Unicode categories that must not reach ABC text: controls (NUL, ESC: readers take the file
# for binary), format characters (bidirectional overrides), surrogates (not UTF-8), private
# use, unassigned, and line and paragraph separators (Python's splitlines() breaks lines there).
_UNWRITABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _one_line(text: str) -> str:
    """Text as one line of printable characters (other characters become spaces, runs of
    spaces one), at most :data:`MAX_FIELD_CHARS` long, not ending in a backslash (which
    continues a line onto the next): for header fields and comments."""
    head = text[: 4 * MAX_FIELD_CHARS]  # (a megabyte of spaces is not worth reading)
    printable = "".join(" " if unicodedata.category(ch) in _UNWRITABLE else ch for ch in head)
    line = " ".join(printable.split())
    if len(line) > MAX_FIELD_CHARS:
        line = line[: MAX_FIELD_CHARS - 3] + "..."
    return line.rstrip("\\ ")


def field_text(text: str) -> str:
    """Text for an information field (``T:``) that every reader takes as written: one line
    (:func:`_one_line`) with no '%', which would start a comment and cut the field short: it
    is written as the fullwidth percent sign."""
    return _one_line(text).replace("%", "\uff05")


def _tempo_field(meter: Meter, qpm: float) -> str:
    beat = meter.beat  # in quarters
    per_minute = round(qpm / float(beat))
    unit = beat / 4
    return f"Q:{unit.numerator}/{unit.denominator}={max(1, per_minute)}"


def bars_per_line(meter: Meter) -> int:
    return 4 if meter.bar >= 3 else 8


def _voice_lines(v: int, header: Header, bars: Sequence[Bar], sections: Sequence[Section]):
    """One voice's body: bars in written order with bar lines, repeats and endings."""
    out: list[str] = []
    line = ""
    count = 0  # full bars on the current line
    state = _TextState(header.key, header.meter, header.qpm)
    per_line = bars_per_line(header.meter)

    def bar(index: int) -> str:
        b = bars[index]
        prefix = ""
        if b.meter != state.meter:
            prefix += f"[M:{b.meter.abc}] "
            state.meter = b.meter
        if b.key != state.key:
            prefix += f"[K:{b.key.abc}] "
            state.key = b.key
        inside: list[tuple[Fraction, str]] = []
        if v == 0:  # tempo is the tune's: written in the first voice
            written = state.qpm
            for at, qpm in [(Fraction(0), b.qpm), *b.tempi]:
                if qpm is None:
                    continue
                now = _tempo_field(b.meter, qpm)
                if written is None or now != _tempo_field(b.meter, written):
                    if at:
                        inside.append((at, f"[{now}]"))
                    else:
                        prefix += f"[{now}] "
                written = qpm
            state.qpm = written
        items = b.voices[v] if v < len(b.voices) else [Item(Fraction(0), b.length)]
        return prefix + bar_text(items, b.meter, b.key, header.unit, b.offset, inside)

    def add(text: str, full: bool) -> None:
        nonlocal line, count
        line += text
        if full:
            count += 1

    def flush() -> None:
        nonlocal line, count
        if line.strip():
            out.append(line.strip())
        line, count = "", 0

    changes_tempo = any(b.tempi or b.qpm != header.qpm for b in bars if b.qpm is not None)
    for si, section in enumerate(sections):
        if changes_tempo and (section.repeat or (si and sections[si - 1].repeat)):
            state.qpm = None  # played after a repeat: its tempo is written, not assumed
        if section.repeat:
            if line.strip() and count:
                flush()
            add("|: " if not line.strip() else " |: ", False)
            _write_run(section.body, bars, bar, add, flush, per_line, lambda: count)
            if section.endings:
                first, second = section.endings
                add(" |[1 ", False)
                _write_run(first, bars, bar, add, flush, 10**6, lambda: count)
                add(" :|[2 ", False)
                _write_run(second, bars, bar, add, flush, 10**6, lambda: count)
                add(" |]" if si == len(sections) - 1 else " |", False)
            else:
                add(" :|" if si < len(sections) - 1 else " :|]", False)
            flush()
        else:
            for k, index in enumerate(section.body):
                b = bars[index]
                full = b.length == b.meter.bar
                add(bar(index), full)
                is_last = si == len(sections) - 1 and k == len(section.body) - 1
                if is_last:
                    add(" |]", False)
                elif k == len(section.body) - 1 and si + 1 < len(sections):
                    add(" |", False)
                    flush()
                else:
                    add(" | ", False)
                    if count >= per_line:
                        flush()
    flush()
    return out


def _write_run(indices, bars, bar, add, flush, per_line, count) -> None:
    for k, index in enumerate(indices):
        b = bars[index]
        add(bar(index), b.length == b.meter.bar)
        if k < len(indices) - 1:
            add(" | ", False)
            if count() >= per_line:
                flush()


@dataclass(slots=True)
class _TextState:
    key: Key
    meter: Meter
    qpm: float | None = None


# --- one bar ----------------------------------------------------------------------------------


def single_length(x: Fraction) -> bool:
    """Whether a length (in units of L) is one written note: plain or dotted. A double-dotted
    length is written as a dotted note tied to a short one, as tune books (and midi2abc) write
    it: fewer readers know the double dot than the tie."""
    if x <= 0 or not is_binary(x):
        return False
    n = x.numerator
    while n % 2 == 0:
        n //= 2
    return n in (1, 3)


def length_text(units: Fraction) -> str:
    if units == 1:
        return ""
    n, d = units.numerator, units.denominator
    if d == 1:
        return str(n)
    if n == 1:
        return "/" if d == 2 else f"/{d}"
    return f"{n}/{d}"


def split_length(start: Fraction, length: Fraction, beat: Fraction, unit: Fraction) -> list:
    """A length (in beats) starting at ``start`` (from the bar start), as lengths each written
    as one note: split at beat boundaries first, then greedily."""
    units = length / (4 * unit)
    if single_length(units) or not is_binary(units):
        return [length]
    boundary = (start // beat + 1) * beat
    if start < boundary < start + length:
        return [
            *split_length(start, boundary - start, beat, unit),
            *split_length(boundary, start + length - boundary, beat, unit),
        ]
    piece = Fraction(1, units.denominator)
    while piece * 2 <= units:
        piece *= 2
    # the largest single length not above: try dotted forms of the largest power
    for candidate in (piece * 3 / 2, piece):
        if candidate <= units and single_length(candidate):
            first = candidate * 4 * unit
            return [first, *split_length(start + first, length - first, beat, unit)]
    return [length]


def _pieces(
    start: Fraction, length: Fraction, beat: Fraction, unit: Fraction, scale: Fraction
) -> tuple[tuple[Fraction, str], ...]:
    """The tied notes that write a length (:func:`split_length`, in a tuplet of ratio
    ``scale``): each one's length in beats and its length text against L:. Cached: a tune
    writes the same few lengths at the same places in its bars, and working them out in
    Fractions for every note was a large part of the writer's time. (The cache is keyed on
    each ratio's two integers: hashing and comparing Fractions would cost as much again.)"""
    return _pieces_of(
        (start.numerator, start.denominator),
        (length.numerator, length.denominator),
        (beat.numerator, beat.denominator),
        (unit.numerator, unit.denominator),
        (scale.numerator, scale.denominator),
    )


@functools.lru_cache(maxsize=4096)
def _pieces_of(*ratios: tuple[int, int]) -> tuple[tuple[Fraction, str], ...]:
    """:func:`_pieces` of (start, length, beat, unit, scale) as (numerator, denominator)."""
    start, length, beat, unit, scale = (Fraction(n, d) for n, d in ratios)
    pieces = split_length(start, length, beat, unit / scale)
    return tuple((piece, length_text(piece * scale / (4 * unit))) for piece in pieces)


@dataclass(slots=True)
class _Accidentals:
    """What has been written in the current bar: letter -> {(octave, alteration)}.

    The accidental of a tied-to note is where readers part: abc2midi carries it through the
    rest of the bar, abc2xml (as staff notation does) does not. After one, every note of that
    letter gets an explicit accidental until one that is not tied sets the state again."""

    key: Key
    written: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    unsettled: set[str] = field(default_factory=set)
    signature: dict[str, int] = field(init=False)  # the key's alteration of each letter

    def __post_init__(self) -> None:
        self.signature = key_alterations(self.key.fifths)

    def token(self, pitch: int, tied_in: bool = False) -> str:
        letter, alter = spell(pitch, self.key.fifths, self.key.tonic_pc)
        octave = (pitch - alter - NATURAL_PC[letter]) // 12 - 1
        seen = self.written.get(letter)
        if letter in self.unsettled:
            needed = True
        elif not seen:
            needed = alter != self.signature[letter]
        else:
            needed = seen != {(octave, alter)}
        acc = ""
        if needed:
            acc = ACCIDENTAL[alter]
            if tied_in:
                self.unsettled.add(letter)
            else:
                self.unsettled.discard(letter)
                self.written.setdefault(letter, set()).add((octave, alter))
        return acc + _note_name(letter, octave)


def _note_name(letter: str, octave: int) -> str:
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def bar_text(
    items: Sequence[Item],
    meter: Meter,
    key: Key,
    unit: Fraction,
    offset: Fraction = Fraction(0),
    fields: Sequence[tuple[Fraction, str]] = (),
) -> str:
    """One voice's bar as ABC (without bar lines). ``offset`` is where in a full bar the items
    start (a pickup bar starts late), so beats and tuplets line up with the full bars;
    ``fields`` are inline fields (where in the bar, text), each written before the first note
    or rest that starts at or after its place."""
    acc = _Accidentals(key)
    if offset:
        items = [replace(it, start=it.start + offset) for it in items]
    pending = sorted((at + offset, text) for at, text in fields)
    for at, _ in pending:
        items = _split_at(items, at)
    groups = _tuplet_groups(list(items))
    # Notes are beamed by beats, in 4/4 by half bars ("GABc dBAG"), as tune books do.
    beam = 2 * meter.beat if meter == Meter(4, 4) else meter.beat
    parts: list[str] = []
    previous: Fraction | None = None
    for group in groups:
        if isinstance(group, _Tuplet):
            text = group.text(acc, meter, unit)
            length = group.span
        else:
            text = _item_text(group, acc, meter, unit, Fraction(1))
            length = group.length
        if previous is not None and (_on_multiple(group.start, beam) or previous >= meter.beat):
            parts.append(" ")
        while pending and pending[0][0] <= group.start:
            parts.append(pending.pop(0)[1])
        parts.append(text)
        previous = length
    parts += [text for _, text in pending]  # after the bar's last note: before its bar line
    return "".join(parts)


def _on_multiple(x: Fraction, step: Fraction) -> bool:
    """``x % step == 0``, in integers (for every note)."""
    return (x.numerator * step.denominator) % (x.denominator * step.numerator) == 0


def _split_at(items: Sequence[Item], at: Fraction) -> list[Item]:
    """The items with the one sounding across ``at`` cut there (a note into two tied ones), so
    that an inline field can be written where it takes effect."""
    out: list[Item] = []
    for it in items:
        if it.start < at < it.start + it.length:
            head = replace(it, length=at - it.start, tie=bool(it.pitches))
            tail = replace(
                it,
                start=at,
                length=it.start + it.length - at,
                graces=(),
                grace_length=Fraction(0),
                tied_in=bool(it.pitches),
            )
            out += [head, tail]
        else:
            out.append(it)
    return out


def _item_text(item: Item, acc: _Accidentals, meter: Meter, unit: Fraction, scale) -> str:
    """An item, split into tied notes where its length is not one written note; ``scale`` is
    the tuplet ratio p/q applied to written lengths."""
    pieces = _pieces(item.start, item.length, meter.beat, unit, scale)
    if item.graces and pieces[0][0] < 2 * len(item.graces) * item.grace_length:
        # Playback gives graces at most half of the note they lead into, and that note is
        # only the first of the tied pieces: write the graces out as short notes instead.
        lead = len(item.graces) * item.grace_length
        notes = [
            Item(item.start + i * item.grace_length, item.grace_length, (g,))
            for i, g in enumerate(item.graces)
        ]
        if item.length > lead:
            notes.append(
                replace(item, start=item.start + lead, length=item.length - lead, graces=())
            )
        # (else the main note starts in the next bar, as a plain note there)
        return "".join(_item_text(it, acc, meter, unit, scale) for it in notes)
    out = []
    for k, (_, length) in enumerate(pieces):
        text = ""
        if k == 0 and item.graces:
            g_units = item.grace_length * 4 / (4 * unit)
            grace = "".join(acc.token(p) + length_text(g_units) for p in item.graces)
            text += "{" + grace + "}"
        tied_in = item.tied_in if k == 0 else True
        if k == 0 and item.staccato and item.pitches:
            text += "."
        if k == 0 and not tied_in and len(item.pitches) == 1 and isinstance(item, TrilledItem):
            text += "T"
        if not item.pitches:
            text += "z" + length
        elif len(item.pitches) == 1:
            text += acc.token(item.pitches[0], tied_in) + length
        else:
            notes = "".join(acc.token(p, tied_in) for p in item.pitches)
            text += "[" + notes + "]" + length
        last = k == len(pieces) - 1
        if item.pitches and (not last or item.tie):
            text += "-"
        out.append(text)
    return "".join(out)


@dataclass(slots=True)
class _Tuplet:
    start: Fraction
    span: Fraction
    p: int
    q: int
    items: list[Item]

    def text(self, acc: _Accidentals, meter: Meter, unit: Fraction) -> str:
        """``(p:q:r`` and the notes: r counts the written notes, tied pieces included."""
        scale = Fraction(self.p, self.q)
        body = "".join(_item_text(it, acc, meter, unit, scale) for it in self.items)
        notes = sum(_note_count(it, meter, unit, scale) for it in self.items)
        if (self.p, self.q, notes) == (3, 2, 3):
            return "(3" + body  # the plain triplet, as everyone writes it
        return f"({self.p}:{self.q}:{notes}" + body


def _note_count(item: Item, meter: Meter, unit: Fraction, scale: Fraction) -> int:
    return len(_pieces(item.start, item.length, meter.beat, unit, scale))


def _tuplet_groups(items: list[Item]) -> list:
    """Items grouped into tuplets where their times are not binary fractions of a beat."""
    odd = [it for it in items if not (is_binary(it.start) and is_binary(it.length))]
    if not odd:
        return items
    points = sorted(
        {t for it in items for t in (it.start, it.start + it.length) if not is_binary(t)}
    )
    spans: list[tuple[Fraction, Fraction, int]] = []
    end_of_bar = items[-1].start + items[-1].length if items else Fraction(0)
    orphans: set[Fraction] = set()
    bounds = _Bounds(items)
    # Points come in time order and a span starts at or before the point that found it, so
    # a later point is inside a span found before exactly when it is before the furthest end.
    reach: Fraction | None = None
    for t in points:
        if reach is not None and t < reach:
            continue
        found = _span_for(t, bounds, end_of_bar)
        if found is None:
            orphans.add(t)
            continue
        spans.append(found)
        reach = found[0] + found[1] if reach is None else max(reach, found[0] + found[1])
    spans.sort()
    # Overlapping spans cannot both be tuplets: keep the first.
    kept: list[tuple[Fraction, Fraction, int]] = []
    for s0, s, p in spans:
        if kept and s0 < kept[-1][0] + kept[-1][1]:
            continue
        kept.append((s0, s, p))
    kept_starts = [s0 for s0, _, _ in kept]
    orphans |= {t for t in points if _span_at(kept, kept_starts, t, strict=True) is None}
    if orphans:
        # No tuplet holds these times (a performance snapped badly): move them to the nearest
        # 64th rather than write lengths no reader takes.
        return _tuplet_groups(_moved(items, orphans))
    cuts = sorted({x for s0, s, _ in kept for x in (s0, s0 + s)})
    pieces = _cut_items(items, cuts)
    out: list = []
    for it in pieces:
        home = _span_at(kept, kept_starts, it.start, strict=False)
        if home is None:
            out.append(it)
            continue
        s0, s, p = home
        if out and isinstance(out[-1], _Tuplet) and out[-1].start == s0:
            out[-1].items.append(it)
        else:
            q = 1 << (p.bit_length() - 1)
            out.append(_Tuplet(s0, s, p, q, [it]))
    for group in out:
        if isinstance(group, _Tuplet):
            # p notes in the time of q (q the power of two below p), unless the written
            # notes would be shorter than a 64th, which abc2xml rounds: then in the time of 2.
            shortest = min(it.length for it in group.items)
            while group.q > 2 and shortest * group.p / group.q < MIN_WRITTEN:
                group.q //= 2
    return out


def _span_at(kept: list, starts: list[Fraction], t: Fraction, strict: bool):
    """The span of ``kept`` (sorted, not overlapping) that holds ``t``: strictly inside it, or
    from its start on; None when none does."""
    i = (bisect.bisect_left if strict else bisect.bisect_right)(starts, t) - 1
    if i >= 0 and t < kept[i][0] + kept[i][1]:
        return kept[i]
    return None


def _moved(items: list[Item], points: set[Fraction]) -> list[Item]:
    def move(t: Fraction) -> Fraction:
        return Fraction(round(t * 16), 16) if t in points else t

    out = []
    for it in items:
        start, end = move(it.start), move(it.start + it.length)
        if end > start:
            out.append(replace(it, start=start, length=end - start))
    return out


class _Bounds:
    """Where a bar's items start and end, searched by bisection: a bar of a long meter may
    hold thousands of items, and each tuplet span asks about them."""

    def __init__(self, items: list[Item]):
        by_start = sorted(items, key=lambda it: it.start)
        self.starts = [it.start for it in by_start]
        # the latest end among the items starting before each one, that one included
        self.reach = list(itertools.accumulate((it.start + it.length for it in by_start), max))
        self.times = sorted({x for it in items for x in (it.start, it.start + it.length)})

    def crossed(self, edge: Fraction) -> bool:
        """Whether an item sounds across ``edge``: starts before it and ends after it."""
        before = bisect.bisect_left(self.starts, edge)
        return before > 0 and self.reach[before - 1] > edge

    def between(self, a: Fraction, b: Fraction) -> list[Fraction]:
        """The items' starts and ends strictly between ``a`` and ``b``."""
        return self.times[bisect.bisect_right(self.times, a) : bisect.bisect_left(self.times, b)]


def _span_for(t: Fraction, bounds: _Bounds, bar_end: Fraction):
    """The smallest aligned span around ``t`` whose inner times all fit one tuplet lattice;
    spans that no note crosses first (a tuplet that holds whole notes), then any."""
    for clean in (True, False):
        for s in SPANS:
            s0 = (t // s) * s
            if s0 + s > bar_end or not is_binary(s0):
                continue
            if clean and (bounds.crossed(s0) or bounds.crossed(s0 + s)):
                continue
            inner = bounds.between(s0, s0 + s)
            for p in TUPLET_SIZES:
                if s > MAX_TUPLET_SPAN[p]:
                    continue
                if all(is_binary((x - s0) / s * p) for x in inner):
                    return (s0, s, p)
    return None


def _cut_items(items: list[Item], cuts: list[Fraction]) -> list[Item]:
    out = []
    for it in items:
        end = it.start + it.length
        inside = cuts[bisect.bisect_right(cuts, it.start) : bisect.bisect_left(cuts, end)]
        pieces = [it.start, *inside, end]
        for k in range(len(pieces) - 1):
            last = k == len(pieces) - 2
            out.append(
                replace(
                    it,
                    start=pieces[k],
                    length=pieces[k + 1] - pieces[k],
                    tie=it.tie if last else bool(it.pitches),
                    graces=it.graces if k == 0 else (),
                    grace_length=it.grace_length if k == 0 else Fraction(0),
                    tied_in=it.tied_in if k == 0 else bool(it.pitches),
                )
            )
    return out


def choose_unit(lengths: Sequence[Fraction]) -> Fraction:
    """The L: (1/4, 1/8 or 1/16 of a whole note) that writes these note lengths (in beats)
    with the fewest length characters; 1/8 when it is close."""
    counts = collections.Counter(lengths)  # (each distinct length costs the same every time)
    best, best_cost = Fraction(1, 8), None
    for unit in (Fraction(1, 8), Fraction(1, 16), Fraction(1, 4)):
        cost = 0
        for x, count in counts.items():
            units = x / (4 * unit)
            cost += count * (len(length_text(units)) if single_length(units) else 4)
        if unit != Fraction(1, 8):
            cost += 0.1 * len(lengths)  # a small preference for the usual L:1/8
        if best_cost is None or cost < best_cost:
            best, best_cost = unit, cost
    return best
