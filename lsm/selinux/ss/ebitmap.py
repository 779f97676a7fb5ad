"""Bitmap ("ebitmap") helpers: policy bitmaps are Python ints, symbol value ``v`` is bit ``v - 1``.

The kernel's ``ebitmap.c`` counterpart, shared by the policy database, its producers and the
security server; :mod:`lsm.selinux.ss.policydb` re-exports both functions.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["bits", "values"]


def bits(bitmap: int) -> Iterator[int]:
    """Yield the 0-based positions of the set bits of ``bitmap``, lowest first."""
    while bitmap:
        low = bitmap & -bitmap
        yield low.bit_length() - 1
        bitmap ^= low


def values(bitmap: int) -> list[int]:
    """The 1-based symbol values whose bits (value - 1) are set in ``bitmap``."""
    out: list[int] = []
    while bitmap:
        low = bitmap & -bitmap
        out.append(low.bit_length())
        bitmap ^= low
    return out
