"""Complete mediation of the core: with a module denying every hook, every object-touching
system call fails with the LSM's errno and leaves its objects as they were.

The module (BpfLsm) denies each ``int`` hook whose default is 0 with -EACCES once armed.  It
leaves alone the hooks whose failure Linux does not report as the LSM's errno
(``cred_prepare``: prepare_creds returns NULL -> ENOMEM; ``inode_alloc_security``:
inode_init_always -> ENOMEM; ``sb_alloc_security``: mount time) and those with a non-zero
default (``inode_init_security``, ``getprocattr``, ...), which are "no opinion" hooks.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

import pytest

from kernel_sim import (
    F_GETFL,
    F_SETFL,
    O_CREAT,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PTRACE_ATTACH,
    SIGTERM,
    Kernel,
)
from lsm import HOOKS, BpfLsm
from tests.kernel.helpers import check_ok, err, exited

EXEMPT = {"cred_prepare", "inode_alloc_security", "sb_alloc_security"}
LSM_ERR = errno.EACCES


def deny_all(armed: dict[str, Any]) -> BpfLsm:
    m = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind == "int" and spec.default == 0 and spec.name not in EXEMPT:
            m.attach(spec.name, lambda *_a, _h=spec.name: _deny(armed, _h))
    return m


def _deny(armed: dict[str, Any], hook: str) -> int | None:
    if not armed["on"]:
        return None
    armed["denied"].append(hook)
    return -LSM_ERR


def _other(p):
    yield from p.nanosleep(5.0)
    return 0


def _newprog(p):
    return 42
    yield


def test_every_core_syscall_is_mediated() -> None:
    armed: dict[str, Any] = {"on": False, "denied": []}
    k = Kernel(lsms=[deny_all(armed)], seed=0)
    k.install("/tmp/data", b"original", mode=0o666, uid=1000, gid=1000)
    k.install("/usr/bin/newprog", _newprog)
    k.mkfifo("/tmp/fifo", 0o666)
    target = k.spawn(_other, uid=1000, gid=1000)
    before = {path: (k.lookup(path).mode, k.lookup(path).uid, k.lookup(path).gid)
              for path in ("/tmp/data", "/tmp", "/tmp/fifo")}
    results: dict[str, int] = {}

    def prog(p):
        fd = yield from p.open("/tmp/data", O_RDWR)  # opened before the module denies
        r, w = yield from p.pipe()
        yield from p.write(w, b"queued")
        armed["on"] = True
        calls = {
            "open": p.open("/tmp/data", O_RDONLY),
            "open_creat": p.open("/tmp/new", O_CREAT | O_WRONLY),
            "read": p.read(fd, 100),
            "write": p.write(fd, b"CHANGED"),
            "pipe_read": p.read(r, 100),
            "pipe_write": p.write(w, b"more"),
            "pipe": p.pipe(),
            "fifo_open": p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK),
            "mkfifo": p.mkfifo("/tmp/f2"),
            "mkdir": p.mkdir("/tmp/d"),
            "unlink": p.unlink("/tmp/data"),
            "stat": p.stat("/tmp/data"),
            "fstat": p.fstat(fd),
            "chmod": p.chmod("/tmp/data", 0o600),
            "chown": p.chown("/tmp/data", 1000, 1000),
            "chdir": p.chdir("/tmp"),
            "fcntl": p.fcntl(fd, F_SETFL, O_NONBLOCK),
            "fork": p.fork(_other),
            "execve": p.execve("/usr/bin/newprog", ["newprog"], {}),
            "kill": p.kill(target, SIGTERM),
            "kill0": p.kill(target, 0),
            "ptrace": p.ptrace(PTRACE_ATTACH, target),
            "setuid": p.setuid(1000),
            "setgid": p.setgid(1000),
        }
        for name, call in calls.items():
            results[name] = yield from err(call)
        # calls Linux does not mediate still work
        assert (yield from p.getpid()) == p.pid
        d = yield from p.dup(fd)
        yield from p.close(d)
        assert (yield from p.umask(0o022)) == 0o022
        armed["on"] = False
        # nothing changed: offsets, contents, flags, the pipe, children
        assert (yield from p.read(fd, 100)) == b"original"
        assert (yield from p.fcntl(fd, F_GETFL)) == O_RDWR
        assert (yield from p.read(r, 100)) == b"queued"
        assert (yield from err(p.waitpid(-1, 0))) == errno.ECHILD
        assert (yield from p.getuid()) == 1000
        nxt = yield from p.open("/tmp/data", O_RDONLY)
        assert nxt == 3  # no descriptor leaked from the failed open/pipe calls
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert results == dict.fromkeys(results, LSM_ERR), results
    assert exited(k.exit_status(target))  # neither killed nor traced
    assert k.lookup("/tmp/new") is None and k.lookup("/tmp/f2") is None
    assert k.lookup("/tmp/d") is None
    assert bytes(k.lookup("/tmp/data").data) == b"original"
    after = {path: (k.lookup(path).mode, k.lookup(path).uid, k.lookup(path).gid)
             for path in before}
    assert after == before
    assert set(armed["denied"]) >= {"file_alloc_security", "file_permission", "inode_permission",
                                    "file_fcntl", "task_alloc", "task_kill",
                                    "ptrace_access_check", "task_fix_setuid",
                                    "task_fix_setgid", "inode_getattr"}


# -- one hook at a time: the denial at the *last* check still leaves the object unchanged ---
def only(hook: str, armed: dict[str, Any]) -> BpfLsm:
    return BpfLsm(f"deny-{hook}", {hook: lambda *_a: -LSM_ERR if armed["on"] else None})


CASES = [
    # (hook, syscall runner, check on the kernel afterwards)
    ("inode_mknod", lambda p: p.mkfifo("/tmp/f2"),
     lambda k: k.lookup("/tmp/f2") is None),
    ("inode_mkdir", lambda p: p.mkdir("/tmp/d"), lambda k: k.lookup("/tmp/d") is None),
    ("inode_create", lambda p: p.open("/tmp/new", O_CREAT | O_WRONLY),
     lambda k: k.lookup("/tmp/new") is None),
    ("inode_unlink", lambda p: p.unlink("/tmp/data"), lambda k: k.lookup("/tmp/data")),
    ("inode_setattr", lambda p: p.chmod("/tmp/data", 0o600),
     lambda k: stat.S_IMODE(k.lookup("/tmp/data").mode) == 0o666),
    ("inode_setattr", lambda p: p.chown("/tmp/data", -1, 1000),
     lambda k: k.lookup("/tmp/data").gid == 1000),
    ("inode_getattr", lambda p: p.stat("/tmp/data"), lambda k: True),
    ("file_open", lambda p: p.open("/tmp/data", O_RDONLY), lambda k: True),
    ("file_open", lambda p: p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK),
     lambda k: k.lookup("/tmp/fifo").pipe is None),
    ("bprm_creds_for_exec", lambda p: p.execve("/usr/bin/newprog", ["x"], {}), lambda k: True),
    ("bprm_check_security", lambda p: p.execve("/usr/bin/newprog", ["x"], {}), lambda k: True),
    ("bprm_creds_from_file", lambda p: p.execve("/usr/bin/newprog", ["x"], {}),
     lambda k: True),
    ("task_alloc", lambda p: p.fork(_other), lambda k: 3 not in k.statuses),
]


@pytest.mark.parametrize(("hook", "call", "unchanged"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_denial_at_the_last_hook(hook, call, unchanged) -> None:
    armed = {"on": False}
    k = Kernel(lsms=[only(hook, armed)], seed=0)
    k.install("/tmp/data", b"original", mode=0o666, uid=1000, gid=1000)
    k.install("/usr/bin/newprog", _newprog)
    k.mkfifo("/tmp/fifo", 0o666)
    got = {}

    def prog(p):
        armed["on"] = True
        got["rc"] = yield from err(call(p))
        got["comm"] = p.comm
        armed["on"] = False
        nxt = yield from p.open("/tmp/data", O_RDONLY)
        got["fd"] = nxt
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000, comm="prog")
    k.run(until=10.0)
    assert got["rc"] == LSM_ERR
    assert got["comm"] == "prog"  # an execve that failed did not replace the program
    assert got["fd"] == 0  # no descriptor leaked
    assert unchanged(k)
    assert exited(k.exit_status(pid))


def test_denied_cred_prepare_is_enomem_as_linux_prepare_creds() -> None:
    armed = {"on": False}
    k = Kernel(lsms=[only("cred_prepare", armed)], seed=0)

    def prog(p):
        armed["on"] = True
        assert (yield from err(p.fork(_other))) == errno.ENOMEM
        assert (yield from err(p.setuid(1000))) == errno.ENOMEM
        armed["on"] = False
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


def test_denied_pipe_inode_is_enfile() -> None:
    armed = {"on": False}
    k = Kernel(lsms=[only("inode_alloc_security", armed)], seed=0)

    def prog(p):
        armed["on"] = True
        assert (yield from err(p.pipe())) == errno.ENFILE  # get_pipe_inode failed
        armed["on"] = False
        assert (yield from p.pipe()) == (0, 1)
        return 0

    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)


def test_dac_failure_never_reaches_the_module() -> None:
    """DAC first: an EACCES/EPERM from mode bits or uids is produced before any hook."""
    calls = []
    m = BpfLsm("watch", {"inode_permission": lambda inode, mask: calls.append(inode.name),
                         "task_kill": lambda *a: calls.append("task_kill")})
    k = Kernel(lsms=[m], seed=0)
    k.install("/etc/shadow", b"x", mode=0o600)
    victim = k.spawn(_other, uid=2000, gid=2000)

    def prog(p):
        del calls[:]
        assert (yield from err(p.open("/etc/shadow", O_RDONLY))) == errno.EACCES
        assert (yield from err(p.kill(victim, SIGTERM))) == errno.EPERM
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert calls == ["", "etc"]  # search on / and /etc only; neither the file nor task_kill
    assert os.WIFEXITED(k.exit_status(victim))


def test_kernel_generated_signals_are_not_mediated() -> None:
    """SIGCHLD at exit, SIGPIPE and the ptrace-attach SIGSTOP bypass task_kill (ref. 7.17)."""
    from kernel_sim import PTRACE_DETACH, SIGCHLD, SIGPIPE, WUNTRACED

    asked = []
    m = BpfLsm("no-signals", {"task_kill": lambda p, info, sig, cred: asked.append(sig)
                              or -LSM_ERR})
    k = Kernel(lsms=[m], seed=0)
    got = []

    def on_chld(p, sig):
        got.append(sig)
        return
        yield

    def writer(p):
        r, w = yield from p.pipe()
        yield from p.close(r)
        yield from p.write(w, b"x")  # SIGPIPE: kernel-generated, kills despite the module
        return 0

    def prog(p):
        yield from p.sigaction(SIGCHLD, on_chld, 0x10000000)  # SA_RESTART
        pid = yield from p.fork(writer)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGPIPE
        victim = yield from p.fork(_other)
        assert (yield from err(p.kill(victim, SIGTERM))) == LSM_ERR  # user signal: mediated
        yield from p.ptrace(PTRACE_ATTACH, victim)  # its SIGSTOP is not
        _, st = yield from p.waitpid(victim, WUNTRACED)
        assert os.WIFSTOPPED(st)
        yield from p.ptrace(PTRACE_DETACH, victim)
        yield from p.waitpid(victim, 0)
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert asked == [SIGTERM]
    assert SIGCHLD in got
