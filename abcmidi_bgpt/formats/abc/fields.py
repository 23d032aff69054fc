"""The values of ABC fields, read without evaluating anything: unit lengths (L:), meters (M:),
keys (K:), tempos (Q:), ending numbers, and chord symbols ("Am7", "D/F#")."""

from __future__ import annotations

import math
import re

STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ALTER = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
NOTE_TYPES = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # abc2xml's note types: 16/d quarters each
MAX_ENDING_NUMBERS = 100  # '[1-3' means endings 1, 2 and 3; no ending is played 100 times
_SHARP_ORDER = "FCGDAEB"
_MINOR_MODES = {"min", "m", "aeo", "dor", "phr", "loc"}


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
# 'Q:1/4=120', 'Q:3/8=ca. 60' (an approximate tempo is read as that tempo), or the old 'Q:120'
_TEMPO = re.compile(r"(\d)/(\d\d?)\s*=\s*(?:c(?:irc)?a?\.?\s*|~\s*)?(\d[.\d]*)|(\d[.\d]*)")
# Tempo words of a Q: field without a number (abc2xml's table).
TEMPO_WORDS = {"larghissimo": 40, "adagissimo": 44, "lentissimo": 48, "largo": 56, "adagio": 59,
               "lento": 62, "larghetto": 66, "adagietto": 76, "andante": 88, "andantino": 96,
               "moderato": 104, "allegretto": 112, "allegro": 120, "vivace": 168, "vivo": 180,
               "presto": 192, "allegrissimo": 208, "vivacissimo": 220, "prestissimo": 240}  # fmt: skip


def read_unit(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", value)
    if not m or int(m.group(2)) not in NOTE_TYPES or int(m.group(1)) == 0:
        return (1, 8)
    return int(m.group(1)), int(m.group(2))


def read_meter(value: str) -> tuple[tuple[int, int] | None, tuple[int, int]]:
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


def read_key(value: str) -> tuple[tuple[int, bool] | None, dict[str, int] | None]:
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
            alts[acc_step[1].upper()] = ALTER[acc_step[0]]
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


def ending_numbers(text: str) -> frozenset[int]:
    """'1', '1,3', '1-3', '1 2' -> the passes an ending is played on (both readers: ABC's
    ending, abc2xml's MusicXML number). Plain ASCII numbers of at most six digits; a range of
    :data:`MAX_ENDING_NUMBERS` or more is no range; nothing readable is ending 1."""
    numbers: set[int] = set()
    for part in text.replace(" ", ",").split(","):
        if "-" in part:
            lo, _, hi = part.partition("-")
            first, last = _unsigned_int(lo), _unsigned_int(hi)
            if first is not None and last is not None and last - first < MAX_ENDING_NUMBERS:
                numbers.update(range(first, last + 1))
        elif (number := _unsigned_int(part)) is not None:
            numbers.add(number)
    return frozenset(numbers) or frozenset({1})


def _unsigned_int(text: str) -> int | None:
    """Plain ASCII digits, at most six of them (a seven-digit ending number is no ending)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def read_tempo(value: str, unit: tuple[int, int]) -> float | None:
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
        num, den = _reduce(num, den)
    return float(f"{4.0 * num * per_minute / den:.2f}")


def chord_symbol(text: str) -> tuple[int, str, int | None] | None:
    """A chord symbol ('Am7', 'D/F#', 'G7(b9)') as abc2xml reads it: the root's pitch class,
    the MusicXML kind, the bass's pitch class (None without one); None for an annotation
    ('^Allegro', 'fine')."""
    m = _CHORD_SYMBOL.fullmatch(text)
    if m is None:
        return None
    alter = {"#": 1, "b": -1, "=": 0, None: 0}
    root = STEP_SEMITONES[m.group("root")] + alter[m.group("root_acc")]
    kind = CHORD_KINDS.get(m.group("kind") or m.group("sus") or "", "major")
    bass = None
    if m.group("bass"):
        bass = STEP_SEMITONES[m.group("bass")] + alter[m.group("bass_acc")]
    return root, kind, bass


def _reduce(a: int, b: int) -> tuple[int, int]:
    g = math.gcd(a, b) or 1
    return a // g, b // g
