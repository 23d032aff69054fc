"""The native ABC reader: a tune's text straight to a score of measures
(:mod:`~abcmidi_bgpt.symbolic.abc_to_midi.score`), which playback plays out as it does abc2xml's.

It reads what sounds in ABC 2.1 (fields in the header and inline, voices and overlays, notes
with accidentals carried through the bar, lengths, broken rhythm, tuplets, ties, grace notes,
chords, rests and multi-bar rests, bar lines, repeats and endings, parts, dynamics, chord
symbols, tempo, %%MIDI programs) and passes over the rest. It never evaluates text and never
opens a file named in a tune.

Where the standard leaves room, it does what the abc2xml path did (the converter's output must
not change with the reader behind it): times count 161,280 divisions a quarter note, note lengths
below 1/64 round to 1/64ths, grace notes are at most eighths, a tuplet does not cross a bar line,
a tie carries the accidental of its first note, and the corrections of
:mod:`abcmidi_bgpt.formats.abc.standard` hold (default L: by the meter, (5 (7 (9 in compound
meters, ending ranges, K:HP, K:... exp).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.text import AbcTune
from abcmidi_bgpt.formats.abc.tokens import Token, tokens
from abcmidi_bgpt.symbolic.abc_to_midi.score import (
    DYNAMICS,
    Measure,
    NoteEvent,
    Part,
    chord_pitches,
    place_graces,
)

DIVISIONS = 2520 * 64  # a quarter note; exact for 3-, 5-, 7- and 9-tuplets and '>>>'
MAX_NOTE_BEATS = 256  # longer notes are taken as typos ("A99999")
MAX_TRANSPOSE = 127
MAX_ENDING_NUMBERS = 100
MAX_SYMBOL_WARNINGS = (
    10  # per voice: a text that is not music says so once or twice, not 1,000 times
)
_STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALTER = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_SHARP_ORDER = "FCGDAEB"
_MINOR_MODES = {"min", "m", "aeo", "dor", "phr", "loc"}
_TYPE_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # abc2xml's note types: 16/d quarters
UNITS = DIVISIONS * 16  # playback's units a quarter note: 16 to a division, for grace notes


def _chord_kinds() -> dict[str, str]:
    """Chord-symbol suffixes as abc2xml names their MusicXML kind."""
    maj, mnr, aug, dim, dom = "major", "minor", "augmented", "diminished", "dominant"
    kinds = dict(zip(["ma", "Maj", "maj", "M", "mi", "min", "m", "aug", "dim", "o", "+", "-"],
                     [maj, maj, maj, maj, mnr, mnr, mnr, aug, dim, dim, aug, mnr], strict=True))  # fmt: skip
    sevenths = [dom] + [maj + "-seventh"] * 4 + [mnr + "-seventh"] * 3 + [dim + "-seventh"] * 2
    sevenths += [mnr + "-seventh", aug + "-seventh", aug + "-seventh", "half-diminished"] * 1
    sevenths += ["half-diminished"]
    kinds.update(zip(["7", "ma7", "Maj7", "M7", "maj7", "mi7", "min7", "m7", "dim7", "o7", "-7", "aug7", "+7", "m7b5", "mi7b5"],
                     sevenths, strict=True))  # fmt: skip
    kinds.update(zip(["6", "ma6", "M6", "mi6", "min6", "m6"], [maj + "-sixth"] * 3 + [mnr + "-sixth"] * 3,
                     strict=True))  # fmt: skip
    for n, word in (("9", "-ninth"), ("11", "-11th"), ("13", "-13th")):
        names = f"{n} ma{n} M{n} maj{n} Maj{n} mi{n} min{n} m{n}".split()
        kinds.update(zip(names, [dom + word] + [maj + word] * 4 + [mnr + word] * 3, strict=True))
    kinds.update({"sus": "suspended-fourth", "sus4": "suspended-fourth",
                  "sus2": "suspended-second"})  # fmt: skip
    return kinds


CHORD_KINDS = _chord_kinds()
_KIND_WORDS = "|".join(sorted(map(re.escape, CHORD_KINDS), key=len, reverse=True))
# abc2xml's chord-symbol grammar: root, kind, degrees, bass, and a parenthesised remark.
_CHORD_SYMBOL = re.compile(
    rf"(?P<root>[A-G])(?P<root_acc>[#b=])?"
    rf"(?P<kind>{_KIND_WORDS})?(?P<sus>sus[24]?)?"
    rf"(?:[#b=]?(?:2|4|5|6|7|9|11|13))*"
    rf"(?:/(?P<bass>[A-G])(?P<bass_acc>[#b=])?)?"
    rf"(?:\([^)]*\))?"
)
_FIELD_LINE = re.compile(r"([A-Zw]):(.*)|\[([A-Zw]):([^\]]*)\]")
_DIRECTIVE = re.compile(r"^%%(?=[^%])")
_TEXT_BLOCK = re.compile(r"%%(begin|end)(?:text|ps)\b")
_VOICE_FIELD = re.compile(r"\[V:\s*(\S*?)(?:[ \]]|$)")
_TEMPO = re.compile(r"(\d)/(\d\d?)\s*=\s*(\d[.\d]*)|(\d[.\d]*)")
# Tempo words of a Q: field without a number (abc2xml's table).
TEMPO_WORDS = {"larghissimo": 40, "adagissimo": 44, "lentissimo": 48, "largo": 56, "adagio": 59,
               "lento": 62, "larghetto": 66, "adagietto": 76, "andante": 88, "andantino": 96,
               "moderato": 104, "allegretto": 112, "allegro": 120, "vivace": 168, "vivo": 180,
               "presto": 192, "allegrissimo": 208, "vivacissimo": 220, "prestissimo": 240}  # fmt: skip


@dataclass(slots=True)
class ReadScore:
    """A tune read into parts, ready for playback."""

    parts: list[Part]
    upq: int  # units a quarter note
    part_order: str = ""
    sections: list[str] = field(default_factory=list)
    title: str = ""
    warnings: list[str] = field(default_factory=list)
    unreadable: int = 0  # symbols that could not be read (each also a warning)


# --- the text: header fields and the music of each voice -------------------------------------


def split_voices(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The tune's header fields up to K: (letter, value), and each voice's music as one string
    of tokens, fields after K: written inline, in the order the voices first appear."""
    music_lines: list[str] = []
    pending_field = ""
    current = ""
    started = False
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line and started:
            break  # an empty line ends the tune
        block = _TEXT_BLOCK.match(line)
        if block:
            in_block = block.group(1) == "begin"
            continue
        if in_block:  # typeset text or PostScript, not music
            continue
        if line.startswith("X:"):
            if started:
                break
            started = True
        line = _DIRECTIVE.sub("I:", line)
        line = line.split("%", 1)[0] if "%" in line else line
        while line.endswith("*") and not line.startswith(("w:", "+:")):
            line = line[:-1]
        if not line or line.startswith("W:"):
            continue
        if line.startswith("+:"):
            pending_field += line[2:]
            continue
        field_match = _FIELD_LINE.fullmatch(line)
        if field_match:
            if pending_field:
                current += _inline(pending_field)
            pending_field = (line[1:-1] if line.startswith("[") else line).rstrip("\\")
            continue
        if not started:
            continue
        if pending_field:
            current += _inline(pending_field)
            pending_field = ""
        continues = line.endswith("\\")
        current += line.rstrip("\\")
        if not continues:
            music_lines.append(current)
            current = ""
    if pending_field:
        current += _inline(pending_field)
    if current:
        music_lines.append(current)
    if not music_lines:
        return [], []
    first = music_lines[0]
    key = re.search(r"\[K:[^\]]*\]", first)
    if key is None:
        header_text, music_lines[0] = first, ""
    else:
        header_text, music_lines[0] = first[: key.end()], first[key.end() :]
    header: list[tuple[str, str]] = []
    voice_defs = []
    for m in re.finditer(r"\[([A-Za-z]):([^\]]*)\]", header_text):
        letter, value = m.group(1), m.group(2).replace("%5d", "]")
        if letter == "V" or (letter == "I" and value.startswith(("MIDI", "percmap"))):
            voice_defs.append(m.group(0))
        else:
            header.append((letter, value.strip()))
    body = "".join(voice_defs) + "\n".join(music_lines)
    return header, _voices(body)


