"""Keys for transcription: estimate the key of a note list, and spell pitches in a key.

A key here is a key signature (fifths) plus a tonic and a mode, as ABC writes it: ``K:G``,
``K:Em``, ``K:Ador``, ``K:Dmix``. MIDI key signatures only know major and minor, and many files
have none or a wrong one, so the signature is checked against the notes and the tonic is
estimated from them: folk tunes are modal as often as not, and a fiddler reads ``K:Ador``,
not ``K:G`` with every tune ending on A.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from abcmidi_bgpt.core.performance import KeyChange, Note

LETTERS = "CDEFGAB"
NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SHARP_ORDER = "FCGDAEB"
# Mode name as ABC writes it -> semitones from the major tonic of the signature to the tonic.
MODE_OFFSET = {"": 0, "dor": 2, "phr": 4, "lyd": 5, "mix": 7, "m": 9, "loc": 11}
SIGNATURE_SLACK = 0.03  # share of note time a file's own key signature may leave unexplained
SIGNATURE_TIE = 0.02  # signatures leaving at most this much more outside the scale compete
# Weights of the tonic and mode estimate, fitted (conditional logit) on 500 tunes of O'Neill's
# collection; on 442 held-out tunes of Ryan's and Aird's, with no key signature in the file,
# 95.2 % get their written signature and 88.7 % their written tonic as well (measured as the
# meter figures in meter.py).
TONIC_WEIGHTS = {
    "outside": -4.44,  # note time outside the scale
    "triad": 4.26,  # note time on the tonic triad of the mode
    "tonic": 2.37,  # note time on the tonic
    "ends_on_tonic": 2.16,
    "ends_on_triad": -0.32,  # ends on the third or fifth
    "accidentals": -1.18,  # sharps or flats in the signature / 7
}
MODE_PRIOR = {
    "": 2.83,
    "dor": -0.79,
    "phr": -0.93,
    "lyd": -1.07,
    "mix": -0.76,
    "m": 1.42,
    "loc": -0.70,
}


@dataclass(frozen=True, slots=True)
class Key:
    fifths: int  # the signature: -7..7, sharps positive
    mode: str = ""  # one of MODE_OFFSET's keys

    @property
    def tonic_pc(self) -> int:
        return (7 * self.fifths + MODE_OFFSET[self.mode]) % 12

    @property
    def abc(self) -> str:
        """The K: field value: 'G', 'Em', 'Ador', 'Bbmix'."""
        letter, alter = spell(self.tonic_pc + 60, self.fifths)  # the tonic is diatonic
        return letter + {1: "#", -1: "b", 0: ""}[alter] + self.mode

    @property
    def minor(self) -> bool:
        return self.mode in ("m", "dor", "phr", "loc")


@dataclass(frozen=True, slots=True)
class KeyEstimate:
    key: Key
    estimated: bool  # False when the file's own key signature was kept
    message: str = ""  # why the file's signature was not kept, when it was not


def signature_key(signature: KeyChange) -> Key:
    """The key a MIDI key signature names: major or minor, as MIDI knows no other modes."""
    return Key(signature.fifths, "m" if signature.minor else "")


def key_alterations(fifths: int) -> dict[str, int]:
    """Letter -> alteration (+1 sharp, -1 flat, 0) that the key signature gives it."""
    alter = dict.fromkeys(LETTERS, 0)
    if fifths > 0:
        for letter in SHARP_ORDER[:fifths]:
            alter[letter] = 1
    elif fifths < 0:
        for letter in SHARP_ORDER[::-1][:-fifths]:
            alter[letter] = -1
    return alter


def scale_pcs(fifths: int) -> set[int]:
    return {(NATURAL_PC[letter] + a) % 12 for letter, a in key_alterations(fifths).items()}


# Chromatic notes in a key with no sharps or flats, spelt as fiddle music spells them.
_NEUTRAL_SPELLING = {1: ("C", 1), 3: ("E", -1), 6: ("F", 1), 8: ("G", 1), 10: ("B", -1)}


@functools.lru_cache(maxsize=4096)  # the writer spells every note, of a few hundred pitches
def spell(pitch: int, fifths: int, tonic_pc: int | None = None) -> tuple[str, int]:
    """The letter and alteration of a MIDI pitch in a key: diatonic notes as the signature has
    them; a note the signature alters but this one does not gets a natural; other chromatic
    notes are sharps in sharp keys and flats in flat keys, except the minor third, minor sixth
    and flat seventh of a sharp key's tonic (Bb in G, not A#)."""
    pc = pitch % 12
    flat_degree = tonic_pc is not None and (pc - tonic_pc) % 12 in (3, 8, 10)
    alter = key_alterations(fifths)
    best: tuple[float, str, int] | None = None
    for letter in LETTERS:
        a = (pc - NATURAL_PC[letter] + 6) % 12 - 6
        if abs(a) > 1:
            continue
        if a == alter[letter]:
            cost = 0.0
        elif a == 0:
            cost = 1.0
        elif fifths == 0:
            cost = 2.0 if _NEUTRAL_SPELLING.get(pc) == (letter, a) else 3.0
        else:
            sharp_wanted = fifths > 0 and not flat_degree
            cost = 2.0 if (a > 0) == sharp_wanted else 3.0
        if letter + str(a) in ("E1", "B1", "F-1", "C-1") and cost > 0:
            cost += 2.0  # E#, B#, Fb, Cb only where the key has them
        if best is None or cost < best[0]:
            best = (cost, letter, a)
    assert best is not None
    return best[1], best[2]


