"""Which checks the AVC audits, and how permissive modes interact with the cache.

Mirrors ``avc_audit_required`` and ``avc_denied``: denials are audited unless ``dontaudit``
cleared the bits; grants only for ``auditallow``; an unenforced denial is granted in the cache
entry, so it is logged once (``permissive=1``) until the next reset.
"""

from __future__ import annotations

import errno

import structlog

from lsm.selinux.audit import AuditLog
from lsm.selinux.audit_fields import IpcAudit
from lsm.selinux.avc import AccessVectorCache, avc_audit_required
from lsm.selinux.ss.avd import (
    ALL_PERMS,
    AVD_FLAGS_NEVERAUDIT,
    AVD_FLAGS_PERMISSIVE,
    AvDecision,
)

from .conftest import FILE, MSGQ, PROCESS, FakeServer, bits

EACCES = -errno.EACCES
SRC = "scontext=system_u:system_r:client_t:s0 tcontext=system_u:system_r:server_t:s0"


def test_enforcing_logs_every_denial(avc: AccessVectorCache, log: AuditLog) -> None:
    for _ in range(3):
        assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue"), IpcAudit(7)) == EACCES
    assert len(log.lines) == 3
    assert log.lines[0].endswith(
        "avc:  denied  { enqueue } for  pid=0 comm=\"\" ipc_key=7  "
        + SRC + " tclass=msgq permissive=0"
    )


def test_only_denied_bits_are_listed(avc: AccessVectorCache, server: FakeServer,
                                     log: AuditLog) -> None:
    server.set(1, 2, MSGQ, allowed=bits(MSGQ, "associate", "write"))
    req = bits(MSGQ, "associate", "enqueue", "write", "read")
    assert avc.has_perm(1, 2, MSGQ, req) == EACCES
    assert "{ read enqueue }" in log.lines[0]  # kernel bit order, not request order


def test_global_permissive_logs_once(avc: AccessVectorCache, log: AuditLog) -> None:
    avc.enforcing = False
    for _ in range(3):
        assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue")) == 0
    assert len(log.lines) == 1 and log.lines[0].endswith("permissive=1")
    # the GRANT copy of the node: one more allocation, the old node freed
    assert (avc.misses, avc.allocations, avc.frees, avc.active_nodes) == (1, 2, 1, 1)
    # a different permission of the same triple is a new denial, logged once too
    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "read"))
    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "read"))
    assert len(log.lines) == 2 and "{ read }" in log.lines[1]
    rec = log.records[1].avc
    assert rec is not None and rec.permissive == 1 and rec.perms == ("read",)


def test_permissive_domain_in_enforcing_mode(avc: AccessVectorCache, server: FakeServer,
                                             log: AuditLog) -> None:
    server.set(1, 2, FILE, allowed=bits(FILE, "read"), flags=AVD_FLAGS_PERMISSIVE)
    assert avc.has_perm(1, 2, FILE, bits(FILE, "write")) == 0
    assert avc.has_perm(1, 2, FILE, bits(FILE, "write")) == 0
    assert avc.has_perm(1, 3, FILE, bits(FILE, "write")) == EACCES  # not permissive
    assert [line.rsplit(" ", 1)[1] for line in log.lines] == ["permissive=1", "permissive=0"]


def test_setenforce_1_flushes_permissive_grants(avc: AccessVectorCache, log: AuditLog) -> None:
    avc.enforcing = False
    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue"))
    assert avc.setenforce(1, auid=0, ses=2) is True
    assert avc.setenforce(1) is False  # no change: no record, no flush
    assert avc.active_nodes == 0
    assert avc.has_perm(1, 2, MSGQ, bits(MSGQ, "enqueue")) == EACCES
    assert [r.type for r in log.records] == ["AVC", "MAC_STATUS", "AVC"]
    assert log.records[1].body == (
        "enforcing=1 old_enforcing=0 auid=0 ses=2 enabled=1 old-enabled=1 lsm=selinux res=1"
    )
    assert log.lines[2].endswith("permissive=0")


def test_setenforce_0_keeps_cache(avc: AccessVectorCache) -> None:
    avc.has_perm(1, 2, MSGQ, 1)
    avc.setenforce(0)
    assert avc.active_nodes == 1 and not avc.enforcing


def test_dontaudit_denies_silently(avc: AccessVectorCache, server: FakeServer,
                                   log: AuditLog) -> None:
    server.set(1, 2, FILE, auditdeny=ALL_PERMS & ~bits(FILE, "read"))
    assert avc.has_perm(1, 2, FILE, bits(FILE, "read")) == EACCES
    assert log.lines == []
    # a request mixing a dontaudit-ed and an audited bit lists only the audited one
    assert avc.has_perm(1, 2, FILE, bits(FILE, "read", "write")) == EACCES
    assert "{ write }" in log.lines[0]


