"""The SELinux access vector cache (``security/selinux/avc.c``).

Caches the security server's whole :class:`AvDecision` per ``(ssid, tsid, tclass)``.  The
cache keeps Linux's observable structure so the ``/sys/fs/selinux/avc`` numbers match what the
kernel would show: ``slots`` hash buckets chosen by ``avc_hash``, a ``cache_threshold`` of active
nodes past which each allocation reclaims ``reclaim_count`` nodes by walking buckets from a
rotating ``lru_hint`` (not LRU), and the ``lookups hits misses allocations reclaims frees``
counters (an RCU grace period is immediate here, so ``frees`` counts at deletion).  A dict keyed
by the triple sits beside the buckets so a hit costs one dict lookup and two bit tests.

Permissive handling is Linux's: a denial that is not enforced (global permissive or an
``AVD_FLAGS_PERMISSIVE`` domain) *grants* the requested bits in the cache entry, so the same
check is audited once, until a reset (policy load, boolean commit, ``setenforce 1``).

Audit data is lazy: ``has_perm`` takes an :class:`~lsm.selinux.audit_fields.AuditData` (cheap to
keep prebuilt on a kernel object) or a zero-argument callable returning one; it is only looked
at when a record is actually written.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import structlog
from attrs import define, field, frozen, setters

from lsm.selinux.audit import AUDIT_UNSET, AuditLog
from lsm.selinux.audit_fields import AuditData
from lsm.selinux.avc_xperms import ExtendedPerms
from lsm.selinux.ss.avd import AVD_FLAGS_NEVERAUDIT, AVD_FLAGS_PERMISSIVE, AvDecision

__all__ = [
    "AVC_CACHE_RECLAIM",
    "AVC_CACHE_SLOTS",
    "AVC_DEF_CACHE_THRESHOLD",
    "AVC_STRICT",
    "AccessVectorCache",
    "AuditDataArg",
    "AvcNode",
    "ClassInfo",
    "SecurityServerProtocol",
    "avc_audit_required",
    "avc_hash",
]

_log = structlog.get_logger(__name__)

AVC_CACHE_SLOTS = 512
AVC_DEF_CACHE_THRESHOLD = 512
AVC_CACHE_RECLAIM = 16
#: ``avc_has_perm_noaudit`` flag: deny even when permissive (used for internal checks)
AVC_STRICT = 1

#: ``slow_bits`` while the fast path is off: every request takes the slow path
_DEAD = -1

_EACCES = -errno.EACCES
_EINVAL = -errno.EINVAL
_ENOENT = -errno.ENOENT

#: what ``has_perm`` accepts as audit data: nothing, a prebuilt object, or a builder
AuditDataArg = AuditData | Callable[[], AuditData] | None


@runtime_checkable
class SecurityServerProtocol(Protocol):
    """The part of ``ss/services.py`` the AVC needs (``security_compute_av`` and friends).

    ``sid_to_context`` raises (``KeyError``/``ValueError``/``LookupError``) for a SID without a
    context; the record then shows ``ssid=N``.  A server may also offer
    ``sid_to_context_inval(sid) -> str | None`` (the raw text of a context the current policy
    rejects), used for ``srawcon=``/``trawcon=``.
    """

    def compute_av(self, ssid: int, tsid: int, tclass: int) -> AvDecision:
        """Decision for the triple; ``seqno`` is the policy's ``latest_granting``."""
        ...

    def sid_to_context(self, sid: int) -> str:
        """Context string of a SID."""
        ...


