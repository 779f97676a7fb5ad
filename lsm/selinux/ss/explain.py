"""Explanations (audit2why): *why* a set of permissions is denied.

:class:`Explanations` is libsepol's ``sepol_compute_av_reason`` as ``audit2why`` uses it, built
on the access decision of :mod:`.access` (its reason bits) plus a search for booleans whose
flip alone would allow the access.  :class:`AvReason` and the ``REASON_*`` codes (numbered as
``selinux.audit2why``'s) are its result; :mod:`lsm.selinux.ss.services` re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from lsm.selinux.ss.access import _R_CONS, _R_RBAC, _R_TE, AccessDecisions
from lsm.selinux.ss.conditional import CondIndex
from lsm.selinux.ss.constraint import constraint_eval, constraint_text, is_mls_constraint
from lsm.selinux.ss.context import parse_context
from lsm.selinux.ss.policydb import ClassDatum, Context

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


class Explanations(AccessDecisions):
    """``sepol_compute_av_reason`` on top of :class:`AccessDecisions` (see module doc)."""

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
