"""MLS levels and ranges: parsing, printing, validity and the range part of compute_sid.

Mirrors ``security/selinux/ss/mls.c`` and ``mls_types.h``.  Levels are :class:`MlsLevel`
(sensitivity value + category bitmap, category value ``v`` = bit ``v - 1``).
"""

from __future__ import annotations

from lsm.selinux.ss.policydb import (
    AVTAB_CHANGE,
    AVTAB_MEMBER,
    AVTAB_TRANSITION,
    DEFAULT_GLBLUB,
    DEFAULT_SOURCE_HIGH,
    DEFAULT_SOURCE_LOW,
    DEFAULT_SOURCE_LOW_HIGH,
    DEFAULT_TARGET_HIGH,
    DEFAULT_TARGET_LOW,
    DEFAULT_TARGET_LOW_HIGH,
    MlsLevel,
    MlsRange,
    PolicyDB,
)


class MlsSyntaxError(ValueError):
    """An MLS field that does not parse or names unknown symbols (message says why)."""


def level_eq(a: MlsLevel, b: MlsLevel) -> bool:
    """``a eq b``."""
    return a.sens == b.sens and a.cats == b.cats


def level_dom(a: MlsLevel, b: MlsLevel) -> bool:
    """``a dom b``: sensitivity at least as high and a superset of categories."""
    return a.sens >= b.sens and (b.cats & ~a.cats) == 0


def level_incomp(a: MlsLevel, b: MlsLevel) -> bool:
    """Neither level dominates the other."""
    return not level_dom(a, b) and not level_dom(b, a)


def range_contains(outer: MlsRange, inner: MlsRange) -> bool:
    """``outer`` contains ``inner`` (``mls_range_contains``)."""
    return level_dom(inner.low, outer.low) and level_dom(outer.high, inner.high)


def level_isvalid(p: PolicyDB, lvl: MlsLevel) -> bool:
    """The sensitivity exists and every category may be combined with it."""
    sens = p.levels.at(lvl.sens)
    if sens is None:
        return False
    return (lvl.cats & ~sens.level.cats) == 0


def range_isvalid(p: PolicyDB, rng: MlsRange) -> bool:
    """Both levels valid and ``high dom low``."""
    return level_isvalid(p, rng.low) and level_isvalid(p, rng.high) and level_dom(rng.high, rng.low)


# -- parsing / printing ------------------------------------------------------------------------


def parse_level(p: PolicyDB, text: str) -> MlsLevel:
    """Parse ``sens[:cat[,cat|.cat]...]`` (aliases allowed) as the kernel does."""
    sens_name, _, cat_text = text.partition(":")
    sens = p.levels.get(sens_name)
    if sens is None:
        raise MlsSyntaxError(f"unknown sensitivity {sens_name!r}")
    cats = 0
    if _:
        if not cat_text:
            raise MlsSyntaxError("empty category list")
        for item in cat_text.split(","):
            first, dot, last = item.partition(".")
            c1 = p.cats.get(first)
            if c1 is None:
                raise MlsSyntaxError(f"unknown category {first!r}")
            if not dot:
                cats |= 1 << (c1.value - 1)
                continue
            c2 = p.cats.get(last)
            if c2 is None:
                raise MlsSyntaxError(f"unknown category {last!r}")
            if c1.value >= c2.value:
                raise MlsSyntaxError(f"category range {item!r} is not ascending")
            cats |= ((1 << (c2.value - c1.value + 1)) - 1) << (c1.value - 1)
    return MlsLevel(sens.level.sens, cats)


def parse_range(p: PolicyDB, text: str) -> MlsRange:
    """Parse ``low[-high]``; the high level defaults to the low one."""
    low_text, dash, high_text = text.partition("-")
    low = parse_level(p, low_text)
    high = parse_level(p, high_text) if dash else low
    return MlsRange(low, high)


def format_cats(p: PolicyDB, cats: int) -> str:
    """Categories in the kernel's canonical form: runs of three or more as ``cA.cB``."""
    out: list[str] = []
    values: list[int] = []
    c = cats
    while c:
        low = c & -c
        values.append(low.bit_length())
        c ^= low
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{p.cat_name(values[i])}.{p.cat_name(values[j])}")
        else:
            out.extend(p.cat_name(values[k]) for k in range(i, j + 1))
        i = j + 1
    return ",".join(out)


def format_level(p: PolicyDB, lvl: MlsLevel) -> str:
    """``sens[:cats]``."""
    name = p.sens_name(lvl.sens)
    return f"{name}:{format_cats(p, lvl.cats)}" if lvl.cats else name


def format_range(p: PolicyDB, rng: MlsRange) -> str:
    """``low`` or ``low-high``."""
    low = format_level(p, rng.low)
    if level_eq(rng.low, rng.high):
        return low
    return f"{low}-{format_level(p, rng.high)}"


# -- compute_sid -------------------------------------------------------------------------------


def glblub(a: MlsRange, b: MlsRange) -> MlsRange | None:
    """Greatest lower bound / least upper bound of two ranges; None if they do not overlap."""
    if a.high.sens < b.low.sens or b.high.sens < a.low.sens:
        return None
    low = MlsLevel(max(a.low.sens, b.low.sens), a.low.cats & b.low.cats)
    high = MlsLevel(min(a.high.sens, b.high.sens), a.high.cats & b.high.cats)
    return MlsRange(low, high)


def compute_range(
    p: PolicyDB,
    srange: MlsRange,
    trange: MlsRange,
    stype: int,
    ttype: int,
    tclass: int,
    specified: int,
    process_like: bool,
) -> MlsRange | None:
    """The range of a new context (``mls_compute_sid``); None when no range results (glblub of
    disjoint ranges), which the caller reports as an invalid context."""
    if specified == AVTAB_TRANSITION:
        rng = p.range_trans.get((stype, ttype, tclass))
        if rng is not None:
            return rng
        cls = p.classes.at(tclass)
        default = cls.default_range if cls is not None else 0
        if default == DEFAULT_SOURCE_LOW:
            return MlsRange(srange.low, srange.low)
        if default == DEFAULT_SOURCE_HIGH:
            return MlsRange(srange.high, srange.high)
        if default == DEFAULT_SOURCE_LOW_HIGH:
            return srange
        if default == DEFAULT_TARGET_LOW:
            return MlsRange(trange.low, trange.low)
        if default == DEFAULT_TARGET_HIGH:
            return MlsRange(trange.high, trange.high)
        if default == DEFAULT_TARGET_LOW_HIGH:
            return trange
        if default == DEFAULT_GLBLUB:
            return glblub(srange, trange)
    if specified in (AVTAB_TRANSITION, AVTAB_CHANGE):
        return srange if process_like else MlsRange(srange.low, srange.low)
    if specified == AVTAB_MEMBER:
        return MlsRange(srange.low, srange.low)
    return srange