@frozen
class ClassInfo:
    """Names for one class value: how audit records spell its class and permission bits.

    ``perms`` lists ``(name, bit)`` pairs in the class's *kernel* order (the order records
    print); ``bit`` is the mask in the decision's bit space, so the glue can map kernel names
    onto the policy's bit order, as ``selinux_set_mapping`` does.
    """

    name: str
    perms: tuple[tuple[str, int], ...]

    @classmethod
    def from_names(cls, name: str, perm_names: Sequence[str]) -> ClassInfo:
        """Class whose i-th permission name is bit ``1 << i`` (policy order = kernel order)."""
        return cls(name, tuple((p, 1 << i) for i, p in enumerate(perm_names)))

    @classmethod
    def from_policy(
        cls, name: str, kernel_perms: Sequence[str], policy_bits: Mapping[str, int]
    ) -> ClassInfo:
        """Kernel print order (e.g. ``classmap.class_perms``) with the loaded policy's bits.

        Permissions the policy does not define are left out (their bits can never be set).
        """
        return cls(name, tuple((p, policy_bits[p]) for p in kernel_perms if p in policy_bits))

    def bits(self, *names: str) -> int:
        """Mask for permission names (raises ``KeyError`` for an unknown name)."""
        table = dict(self.perms)
        mask = 0
        for n in names:
            mask |= table[n]
        return mask

    def names(self, av: int) -> tuple[list[str], int]:
        """``avc_dump_av``: names of the bits in ``av`` in kernel order, plus unnamed bits."""
        out: list[str] = []
        for name, bit in self.perms:
            if av & bit:
                out.append(name)
                av &= ~bit
        return out, av


@define(slots=True)
class AvcNode:
    """One cached decision (``struct avc_node``) plus the hot path's precomputed test mask."""

    ssid: int
    tsid: int
    tclass: int
    avd: AvDecision
    #: bits that force the slow path: not allowed, or allowed but ``auditallow``-ed (all
    #: bits while the fast path is off)
    slow_bits: int
    #: in the cache with the fast path on.  The glue's per-object memos keep a node that
    #: granted a check and are valid exactly while this holds (its decision never changes:
    #: an update replaces the node)
    live: bool = True
    #: ioctl extended-permission decisions (``lsm.selinux.avc_xperms.XpNode``), on first use
    xp: Any = None


def _slow_bits(avd: AvDecision) -> int:
    if avd.flags & AVD_FLAGS_NEVERAUDIT:  # granted bits are never audited
        return ~avd.allowed
    return ~avd.allowed | avd.auditallow


def avc_hash(ssid: int, tsid: int, tclass: int, slots: int = AVC_CACHE_SLOTS) -> int:
    """Linux's bucket function: ``(ssid ^ (tsid << 2) ^ (tclass << 4)) & (slots - 1)``."""
    return (ssid ^ (tsid << 2) ^ (tclass << 4)) & (slots - 1)


def avc_audit_required(
    requested: int, avd: AvDecision, result: int, auditdeny: int = 0
) -> tuple[int, int]:
    """Which bits to audit, and the denied bits: ``(audited, denied)``.

    Denied bits are audited unless ``dontaudit`` cleared them from ``auditdeny``; a failure with
    nothing denied audits everything requested; a grant is audited only for ``auditallow``
    bits.  ``auditdeny`` (e.g. ``file:audit_access`` for access(2) probes) must also be covered
    by the decision's ``auditdeny`` for a denial to be logged.
    """
    if avd.flags & AVD_FLAGS_NEVERAUDIT:
        return 0, 0
    denied = requested & ~avd.allowed
    if denied:
        audited = denied & avd.auditdeny
        if auditdeny and not (auditdeny & avd.auditdeny):
            audited = 0
    elif result:
        audited = denied = requested
    else:
        audited = requested & avd.auditallow
    return audited, denied


def _power_of_two(_inst: object, attribute: object, value: int) -> None:
    if value <= 0 or value & (value - 1):
        raise ValueError(f"AVC slots must be a power of two, got {value}")


