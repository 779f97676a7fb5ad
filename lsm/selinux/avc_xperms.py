"""Extended permissions in the AVC (``avc_has_extended_perms``): ioctl commands.

For a (source, target, class) the security server says which ioctl *drivers* (a command's
high byte) have ``allowxperm``/``auditallowxperm``/``dontauditxperm`` rules.  If there are
none, the plain ``ioctl`` permission decides.  If there are, a command of an unlisted driver
is denied, and a listed driver's 256-command decision -- computed on first use and kept on
the AVC node, as Linux's ``avc_xperms_node`` -- must allow the command.  Auditing follows
``avc_xperms_audit_required``: ``dontauditxperm`` silences a denial, ``auditallowxperm``
selects which granted commands an ``auditallow ioctl`` logs.  A permissive denial grants
the command in the node, so it is logged once.
"""

from __future__ import annotations

import errno
from typing import Any

from attrs import define, evolve, field

from lsm.selinux.ss.avd import AVD_FLAGS_NEVERAUDIT, AVD_FLAGS_PERMISSIVE, AvDecision
from lsm.selinux.ss.xperms import XpermsDecision

_EACCES = -errno.EACCES


@define(slots=True)
class XpNode:
    """``struct avc_xperms_node``: the drivers with rules, and the decisions computed."""

    drivers: int
    decisions: dict[int, XpermsDecision] = field(factory=dict)


def xperms_audit_required(requested: int, avd: AvDecision, xpd: XpermsDecision | None,
                          xperm: int, result: int) -> tuple[int, int]:
    """``avc_xperms_audit_required``: ``(audited, denied)`` for one ioctl command."""
    if avd.flags & AVD_FLAGS_NEVERAUDIT:
        return 0, 0
    denied = requested & ~avd.allowed
    if denied:
        audited = denied & avd.auditdeny
        if audited and xpd is not None and xpd.dontaudit >> xperm & 1:
            audited &= ~requested
    elif result:
        audited = denied = requested
    else:
        audited = requested & avd.auditallow
        if audited and xpd is not None and not xpd.auditallow >> xperm & 1:
            audited &= ~requested
    return audited, denied


class ExtendedPerms:
    """Mixed into :class:`lsm.selinux.avc.AccessVectorCache`."""

    __slots__ = ()

    def has_extended_perms(self: Any, ssid: int, tsid: int, tclass: int, requested: int,
                           driver: int, xperm: int, auditdata: Any = None) -> int:
        """``avc_has_extended_perms``: 0 or -EACCES for ioctl command ``driver << 8 |
        xperm`` (counted in the statistics as one lookup)."""
        if not requested:
            return _EACCES
        self.lookups += 1
        key = (ssid, tsid, tclass)
        node = self._nodes.get(key)
        if node is None:
            self.misses += 1
            avd = self._compute_av(ssid, tsid, tclass)
            node = self._nodes.get(key)
        else:
            avd = node.avd
        xp = node.xp if node is not None else None
        if xp is None:
            xp = XpNode(self.server.xperms_drivers(ssid, tsid, tclass))
            if node is not None:
                node.xp = xp
        allowed = avd.allowed
        xpd = None
        if xp.drivers:  # extended permissions are defined for this triple
            if not xp.drivers >> driver & 1:
                allowed &= ~requested
            else:
                xpd = xp.decisions.get(driver)
                if xpd is None:
                    xpd = xp.decisions[driver] = self.server.compute_xperms_decision(
                        ssid, tsid, tclass, driver)
                if not xpd.allowed >> xperm & 1:
                    allowed &= ~requested
        local = AvDecision(allowed, avd.auditallow, avd.auditdeny, avd.seqno, avd.flags)
        rc = 0
        if requested & ~allowed:
            rc = self._denied_xperm(ssid, tsid, tclass, requested, driver, xperm, local, xp)
        audited, denied = xperms_audit_required(requested, local, xpd, xperm, rc)
        if audited:
            rc2 = self.slow_avc_audit(ssid, tsid, tclass, requested, audited, denied, rc,
                                      auditdata)
            if rc2:
                return rc2
        return rc

    def _denied_xperm(self: Any, ssid: int, tsid: int, tclass: int, requested: int,
                      driver: int, xperm: int, avd: AvDecision, xp: XpNode) -> int:
        """``avc_denied`` with AVC_EXTENDED_PERMS: enforce, or grant the permission and this
        command in a replacement node (the old one stops being live)."""
        if self.enforcing and not avd.flags & AVD_FLAGS_PERMISSIVE:
            return _EACCES
        if self._update_node_grant(ssid, tsid, tclass, requested, avd.seqno):
            return 0
        granted = XpNode(xp.drivers | (1 << driver if xp.drivers else 0),
                         dict(xp.decisions))
        if xp.drivers:
            old = granted.decisions.get(driver)
            if old is None:
                old = self.server.compute_xperms_decision(ssid, tsid, tclass, driver)
            granted.decisions[driver] = evolve(old, allowed=old.allowed | 1 << xperm)
        node = self._nodes.get((ssid, tsid, tclass))
        if node is not None:
            node.xp = granted
        return 0
