"""Access decisions: ``security_compute_av`` and the extended-permission (ioctl) decisions.

:class:`AccessDecisions` builds the rule tables the decisions read (TE rules grouped by source
type and class, extended-permission rules, conditional rules) and computes
``context_struct_compute_av``: default deny -> allow rules over the type-attribute expansion ->
enabled conditional rules -> minus constraints (incl. mlsconstrain) -> role allow check for
process transitions -> typebounds masking.  This is the security server's hot path: the
methods are the original ones, mixed into :class:`~lsm.selinux.ss.services.SecurityServer`
without any extra indirection.  :mod:`.explain` reuses :meth:`AccessDecisions._compute` and its
reason bits to say *why* access is denied.
"""

from __future__ import annotations

from attrs import evolve

from lsm.selinux.ss import xperms
from lsm.selinux.ss.avd import ALL_PERMS, AVD_FLAGS_PERMISSIVE, AvDecision
from lsm.selinux.ss.conditional import CondIndex, CondRule
from lsm.selinux.ss.constraint import constraint_eval
from lsm.selinux.ss.context import format_context
from lsm.selinux.ss.policydb import (
    AVTAB_ALLOWED,
    AVTAB_AUDITALLOW,
    AVTAB_AUDITDENY,
    AVTAB_TYPE,
    HANDLE_UNKNOWN_ALLOW,
    ClassDatum,
    Context,
    ExtendedPerms,
    PolicyDB,
    values,
)
from lsm.selinux.ss.server_base import ServerBase
from lsm.selinux.ss.xperms import XpermsDecision

# libsepol's SEPOL_COMPUTEAV_* reason bits
_R_TE = 1
_R_CONS = 2
_R_RBAC = 4
_R_BOUNDS = 8

_TeEntry = tuple[int, int, int]  # allowed, auditallow, auditdeny


