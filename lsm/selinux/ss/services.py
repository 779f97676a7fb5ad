"""The security server: access decisions, new SIDs, booleans and object labelling lookups.

Mirrors ``security/selinux/ss/services.c``:

* :meth:`SecurityServer.compute_av` is ``security_compute_av``/``context_struct_compute_av``:
  default deny -> allow rules over the type-attribute expansion -> enabled conditional rules ->
  minus constraints (incl. mlsconstrain) -> role allow check for process transitions ->
  typebounds masking (reported as a ``SELINUX_ERR`` ``reason=bounds`` message).
* :meth:`SecurityServer.transition_sid`/``member_sid``/``change_sid`` are
  ``security_compute_sid`` (class defaults, type rules, named transitions, role_transition,
  range_transition / default_range, validity).
* :meth:`SecurityServer.explain` is libsepol's ``sepol_compute_av_reason`` as used by
  ``audit2why``: *why* a set of permissions is denied.

Helpers live beside it as in ``ss/``: :mod:`.mls`, :mod:`.constraint`, :mod:`.conditional`,
:mod:`.context`, :mod:`.sidtab`, :mod:`.labels` (ocontext lookups), :mod:`.xperms` (ioctl
decisions) and :mod:`.mapping` (kernel class tables, ``handle_unknown``).

Decisions are in the policy's permission bit order (see :mod:`lsm.selinux.ss.avd`); use
:class:`ClassMapping` to translate to and from a kernel class table, honouring
``handle_unknown`` as ``selinux_set_mapping``/``map_decision`` do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from attrs import evolve, frozen

from lsm.selinux.policy.errors import InvalidClass, InvalidContext, InvalidSymbol
from lsm.selinux.ss import labels, xperms
from lsm.selinux.ss.avd import ALL_PERMS, AVD_FLAGS_PERMISSIVE, AvDecision
from lsm.selinux.ss.conditional import CondIndex, CondRule
from lsm.selinux.ss.constraint import constraint_eval, constraint_text, is_mls_constraint
from lsm.selinux.ss.context import context_invalid_reason, format_context, parse_context
from lsm.selinux.ss.mapping import ClassMapping
from lsm.selinux.ss.mls import compute_range
from lsm.selinux.ss.policydb import (
    AVTAB_ALLOWED,
    AVTAB_AUDITALLOW,
    AVTAB_AUDITDENY,
    AVTAB_CHANGE,
    AVTAB_MEMBER,
    AVTAB_TRANSITION,
    AVTAB_TYPE,
    DEFAULT_SOURCE,
    DEFAULT_TARGET,
    HANDLE_UNKNOWN_ALLOW,
    OBJECT_R_VAL,
    SECURITY_FS_USE_GENFS,
    SECURITY_FS_USE_NONE,
    ClassDatum,
    Context,
    ExtendedPerms,
    PolicyDB,
    values,
)
from lsm.selinux.ss.sidtab import SidTab
from lsm.selinux.ss.xperms import XpermsDecision

__all__ = [
    "REASON_ALLOW",
    "REASON_BOOLEAN",
    "REASON_BOUNDS",
    "REASON_CONSTRAINT",
    "REASON_DONTAUDIT",
    "REASON_RBAC",
    "REASON_TERULE",
    "AvReason",
    "ClassMapping",
    "SecurityServer",
    "XpermsDecision",
]

#: initial SIDs used as fallbacks (``flask.h``)
SECINITSID_UNLABELED = 3
SECINITSID_FILE = 5
SECINITSID_PORT = 9
SECINITSID_NETIF = 10
SECINITSID_NODE = 12

#: explanation codes, numbered as ``selinux.audit2why``'s
REASON_ALLOW = 0
REASON_DONTAUDIT = 1
REASON_TERULE = 2
REASON_BOOLEAN = 3
REASON_CONSTRAINT = 4
REASON_RBAC = 5
REASON_BOUNDS = 6
REASON_NAMES = {0: "ALLOW", 1: "DONTAUDIT", 2: "TERULE", 3: "BOOLEAN", 4: "CONSTRAINT",
                5: "RBAC", 6: "BOUNDS"}  # fmt: skip

# libsepol's SEPOL_COMPUTEAV_* reason bits
_R_TE = 1
_R_CONS = 2
_R_RBAC = 4
_R_BOUNDS = 8

_TeEntry = tuple[int, int, int]  # allowed, auditallow, auditdeny


@frozen
class AvReason:
    """Why the requested permissions are (not) granted.

    ``code`` is one of ``REASON_*`` (audit2why's numbering); ``booleans`` the ``(name, value)``
    settings that would each, alone, allow the access (``REASON_BOOLEAN``); ``constraint`` the
    text of every constraint the decision evaluated and found false (one a line, libsepol's
    order), with ``-Fail-`` after each false term; ``denied`` the
    requested bits not allowed by the kernel's decision; ``text`` a one-line explanation.
    """

    code: int
    denied: int
    booleans: tuple[tuple[str, bool], ...] = ()
    constraint: str | None = None
    text: str = ""

    @property
    def name(self) -> str:
        """``ALLOW``, ``TERULE``, ... as audit2why names the code."""
        return REASON_NAMES[self.code]


def _is_socket_class(name: str) -> bool:
    return name == "socket" or name.endswith("_socket")


class SecurityServer:
    """The security server for one loaded policy.

    ``audit`` (optional) receives the text of every ``SELINUX_ERR`` the server emits (bounds
    masking, invalid computed contexts, failed validatetrans, denied bounded transitions); the
    last 128 are also kept in :attr:`errors`.
    """

    def __init__(
        self,
        policydb: PolicyDB,
        *,
        seqno: int = 1,
        audit: Callable[[str], None] | None = None,
    ) -> None:
        p = policydb
        self.policydb = p
        self.seqno = seqno
        self.audit = audit
        self.errors: deque[str] = deque(maxlen=128)
        self.sidtab = SidTab(p)
        self.enforcing = True
        # type -> every type/attribute value it stands for (type_attr_map as lists)
        self._attrs: list[list[int]] = [values(m) for m in p.type_attr_map]
        # unconditional AV rules: (stype, tclass) -> ttype -> (allowed, auditallow, auditdeny)
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
        # extended permission rules: (stype, tclass) -> ttype -> [(kind, ExtendedPerms)]
        xp: dict[tuple[int, int], dict[int, list[tuple[int, ExtendedPerms]]]] = {}
        for (s, t, c, kind), data in p.avtab.items():
            if isinstance(data, tuple):
                lst = xp.setdefault((s, c), {}).setdefault(t, [])
                lst.extend((kind, x) for x in data)
        self._xperms = xp
        # conditional rules: (stype, tclass) -> ttype -> rules
        self._cond = CondIndex(p)
        cond_sc: dict[tuple[int, int], dict[int, list[CondRule]]] = {}
        for (s, t, c), rules in self._cond.by_key.items():
            cond_sc.setdefault((s, c), {})[t] = rules
        self._cond_sc = cond_sc
        self._bool_state: list[bool] = [b.state for b in p.bools]
        self._node_state: list[bool | None] = CondIndex.node_states(p, self._bool_state)

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
    # policy reload

    def load_policy(self, policydb: PolicyDB) -> list[tuple[str, bool, bool]]:
        """Switch to a new policy as ``security_load_policy`` does.

        SIDs keep their numbers: every context is converted into the new policy by name (an
        MLS range is dropped for a non-MLS policy; a non-MLS context gets the ``unlabeled``
        initial SID's range in an MLS policy); contexts the new policy rejects stay as invalid
        text.  Booleans keep their values by name; the seqno goes up by one.  Returns the
        booleans whose values differ from the new policy's defaults, as :meth:`set_bools`.
        """
        old_p = self.policydb
        old_tab = self.sidtab
        old_bools = {b.name: self._bool_state[b.value - 1] for b in old_p.bools}
        fresh = SecurityServer(policydb, seqno=self.seqno + 1, audit=self.audit)
        fresh.enforcing = self.enforcing
        fresh.sidtab.convert_from(old_tab, old_p, policydb)
        keep = {n: v for n, v in old_bools.items() if fresh.policydb.bools.get(n) is not None}
        changed = fresh.set_bools(keep) if keep else []
        fresh.seqno = self.seqno + 1
        self.__dict__.update(fresh.__dict__)
        return [c for c in changed if c[1] != c[2]]

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

    def _error(self, msg: str) -> None:
        self.errors.append(msg)
        if self.audit is not None:
            self.audit(msg)

    # ------------------------------------------------------------------------------------
    # explanations (audit2why)

    def explain(
        self, scon: str | int, tcon: str | int, tclass: str | int, perms: Iterable[str]
    ) -> AvReason:
        """Why ``perms`` of ``tclass`` are (not) granted to ``scon`` on ``tcon``.

        Follows libsepol's ``sepol_compute_av_reason`` as ``audit2why`` uses it: a TE denial is
        reported as BOOLEAN if flipping one boolean alone would allow every requested
        permission, else DONTAUDIT if a dontaudit rule covers a requested permission, else
        TERULE; then CONSTRAINT, RBAC, BOUNDS.  Raises :class:`InvalidContext`,
        :class:`InvalidClass` or ``InvalidPermission`` for bad input.
        """
        p = self.policydb
        s = self.sid_to_struct(scon) if isinstance(scon, int) else parse_context(p, scon)
        t = self.sid_to_struct(tcon) if isinstance(tcon, int) else parse_context(p, tcon)
        cls = self._class(tclass)
        requested = 0
        for name in perms:
            requested |= cls.perm_bit(name)
        allowed, _aa, auditdeny, reason = self._compute(
            s, t, cls, requested, self._node_state, False
        )
        denied = requested & ~allowed
        names = " ".join(p.perm_names_of(cls.value, denied))
        if not reason:
            return AvReason(REASON_ALLOW, 0, text="allowed")
        if reason & _R_TE:
            found = self._booleans_that_allow(s, t, cls, requested)
            if found:
                text = "would be allowed by setting " + ", ".join(f"{n}={int(v)}" for n, v in found)
                return AvReason(REASON_BOOLEAN, denied, booleans=tuple(found), text=text)
            if requested & ~auditdeny:
                return AvReason(
                    REASON_DONTAUDIT, denied, text=f"no allow rule for {{ {names} }}; dontaudit"
                )
            return AvReason(REASON_TERULE, denied, text=f"no allow rule for {{ {names} }}")
        if reason & _R_CONS:
            # every constraint the kernel evaluated and found false, in order (as libsepol's
            # reason buffer lists them, including ones about other permissions)
            texts: list[str] = []
            te_allowed = self._te(s.type, t.type, cls.value, self._node_state)[0]
            for c in cls.constraints:
                if c.permissions & te_allowed and not constraint_eval(p, c.expr, s, t):
                    te_allowed &= ~c.permissions
                    texts.append(constraint_text(p, c, cls.value, s, t, mls=is_mls_constraint(c)))
            return AvReason(
                REASON_CONSTRAINT,
                denied,
                constraint="\n".join(texts),
                text=f"{{ {names} }} denied by a constraint",
            )
        if reason & _R_RBAC:
            return AvReason(
                REASON_RBAC,
                denied,
                text=f"no allow {p.role_name(s.role)} {p.role_name(t.role)} rule",
            )
        return AvReason(REASON_BOUNDS, denied, text="masked by typebounds")

    def _booleans_that_allow(
        self, s: Context, t: Context, cls: ClassDatum, requested: int
    ) -> list[tuple[str, bool]]:
        """Booleans whose flip alone makes the decision fully allow ``requested``."""
        p = self.policydb
        # only booleans guarding conditional rules on these types and class can matter
        nodes: set[int] = set()
        tattrs = self._attrs[t.type - 1]
        for si in self._attrs[s.type - 1]:
            crow = self._cond_sc.get((si, cls.value))
            if crow is None:
                continue
            for ti in tattrs:
                for node, *_ in crow.get(ti, ()):
                    nodes.add(node)
        bounds = p.types.at(s.type)
        if bounds is not None and bounds.bounds:
            nodes = set(range(len(p.cond_list)))  # the parent's rules matter too
        candidates = sorted({b for n in nodes for b in self._cond.node_bools[n]})
        found: list[tuple[str, bool]] = []
        for b in candidates:
            state = list(self._bool_state)
            state[b - 1] = not state[b - 1]
            nstates = CondIndex.node_states(p, state)
            if not self._compute(s, t, cls, requested, nstates, False)[3]:
                found.append((p.bool_name(b), state[b - 1]))
        return found

    # ------------------------------------------------------------------------------------
    # new SIDs

    def transition_sid(
        self, ssid: int, tsid: int, tclass: int | str, name: str | None = None
    ) -> int:
        """``security_transition_sid`` (with ``name``: a named type transition applies)."""
        return self._compute_sid(ssid, tsid, tclass, AVTAB_TRANSITION, name)

    def member_sid(self, ssid: int, tsid: int, tclass: int | str) -> int:
        """``security_member_sid``."""
        return self._compute_sid(ssid, tsid, tclass, AVTAB_MEMBER, None)

    def change_sid(self, ssid: int, tsid: int, tclass: int | str) -> int:
        """``security_change_sid``."""
        return self._compute_sid(ssid, tsid, tclass, AVTAB_CHANGE, None)

    def _type_rule(self, stype: int, ttype: int, tclass: int, kind: int) -> int:
        data = self.policydb.avtab.get((stype, ttype, tclass, kind))
        if isinstance(data, int):
            return data
        for node, branch, k, d in self._cond.by_key.get((stype, ttype, tclass), ()):
            if k == kind and self._node_state[node] is branch and isinstance(d, int):
                return d
        return 0

    def _compute_sid(
        self, ssid: int, tsid: int, tclass: int | str, kind: int, objname: str | None
    ) -> int:
        p = self.policydb
        s = self.sid_to_struct(ssid)
        t = self.sid_to_struct(tsid)
        cls = p.classes.get(tclass) if isinstance(tclass, str) else p.classes.at(tclass)
        if isinstance(tclass, str) and cls is None:
            raise InvalidClass(tclass)
        cval = cls.value if cls is not None else int(tclass)
        proc_like = cls is not None and (cval == p.process_class or _is_socket_class(cls.name))
        # user
        if kind == AVTAB_MEMBER or (cls is not None and cls.default_user == DEFAULT_TARGET):
            user = t.user
        else:
            user = s.user
        # role
        if cls is not None and cls.default_role == DEFAULT_SOURCE:
            role = s.role
        elif cls is not None and cls.default_role == DEFAULT_TARGET:
            role = t.role
        else:
            role = s.role if proc_like else OBJECT_R_VAL
        # type
        if cls is not None and cls.default_type == DEFAULT_SOURCE:
            type_ = s.type
        elif cls is not None and cls.default_type == DEFAULT_TARGET:
            type_ = t.type
        else:
            type_ = s.type if proc_like else t.type
        rule = self._type_rule(s.type, t.type, cval, kind)
        if rule:
            type_ = rule
        if objname is not None and kind == AVTAB_TRANSITION and t.type in p.filename_trans_ttypes:
            named = p.filename_trans.get((s.type, t.type, cval, objname))
            if named:
                type_ = named
        if kind == AVTAB_TRANSITION:
            new_role = p.role_trans_map.get((s.role, t.type, cval))
            if new_role:
                role = new_role
        rng = None
        if p.mls and s.range is not None and t.range is not None:
            rng = compute_range(p, s.range, t.range, s.type, t.type, cval, kind, proc_like)
        new = Context(user, role, type_, rng)
        why = "no common range (glblub)" if p.mls and rng is None else None
        if why is None:
            why = context_invalid_reason(p, new)
        if why is not None:
            shown = (
                format_context(p, new) if rng is not None or not p.mls else f"{user}:{role}:{type_}"
            )
            self._error(
                f"op=security_compute_sid invalid_context={shown} "
                f"scontext={format_context(p, s)} tcontext={format_context(p, t)} "
                f"tclass={p.class_name(cval)}"
            )
            if self.enforcing or (rng is None and p.mls):
                raise InvalidContext(shown, detail=why)
        if new == s:
            return ssid
        if new == t:
            return tsid
        return self.sidtab.context_to_sid(new)

    # ------------------------------------------------------------------------------------
    # transitions

    def bounded_transition(self, old_sid: int, new_sid: int) -> bool:
        """``security_bounded_transition``: may a task move from old to new (types equal or the
        new type is bounded, transitively, by the old one)?"""
        p = self.policydb
        old = self.sid_to_struct(old_sid)
        new = self.sid_to_struct(new_sid)
        if old.type == new.type:
            return True
        index = new.type
        for _ in range(len(p.types.by_value) + 1):
            td = p.types.at(index)
            if td is None or not td.bounds:
                break
            if td.bounds == old.type:
                return True
            index = td.bounds
        self._error(
            "op=security_bounded_transition seresult=denied "
            f"oldcontext={format_context(p, old)} newcontext={format_context(p, new)}"
        )
        return False

    def validate_transition(
        self, old_sid: int, new_sid: int, task_sid: int, tclass: int | str
    ) -> bool:
        """``security_validate_transition``: every validatetrans rule of the class holds."""
        p = self.policydb
        cls = self._class(tclass)
        o, n, x = (self.sid_to_struct(v) for v in (old_sid, new_sid, task_sid))
        for cons in cls.validatetrans:
            if not constraint_eval(p, cons.expr, o, n, x):
                self._error(
                    "op=security_validate_transition seresult=denied "
                    f"oldcontext={format_context(p, o)} newcontext={format_context(p, n)} "
                    f"taskcontext={format_context(p, x)} tclass={cls.name}"
                )
                return False
        return True

    # ------------------------------------------------------------------------------------
    # booleans

    def bool_names(self) -> list[str]:
        """Every boolean, in value order."""
        return [b.name for b in self.policydb.bools]

    def get_bool(self, name: str) -> bool:
        """Current value of boolean ``name``."""
        return self._bool_state[self.policydb.lookup_bool(name).value - 1]

    def set_bools(self, settings: dict[str, bool]) -> list[tuple[str, bool, bool]]:
        """``security_set_bools``: set several booleans, re-evaluate the conditional rules and
        bump the policy seqno.  Returns ``(name, new, old)`` for each changed boolean."""
        p = self.policydb
        todo = [(p.lookup_bool(n), bool(v)) for n, v in settings.items()]
        changed: list[tuple[str, bool, bool]] = []
        for b, v in todo:
            old = self._bool_state[b.value - 1]
            if old != v:
                changed.append((b.name, v, old))
            self._bool_state[b.value - 1] = v
        self._node_state = CondIndex.node_states(p, self._bool_state)
        self.seqno += 1
        return changed

    def set_bool(self, name: str, value: bool) -> list[tuple[str, bool, bool]]:
        """Set and commit one boolean (see :meth:`set_bools`)."""
        return self.set_bools({name: value})

    # ------------------------------------------------------------------------------------
    # object labelling lookups

    def port_sid(self, protocol: int, port: int) -> int:
        """``security_port_sid``: first ``portcon`` covering the port, else the port SID."""
        ctx = labels.port_context(self.policydb, protocol, port)
        return SECINITSID_PORT if ctx is None else self.sidtab.context_to_sid(ctx)

    def netif_sid(self, name: str) -> int:
        """``security_netif_sid``: the interface's ``netifcon`` context, else the netif SID."""
        found = labels.netif_contexts(self.policydb, name)
        return SECINITSID_NETIF if found is None else self.sidtab.context_to_sid(found[0])

    def node_sid(self, addr: str) -> int:
        """``security_node_sid`` for an IPv4 or IPv6 address string (first matching nodecon)."""
        ctx = labels.node_context(self.policydb, addr)
        return SECINITSID_NODE if ctx is None else self.sidtab.context_to_sid(ctx)

    def fs_use(self, fstype: str) -> tuple[int, int]:
        """``security_fs_use``: (behavior, sid) for a filesystem type: its ``fs_use_*``
        statement, else genfs if the filesystem has a ``genfscon`` for "/", else none."""
        fu = labels.fs_use_entry(self.policydb, fstype)
        if fu is not None:
            return fu.behavior, self.sidtab.context_to_sid(fu.context)
        sid = self.genfs_sid(fstype, "/", 0)
        if sid is not None:
            return SECURITY_FS_USE_GENFS, sid
        return SECURITY_FS_USE_NONE, SECINITSID_UNLABELED

    def genfs_sid(self, fstype: str, path: str, tclass: int | str = 0) -> int | None:
        """``security_genfs_sid``: the longest ``genfscon`` prefix of ``path`` for the class
        (entries without a class match any); None when nothing matches."""
        sclass = self._class(tclass).value if tclass else 0
        ctx = labels.genfs_context(self.policydb, fstype, path, sclass)
        return None if ctx is None else self.sidtab.context_to_sid(ctx)
