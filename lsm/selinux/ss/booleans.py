"""Booleans: reading and committing conditional-policy booleans (``security_set_bools``).

:class:`Booleans` changes the boolean state the conditional rules are evaluated against; the
access decisions and type rules read the resulting per-node state.  A policy reload carries
the values over by name (see :meth:`~lsm.selinux.ss.services.SecurityServer.load_policy`).
"""

from __future__ import annotations

from lsm.selinux.ss.conditional import CondIndex
from lsm.selinux.ss.server_base import ServerBase


class Booleans(ServerBase):
    """Boolean names, values and commits (see module doc)."""

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
