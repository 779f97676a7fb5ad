"""The AVC in front of the project's real security server (``ss/services.py``).

The unit tests use a fake server; this checks that the real one satisfies
:class:`SecurityServerProtocol` and that decisions, policy reloads (seqno) and boolean-free
permissive handling come out as the fake predicted.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path
from typing import Any

import pytest

from lsm.selinux.audit import AuditLog
from lsm.selinux.avc import AccessVectorCache, ClassInfo, SecurityServerProtocol

loader = pytest.importorskip("lsm.selinux.policy.loader")
classmap = pytest.importorskip("lsm.selinux.classmap")

POLICY = Path(__file__).parent / "avc_interop.conf"
CLIENT = "system_u:system_r:client_t:s0"
SERVER = "system_u:system_r:server_t:s0"


Setup = tuple[Any, AccessVectorCache, AuditLog, ClassInfo, int]


@pytest.fixture
def setup() -> Setup:
    srv = loader.load_policy(str(POLICY)).server
    log = AuditLog()
    srv.audit = log.log_selinux_err
    policy_bits = {}
    for perm in classmap.class_perms("msgq"):
        with contextlib.suppress(ValueError):  # kernel perms this policy does not declare
            policy_bits[perm] = srv.perm_bits("msgq", [perm])
    info = ClassInfo.from_policy("msgq", classmap.class_perms("msgq"), policy_bits)
    tclass = srv.class_value("msgq")
    return srv, AccessVectorCache(srv, log, {tclass: info}), log, info, tclass


def test_real_server_decisions_through_the_cache(setup: Setup) -> None:
    srv, avc, log, info, msgq = setup
    assert isinstance(srv, SecurityServerProtocol)
    c, s = srv.context_to_sid(CLIENT), srv.context_to_sid(SERVER)
    log.begin_syscall(42, "client")
    assert avc.has_perm(c, s, msgq, info.bits("associate")) == -errno.EACCES
    assert avc.has_perm(s, s, msgq, info.bits("enqueue", "write")) == 0
    assert avc.has_perm(s, s, msgq, info.bits("read")) == 0
    log.end_syscall("msgget", -errno.EACCES)
    assert (avc.misses, avc.hits) == (2, 1)
    assert log.lines[0].endswith(
        f"avc:  denied  {{ associate }} for  pid=42 comm=\"client\" scontext={CLIENT} "
        f"tcontext={SERVER} tclass=msgq permissive=0"
    )
    assert [r.type for r in log.records] == ["AVC", "SYSCALL"]


def test_reload_seqno_flushes(setup: Setup) -> None:
    srv, avc, _log, info, msgq = setup
    s = srv.context_to_sid(SERVER)
    avc.has_perm(s, s, msgq, info.bits("read"))
    srv.seqno += 1  # what a policy load or boolean commit does, then it notifies the AVC
    avc.ss_reset(srv.seqno)
    assert avc.active_nodes == 0
    avc.has_perm(s, s, msgq, info.bits("read"))
    assert avc.active_nodes == 1 and avc.lookup(s, s, msgq).seqno == srv.seqno
