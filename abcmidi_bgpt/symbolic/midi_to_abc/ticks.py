"""Exact times as integers: many fractions of a beat put on one common denominator.

Fraction arithmetic costs about a microsecond an operation (Python 3.11); loops over every note
of a tune that add, compare, sort and hash Fractions took most of a transcription's time. The
same times as whole numbers of 1/``den`` beat ("ticks", ``den`` the least common denominator)
have the same order, sums and remainders, at the cost of integers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction


def common_denominator(*groups: Iterable[Fraction]) -> int:
    """The least common denominator of all the times in ``groups`` (1 when there are none)."""
    return math.lcm(*{x.denominator for group in groups for x in group})


def distinct_count(times: Iterable[Fraction]) -> int:
    """How many different times there are (told apart by their two integers: hashing a
    Fraction costs a modular inverse)."""
    return len({(x.numerator, x.denominator) for x in times})


def to_ticks(x: Fraction, den: int) -> int:
    """``x`` in whole 1/``den`` beats; ``den`` must be a multiple of its denominator."""
    return x.numerator * (den // x.denominator)


def ticks_of(times: Iterable[Fraction], den: int) -> list[int]:
    """Many times in ticks (see :func:`to_ticks`)."""
    return [x.numerator * (den // x.denominator) for x in times]


def is_binary_ticks(t: int, den: int) -> bool:
    """Whether ``t``/``den`` has a power-of-two denominator (see ``meter.is_binary``)."""
    d = den // math.gcd(t, den)
    return d & (d - 1) == 0


def round_half_even(a: int, b: int) -> int:
    """round(a / b) for integers, b > 0, halves to even as Python's round() does."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2):
        q += 1
    return q
