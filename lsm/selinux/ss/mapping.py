"""Kernel class/permission tables mapped onto a policy (``selinux_set_mapping``).

The kernel numbers its classes and permissions in its own order (``classmap.h``); a policy may
number them differently, or lack some.  A :class:`ClassMapping` translates decisions from the
policy's bit order into the kernel's, applying the policy's ``handle_unknown`` to whatever the
policy does not define, as ``map_decision`` does.
"""

from __future__ import annotations

from collections.abc import Iterable

from lsm.selinux.ss.avd import ALL_PERMS, AvDecision
from lsm.selinux.ss.policydb import HANDLE_UNKNOWN_ALLOW, PolicyDB

__all__ = ["ClassMapping"]


class ClassMapping:
    """A kernel class table mapped onto the policy.

    ``classes`` is a sequence of ``(class name, [perm names...])``; kernel class ``i`` (0-based
    index into it) and kernel permission bit ``j`` (index into its list).  :meth:`map_decision`
    converts a policy-order decision into kernel order, applying ``handle_unknown`` to classes
    and permissions the policy lacks; :attr:`unknown` lists them (``class`` or ``class:perm``),
    as the kernel prints them at policy load.
    """

    def __init__(self, p: PolicyDB, classes: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.allow_unknown = p.handle_unknown == HANDLE_UNKNOWN_ALLOW
        self.classes: list[tuple[str, int, list[int]]] = []
        self.unknown: list[str] = []
        for name, perms in classes:
            cls = p.classes.get(name)
            if cls is None:
                self.unknown.append(name)
                self.classes.append((name, 0, [0 for _ in perms]))
                continue
            perm_bits: list[int] = []
            for perm in perms:
                v = cls.all_perms.get(perm)
                if v is None:
                    self.unknown.append(f"{name}:{perm}")
                perm_bits.append(1 << (v - 1) if v else 0)
            self.classes.append((name, cls.value, perm_bits))

    def policy_class(self, kclass: int) -> int:
        """The policy class value for kernel class index ``kclass`` (0: unknown)."""
        return self.classes[kclass][1]

    def map_decision(self, kclass: int, d: AvDecision) -> AvDecision:
        """Policy-order decision -> kernel-order decision for kernel class ``kclass``."""
        _, pval, perm_bits = self.classes[kclass]
        if not pval:
            allowed = ALL_PERMS if self.allow_unknown else 0
            return AvDecision(allowed, 0, ALL_PERMS, d.seqno, d.flags)
        allowed = auditallow = 0
        # bits beyond the kernel's permissions are always audited
        auditdeny = ALL_PERMS & ~((1 << len(perm_bits)) - 1)
        for i, b in enumerate(perm_bits):
            if (d.allowed & b) or (self.allow_unknown and not b):
                allowed |= 1 << i
            if d.auditallow & b:
                auditallow |= 1 << i
            if (d.auditdeny & b) or (not self.allow_unknown and not b):
                auditdeny |= 1 << i
        return AvDecision(allowed, auditallow, auditdeny, d.seqno, d.flags)
