"""Fixtures for the AVC and audit tests: a fake security server and a small class map.

The fake server answers from a table of decisions and counts its calls, so tests can tell a
cache hit (no call) from a miss, and can change policy (``seqno``) to exercise resets.
"""

from __future__ import annotations

import contextlib

import pytest

# Importing ``lsm`` before ``kernel_sim`` currently hits an import cycle in the framework
# (lsm/__init__ -> lsm.capability -> kernel_sim -> kernel_sim.kernel -> lsm.capability); import
# the kernel first so these tests exercise the AVC and audit code, not the package init order.
with contextlib.suppress(ImportError):
    import kernel_sim  # noqa: F401
from attrs import define, field

from lsm.selinux.audit import AuditLog
from lsm.selinux.avc import AccessVectorCache, ClassInfo
from lsm.selinux.ss.avd import ALL_PERMS, AvDecision

MSGQ, FILE, PROCESS, CAPABILITY, TCP_SOCKET, UNIX_STREAM, FD = 1, 2, 3, 4, 5, 6, 7

IPC_PERMS = ["create", "destroy", "getattr", "setattr", "read", "write", "associate",
             "unix_read", "unix_write"]
CLASSMAP = {
    MSGQ: ClassInfo.from_names("msgq", [*IPC_PERMS, "enqueue"]),
    FILE: ClassInfo.from_names("file", ["ioctl", "read", "write", "create", "getattr",
                                        "setattr", "lock", "append", "unlink", "open"]),
    PROCESS: ClassInfo.from_names("process", ["fork", "transition", "sigchld", "sigkill",
                                              "sigstop", "signull", "signal", "ptrace"]),
    CAPABILITY: ClassInfo.from_names("capability", ["chown", "dac_override", "dac_read_search",
                                                    "fowner", "fsetid", "kill", "setgid",
                                                    "setuid", "setpcap", "linux_immutable",
                                                    "net_bind_service", "net_broadcast",
                                                    "net_admin", "net_raw", "ipc_lock"]),
    TCP_SOCKET: ClassInfo.from_names("tcp_socket", ["name_bind", "node_bind", "name_connect"]),
    UNIX_STREAM: ClassInfo.from_names("unix_stream_socket", ["read", "write", "connectto"]),
    FD: ClassInfo.from_names("fd", ["use"]),
}

CONTEXTS = {
    1: "system_u:system_r:client_t:s0",
    2: "system_u:system_r:server_t:s0",
    3: "system_u:object_r:data_t:s0",
    4: "system_u:system_r:kernel_t:s0",
}


def bits(tclass: int, *names: str) -> int:
    """Permission mask by name in the test class map."""
    return CLASSMAP[tclass].bits(*names)


@define
class FakeServer:
    """``compute_av`` from a table; unknown triples are denied everything (auditdeny all)."""

    table: dict[tuple[int, int, int], AvDecision] = field(factory=dict)
    seqno: int = 0
    calls: int = 0
    contexts: dict[int, str] = field(factory=lambda: dict(CONTEXTS))
    invalid: dict[int, str] = field(factory=dict)

    def set(self, ssid: int, tsid: int, tclass: int, *, allowed: int = 0, auditallow: int = 0,
            auditdeny: int = ALL_PERMS, flags: int = 0) -> None:
        self.table[(ssid, tsid, tclass)] = AvDecision(allowed, auditallow, auditdeny, 0, flags)

    def compute_av(self, ssid: int, tsid: int, tclass: int) -> AvDecision:
        self.calls += 1
        d = self.table.get((ssid, tsid, tclass), AvDecision(0, 0, ALL_PERMS, 0))
        return AvDecision(d.allowed, d.auditallow, d.auditdeny, self.seqno, d.flags)

    def sid_to_context(self, sid: int) -> str:
        return self.contexts[sid]

    def sid_to_context_inval(self, sid: int) -> str | None:
        return self.invalid.get(sid)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> list[float]:
    """Mutable simulated time: tests set ``clock[0]``."""
    return [0.0]


@pytest.fixture
def log(clock: list[float]) -> AuditLog:
    return AuditLog(clock=lambda: clock[0])


@pytest.fixture
def avc(server: FakeServer, log: AuditLog) -> AccessVectorCache:
    return AccessVectorCache(server, log, dict(CLASSMAP))
