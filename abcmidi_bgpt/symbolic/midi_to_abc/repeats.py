"""Repeat structure recovered from a played-out tune: ``|: ... :|`` and first/second endings.

MIDI plays repeats out in full; a fiddler writes each part once. Given the tune as a sequence
of bars (identical bars share an id), this finds the reading that writes the fewest bars:
a section played twice becomes ``|: body :|``; a section whose second pass differs only in its
last bar or two becomes ``|: body [1 first :|[2 second``. Each repeat costs a little, so a
long section is preferred to two short ones, and a repeat must cover at least two bars.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

MIN_BODY = 2  # bars
MAX_ENDING = 2  # bars in one ending
MAX_SECTION = 64  # bars: longer sections are written out
REPEAT_COST = 1.0  # in written bars: what a pair of repeat signs costs the reader
ENDING_COST = 0.5

_MOD = (1 << 61) - 1
_BASE = 1_000_003


@dataclass(frozen=True, slots=True)
class Section:
    """Bars written once (``repeat`` False) or a repeated section with optional endings."""

    body: tuple[int, ...]  # bar indices, in the played-out sequence
    repeat: bool = False
    endings: tuple[tuple[int, ...], ...] = ()  # (first, second), each a tuple of bar indices

    @property
    def played_bars(self) -> tuple[int, ...]:
        """The bar indices this section plays, in order."""
        if not self.repeat:
            return self.body
        if not self.endings:
            return self.body * 2
        return self.body + self.endings[0] + self.body + self.endings[1]


class _Hashes:
    """Equality of two runs of bars in O(1), by polynomial prefix hashes."""

    def __init__(self, ids: Sequence[int]):
        self.ids = list(ids)
        self.prefix = [0]
        self.power = [1]
        for v in ids:
            self.prefix.append((self.prefix[-1] * _BASE + v + 1) % _MOD)
            self.power.append(self.power[-1] * _BASE % _MOD)

    def _hash(self, i: int, j: int) -> int:
        return (self.prefix[j] - self.prefix[i] * self.power[j - i]) % _MOD

    def equal(self, i: int, j: int, length: int) -> bool:
        if self._hash(i, i + length) != self._hash(j, j + length):
            return False
        return self.ids[i : i + length] == self.ids[j : j + length]


def find_repeats(bar_ids: Sequence[int], tied: Collection[int] = ()) -> list[Section]:
    """The repeat structure that writes a played-out bar sequence in the fewest bars.

    ``bar_ids[i]`` identifies bar ``i``'s content (notes, length, meter, key); the sections
    returned play back exactly ``range(len(bar_ids))``. Bars in ``tied`` end with a note tied
    into the next bar: no repeat sign or ending may follow them, as the tie would lead into
    different music on each pass.
    """
    n = len(bar_ids)
    tied = set(tied)
    h = _Hashes(bar_ids)
    # best[i]: (cost of writing bars i.., the section starting at i)
    best: list[tuple[float, Section | None]] = [(0.0, None)] * (n + 1)
    for i in range(n - 1, -1, -1):
        plain = Section((i,))
        choice = (1.0 + best[i + 1][0], plain)
        for m in range(MIN_BODY, min(MAX_SECTION, (n - i) // 2) + 1):
            if i + m - 1 in tied or i + 2 * m - 1 in tied:
                continue
            if h.equal(i, i + m, m):
                cost = m + REPEAT_COST + best[i + 2 * m][0]
                if cost < choice[0] - 1e-9:
                    choice = (cost, Section(tuple(range(i, i + m)), True))
        for b in range(MIN_BODY, MAX_SECTION + 1):
            for e in range(1, MAX_ENDING + 1):
                end = i + 2 * b + 2 * e
                if end > n:
                    break
                second = i + b + e
                if bar_ids[i + b] == bar_ids[second + b] or not h.equal(i, second, b):
                    continue
                if {i + b - 1, i + b + e - 1, end - 1} & tied:
                    continue
                cost = b + 2 * e + REPEAT_COST + ENDING_COST + best[end][0]
                if cost < choice[0] - 1e-9:
                    body = tuple(range(i, i + b))
                    endings = (tuple(range(i + b, i + b + e)), tuple(range(second + b, end)))
                    choice = (cost, Section(body, True, endings))
            if i + 2 * b + 2 > n:
                break
        best[i] = choice
    sections: list[Section] = []
    i = 0
    while i < n:
        section = best[i][1]
        assert section is not None
        if not section.repeat and sections and not sections[-1].repeat:
            sections[-1] = Section(sections[-1].body + section.body)
        else:
            sections.append(section)
        i += len(section.played_bars)
    return sections