@define(on_setattr=setters.NO_OP)  # no generated __setattr__: counters are bumped on the hot path
class AccessVectorCache(ExtendedPerms):
    """``avc.c``: lookup, insert, threshold reclaim, permissive grants, reset, auditing.

    The hook glue calls :meth:`has_perm` (``avc_has_perm``).  The security server (or whoever
    loads policy / commits booleans) calls :meth:`ss_reset` with the new seqno; ``setenforce``
    goes through :meth:`setenforce`.
    """

    server: SecurityServerProtocol
    audit_log: AuditLog | None = None
    classmap: dict[int, ClassInfo] = field(factory=dict)
    enforcing: bool = True
    slots: int = field(default=AVC_CACHE_SLOTS, validator=_power_of_two)
    cache_threshold: int = AVC_DEF_CACHE_THRESHOLD
    reclaim_count: int = AVC_CACHE_RECLAIM
    # cache_stats counters (hits = lookups - misses)
    lookups: int = field(init=False, default=0)
    misses: int = field(init=False, default=0)
    allocations: int = field(init=False, default=0)
    reclaims: int = field(init=False, default=0)
    frees: int = field(init=False, default=0)
    active_nodes: int = field(init=False, default=0)
    latest_notif: int = field(init=False, default=0)
    lru_hint: int = field(init=False, default=0)
    #: False while a per-check observer needs every check on the slow path
    fast_path: bool = field(init=False, default=True)
    _nodes: dict[tuple[int, int, int], AvcNode] = field(init=False, factory=dict)
    _buckets: list[list[AvcNode]] = field(init=False)
    _callbacks: list[Callable[[], int]] = field(init=False, factory=list)

    def __attrs_post_init__(self) -> None:
        # each bucket lists its nodes oldest first, so the list's end is the hlist head
        self._buckets = [[] for _ in range(self.slots)]

    @property
    def nodes(self) -> dict[tuple[int, int, int], AvcNode]:
        """The live ``(ssid, tsid, tclass) -> node`` map (the same dict for the cache's life).

        For callers that inline the hit test on a hot path: a node whose ``slow_bits`` share
        no bit with the request is an allowed, unaudited hit; count it in ``lookups``.
        """
        return self._nodes

    # -- the hot path --------------------------------------------------------------------
    def has_perm(
        self, ssid: int, tsid: int, tclass: int, requested: int, auditdata: AuditDataArg = None
    ) -> int:
        """``avc_has_perm``: 0 if every requested bit is granted, else ``-EACCES``.

        A hit that is allowed and not ``auditallow``-ed returns after one dict lookup and one
        bit test against the node's precomputed ``slow_bits``; everything else (miss, denial,
        audit, an empty request) goes to the slow path.
        """
        self.lookups += 1
        node = self._nodes.get((ssid, tsid, tclass))
        if node is not None and requested and not requested & node.slow_bits:
            return 0
        return self._has_perm_slow(ssid, tsid, tclass, requested, auditdata, node)

    avc_has_perm = has_perm

    def _has_perm_slow(
        self,
        ssid: int,
        tsid: int,
        tclass: int,
        requested: int,
        auditdata: AuditDataArg,
        node: AvcNode | None,
    ) -> int:
        if not requested:  # WARN_ON(!requested): refused before the lookup in Linux
            self.lookups -= 1
            return _EACCES
        rc, avd = self._noaudit_after_lookup(ssid, tsid, tclass, requested, 0, node)
        rc2 = self.avc_audit(ssid, tsid, tclass, requested, avd, rc, auditdata)
        return rc2 if rc2 else rc

    def has_perm_noaudit(
        self, ssid: int, tsid: int, tclass: int, requested: int, flags: int = 0
    ) -> tuple[int, AvDecision]:
        """``avc_has_perm_noaudit``: the check alone; returns ``(rc, decision used)``.

        The decision is the one the check saw (before any permissive grant), which is what
        :meth:`avc_audit` needs to report the denial.  An empty request raises ``ValueError``
        (Linux WARNs and returns ``-EACCES`` without a decision to hand back).
        """
        if not requested:
            raise ValueError("avc_has_perm_noaudit: no permission requested")
        self.lookups += 1
        node = self._nodes.get((ssid, tsid, tclass))
        return self._noaudit_after_lookup(ssid, tsid, tclass, requested, flags, node)

    avc_has_perm_noaudit = has_perm_noaudit

    def _noaudit_after_lookup(
        self,
        ssid: int,
        tsid: int,
        tclass: int,
        requested: int,
        flags: int,
        node: AvcNode | None,
    ) -> tuple[int, AvDecision]:
        if node is None:
            self.misses += 1
            avd = self._compute_av(ssid, tsid, tclass)
        else:
            avd = node.avd
        if requested & ~avd.allowed:
            return self._denied(ssid, tsid, tclass, requested, flags, avd), avd
        return 0, avd

    def _compute_av(self, ssid: int, tsid: int, tclass: int) -> AvDecision:
        """``avc_compute_av``: ask the server and cache the answer (unless it is stale)."""
        avd = self.server.compute_av(ssid, tsid, tclass)
        self._insert(ssid, tsid, tclass, avd)
        return avd

    def _denied(
        self, ssid: int, tsid: int, tclass: int, requested: int, flags: int, avd: AvDecision
    ) -> int:
        """``avc_denied``: enforce, or grant in the cache so a permissive denial logs once."""
        if flags & AVC_STRICT:
            return _EACCES
        if self.enforcing and not avd.flags & AVD_FLAGS_PERMISSIVE:
            return _EACCES
        self._update_node_grant(ssid, tsid, tclass, requested, avd.seqno)
        return 0

    # -- auditing ------------------------------------------------------------------------
    def avc_audit(
        self,
        ssid: int,
        tsid: int,
        tclass: int,
        requested: int,
        avd: AvDecision,
        result: int,
        auditdata: AuditDataArg = None,
        auditdeny: int = 0,
    ) -> int:
        """``avc_audit``: write an AVC record if :func:`avc_audit_required` says so.

        Returns 0, or ``-EINVAL`` when the class has no :class:`ClassInfo` (Linux WARNs and
        fails the check the same way for a class it cannot name).
        """
        audited, denied = avc_audit_required(requested, avd, result, auditdeny)
        if not audited:
            return 0
        return self.slow_avc_audit(
            ssid, tsid, tclass, requested, audited, denied, result, auditdata
        )

    audit = avc_audit

    def slow_avc_audit(
        self,
        ssid: int,
        tsid: int,
        tclass: int,
        requested: int,
        audited: int,
        denied: int,
        result: int,
        auditdata: AuditDataArg = None,
    ) -> int:
        """Build and log the record (the rarely taken part of ``avc_audit``)."""
        info = self.classmap.get(tclass)
        if info is None:
            _log.error("avc_audit_unknown_class", tclass=tclass, ssid=ssid, tsid=tsid)
            return _EINVAL
        if self.audit_log is None:
            return 0
        if auditdata is not None and not isinstance(auditdata, AuditData):
            auditdata = auditdata()
        names, unknown = info.names(audited)
        self.audit_log.log_avc(
            denied=bool(denied),
            perms=names,
            unknown_bits=unknown,
            tclass=info.name,
            scontext=self._context(ssid),
            tcontext=self._context(tsid),
            ssid=ssid,
            tsid=tsid,
            auditdata=auditdata,
            permissive=0 if result else 1,
            srawcon=self._raw_context(ssid),
            trawcon=self._raw_context(tsid),
        )
        return 0

    def _context(self, sid: int) -> str | None:
        try:
            return self.server.sid_to_context(sid)
        except (LookupError, ValueError):
            return None

    def _raw_context(self, sid: int) -> str | None:
        fn: Callable[[int], str | None] | None = getattr(self.server, "sid_to_context_inval", None)
        return fn(sid) if fn is not None else None

    # -- cache structure -----------------------------------------------------------------
    def _hash(self, ssid: int, tsid: int, tclass: int) -> int:
        return (ssid ^ (tsid << 2) ^ (tclass << 4)) & (self.slots - 1)

    def _alloc_node(self) -> None:
        """``avc_alloc_node``: count the allocation; past the threshold, reclaim first."""
        self.allocations += 1
        self.active_nodes += 1
        if self.active_nodes > self.cache_threshold:
            self._reclaim_node()

    def _reclaim_node(self) -> int:
        """``avc_reclaim_node``: free up to ``reclaim_count`` nodes, bucket by bucket."""
        mask = self.slots - 1
        ecx = 0
        for _ in range(self.slots):
            self.lru_hint = (self.lru_hint + 1) & 0xFFFFFFFF
            bucket = self._buckets[self.lru_hint & mask]
            while bucket:
                node = bucket.pop()  # from the head, newest first
                del self._nodes[(node.ssid, node.tsid, node.tclass)]
                node.live = False
                self.active_nodes -= 1
                self.reclaims += 1
                self.frees += 1
                ecx += 1
                if ecx >= self.reclaim_count:
                    return ecx
        return ecx

    def _link(self, node: AvcNode, old: AvcNode | None) -> None:
        bucket = self._buckets[self._hash(node.ssid, node.tsid, node.tclass)]
        if old is None:
            bucket.append(node)
        else:  # avc_node_replace: same place in the chain; the old node is freed
            bucket[next(i for i, n in enumerate(bucket) if n is old)] = node
            old.live = False
            self.active_nodes -= 1
            self.frees += 1
        self._nodes[(node.ssid, node.tsid, node.tclass)] = node

    def _insert(self, ssid: int, tsid: int, tclass: int, avd: AvDecision) -> AvcNode | None:
        """``avc_insert``: refuse decisions older than the last reset; replace a same-key node."""
        if avd.seqno < self.latest_notif:
            _log.warning("avc_stale_insert", seqno=avd.seqno, latest_notif=self.latest_notif)
            return None
        self._alloc_node()
        fast = self.fast_path
        node = AvcNode(ssid, tsid, tclass, avd, _slow_bits(avd) if fast else _DEAD, fast)
        self._link(node, self._nodes.get((ssid, tsid, tclass)))
        return node

    def _update_node_grant(
        self, ssid: int, tsid: int, tclass: int, perms: int, seqno: int
    ) -> int:
        """``avc_update_node(AVC_CALLBACK_GRANT)``: copy the node with ``perms`` allowed."""
        self._alloc_node()  # may reclaim the very node we are about to update
        orig = self._nodes.get((ssid, tsid, tclass))
        if orig is None or orig.avd.seqno != seqno:
            self.active_nodes -= 1  # avc_node_kill
            self.frees += 1
            return _ENOENT
        avd = orig.avd
        new_avd = AvDecision(
            avd.allowed | perms, avd.auditallow, avd.auditdeny, avd.seqno, avd.flags
        )
        fast = self.fast_path
        slow = _slow_bits(new_avd) if fast else _DEAD
        node = AvcNode(ssid, tsid, tclass, new_avd, slow, fast, xp=orig.xp)
        self._link(node, orig)
        return 0

    def lookup(self, ssid: int, tsid: int, tclass: int) -> AvDecision | None:
        """Peek at a cached decision without touching the statistics (labs, tests)."""
        node = self._nodes.get((ssid, tsid, tclass))
        return None if node is None else node.avd

    # -- flush and reset -----------------------------------------------------------------
    def flush(self) -> None:
        """``avc_flush``: delete every node (counted as frees, not reclaims)."""
        for bucket in self._buckets:
            self.frees += len(bucket)
            self.active_nodes -= len(bucket)
            for node in bucket:
                node.live = False
            bucket.clear()
        self._nodes.clear()

    def set_fast_path(self, enabled: bool) -> None:
        """Let hits of the live nodes take the fast path, or send every check of them to
        the slow path (for a per-check observer such as policy coverage).  Statistics and
        decisions are the same either way."""
        self.fast_path = enabled
        for node in self._nodes.values():
            node.slow_bits = _slow_bits(node.avd) if enabled else _DEAD
            node.live = enabled

    def add_callback(self, callback: Callable[[], int]) -> None:
        """``avc_add_callback(AVC_CALLBACK_RESET)``: run on every reset (netif/port caches...)."""
        self._callbacks.append(callback)

    def ss_reset(self, seqno: int) -> int:
        """``avc_ss_reset``: flush, run reset callbacks, raise ``latest_notif`` to ``seqno``.

        Call with the new seqno after a policy load or boolean commit; decisions computed
        under an older seqno are then refused at insert.  Returns the first callback error.
        """
        self.flush()
        rc = 0
        for cb in self._callbacks:
            tmp = cb()
            if not rc:
                rc = tmp
        self.latest_notif = max(self.latest_notif, seqno)
        return rc

    avc_ss_reset = ss_reset

    def policy_loaded(
        self, seqno: int, auid: int = AUDIT_UNSET, ses: int = AUDIT_UNSET
    ) -> int:
        """After a policy load: reset to the new seqno, then the ``MAC_POLICY_LOAD`` record.

        Same order as Linux (``selinux_policy_commit`` notifies the AVC, then
        ``sel_write_load`` logs).  Returns the reset's result.
        """
        rc = self.ss_reset(seqno)
        if self.audit_log is not None:
            self.audit_log.log_policy_load(auid, ses)
        return rc

    def bools_committed(
        self,
        changes: Sequence[tuple[str, bool | int, bool | int]],
        seqno: int,
        auid: int = AUDIT_UNSET,
        ses: int = AUDIT_UNSET,
    ) -> int:
        """After a boolean commit: one ``MAC_CONFIG_CHANGE`` per changed boolean, then reset.

        ``changes`` is ``(name, new, old)`` per changed boolean, as the server's ``set_bools``
        returns it; ``seqno`` is the server's seqno after the commit.
        """
        if self.audit_log is not None:
            for name, new, old in changes:
                self.audit_log.log_config_change(name, int(new), int(old), auid, ses)
        return self.ss_reset(seqno)

    def setenforce(
        self, value: bool | int, auid: int = AUDIT_UNSET, ses: int = AUDIT_UNSET
    ) -> bool:
        """``sel_write_enforce`` after its permission check: MAC_STATUS, then flush on enforce.

        Returns whether the mode changed (no record and no flush when it did not).
        """
        new, old = bool(value), self.enforcing
        if new == old:
            return False
        if self.audit_log is not None:
            self.audit_log.log_mac_status(int(new), int(old), auid, ses)
        self.enforcing = new
        if new:
            self.ss_reset(0)
        return True

    # -- introspection (/sys/fs/selinux/avc) ------------------------------------------------
    @property
    def hits(self) -> int:
        """``lookups - misses``, as selinuxfs computes it."""
        return self.lookups - self.misses

    def stats(self) -> dict[str, int]:
        """The ``cache_stats`` counters as a dict (``k.avc_stats()``)."""
        return {
            "lookups": self.lookups,
            "hits": self.hits,
            "misses": self.misses,
            "allocations": self.allocations,
            "reclaims": self.reclaims,
            "frees": self.frees,
        }

    def cache_stats(self) -> str:
        """``/sys/fs/selinux/avc/cache_stats`` text (one simulated CPU)."""
        s = self.stats()
        return "lookups hits misses allocations reclaims frees\n" + " ".join(
            str(s[k]) for k in ("lookups", "hits", "misses", "allocations", "reclaims", "frees")
        ) + "\n"

    def hash_stats(self) -> str:
        """``/sys/fs/selinux/avc/hash_stats`` text."""
        used = sum(1 for b in self._buckets if b)
        longest = max((len(b) for b in self._buckets), default=0)
        return (
            f"entries: {self.active_nodes}\nbuckets used: {used}/{self.slots}\n"
            f"longest chain: {longest}\n"
        )

    def set_classmap(self, classmap: Mapping[int, ClassInfo]) -> None:
        """Replace the class/permission names after a policy load (``selinux_set_mapping``)."""
        self.classmap = dict(classmap)
