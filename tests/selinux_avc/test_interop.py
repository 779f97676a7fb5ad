"""Logs written by our AVC and audit code, read by the real audit userland.

``ausearch`` must parse every record and group each syscall's records into one event by
serial; ``audit2allow`` (pointed at a tiny checkpolicy-compiled policy, since the host has no
loaded SELinux policy) must turn the denials into the expected allow rules, and ``audit2allow
-w`` must find the reasons libsepol gives for the same contexts.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lsm.selinux.audit import AuditLog, AuditTaskInfo
from lsm.selinux.audit_fields import AF_UNIX, IpcAudit, NetAudit, PathAudit
from lsm.selinux.avc import AccessVectorCache
from lsm.selinux.ss.avd import ALL_PERMS, AVD_FLAGS_PERMISSIVE
from tests.oracles import require

from .conftest import FILE, MSGQ, PROCESS, UNIX_STREAM, FakeServer, bits

pytestmark = pytest.mark.interop

HERE = Path(__file__).parent
CLIENT, SERVER, DATA, DATA_C0, TMP = 1, 2, 3, 4, 5
CONTEXTS = {
    CLIENT: "system_u:system_r:client_t:s0",
    SERVER: "system_u:system_r:server_t:s0",
    DATA: "system_u:object_r:data_t:s0",
    DATA_C0: "system_u:object_r:data_t:s0:c0",
    TMP: "system_u:object_r:tmp_t:s0",
}


def task(pid: int, comm: str, sid: int) -> AuditTaskInfo:
    return AuditTaskInfo(pid=pid, ppid=1, comm=comm, exe=f"/usr/bin/{comm}",
                         subj=CONTEXTS[sid], uid=1000, gid=1000)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("checkpolicy")
    out = tmp_path_factory.mktemp("policy") / "policy.33"
    subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(out),
                    str(HERE / "avc_interop.conf")], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated run: denials in three syscalls, a permissive domain, noise."""
    clock = [0.0]
    log = AuditLog(clock=lambda: clock[0])
    srv = FakeServer(contexts=dict(CONTEXTS))
    srv.set(CLIENT, DATA, FILE, allowed=bits(FILE, "read", "getattr", "open"))
    srv.set(CLIENT, DATA_C0, FILE, allowed=0)  # TE allows read; the MLS constraint refuses it
    srv.set(CLIENT, TMP, FILE, auditdeny=ALL_PERMS & ~bits(FILE, "getattr"))  # dontaudit
    srv.set(SERVER, SERVER, PROCESS, allowed=bits(PROCESS, "fork", "sigchld"),
            auditallow=bits(PROCESS, "fork"))
    srv.set(SERVER, DATA, FILE, flags=AVD_FLAGS_PERMISSIVE)
    from .conftest import CLASSMAP
    avc = AccessVectorCache(srv, log, dict(CLASSMAP))

    # 1: msgget on the server's queue: one denial
    log.begin_syscall(100, "client")
    avc.has_perm(CLIENT, SERVER, MSGQ, bits(MSGQ, "associate"), IpcAudit(34952))
    log.end_syscall("msgget", -13, (34952, 0o666), task(100, "client", CLIENT))
    # quiet syscalls: an allowed read, a dontaudit-ed getattr
    clock[0] = 0.5
    log.begin_syscall(100, "client")
    avc.has_perm(CLIENT, DATA, FILE, bits(FILE, "read"), PathAudit("/srv/data", "tmpfs", 7))
    avc.has_perm(CLIENT, TMP, FILE, bits(FILE, "getattr"), PathAudit("/tmp/x", "tmpfs", 8))
    log.end_syscall("stat", -13, ("/tmp/x",), task(100, "client", CLIENT))
    # 2: one syscall, two AVCs (write on a file whose name needs hex, then connectto)
    clock[0] = 1.25
    log.begin_syscall(100, "client")
    avc.has_perm(CLIENT, DATA, FILE, bits(FILE, "write", "append"),
                 PathAudit("/srv/my data", "tmpfs", 12))
    avc.has_perm(CLIENT, SERVER, UNIX_STREAM, bits(UNIX_STREAM, "connectto"),
                 NetAudit(sk_family=AF_UNIX, unix_path="\0server"))
    log.end_syscall("connect", -13, (3, "\0server", 9), task(100, "client", CLIENT))
    # 3: MLS read-down refused
    clock[0] = 2.0
    log.begin_syscall(100, "client")
    avc.has_perm(CLIENT, DATA_C0, FILE, bits(FILE, "read"), PathAudit("/srv/c0", "tmpfs", 13))
    log.end_syscall("open", -13, ("/srv/c0", 0), task(100, "client", CLIENT))
    # 4: permissive domain: logged once, granted; plus an auditallow grant
    clock[0] = 3.0
    for _ in range(2):
        log.begin_syscall(200, "server")
        avc.has_perm(SERVER, DATA, FILE, bits(FILE, "unlink"), PathAudit("/srv/data", "tmpfs", 7))
        log.end_syscall("unlink", 0, ("/srv/data",), task(200, "server", SERVER))
    log.begin_syscall(200, "server")
    avc.has_perm(SERVER, SERVER, PROCESS, bits(PROCESS, "fork"))
    log.end_syscall("fork", 201, (), task(200, "server", SERVER))

    path = tmp_path_factory.mktemp("audit") / "audit.log"
    log.write(path)
    return path


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=60)


