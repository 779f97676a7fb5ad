"""Auxiliary records after SYSCALL: IPC, SOCKADDR, OBJ_PID and PROCTITLE, as audit_log_exit
prints them (same stamp and serial, Linux's order), only for a syscall that logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kernel_sim import AF_UNIX, EACCES, IPC_CREAT, SOCK_STREAM, Kernel, SyscallError
from lsm.selinux import BASE_CONF, SELinux, load_policy
from lsm.selinux.audit_aux import MAX_PROCTITLE_AUDIT_LEN, proctitle

POLICY = """
type owner_t, domain;
type intruder_t, domain;
role system_r types { owner_t intruder_t };
allow { owner_t intruder_t } self:process { fork sigchld };
allow owner_t self:msgq { create associate unix_read unix_write read write enqueue };
allow owner_t self:msg { send receive };
allow intruder_t owner_t:msgq unix_read;
allow { owner_t intruder_t } self:unix_stream_socket { create bind listen accept connect };
"""

OWNER = "system_u:system_r:owner_t:s0"
INTRUDER = "system_u:system_r:intruder_t:s0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("pol") / "aux.te"
    te.write_text(POLICY)
    return load_policy(BASE_CONF, te)


def run(policy: Any, progs: list[tuple[Callable[..., Any], str, int]]) -> list[str]:
    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    for prog, ctx, uid in progs:
        k.spawn(prog, context=ctx, uid=uid, gid=uid)
    k.run()
    return k.audit_log()


def event(log: list[str], serial_of: str) -> list[str]:
    """The records sharing the serial of the first line containing ``serial_of``."""
    first = next(line for line in log if serial_of in line)
    stamp = first.split(" ", 2)[1]
    return [line for line in log if line.split(" ", 2)[1] == stamp]


def types(records: list[str]) -> list[str]:
    return [r.split(" ", 1)[0] for r in records]


def test_denied_msgget_is_followed_by_ipc_and_proctitle(policy: Any) -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Any:
        out["q"] = yield from p.msgget(0x4242, IPC_CREAT | 0o640)
        yield from p.nanosleep(0.01)

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.msgget(0x4242, 0)
        except SyscallError as e:
            out["err"] = e.errno

    log = run(policy, [(owner, OWNER, 27), (intruder, INTRUDER, 0)])
    assert out["err"] == EACCES
    ev = event(log, "{ associate }")
    assert types(ev) == ["type=AVC", "type=SYSCALL", "type=IPC", "type=PROCTITLE"]
    assert ev[2].endswith(f"): ouid=27 ogid=27 mode=0640 obj={OWNER}")
    assert ev[3].endswith('): proctitle="/usr/bin/intruder"')
    # the owner's syscalls logged nothing, so they have no records at all
    assert not any('comm="owner"' in line for line in log)


def test_denied_kill_names_its_target_in_obj_pid(policy: Any) -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.kill(2, 15)
        except SyscallError as e:
            out["err"] = e.errno

    log = run(policy, [(owner, OWNER, 1000), (intruder, INTRUDER, 1000)])  # DAC allows it
    assert out["err"] == EACCES
    ev = event(log, "{ signal }")
    assert types(ev) == ["type=AVC", "type=SYSCALL", "type=OBJ_PID", "type=PROCTITLE"]
    assert ev[2].endswith(
        f'): opid=2 oauid=-1 ouid=1000 oses=-1 obj={OWNER} ocomm="owner"')


def test_denied_connect_records_the_address_as_sockaddr_bytes(policy: Any) -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Any:
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.bind(s, "\0authd")
        yield from p.listen(s, 5)
        yield from p.nanosleep(0.01)

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        try:
            yield from p.connect(s, "\0authd")
        except SyscallError as e:
            out["err"] = e.errno

    log = run(policy, [(owner, OWNER, 0), (intruder, INTRUDER, 0)])
    assert out["err"] == EACCES
    ev = event(log, "{ connectto }")
    assert types(ev) == ["type=AVC", "type=SYSCALL", "type=SOCKADDR", "type=PROCTITLE"]
    # sa_family AF_UNIX (little endian), then the abstract name with its leading NUL
    assert ev[2].endswith("): saddr=" + (b"\x01\x00\x00authd").hex().upper())


@pytest.mark.parametrize(("cmdline", "expected"), [
    (("/usr/sbin/httpd",), 'proctitle="/usr/sbin/httpd"'),
    (("/usr/sbin/httpd", "-DFOREGROUND"),
     "proctitle=" + b"/usr/sbin/httpd\0-DFOREGROUND".hex().upper()),
    (("sh", "-c", ""), "proctitle=" + b"sh\0-c".hex().upper()),  # trailing NULs trimmed
    (("/bin/my prog",), "proctitle=" + b"/bin/my prog".hex().upper()),  # a space: hex
    ((), 'proctitle="comm"'),
])
def test_proctitle_encoding(cmdline: tuple[str, ...], expected: str) -> None:
    assert proctitle(cmdline, "comm") == expected


def test_proctitle_is_cut_at_128_bytes() -> None:
    body = proctitle(("x" * 200,), "comm")
    assert body == 'proctitle="' + "x" * MAX_PROCTITLE_AUDIT_LEN + '"'


def test_cmdline_follows_fork_and_execve() -> None:
    """/proc/PID/cmdline (what PROCTITLE shows): the spawn's exe, inherited at fork, replaced
    by execve's argv."""
    seen: dict[str, Any] = {}

    def worker(p: Any, *args: Any) -> Any:
        seen["exec"] = p.process.cmdline
        yield from p.getpid()

    def child(p: Any) -> Any:
        seen["fork"] = p.process.cmdline
        yield from p.execve("/usr/bin/worker", ["worker", "--port", 8080])

    def parent(p: Any) -> Any:
        seen["spawn"] = p.process.cmdline
        yield from p.fork(child)

    k = Kernel()
    k.install("/usr/bin/worker", worker)
    k.spawn(parent, exe="/usr/sbin/daemon")
    k.run()
    assert seen == {"spawn": ("/usr/sbin/daemon",), "fork": ("/usr/sbin/daemon",),
                    "exec": ("worker", "--port", "8080")}
