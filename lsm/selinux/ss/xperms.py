"""Extended permissions (ioctl ``allowxperm`` & co): the per-driver decision.

Mirrors ``services_compute_xperms_drivers`` and ``services_compute_xperms_decision`` of
``security/selinux/ss/services.c``.  Rules are :class:`ExtendedPerms` data found under the
``AVTAB_XPERMS_*`` avtab kinds for every (source attribute, target attribute) pair.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from lsm.selinux.ss.policydb import (
    AVTAB_XPERMS_ALLOWED,
    AVTAB_XPERMS_AUDITALLOW,
    AVTAB_XPERMS_DONTAUDIT,
    AVTAB_XPERMS_IOCTLDRIVER,
    AVTAB_XPERMS_IOCTLFUNCTION,
    ExtendedPerms,
)

__all__ = ["XPERMS_ALLOWED", "XPERMS_AUDITALLOW", "XPERMS_DONTAUDIT", "XpermsDecision"]

#: ``XpermsDecision.used`` bits (``EXTENDED_PERMS_*`` in security.h)
XPERMS_ALLOWED = 1
XPERMS_AUDITALLOW = 2
XPERMS_DONTAUDIT = 4
ALL_256 = (1 << 256) - 1


@frozen
class XpermsDecision:
    """``struct extended_perms_decision`` for one ioctl driver (high byte of the command):
    256-bit function bitmaps (bit ``n`` = command ``driver << 8 | n``); ``used`` says which of
    the three sets any rule touched."""

    driver: int
    used: int
    allowed: int
    auditallow: int
    dontaudit: int

    def allows(self, cmd: int) -> bool:
        """Is ioctl command ``cmd`` (16 bits) allowed by this driver's decision?"""
        return (cmd >> 8) == self.driver and bool((self.allowed >> (cmd & 0xFF)) & 1)


XpermRule = tuple[int, ExtendedPerms]
"""``(avtab kind, datum)``: kind is ``AVTAB_XPERMS_ALLOWED/AUDITALLOW/DONTAUDIT``."""


def drivers(rules: Iterable[XpermRule]) -> int:
    """The 256-bit set of drivers the rules mention (``services_compute_xperms_drivers``)."""
    out = 0
    for _kind, x in rules:
        if x.specified == AVTAB_XPERMS_IOCTLDRIVER:
            out |= x.perms
        elif x.specified == AVTAB_XPERMS_IOCTLFUNCTION:
            out |= 1 << x.driver
    return out


def decision(rules: Iterable[XpermRule], driver: int) -> XpermsDecision:
    """The decision for one driver (``services_compute_xperms_decision`` over the rules)."""
    used = allowed = auditallow = dontaudit = 0
    for kind, x in rules:
        if x.specified == AVTAB_XPERMS_IOCTLFUNCTION:
            if x.driver != driver:
                continue
            bitmap = x.perms
        elif x.specified == AVTAB_XPERMS_IOCTLDRIVER:
            if not (x.perms >> driver) & 1:
                continue
            bitmap = ALL_256  # the whole driver
        else:
            continue
        if kind == AVTAB_XPERMS_ALLOWED:
            used |= XPERMS_ALLOWED
            allowed |= bitmap
        elif kind == AVTAB_XPERMS_AUDITALLOW:
            used |= XPERMS_AUDITALLOW
            auditallow |= bitmap
        elif kind == AVTAB_XPERMS_DONTAUDIT:
            used |= XPERMS_DONTAUDIT
            dontaudit |= bitmap
    return XpermsDecision(driver, used, allowed, auditallow, dontaudit)