def _inline(field_text: str) -> str:
    return "[" + field_text.replace("]", "%5d") + "]"


def _voices(body: str) -> list[tuple[str, str]]:
    pieces = re.split(r"(\[V:[^\]]*\])", body)
    if len(pieces) == 1 or re.sub(r"\[[A-Z]:[^\]]*\]", "", pieces[0]).strip():
        pieces = re.split(r"(\[V:[^\]]*\])", "[V:1]" + body)
    leading = pieces[0]
    parts_marks = "".join(re.findall(r"\[P:.\]", leading))
    music: dict[str, list[str]] = {}
    for i in range(1, len(pieces), 2):
        field_text, text = pieces[i], pieces[i + 1]
        m = _VOICE_FIELD.match(field_text + " ")
        vid = m.group(1) if m and m.group(1) else "1"
        if not music and parts_marks:
            text = parts_marks + text
        music.setdefault(vid, []).extend([field_text, text])
    return [(vid, _multi_bar_rests("".join(chunks))) for vid, chunks in music.items()]


def _multi_bar_rests(music: str) -> str:
    """'Z4' -> 'Z|Z|Z|Z', as abc2xml reads multi-bar rests; spaces inside bar lines closed up."""
    music = re.sub(r"([XZ])(\d+)", lambda m: "|".join([m.group(1)] * min(int(m.group(2)), 1000)),
                   music)  # fmt: skip
    return re.sub(r"([:|][ |\[\]]+[:|])", lambda m: m.group(1).replace(" ", ""), music)


