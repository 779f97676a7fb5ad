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

Layout: :class:`SecurityServer` (here: construction and policy reload) is assembled from mixins
that each hold one part of ``services.c`` over the shared state declared by
:class:`~lsm.selinux.ss.server_base.ServerBase` (contexts <-> SIDs, class lookups):
:mod:`.access` (``compute_av``, xperms decisions), :mod:`.explain` (audit2why reasons,
:class:`AvReason`, ``REASON_*``), :mod:`.compute_sid` (new SIDs, bounded/validate transition),
:mod:`.booleans` and :mod:`.ocontext_sids` (port/netif/node/fs_use/genfs SIDs).  Every name
this module exported before the split is still importable from here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from lsm.selinux.ss.access import AccessDecisions
from lsm.selinux.ss.booleans import Booleans
from lsm.selinux.ss.compute_sid import SidComputation
from lsm.selinux.ss.conditional import CondIndex
from lsm.selinux.ss.explain import (
    REASON_ALLOW,
    REASON_BOOLEAN,
    REASON_BOUNDS,
    REASON_CONSTRAINT,
    REASON_DONTAUDIT,
    REASON_NAMES,  # noqa: F401 - re-exported (not in __all__, as before the split)
    REASON_RBAC,
    REASON_TERULE,
    AvReason,
    Explanations,
)
from lsm.selinux.ss.mapping import ClassMapping
from lsm.selinux.ss.ocontext_sids import ObjectLabelling
from lsm.selinux.ss.policydb import PolicyDB
from lsm.selinux.ss.server_base import (
    SECINITSID_FILE,  # noqa: F401 - re-exported (as above)
    SECINITSID_NETIF,  # noqa: F401 - re-exported (as above)
    SECINITSID_NODE,  # noqa: F401 - re-exported (as above)
    SECINITSID_PORT,  # noqa: F401 - re-exported (as above)
    SECINITSID_UNLABELED,  # noqa: F401 - re-exported (as above)
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


class SecurityServer(Explanations, AccessDecisions, SidComputation, Booleans, ObjectLabelling):
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
        self._build_av_tables(p)
        self._bool_state = [b.state for b in p.bools]
        self._node_state = CondIndex.node_states(p, self._bool_state)

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