def pitch_class_weights(notes: Sequence[Note]) -> list[float]:
    """Share of note time on each pitch class (durations capped at two beats, so one held note
    does not outweigh a tune)."""
    weights = [0.0] * 12
    for n in notes:
        weights[n.pitch % 12] += min(float(n.duration), 2.0) or 0.05
    total = sum(weights) or 1.0
    return [w / total for w in weights]


def estimate_key(
    notes: Sequence[Note],
    hint: KeyChange | None = None,
    ending_pitch: int | None = None,
) -> KeyEstimate:
    """The key of a melody: the file's key signature (``hint``) when the notes agree with it,
    else the signature that leaves the least note time outside the scale (or nearly); then
    the tonic and mode that the tonic triad's share of the notes, the last note and a prior
    on modes favour (:data:`TONIC_WEIGHTS`).

    ``ending_pitch`` is the tune's final note (by default the last note of ``notes``).
    """
    if not notes:
        return KeyEstimate(signature_key(hint) if hint else Key(0), True)
    weights = pitch_class_weights(notes)
    if ending_pitch is None:
        ending_pitch = max(notes, key=lambda n: (n.onset, -n.pitch)).pitch
    outside = {}
    for f in range(-7, 8):
        scale = scale_pcs(f)
        outside[f] = sum(w for pc, w in enumerate(weights) if pc not in scale)
    best_outside = min(outside.values())
    message = ""
    if hint is not None and outside[hint.fifths] <= best_outside + SIGNATURE_SLACK:
        signatures = [hint.fifths]
        estimated = False
    else:
        if hint is not None:
            message = (
                f"the key signature ({signature_key(hint).abc}) leaves "
                f"{outside[hint.fifths]:.0%} of the notes outside its scale; key estimated"
            )
        signatures = [f for f in range(-7, 8) if outside[f] <= best_outside + SIGNATURE_TIE]
        estimated = True
    hinted = signature_key(hint).tonic_pc if hint is not None and not estimated else None
    best_key, best_score = Key(signatures[0]), float("-inf")
    for f in signatures:
        for mode in MODE_OFFSET:
            key = Key(f, mode)
            score = _tonic_score(key, weights, outside[f], ending_pitch % 12)
            if hinted is not None:
                # MIDI says major or minor (a dorian tune is "minor"): a hint, not the mode
                score += 0.3 * (key.tonic_pc == hinted) + 1.0 * (key.minor == hint.minor)
            if score > best_score:
                best_key, best_score = key, score
    return KeyEstimate(best_key, estimated, message)


def _tonic_score(key: Key, weights: list[float], outside: float, ending_pc: int) -> float:
    scale = scale_pcs(key.fifths)
    t = key.tonic_pc
    third = (t + 3) % 12 if (t + 3) % 12 in scale else (t + 4) % 12
    fifth = (t + 7) % 12
    w = TONIC_WEIGHTS
    return (
        w["outside"] * outside
        + w["triad"] * (weights[t] + weights[third] + weights[fifth])
        + w["tonic"] * weights[t]
        + w["ends_on_tonic"] * (ending_pc == t)
        + w["ends_on_triad"] * (ending_pc in (third, fifth))
        + w["accidentals"] * abs(key.fifths) / 7
        + MODE_PRIOR[key.mode]
    )
