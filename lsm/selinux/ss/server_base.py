"""The state every part of the security server shares, and contexts <-> SIDs.

:class:`ServerBase` declares the attributes :class:`~lsm.selinux.ss.services.SecurityServer`
sets up (policy, sidtab, seqno, audit sink, boolean and conditional-node state) and holds the
small operations every other part relies on: context strings and structs to and from SIDs
(``security_context_to_sid``, ``security_sid_to_context``, ``sidtab_search``), initial SIDs,
``security_sid_mls_copy``, class and permission lookups and the ``SELINUX_ERR`` sink.  The
decision, SID-computation, boolean and labelling mixins derive from it, so each is typed
against the shared state without importing its siblings (only :mod:`.explain` builds on
:mod:`.access`).  It is not instantiated on its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from attrs import evolve

from lsm.selinux.policy.errors import InvalidContext, InvalidSymbol
from lsm.selinux.ss.conditional import CondIndex
from lsm.selinux.ss.context import context_invalid_reason, format_context, parse_context
from lsm.selinux.ss.policydb import ClassDatum, Context, PolicyDB
from lsm.selinux.ss.sidtab import SECINITSID_UNLABELED, SidTab

#: initial SIDs used as fallbacks (``flask.h``; SECINITSID_UNLABELED lives with the SID table)
SECINITSID_FILE = 5
SECINITSID_PORT = 9
SECINITSID_NETIF = 10
SECINITSID_NODE = 12


class ServerBase:
    """Shared state and SID/context/class lookups of the security server (see module doc)."""

    policydb: PolicyDB
    seqno: int
    audit: Callable[[str], None] | None
    errors: deque[str]
    sidtab: SidTab
    enforcing: bool
    #: conditional rules by (stype, ttype, tclass) and the booleans of each node
    _cond: CondIndex
    #: current boolean values (by value - 1) and the resulting state of each conditional node
    _bool_state: list[bool]
    _node_state: list[bool | None]

    # ------------------------------------------------------------------------------------
    # contexts and SIDs

    def context_to_sid(self, text: str) -> int:
        """SID for a context string; raises :class:`InvalidContext` for a bad or invalid one."""
        return self.sidtab.context_to_sid(parse_context(self.policydb, text))

    def context_struct_to_sid(self, ctx: Context) -> int:
        """SID for a :class:`Context` value (must be valid)."""
        why = context_invalid_reason(self.policydb, ctx)
        if why is not None:
            raise InvalidContext(format_context(self.policydb, ctx), detail=why)
        return self.sidtab.context_to_sid(ctx)

    def sid_to_context(self, sid: int) -> str:
        """The context string of ``sid`` (for a SID made invalid by a policy reload, its old
        text); raises :class:`InvalidSymbol` for an unknown SID."""
        ctx = self.sidtab.search(sid)
        if ctx is None:
            text = self.sidtab.invalid(sid)
            if text is not None:
                return text
            raise InvalidSymbol(str(sid), kind="SID")
        return format_context(self.policydb, ctx)

    def sid_to_context_inval(self, sid: int) -> str | None:
        """The text of a context the current policy rejects (``srawcon=``), else None."""
        return self.sidtab.invalid(sid)

    def sid_to_struct(self, sid: int) -> Context:
        """The :class:`Context` of ``sid``; an invalid SID is treated as ``unlabeled`` (as the
        kernel's ``sidtab_search`` does)."""
        ctx = self.sidtab.search(sid)
        if ctx is None:
            if self.sidtab.invalid(sid) is not None:
                unlabeled = self.sidtab.search(SECINITSID_UNLABELED)
                if unlabeled is not None:
                    return unlabeled
            raise InvalidSymbol(str(sid), kind="SID")
        return ctx

    def initial_sid(self, name: str) -> int:
        """The SID of an initial SID by name (``kernel``, ``unlabeled``, ``file`` ...)."""
        for sid, isid in self.policydb.isids.items():
            if isid.name == name:
                return sid
        raise InvalidSymbol(name, kind="initial SID")

    def sid_mls_copy(self, sid: int, mls_sid: int) -> int:
        """user:role:type of ``sid`` with the range of ``mls_sid`` (``security_sid_mls_copy``)."""
        if not self.policydb.mls:
            return sid
        ctx = evolve(self.sid_to_struct(sid), range=self.sid_to_struct(mls_sid).range)
        return self.context_struct_to_sid(ctx)

    # ------------------------------------------------------------------------------------
    # classes and permissions

    def class_value(self, name: str) -> int:
        """The policy value of class ``name``; raises :class:`InvalidClass`."""
        return self.policydb.lookup_class(name).value

    def perm_bits(self, tclass: str | int, perms: Iterable[str]) -> int:
        """The bit mask of ``perms`` in ``tclass``; raises ``InvalidPermission``."""
        return self.policydb.perm_mask(tclass, list(perms))

    def perm_names(self, tclass: str | int, mask: int) -> list[str]:
        """Names of the permissions in ``mask``."""
        return self.policydb.perm_names_of(tclass, mask)

    def _class(self, tclass: str | int) -> ClassDatum:
        p = self.policydb
        return p.lookup_class(tclass) if isinstance(tclass, str) else p.class_by_value(tclass)

    def _error(self, msg: str) -> None:
        self.errors.append(msg)
        if self.audit is not None:
            self.audit(msg)