class AccessDecisions(ServerBase):
    """``security_compute_av`` and ``security_compute_xperms_decision`` (see module doc)."""

    #: type -> every type/attribute value it stands for (type_attr_map as lists)
    _attrs: list[list[int]]
    #: unconditional AV rules: (stype, tclass) -> ttype -> (allowed, auditallow, auditdeny)
    _te_rows: dict[tuple[int, int], dict[int, _TeEntry]]
    #: extended permission rules: (stype, tclass) -> ttype -> [(kind, ExtendedPerms)]
    _xperms: dict[tuple[int, int], dict[int, list[tuple[int, ExtendedPerms]]]]
    #: conditional rules: (stype, tclass) -> ttype -> rules
    _cond_sc: dict[tuple[int, int], dict[int, list[CondRule]]]

    def _build_av_tables(self, p: PolicyDB) -> None:
        """Index ``p``'s rules for the decisions (called once, by the constructor)."""
        self._attrs = [values(m) for m in p.type_attr_map]
        te: dict[tuple[int, int], dict[int, _TeEntry]] = {}
        for (s, t, c, kind), data in p.avtab.items():
            if not isinstance(data, int) or kind & AVTAB_TYPE:
                continue
            row = te.setdefault((s, c), {})
            a, aa, ad = row.get(t, (0, 0, ALL_PERMS))
            if kind == AVTAB_ALLOWED:
                a |= data
            elif kind == AVTAB_AUDITALLOW:
                aa |= data
            elif kind == AVTAB_AUDITDENY:
                ad &= data
            row[t] = (a, aa, ad)
        self._te_rows = te
        xp: dict[tuple[int, int], dict[int, list[tuple[int, ExtendedPerms]]]] = {}
        for (s, t, c, kind), data in p.avtab.items():
            if isinstance(data, tuple):
                lst = xp.setdefault((s, c), {}).setdefault(t, [])
                lst.extend((kind, x) for x in data)
        self._xperms = xp
        # conditional rules: by (stype, ttype, tclass), then (stype, tclass) -> ttype -> rules
        self._cond = CondIndex(p)
        cond_sc: dict[tuple[int, int], dict[int, list[CondRule]]] = {}
        for (s, t, c), rules in self._cond.by_key.items():
            cond_sc.setdefault((s, c), {})[t] = rules
        self._cond_sc = cond_sc

    # ------------------------------------------------------------------------------------
    # access decisions

    def compute_av(self, ssid: int, tsid: int, tclass: int | str) -> AvDecision:
        """``security_compute_av``: the access vector decision for (ssid, tsid, tclass).

        ``tclass`` is a policy class value or name.  A class the policy does not define yields
        allow-all (``handle_unknown allow``) or deny-all.
        """
        p = self.policydb
        s = self.sid_to_struct(ssid)
        t = self.sid_to_struct(tsid)
        flags = AVD_FLAGS_PERMISSIVE if (p.permissive_map >> s.type) & 1 else 0
        cls = p.classes.get(tclass) if isinstance(tclass, str) else p.classes.at(tclass)
        if cls is None:
            allowed = ALL_PERMS if p.handle_unknown == HANDLE_UNKNOWN_ALLOW else 0
            return AvDecision(allowed, 0, ALL_PERMS, self.seqno, flags)
        allowed, auditallow, auditdeny, _ = self._compute(s, t, cls, 0, self._node_state, True)
        return AvDecision(allowed, auditallow, auditdeny, self.seqno, flags)

    def compute_av_contexts(self, scon: str, tcon: str, tclass: int | str) -> AvDecision:
        """:meth:`compute_av` from context strings."""
        return self.compute_av(self.context_to_sid(scon), self.context_to_sid(tcon), tclass)

    def _xperm_rules(self, s: Context, t: Context, tclass: int) -> list[tuple[int, ExtendedPerms]]:
        out: list[tuple[int, ExtendedPerms]] = []
        tattrs = self._attrs[t.type - 1]
        for si in self._attrs[s.type - 1]:
            row = self._xperms.get((si, tclass))
            if row is not None:
                for ti in tattrs:
                    out.extend(row.get(ti, ()))
        return out

    def xperms_drivers(self, ssid: int, tsid: int, tclass: int | str) -> int:
        """The 256-bit set of ioctl drivers that have extended-permission rules
        (``services_compute_xperms_drivers``): only for these drivers does the kernel go on to
        :meth:`compute_xperms_decision`; other ioctls are decided by the plain ``ioctl`` perm."""
        s, t = self.sid_to_struct(ssid), self.sid_to_struct(tsid)
        return xperms.drivers(self._xperm_rules(s, t, self._class(tclass).value))

    def compute_xperms_decision(
        self, ssid: int, tsid: int, tclass: int | str, driver: int
    ) -> XpermsDecision:
        """``security_compute_xperms_decision`` for one ioctl ``driver``."""
        p = self.policydb
        cls = p.classes.get(tclass) if isinstance(tclass, str) else p.classes.at(tclass)
        if cls is None:
            everything = xperms.ALL_256 if p.handle_unknown == HANDLE_UNKNOWN_ALLOW else 0
            return XpermsDecision(driver, 0, everything, 0, 0)
        s, t = self.sid_to_struct(ssid), self.sid_to_struct(tsid)
        return xperms.decision(self._xperm_rules(s, t, cls.value), driver)

    def _te(self, stype: int, ttype: int, tclass: int, states: list[bool | None]) -> _TeEntry:
        """Allow/auditallow/auditdeny from TE rules (unconditional + enabled conditional)."""
        allowed, auditallow, auditdeny = 0, 0, ALL_PERMS
        tattrs = self._attrs[ttype - 1]
        te = self._te_rows
        cond = self._cond_sc
        for si in self._attrs[stype - 1]:
            row = te.get((si, tclass))
            if row is not None:
                for ti in tattrs:
                    e = row.get(ti)
                    if e is not None:
                        allowed |= e[0]
                        auditallow |= e[1]
                        auditdeny &= e[2]
            crow = cond.get((si, tclass))
            if crow is not None:
                for ti in tattrs:
                    rules = crow.get(ti)
                    if rules is None:
                        continue
                    for node, branch, kind, data in rules:
                        if states[node] is not branch or not isinstance(data, int):
                            continue
                        if kind == AVTAB_ALLOWED:
                            allowed |= data
                        elif kind == AVTAB_AUDITALLOW:
                            auditallow |= data
                        elif kind == AVTAB_AUDITDENY:
                            auditdeny &= data
        return allowed, auditallow, auditdeny

    def _compute(
        self,
        s: Context,
        t: Context,
        cls: ClassDatum,
        requested: int,
        states: list[bool | None],
        report: bool,
    ) -> tuple[int, int, int, int]:
        """``context_struct_compute_av``; returns (allowed, auditallow, auditdeny, reason bits
        as libsepol computes them for ``requested``)."""
        p = self.policydb
        tclass = cls.value
        allowed, auditallow, auditdeny = self._te(s.type, t.type, tclass, states)
        reason = 0
        if requested & ~allowed:
            reason |= _R_TE
            requested &= allowed
        for cons in cls.constraints:
            if cons.permissions & allowed and not constraint_eval(p, cons.expr, s, t):
                allowed &= ~cons.permissions
        if requested & ~allowed:
            reason |= _R_CONS
            requested &= allowed
        if (
            tclass == p.process_class
            and allowed & p.process_trans_perms
            and s.role != t.role
            and (s.role, t.role) not in p.role_allow
        ):
            allowed &= ~p.process_trans_perms
        if requested & ~allowed:
            reason |= _R_RBAC
            requested &= allowed
        # typebounds: a bounded source may never have more than its parent
        src = p.types.at(s.type)
        if src is not None and src.bounds:
            lo_s = evolve(s, type=src.bounds)
            tgt = p.types.at(t.type)
            lo_t = evolve(t, type=tgt.bounds) if tgt is not None and tgt.bounds else t
            lo_allowed = self._compute(lo_s, lo_t, cls, requested, states, False)[0]
            masked = allowed & ~lo_allowed
            if masked:
                allowed &= ~masked
                reason |= _R_BOUNDS
                if report:
                    self._error(
                        "op=security_compute_av reason=bounds "
                        f"scontext={format_context(p, s)} tcontext={format_context(p, t)} "
                        f"tclass={cls.name} perms={','.join(p.perm_names_of(tclass, masked))}"
                    )
        return allowed, auditallow, auditdeny, reason