def test_log_shape(audit_log: Path) -> None:
    types = [re.match(r"type=(\w+) msg=audit\([\d.]+:(\d+)\)", line).groups()
             for line in audit_log.read_text().splitlines()]
    assert types == [("AVC", "1"), ("SYSCALL", "1"),
                     ("AVC", "2"), ("AVC", "2"), ("SYSCALL", "2"),
                     ("AVC", "3"), ("SYSCALL", "3"),
                     ("AVC", "4"), ("SYSCALL", "4"),
                     ("AVC", "5"), ("SYSCALL", "5")]


def test_ausearch_groups_events_by_serial(audit_log: Path) -> None:
    require("ausearch")
    proc = run("ausearch", "-if", str(audit_log), "-m", "AVC")
    assert proc.returncode == 0, proc.stderr
    events = [e for e in proc.stdout.split("----") if e.strip()]
    assert len(events) == 5
    for ev in events:
        serials = set(re.findall(r"msg=audit\([\d.]+:(\d+)\)", ev))
        assert len(serials) == 1
        assert "type=SYSCALL" in ev and "type=AVC" in ev
    assert events[1].count("type=AVC") == 2
    assert events[0].splitlines()[1] == "time->Tue Nov 14 22:13:20 2023"


def test_ausearch_interprets_fields(audit_log: Path) -> None:
    require("ausearch")
    proc = run("ausearch", "-if", str(audit_log), "-m", "AVC", "-i", "-c", "client")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "syscall=msgget success=no exit=EACCES(Permission denied)" in out
    assert "syscall=connect" in out and "arch=x86_64" in out
    assert "path=/srv/my data" in out  # hex decoded back
    assert "comm=server" not in out  # -c filter
    proc = run("ausearch", "-if", str(audit_log), "-m", "AVC", "-se", "server_t", "--raw")
    assert proc.returncode == 0
    # whole events are printed: server_t appears in events 1, 2 (connectto), 4 and 5
    assert proc.stdout.count("type=SYSCALL") == 4
    assert proc.stdout.count("type=AVC") == 5


def test_audit2allow_rules(audit_log: Path, policy: Path) -> None:
    require("audit2allow")
    proc = run("audit2allow", "-p", str(policy), "-i", str(audit_log))
    assert proc.returncode == 0, proc.stderr
    rules = sorted(line for line in proc.stdout.splitlines() if line.startswith("allow "))
    assert rules == [
        "allow client_t data_t:file read;",
        "allow client_t data_t:file { append write };",
        "allow client_t server_t:msgq associate;",
        "allow client_t server_t:unix_stream_socket connectto;",
        "allow server_t data_t:file unlink;",
    ]


def test_audit2allow_why(audit_log: Path, policy: Path) -> None:
    require("audit2allow")
    proc = run("audit2allow", "-w", "-p", str(policy), "-i", str(audit_log))
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("type=AVC")[1:]
    reasons = {re.search(r"\{ ([^}]*) \}", b).group(1): b for b in blocks}
    assert "Missing type enforcement (TE) allow rule" in reasons["associate"]
    assert "mlsconstrain file { read } ((l1 dom l2 -Fail-) ); Constraint DENIED" in reasons["read"]
    assert "Missing type enforcement" in reasons["unlink"]  # the permissive=1 record too
