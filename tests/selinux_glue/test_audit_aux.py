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
type secret_t, file_type;
type vault_t, file_type;
allow { secret_t vault_t } fs_t:filesystem associate;
allow intruder_t { root_t tmp_t }:dir search;
allow intruder_t secret_t:fifo_file getattr;
allow intruder_t tmp_t:dir { write remove_name };
"""

OWNER = "system_u:system_r:owner_t:s0"
INTRUDER = "system_u:system_r:intruder_t:s0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("pol") / "aux.te"
    te.write_text(POLICY)
    return load_policy(BASE_CONF, te)


def run(policy: Any, progs: list[tuple[Callable[..., Any], str, int]],
        setup: Callable[[Kernel], None] | None = None) -> list[str]:
    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    if setup is not None:
        setup(k)
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


def _files(k: Kernel) -> None:
    k.mkfifo("/tmp/secret", 0o666, uid=27, gid=27, label="system_u:object_r:secret_t:s0")
    k.mkdir("/srv", 0o755, label="system_u:object_r:vault_t:s0")
    k.mkfifo("/srv/inner", 0o666, label="system_u:object_r:secret_t:s0")


def test_path_records_follow_the_walk(policy: Any) -> None:
    """A resolved name is NORMAL with the inode's fields; a walk stopped by a denied search
    leaves the name UNKNOWN; a create is PARENT + CREATE (no inode when it was refused); a
    removal is PARENT + DELETE with the victim's inode; SYSCALL counts them in items=."""
    errs: list[int] = []

    def intruder(p: Any) -> Any:
        for call in (p.open("/tmp/secret", 0), p.open("/srv/inner", 0),
                     p.mkfifo("/tmp/mine", 0o600), p.unlink("/tmp/secret")):
            try:
                yield from call
            except SyscallError as e:
                errs.append(e.errno)

    log = run(policy, [(intruder, INTRUDER, 0)], setup=_files)
    assert errs == [EACCES] * 4
    caps = " cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
    secret = "obj=system_u:object_r:secret_t:s0"
    tmp = "obj=system_u:object_r:tmp_t:s0"

    opened = event(log, "{ read }")
    assert types(opened) == ["type=AVC", "type=SYSCALL", "type=CWD", "type=PATH",
                             "type=PROCTITLE"]
    assert " items=1 " in opened[1] and opened[2].endswith('): cwd="/"')
    assert opened[3].split("): ", 1)[1].startswith('item=0 name="/tmp/secret" inode=')
    assert opened[3].endswith(f" mode=010666 ouid=27 ogid=27 rdev=00:00 {secret}"
                              f" nametype=NORMAL{caps}")

    walked = event(log, "{ search }")
    assert walked[3].endswith('): item=0 name="/srv/inner" nametype=UNKNOWN' + caps)

    created = event(log, "{ add_name }")
    paths = [r.split("): ", 1)[1] for r in created if r.startswith("type=PATH")]
    assert " items=2 " in created[1] and len(paths) == 2
    assert paths[0].startswith('item=0 name="/tmp/" inode=')
    assert f"mode=041777 ouid=0 ogid=0 rdev=00:00 {tmp} nametype=PARENT" in paths[0]
    assert paths[1] == 'item=1 name="/tmp/mine" nametype=CREATE' + caps

    removed = event(log, "{ unlink }")
    paths = [r.split("): ", 1)[1] for r in removed if r.startswith("type=PATH")]
    assert [p.split(" nametype=")[1].split()[0] for p in paths] == ["PARENT", "DELETE"]
    assert paths[1].startswith('item=1 name="/tmp/secret" inode=') and secret in paths[1]