# --- reading -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Settings:
    """What the header sets for every voice."""

    unit: tuple[int, int] = (1, 8)
    meter: tuple[int, int] | None = None
    meter_text: str = ""
    key: str = ""
    tempo: str = ""
    title: str = ""
    part_order: str = ""


def read_tune(tune: AbcTune) -> ReadScore:
    """Read one tune (its file header included) into a score."""
    label = tune.label
    header, voices = split_voices(tune.full_text)
    settings = _Settings()
    titles = []
    for letter, value in header:
        if not value:
            continue
        if letter == "T":
            titles.append(value)
        elif letter == "L":
            settings.unit = _unit(value)
        elif letter == "M":
            settings.meter_text = value
        elif letter == "K":
            settings.key = value
        elif letter == "Q":
            settings.tempo = value
        elif letter == "P":
            settings.part_order = value
    settings.title = titles[0] if titles else ""
    if not any(letter == "L" and value for letter, value in header):
        numbers = re.match(r"\s*(\d{1,6})\s*/\s*(\d+)", settings.meter_text)
        if numbers and int(numbers.group(1)) / max(1, int(numbers.group(2))) < 0.75:
            settings.unit = (1, 16)
    warnings: list[str] = []
    readers = []
    for index, (_vid, music) in enumerate(voices):
        reader = _VoiceReader(settings, label, warnings, first=index == 0)
        reader.read(music)
        readers.append(reader)
    durations = [e.duration for r in readers for raw in r.raw for e in raw.events]
    if not any(e.pitch is not None for r in readers for raw in r.raw for e in raw.events):
        raise ConversionError("the tune has no notes", label)
    deler = math.gcd(21, *durations)
    upq = UNITS // deler
    parts = [Part(_measures(r.raw, deler, upq, label), r.name, r.program) for r in readers]
    sections = readers[0].sections if readers else []
    unreadable = sum(r.unreadable for r in readers)
    return ReadScore(
        parts, upq, settings.part_order, sections, settings.title, warnings, unreadable
    )


