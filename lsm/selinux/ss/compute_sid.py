"""New SIDs and transition checks: ``security_compute_sid`` and its neighbours.

:class:`SidComputation` holds ``security_transition_sid``/``member_sid``/``change_sid``
(class defaults, type rules incl. enabled conditional ones, named transitions,
role_transition, range_transition / default_range, validity of the result) and the two
checks on a context change, ``security_bounded_transition`` and
``security_validate_transition`` (validatetrans rules).
"""

from __future__ import annotations

from lsm.selinux.policy.errors import InvalidClass, InvalidContext
from lsm.selinux.ss.constraint import constraint_eval
from lsm.selinux.ss.context import context_invalid_reason, format_context
from lsm.selinux.ss.mls import compute_range
from lsm.selinux.ss.policydb import (
    AVTAB_CHANGE,
    AVTAB_MEMBER,
    AVTAB_TRANSITION,
    DEFAULT_SOURCE,
    DEFAULT_TARGET,
    OBJECT_R_VAL,
    Context,
)
from lsm.selinux.ss.server_base import ServerBase


def _is_socket_class(name: str) -> bool:
    return name == "socket" or name.endswith("_socket")


class SidComputation(ServerBase):
    """``security_compute_sid`` and the transition checks (see module doc)."""

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