def test_dontaudit_in_permissive_mode_still_grants_once(avc: AccessVectorCache,
                                                        server: FakeServer,
                                                        log: AuditLog) -> None:
    avc.enforcing = False
    server.set(1, 2, FILE, auditdeny=0)
    assert avc.has_perm(1, 2, FILE, bits(FILE, "read")) == 0
    assert log.lines == [] and avc.lookup(1, 2, FILE).allowed == bits(FILE, "read")


def test_auditallow_logs_granted(avc: AccessVectorCache, server: FakeServer,
                                 log: AuditLog) -> None:
    server.set(1, 2, PROCESS, allowed=bits(PROCESS, "signal", "sigkill"),
               auditallow=bits(PROCESS, "sigkill"))
    assert avc.has_perm(1, 2, PROCESS, bits(PROCESS, "signal")) == 0
    assert log.lines == []
    for _ in range(2):  # granted records are not once-only
        assert avc.has_perm(1, 2, PROCESS, bits(PROCESS, "sigkill", "signal")) == 0
    assert len(log.lines) == 2
    # only the auditallow-ed bits of the request are listed, and no permissive= on a grant
    assert log.lines[0].endswith(
        'avc:  granted  { sigkill } for  pid=0 comm="" ' + SRC + " tclass=process"
    )
    assert log.records[0].avc is not None and log.records[0].avc.permissive is None


def test_neveraudit(avc: AccessVectorCache, server: FakeServer, log: AuditLog) -> None:
    server.set(1, 2, FILE, allowed=bits(FILE, "read"), auditallow=ALL_PERMS,
               flags=AVD_FLAGS_NEVERAUDIT)
    assert avc.has_perm(1, 2, FILE, bits(FILE, "read")) == 0
    assert avc.has_perm(1, 2, FILE, bits(FILE, "write")) == EACCES
    assert log.lines == []


def test_audit_required_rules() -> None:
    avd = AvDecision(allowed=0b0011, auditallow=0b0001, auditdeny=0b1011, seqno=0)
    assert avc_audit_required(0b0001, avd, 0) == (0b0001, 0)  # auditallow grant
    assert avc_audit_required(0b0010, avd, 0) == (0, 0)
    assert avc_audit_required(0b1100, avd, EACCES) == (0b1000, 0b1100)  # 0b0100 dontaudit
    assert avc_audit_required(0b0010, avd, -errno.ENOMEM) == (0b0010, 0b0010)
    # access(2) probe: audited only if the audit_access bit is in auditdeny
    assert avc_audit_required(0b1000, avd, EACCES, auditdeny=0b0100) == (0, 0b1000)


def test_audit_data_is_built_lazily_once(avc: AccessVectorCache, server: FakeServer,
                                         log: AuditLog) -> None:
    server.set(1, 2, MSGQ, allowed=bits(MSGQ, "read"))
    built: list[int] = []

    def make() -> IpcAudit:
        built.append(1)
        return IpcAudit(-1)

    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "read"), make)
    assert built == []
    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "write"), make)
    assert built == [1] and " ipc_key=-1  scontext=" in log.lines[0]


def test_noaudit_then_audit_equals_has_perm(avc: AccessVectorCache, log: AuditLog) -> None:
    avc.enforcing = False
    rc, avd = avc.has_perm_noaudit(1, 2, MSGQ, bits(MSGQ, "read"))
    assert rc == 0 and avd.allowed == 0  # the pre-grant decision, so the denial can be logged
    assert avc.avc_audit(1, 2, MSGQ, bits(MSGQ, "read"), avd, rc) == 0
    assert log.lines[0].endswith("permissive=1")


def test_unmapped_sids_and_invalid_contexts(avc: AccessVectorCache, server: FakeServer,
                                            log: AuditLog) -> None:
    server.invalid[2] = "bogus_u:bogus_r:gone_t:s0"
    avc.has_perm(1, 99, MSGQ, 1)
    avc.has_perm(1, 2, MSGQ, 1)
    assert " scontext=system_u:system_r:client_t:s0 tsid=99 tclass=msgq" in log.lines[0]
    assert log.lines[1].endswith('permissive=0 trawcon="bogus_u:bogus_r:gone_t:s0"')


def test_unknown_class_fails_like_linux(avc: AccessVectorCache) -> None:
    with structlog.testing.capture_logs() as logs:
        assert avc.has_perm(1, 2, 42, 1) == -errno.EINVAL
    assert logs[0]["event"] == "avc_audit_unknown_class" and logs[0]["tclass"] == 42


def test_unnamed_bits_print_in_hex(avc: AccessVectorCache, log: AuditLog) -> None:
    avc.has_perm(1, 2, MSGQ, bits(MSGQ, "read") | 1 << 20 | 1 << 21)
    assert "{ read 0x300000 } for " in log.lines[0]


def test_stale_insert_is_a_diagnostic(avc: AccessVectorCache) -> None:
    avc.ss_reset(3)
    with structlog.testing.capture_logs() as logs:
        avc.has_perm(1, 2, MSGQ, 1)
    assert logs == [{"event": "avc_stale_insert", "seqno": 0, "latest_notif": 3,
                     "log_level": "warning"}]
