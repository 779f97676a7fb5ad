"""Cache behaviour of the AVC: what Linux's ``/sys/fs/selinux/avc/cache_stats`` would show.

Each test states the counters Linux would report for the same sequence of checks.
"""

from __future__ import annotations

import errno
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsm.selinux.audit_fields import IpcAudit
from lsm.selinux.avc import AVC_STRICT, AccessVectorCache, avc_hash
from lsm.selinux.ss.avd import ALL_PERMS, AvDecision

from .conftest import CLASSMAP, FILE, MSGQ, FakeServer, bits

EACCES = -errno.EACCES


def test_linux_defaults(avc: AccessVectorCache) -> None:
    assert (avc.slots, avc.cache_threshold, avc.reclaim_count) == (512, 512, 16)
    assert avc.hash_stats() == "entries: 0\nbuckets used: 0/512\nlongest chain: 0\n"


def test_hash_is_linux_avc_hash() -> None:
    assert avc_hash(1, 2, 3) == (1 ^ 8 ^ 48) & 511
    assert avc_hash(600, 0, 0) == 600 & 511
    assert avc_hash(0, 0, 32) == 0  # 32 << 4 == 512: wraps to bucket 0


def test_miss_then_hits(avc: AccessVectorCache, server: FakeServer) -> None:
    server.set(1, 2, MSGQ, allowed=bits(MSGQ, "associate", "enqueue", "write"))
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "associate")) == 0
    # the whole vector was cached: other perms of the class are hits
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue", "write")) == 0
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "associate")) == 0
    assert server.calls == 1
    assert avc.stats() == {
        "lookups": 3, "hits": 2, "misses": 1, "allocations": 1, "reclaims": 0, "frees": 0,
    }
    assert avc.cache_stats() == (
        "lookups hits misses allocations reclaims frees\n3 2 1 1 0 0\n"
    )


def test_denial_is_enforced_and_cached(avc: AccessVectorCache, server: FakeServer) -> None:
    server.set(1, 2, MSGQ, allowed=bits(MSGQ, "associate"))
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "associate", "enqueue")) == EACCES
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue")) == EACCES
    assert server.calls == 1
    assert (avc.lookups, avc.misses, avc.allocations) == (2, 1, 1)


def test_distinct_triples_are_distinct_entries(avc: AccessVectorCache) -> None:
    for key in [(1, 2, MSGQ), (2, 1, MSGQ), (1, 2, FILE)]:
        avc.has_perm(*key, 1)
    assert avc.allocations == 3
    assert avc.hash_stats().startswith("entries: 3\n")


def test_threshold_reclaims_sixteen_by_default(server: FakeServer) -> None:
    avc = AccessVectorCache(server, None, dict(CLASSMAP))
    for s in range(512):
        avc.has_perm(s, 0, MSGQ, 1)
    assert (avc.active_nodes, avc.reclaims) == (512, 0)
    avc.has_perm(512, 0, MSGQ, 1)  # node 513 takes active past 512: reclaim 16
    assert avc.reclaims == 16
    assert avc.frees == 16
    assert avc.active_nodes == 513 - 16
    assert avc.allocations == 513


def test_reclaim_walks_buckets_from_lru_hint(server: FakeServer) -> None:
    avc = AccessVectorCache(server, None, dict(CLASSMAP), slots=8, cache_threshold=4,
                            reclaim_count=2)
    # tclass 0, tsid 0: bucket = ssid & 7
    for s in (1, 9, 2, 3):  # bucket 1 holds 1 then 9 (9 at the head), buckets 2 and 3
        avc.has_perm(s, 0, 0, 1)
    assert avc.lookup(9, 0, 0) is not None
    avc.has_perm(4, 0, 0, 1)  # 5th node: reclaim 2 starting at bucket lru_hint+1 == 1
    assert avc.lookup(9, 0, 0) is None and avc.lookup(1, 0, 0) is None
    assert avc.lookup(2, 0, 0) is not None and avc.lookup(4, 0, 0) is not None
    assert (avc.reclaims, avc.lru_hint) == (2, 1)
    avc.has_perm(5, 0, 0, 1)  # active 4 again, no reclaim
    avc.has_perm(6, 0, 0, 1)  # 5 > 4: next walk starts at bucket 2: frees 2, then 3
    assert avc.lookup(2, 0, 0) is None and avc.lookup(3, 0, 0) is None
    assert avc.reclaims == 4
    assert avc.hash_stats() == "entries: 3\nbuckets used: 3/8\nlongest chain: 1\n"


def test_slots_must_be_power_of_two(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="power of two"):
        AccessVectorCache(server, None, slots=500)


def test_ss_reset_flushes_and_refuses_stale_inserts(avc: AccessVectorCache,
                                                   server: FakeServer) -> None:
    server.set(1, 2, MSGQ, allowed=ALL_PERMS)
    avc.has_perm(1, 2, MSGQ, 1)
    avc.has_perm(1, 3, MSGQ, 1)
    assert avc.ss_reset(5) == 0  # policy load: seqno 5
    assert avc.active_nodes == 0 and avc.frees == 2 and avc.reclaims == 0
    assert avc.latest_notif == 5
    # a decision computed under the old policy (seqno 0) is used but not cached
    assert avc.has_perm(1, 2, MSGQ, 1) == 0
    assert avc.active_nodes == 0 and avc.allocations == 2
    assert avc.has_perm(1, 2, MSGQ, 1) == 0
    assert avc.misses == 4
    server.seqno = 5
    avc.has_perm(1, 2, MSGQ, 1)
    assert avc.active_nodes == 1
    avc.has_perm(1, 2, MSGQ, 1)
    assert avc.misses == 5