def _measures(raws: list[_RawMeasure], deler: int, upq: int, label: str) -> list[Measure]:
    """The measures in playback's units (16 to a division, over the durations' common divisor,
    as abc2xml reduces its divisions), grace notes given their time as playback gives it."""
    measures = []
    for raw in raws:
        m = raw.measure
        m.length = raw.length * 16 // deler
        m.tempos = [(p * 16 // deler, q) for p, q in m.tempos]
        m.dynamics = sorted(((p * 16 // deler, v) for p, v in m.dynamics), key=lambda d: d[0])
        m.harmonies = [(p * 16 // deler, h) for p, h in m.harmonies]
        shift: dict[str, int] = {}
        for ev in raw.events:
            onset, duration = ev.pos * 16 // deler, ev.duration * 16 // deler
            if duration > MAX_NOTE_BEATS * upq:
                raise ConversionError(
                    f"bar {m.number}: a note of {duration // upq} beats (the limit is "
                    f"{MAX_NOTE_BEATS}); absurd duration",
                    label,
                )
            if not ev.in_chord:
                shift[ev.voice] = 0
                if ev.lead and ev.pitch is not None:
                    shift[ev.voice] = place_graces(m, ev.lead, onset, duration, ev.voice, upq)
            if ev.pitch is not None:
                taken = shift.get(ev.voice, 0)
                m.notes.append(
                    NoteEvent(onset + taken, ev.voice, ev.pitch, duration - taken, ev.tie)
                )
        m.notes.sort(key=lambda e: (e.pos, e.pitch))
        measures.append(m)
    return measures


def _unit(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", value)
    if not m or int(m.group(2)) not in _TYPE_DENOMINATORS or int(m.group(1)) == 0:
        return (1, 8)
    return int(m.group(1)), int(m.group(2))


def _meter(value: str) -> tuple[tuple[int, int] | None, tuple[int, int]]:
    """(the meter as playback records it, or None; the length of a bar as a fraction of a
    whole note, for measure rests)."""
    value = value.strip()
    if value == "none" or not value:
        return None, (4, 4)
    if value == "C":
        value = "4/4"
    elif value == "C|":
        value = "2/2"
    if "/" not in value:  # 'M:3' and the like: no ABC meter; played as free time
        return None, (4, 4)
    beats, _, beat_type = value.partition("/")
    beats = beats.replace(".", "+")  # abcm2ps's '2.2.3/8' groups beats as '2+2+3/8' does
    beat_type = beat_type.split("/")[0]
    try:
        numerator = sum(int(b) for b in beats.replace("(", "").replace(")", "").split("+"))
        denominator = int(beat_type)
    except ValueError:
        return (4, 4), (4, 4)
    if denominator <= 0 or numerator <= 0:
        return (4, 4), (4, 4)
    g = math.gcd(numerator, denominator)
    bar = (numerator // g, denominator // g)
    if denominator & (denominator - 1) or numerator >= 256:
        return None, bar
    return (numerator, denominator), bar


def _key(value: str) -> tuple[tuple[int, bool] | None, dict[str, int] | None]:
    """(fifths and minor for playback, or None; the key's accidentals by step, or None when the
    field names no key and the old ones hold)."""
    m = re.match(r"\s*([A-G][#b]?)\s*([a-zA-Z]*)", value)
    explicit = re.search(r"\s((\s?[=^_][A-Ga-g])+)", " " + value)
    alts: dict[str, int] | None = None
    key = None
    if re.match(r"\s*H[Pp](?![A-Za-z])", value):  # the pipes' scale: F#, C#, G natural
        m = re.match(r"(\s*)(A)()", " A")
        key, alts = (2, False), {"F": 1, "C": 1}
    elif m and re.search(r"\bexp\b", value):  # exactly the accidentals listed
        key, alts = (0, False), {}
    elif m:
        tonic, mode = m.group(1), m.group(2).lower()[:3]
        mode = mode if mode in _OFFSET else "maj"
        fifths = _SHARPNESS.index(tonic) - _OFFSET[mode]
        alts = _signature(fifths)
        key = (max(-7, min(7, fifths)), mode in _MINOR_MODES)
    elif value.startswith("none") or value == "":
        key, alts = (0, False), {}
    if explicit:
        alts = dict(alts or {})
        for acc_step in re.findall(r"[=^_][A-Ga-g]", explicit.group(1)):
            alts[acc_step[1].upper()] = _ALTER[acc_step[0]]
        alts = {k: v for k, v in alts.items() if v}
        key = None  # written as steps, not fifths: playback records no key change
    return key, alts


_SHARPNESS = ["Fb", "Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#",
              "C#", "G#", "D#", "A#", "E#", "B#"]  # fmt: skip
_OFFSET = {"maj": 8, "m": 11, "min": 11, "mix": 9, "dor": 10, "phr": 12, "lyd": 7, "loc": 13,
           "aeo": 11}  # fmt: skip


def _signature(fifths: int) -> dict[str, int]:
    if fifths >= 0:
        return {step: 1 for step in _SHARP_ORDER[:fifths]}
    return {step: -1 for step in _SHARP_ORDER[::-1][:-fifths]}


# --- one voice: tokens into bars -------------------------------------------------------------


@dataclass(slots=True)
class _Note:
    """One written note: accidental, step (its case says the octave), octave marks, length in
    units of L:, and whether a tie starts on it."""

    accidental: str
    step: str
    octave: int
    num: int
    den: int
    tie: bool = False


@dataclass(slots=True)
class _Stem:
    """A note, a chord or a rest as written, with its length (a chord's outer length; a note's
    own length is on its _Note)."""

    kind: str  # note, chord, rest, measure-rest
    notes: list[_Note] = field(default_factory=list)
    num: int = 1
    den: int = 1


@dataclass(slots=True)
class _Item:
    """One thing of a bar, in order: kind 'stem' (with ``stem``), 'graces' (``graces``), or a
    sign with its ``value``: 'tuplet', 'broken', 'field', 'text', 'deco', 'junk'."""

    kind: str
    stem: _Stem | None = None
    graces: list[_Stem] = field(default_factory=list)
    value: object = None


@dataclass(slots=True)
class _Bar:
    items: list[_Item] = field(default_factory=list)
    forward: bool = False
    ending: str = ""  # the numbers of an ending that starts here
    right: str = ""  # the bar line that ends it ('&': an overlay follows)


def read_bars(music: str) -> list[_Bar]:
    """A voice's music grouped into bars as abc2xml's grammar groups it: a bar ends at a right
    bar line; one at the start of a bar may open it with a start repeat or an ending."""
    toks = tokens(music)
    bars: list[_Bar] = []
    bar = _Bar()
    started = False  # something other than an inline field has been read into this bar
    chord: _Stem | None = None
    graces: list[_Stem] | None = None
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        kind, m = t.kind, t.match
        if kind == "field":
            value = m.group("field_value").replace("%5d", "]").strip()
            bar.items.append(_Item("field", value=(m.group("field_letter"), value)))
            i += 1
            continue
        if not started and kind == "bar" and t.text.startswith(":"):
            # ':|' where a bar starts: ':' opens it with a start repeat, '|' closes it
            bar.forward = True
            rest = t.text.lstrip(":")
            if rest:
                bar.right = rest
                bars.append(bar)
                bar, started, graces = _Bar(), False, None
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
            bar, started, graces = _Bar(), False, None
            if kind != "ending":  # '[1' with no bar line before it starts the next bar
                i += 1
            continue
        started = True
        if kind == "note":
            note = _note(m)
            if chord is not None:
                chord.notes.append(note)
            elif graces is not None:
                graces.append(_Stem("note", [note]))
            else:
                bar.items.append(_Item("stem", _Stem("note", [note])))
        elif kind == "rest":
            num, den = _length(m.group("rest_num"), m.group("rest_slashes"), m.group("rest_den"))
            rest = _Stem("measure-rest" if m.group("rest_kind") in "ZX" else "rest", [], num, den)
            if chord is not None:
                if not chord.notes and chord.kind == "chord":
                    chord.kind, chord.num, chord.den = "chord-rest", num, den
            elif graces is None:
                bar.items.append(_Item("stem", rest))
        elif kind == "chord_open":
            chord = _Stem("chord")
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
                        bar.items.append(_Item("stem", chord))
                chord = None
        elif kind == "grace_open":
            graces = []
        elif kind == "grace_close":
            if graces is not None:
                bar.items.append(_Item("graces", graces=graces))
            graces = None
        elif kind == "tie":
            _tie_last(chord, graces, bar.items)
        elif kind == "broken":
            if chord is None:
                bar.items.append(_Item("broken", value=t.text))
            else:  # '<' or '>' inside a chord means nothing (abc2xml skips it)
                bar.items.append(_Item("junk", value=t.text))
        elif kind == "tuplet":
            bar.items.append(_Item("tuplet", value=_tuplet(m)))
        elif kind == "text":
            bar.items.append(_Item("text", value=m.group("text_value")))
        elif kind == "deco":
            name = m.group("deco_bang") or m.group("deco_plus") or "plus"
            bar.items.append(_Item("deco", value=name))
        elif kind == "symbol":
            bar.items.append(_Item("deco", value=t.text))
        elif kind in ("junk", "digits", "bar", "colon", "ending", "overlay"):
            bar.items.append(_Item("junk", value=t.text))
        i += 1
    if bar.items or started:
        bars.append(bar)
    return bars


def _note(m: re.Match) -> _Note:
    octave = m.group("octave")
    num, den = _length(m.group("num"), m.group("slashes"), m.group("den"))
    marks = octave.count("'") - octave.count(",")
    return _Note(m.group("accidental") or "", m.group("step"), marks, num, den)


def _tie_last(chord: _Stem | None, graces: list[_Stem] | None, items: list[_Item]) -> None:
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
    num = int(num_text) if num_text and len(num_text) <= 6 else 1
    d = int(den_text) if den_text and len(den_text) <= 6 else 2
    den = (d << min(len(slashes or ""), 12)) >> 1
    return (num or 1, den or 1)


def _ending_text(t: Token) -> str:
    return t.match.group("ending_numbers") if t.kind == "ending" else t.text


# --- one voice: bars into measures -----------------------------------------------------------


@dataclass(slots=True)
class _Event:
    """A note or rest placed in its measure, in divisions, before grace notes take their time."""

    pos: int
    voice: str
    pitch: int | None  # None: a rest (or a note outside the MIDI range, which is silent)
    duration: int
    tie: bool
    in_chord: bool  # a chord note after the first (it does not move time on)
    lead: list[tuple[int, Fraction]] | None = None  # grace notes before it: (pitch, quarters)


@dataclass(slots=True)
class _RawMeasure:
    measure: Measure
    events: list[_Event] = field(default_factory=list)
    length: int = 0  # divisions


class _VoiceReader:
    """Reads one voice into measures (see the module notes for the conventions)."""

    def __init__(self, settings: _Settings, label: str, warnings: list[str], first: bool):
        self.settings = settings
        self.label = label
        self.warnings = warnings
        self.first = first
        self.unit = settings.unit
        self.bar_length = (4, 4)  # a whole bar, for measure rests (Z, X)
        self.key_alts: dict[str, int] = {}
        self.gtrans = 0  # octaves, from the clef
        self.transpose = 0  # semitones, from transpose=
        self.measure_alts: dict[tuple[str, int], int] = {}
        self.ties: dict[tuple[str, int, int], int] = {}  # (step as written, marks, overlay)
        self.raw: list[_RawMeasure] = []
        self.sections: list[str] = []
        self.section = ""
        self.program: int | None = None
        self.name = ""
        self.ending: frozenset[int] | None = None  # the ending open now
        self.meter_text = settings.meter_text
        self.unreadable = 0

    def read(self, music: str, voice_def: str = "") -> list[_RawMeasure]:
        bars = read_bars(music)
        overlay = 0
        previous: _Bar | None = None
        for index, bar in enumerate(bars):
            overlay = overlay + 1 if previous is not None and previous.right == "&" else 0
            fields = self._first_fields() if index == 0 else []
            self._bar(bar, fields, overlay)
            previous = bar
        return self.raw

    def _first_fields(self) -> list[tuple[str, str]]:
        s = self.settings
        fields = [("K", s.key or "C treble"), ("M", s.meter_text or "4/4")]
        if self.first and s.tempo:
            fields.append(("Q", s.tempo))
        return fields

    # -- one bar --

    def _bar(self, bar: _Bar, first_fields: list[tuple[str, str]], overlay: int) -> None:
        if overlay and self.raw:
            raw = self.raw[-1]
        else:
            raw = _RawMeasure(Measure(str(len(self.raw) + 1)))
            self.raw.append(raw)
        m = raw.measure
        voice = str(overlay + 1)
        self.measure_alts = {}
        _broken_rhythm(bar.items)
        tuplet_left, tuplet = -1, (1, 1)
        pos = last_onset = 0
        lead: list[tuple[int, Fraction]] = []
        own_label = trailing_label = None
        events: list[_Event] = []
        for letter, value in first_fields:
            self._field(letter, value, m, pos)
        if bar.forward or bar.ending:
            if bar.forward:
                m.forward = True
            self.ending = _ending_numbers(bar.ending) if bar.ending else None
            if bar.ending:
                m.ending = self.ending
        for item in bar.items:
            kind = item.kind
            if kind == "stem":
                stem = item.stem
                first = True
                if trailing_label is not None:
                    own_label, trailing_label = own_label or trailing_label, None
                for note, num, den in _stem_notes(stem):
                    if first and tuplet_left >= 0:
                        tuplet_left -= 1
                    length = self._divisions(num, den, stem.kind == "measure-rest")
                    if tuplet_left >= 0:
                        length = length * tuplet[1] // tuplet[0]
                    pitch, alter = self._pitch(note, overlay) if note is not None else (None, 0)
                    self._tie(note, alter, overlay, stem if first else None)
                    onset = pos if first else last_onset
                    event = _Event(onset, voice, pitch, length, bool(note and note.tie), not first)
                    if first:
                        if lead and note is not None:
                            event.lead = lead
                        lead = []
                        last_onset = pos
                        pos += length
                    events.append(event)
                    first = False
            elif kind == "graces":
                if trailing_label is not None:
                    own_label, trailing_label = own_label or trailing_label, None
                for grace in item.graces:
                    for note, num, den in _stem_notes(grace):
                        if note is None:
                            continue
                        pitch, alter = self._pitch(note, overlay)
                        self._tie(note, alter, overlay, None)
                        if pitch is not None:
                            lead.append((pitch, _grace_quarters(num, den, self.unit)))
            elif kind == "tuplet":
                p, q, r = item.value
                if p:
                    if not q:
                        q = 3 if p in (2, 4, 8) else 2
                        if p in (5, 7, 9) and self._compound():
                            q = 3
                    tuplet, tuplet_left = (p, q), r or p
            elif kind == "field":
                letter, value = item.value
                if letter == "P":
                    trailing_label = value
                self._field(letter, value, m, pos)
            elif kind == "text":
                pitches = chord_symbol(item.value)
                if pitches is not None:
                    m.harmonies.append((pos, pitches))
            elif kind == "deco":
                velocity = DYNAMICS.get(str(item.value))
                if velocity is not None:
                    m.dynamics.append((pos, velocity))
            elif kind == "junk":
                self.unreadable += 1
                if self.unreadable <= MAX_SYMBOL_WARNINGS:
                    self.warnings.append(f"bar {m.number}: cannot read {item.value!r}; skipped")
        if overlay and not any(e.pitch is not None for e in events):
            events, pos = [], 0  # an overlay of rests only is dropped, as abc2xml drops it
        raw.events.extend(events)
        raw.length = max(raw.length, pos)
        if not overlay:
            self.sections.append(own_label or self.section)
            self.section = trailing_label or own_label or self.section
        right = bar.right
        if ":" in right:
            m.backward = True
        if self.ending is not None:
            m.ending = m.ending or self.ending
        if right and right != "|" and right != "&":  # a bar line with a style ends an ending
            self.ending = None

    def _compound(self) -> bool:
        """6/8, 9/8, 12/8 (and 6/4, ...): where (5, (7 and (9 take the time of three notes."""
        m = re.match(r"\s*(\d{1,6})\s*/", self.meter_text)
        return bool(m) and int(m.group(1)) % 3 == 0 and int(m.group(1)) > 3

    def _divisions(self, num: int, den: int, measure_rest: bool) -> int:
        if measure_rest:
            num, den = self.bar_length
        else:
            num, den = _simplify(num * self.unit[0], den * self.unit[1])
            if den > 64:
                num, den = _simplify(max(round(64 * num / den), 1), 64)
        return (4 * DIVISIONS * num) // den

    def _pitch(self, note: _Note, overlay: int) -> tuple[int | None, int]:
        """The note's MIDI pitch (None outside 0-127) and its alteration: carried by a tie,
        written, carried through the bar, or the key's."""
        step = note.step.upper()
        octave = (4 if step == note.step else 5) + note.octave + self.gtrans
        tied = self.ties.get((note.step, note.octave, overlay))
        if tied is not None:
            alter = tied
            if note.accidental:
                self.measure_alts[(step, octave)] = _ALTER[note.accidental]
        elif note.accidental:
            alter = _ALTER[note.accidental]
            self.measure_alts[(step, octave)] = alter
        elif (step, octave) in self.measure_alts:
            alter = self.measure_alts[(step, octave)]
        else:
            alter = self.key_alts.get(step, 0)
        midi = 12 * (octave + 1) + _STEP_SEMITONES[step] + alter + self.transpose
        return (midi if 0 <= midi <= 127 else None), alter

    def _tie(self, note: _Note | None, alter: int, overlay: int, chord: _Stem | None) -> None:
        """Close the tie that ends on this note and open the one that starts on it. A note
        that starts a stem also closes the open ties it cannot continue (abc2xml makes them
        slurs): a rest closes them all."""
        if chord is not None:
            keep = {(n.step, n.octave, overlay) for n in chord.notes}
            for key in [k for k in self.ties if k[2] == overlay and k not in keep]:
                del self.ties[key]
        if note is None:
            return
        key = (note.step, note.octave, overlay)
        self.ties.pop(key, None)
        if note.tie:
            self.ties[key] = alter

    def _field(self, letter: str, value: str, m: Measure, pos: int) -> None:
        if not value:
            return
        if letter == "K":
            key, alts = _key(value)
            if alts is not None:
                self.key_alts = alts
            if key is not None:
                m.key = key
            self._clef(value, m)
        elif letter == "M":
            meter, bar = _meter(value)
            if value.strip() != "none":
                self.bar_length = bar
                self.meter_text = value
            if meter is not None:
                m.meter = meter
        elif letter == "L":
            self.unit = _unit(value)
        elif letter == "Q":
            qpm = _tempo(value, self.unit)
            if qpm is not None and 1 <= qpm <= 2000:
                m.tempos.append((pos, qpm))
        elif letter == "V":
            name = re.search(r'(?:name|nm)="([^"]*)"', value)
            if name and not self.name:
                self.name = name.group(1)
            self._clef(value, m)
        elif letter == "I" and value.lower().startswith("midi"):
            program = re.search(r"program *(\d*) +(\d+)", value)
            if program and self.program is None and int(program.group(2)) < 128:
                self.program = int(program.group(2))

    def _clef(self, value: str, m: Measure) -> None:
        value = re.sub(r'(?:name|nm|subname|snm|sname)="[^"]*"', "", value)
        clef = re.search(r"alto1|alto2|alto4|alto|tenor|bass3|bass|treble|perc|none|tab", value)
        middle = re.search(r"(?:^m=| m=|middle=)([A-Ga-g])([,']*)", value)
        octave = re.search(r"octave=([-+]?\d)", value)
        transpose = re.search(r"(?:^t=| t=|transpose=)(-?[\d]+)", value)
        octave_mark = re.search(r"([+-^_])(8|15)", value)
        gtrans = 0
        if middle:
            step, marks = middle.groups()
            number = (4 if step.upper() == step else 5) + (
                len(marks) if "'" in marks else -len(marks)
            )
            gtrans = (3 if step.upper() in "AFD" else 4) - number
        if clef or middle:
            self.gtrans = gtrans
            if octave_mark and octave_mark.group(1) in "+-" and clef:
                shift = (-1 if octave_mark.group(1) == "-" else 1) * (
                    2 if octave_mark.group(2) == "15" else 1
                )
                self.gtrans += shift
        if octave:
            self.gtrans = gtrans + int(octave.group(1))
        if transpose:
            semitones = int(transpose.group(1)) if len(transpose.group(1)) <= 6 else 10**6
            if abs(semitones) > MAX_TRANSPOSE:
                raise ConversionError(
                    f"transposition by {transpose.group(1)[:20]} semitones is out of range "
                    f"(at most {MAX_TRANSPOSE} either way)",
                    self.label,
                )
            self.transpose = semitones


def _stem_notes(stem: _Stem):
    """(note or None for a rest, length num, den) of each note of a stem, the first one
    first; a chord note's length is its own times the chord's."""
    if stem.kind in ("rest", "measure-rest"):
        yield None, stem.num, stem.den
        return
    for note in stem.notes:
        yield note, *_simplify(note.num * stem.num, note.den * stem.den)


def _simplify(a: int, b: int) -> tuple[int, int]:
    g = math.gcd(a, b) or 1
    return a // g, b // g


def _grace_quarters(num: int, den: int, unit: tuple[int, int]) -> Fraction:
    """A grace note's written length in quarter notes, as abc2xml writes its type: never
    longer than an eighth."""
    num, den = _simplify(num * unit[0], den * unit[1])
    if den > 64:
        num, den = _simplify(max(round(64 * num / den), 1), 64)
    num, den = _simplify(num, den * 4)
    dots = 0
    if num == 3:
        dots, den = 1, den // 2
    elif num == 7:
        dots, den = 2, den // 4
    if den <= 16:
        den = 32
    if den not in _TYPE_DENOMINATORS:
        larger = [d for d in _TYPE_DENOMINATORS if d > den]
        den = min(larger) if larger else 256
    quarters = Fraction(16, den)
    return quarters * (1 + Fraction(dots > 0, 2) + Fraction(dots == 2, 4))


def _broken_rhythm(items: list[_Item]) -> None:
    """'A>B': the first note 3/2 of its length, the second 1/2; n signs 2 - 1/2^n and 1/2^n;
    grace notes stepped over; a note that ends a pair does not start another."""
    prev: _Stem | None = None
    sign = ""
    for item in items:
        if item.kind == "stem":
            if sign:
                if prev is not None:
                    n = len(sign)
                    den = 2**n
                    a, b = (2 * den - 1, 1) if sign[0] == ">" else (1, 2 * den - 1)
                    prev.num, prev.den = _simplify(a * prev.num, den * prev.den)
                    second = item.stem
                    second.num, second.den = _simplify(b * second.num, den * second.den)
                sign, prev = "", None
            else:
                prev = item.stem
        elif item.kind == "broken":
            sign = str(item.value)


def _ending_numbers(text: str) -> frozenset[int]:
    numbers: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip()):
        lo, _, hi = part.partition("-")
        if lo.isdigit() and len(lo) <= 6:
            if hi.isdigit() and len(hi) <= 6 and int(hi) - int(lo) < MAX_ENDING_NUMBERS:
                numbers.update(range(int(lo), int(hi) + 1))
            else:
                numbers.add(int(lo))
    return frozenset(numbers) or frozenset({1})


def _tempo(value: str, unit: tuple[int, int]) -> float | None:
    """A Q: field as quarter notes a minute, rounded as abc2xml writes it; None when it gives
    no tempo."""
    numbers = _TEMPO.search(value)
    words = re.search(r'"([^"]*)"', value)
    if not numbers and not words:
        return None
    num, den, per_minute = 1, 4, 120.0
    if words:
        per_minute = TEMPO_WORDS.get(words.group(1).lower().strip(), 120)
    if numbers:
        try:
            if numbers.group(4):
                num, den, per_minute = 1, unit[1], float(numbers.group(4))
            else:
                num, den = int(numbers.group(1)), int(numbers.group(2))
                per_minute = float(numbers.group(3))
        except ValueError:
            return None
        if den == 0:
            return None
        num, den = _simplify(num, den)
    return float(f"{4.0 * num * per_minute / den:.2f}")


def chord_symbol(text: str) -> tuple[int, ...] | None:
    """The notes of a chord symbol ('Am7', 'D/F#', 'G7(b9)'), as abc2xml reads it; None for
    an annotation ('^Allegro', 'fine')."""
    m = _CHORD_SYMBOL.fullmatch(text)
    if m is None:
        return None
    alter = {"#": 1, "b": -1, "=": 0, None: 0}
    root = _STEP_SEMITONES[m.group("root")] + alter[m.group("root_acc")]
    kind = CHORD_KINDS.get(m.group("kind") or m.group("sus") or "", "major")
    bass = None
    if m.group("bass"):
        bass = _STEP_SEMITONES[m.group("bass")] + alter[m.group("bass_acc")]
    return chord_pitches(root, kind, bass)