def test_reset_runs_callbacks_and_keeps_highest_seqno(avc: AccessVectorCache) -> None:
    seen: list[int] = []
    avc.add_callback(lambda: seen.append(1) or 0)
    avc.add_callback(lambda: -errno.ENOMEM)
    avc.add_callback(lambda: seen.append(3) or -errno.EINVAL)
    assert avc.avc_ss_reset(7) == -errno.ENOMEM
    assert seen == [1, 3]
    avc.ss_reset(3)
    assert avc.latest_notif == 7


def test_reinsert_same_key_replaces(avc: AccessVectorCache, server: FakeServer) -> None:
    avc.has_perm(1, 2, MSGQ, 1)
    avc._insert(1, 2, MSGQ, AvDecision(ALL_PERMS, 0, ALL_PERMS, 0))
    assert avc.active_nodes == 1 and avc.allocations == 2 and avc.frees == 1
    assert avc.has_perm(1, 2, MSGQ, 1) == 0


def test_strict_denies_even_when_permissive(avc: AccessVectorCache) -> None:
    avc.enforcing = False
    rc, avd = avc.has_perm_noaudit(1, 2, MSGQ, 1, AVC_STRICT)
    assert rc == EACCES and avd.allowed == 0
    assert avc.has_perm_noaudit(1, 2, MSGQ, 1)[0] == 0  # not strict: granted


def test_empty_request_is_refused(avc: AccessVectorCache, server: FakeServer) -> None:
    server.set(1, 2, MSGQ, allowed=ALL_PERMS)
    assert avc.has_perm(1, 2, MSGQ, 0) == EACCES  # refused before any lookup
    assert avc.lookups == 0 and server.calls == 0
    avc.has_perm(1, 2, MSGQ, 1)
    assert avc.has_perm(1, 2, MSGQ, 0) == EACCES  # also when the triple is cached
    assert avc.lookups == 1
    with pytest.raises(ValueError, match="no permission requested"):
        avc.has_perm_noaudit(1, 2, MSGQ, 0)


def test_hot_path_neither_computes_nor_audits(avc: AccessVectorCache, server: FakeServer,
                                             log) -> None:
    server.set(1, 2, MSGQ, allowed=ALL_PERMS)
    avc.has_perm(1, 2, MSGQ, 1)

    def builder() -> IpcAudit:
        raise AssertionError("audit data built on an allowed hit")

    for _ in range(100):
        assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue"), builder) == 0
    assert server.calls == 1 and log.lines == []


def test_hot_path_allocates_nothing(avc: AccessVectorCache, server: FakeServer) -> None:
    """An allowed hit keeps nothing: no node copy, no record, no audit data."""
    server.set(1, 2, MSGQ, allowed=ALL_PERMS)
    has_perm = avc.has_perm
    ad = IpcAudit(5)
    has_perm(1, 2, MSGQ, 6, ad)
    tracemalloc.start()
    try:
        for _ in range(20):  # warm up any interpreter caches
            has_perm(1, 2, MSGQ, 6, ad)
        before = tracemalloc.take_snapshot()
        for _ in range(5000):
            has_perm(1, 2, MSGQ, 6, ad)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename")
                if s.traceback[0].filename.endswith("avc.py"))
    # only the new value of the ``lookups`` counter (one int) may survive the 5000 calls
    assert grown <= 64


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5), st.integers(1, 3),
                          st.integers(1, 15)), max_size=300),
       st.integers(1, 20), st.integers(1, 5))
def test_cache_agrees_with_server(checks: list[tuple[int, int, int, int]], threshold: int,
                                  reclaim: int) -> None:
    """Whatever gets reclaimed, an enforcing AVC answers as the server, and stats add up."""
    srv = FakeServer()
    for s in range(41):
        for t in range(6):
            for c in (1, 2, 3):
                srv.set(s, t, c, allowed=(s * 7 + t * 3 + c) & 15)
    avc = AccessVectorCache(srv, None, dict(CLASSMAP), slots=16, cache_threshold=threshold,
                            reclaim_count=reclaim)
    for s, t, c, req in checks:
        want = 0 if req & ~srv.table[(s, t, c)].allowed == 0 else EACCES
        assert avc.has_perm(s, t, c, req) == want
        assert avc.active_nodes <= threshold
    assert avc.hits + avc.misses == avc.lookups == len(checks)
    assert avc.misses == srv.calls
    assert avc.allocations - avc.frees == avc.active_nodes == len(avc._nodes)
    assert avc.active_nodes == sum(len(b) for b in avc._buckets)


def test_policy_load_and_bool_commit_helpers(avc: AccessVectorCache, server: FakeServer) -> None:
    log = avc.audit_log
    assert log is not None
    avc.has_perm(1, 2, MSGQ, 1)
    assert avc.policy_loaded(2, auid=0, ses=2) == 0
    assert avc.active_nodes == 0 and avc.latest_notif == 2
    avc.has_perm(1, 2, MSGQ, 1)  # seqno 0 decision: refused as stale
    server.seqno = 3
    avc.has_perm(1, 2, MSGQ, 1)
    assert avc.active_nodes == 1
    avc.bools_committed([("b1", True, False), ("b2", 0, 1)], 3, auid=0, ses=2)
    assert avc.active_nodes == 0 and avc.latest_notif == 3
    assert [r.body for r in log.records if r.type != "AVC"] == [
        "auid=0 ses=2 lsm=selinux res=1",
        "bool=b1 val=1 old_val=0 auid=0 ses=2",
        "bool=b2 val=0 old_val=1 auid=0 ses=2",
    ]
