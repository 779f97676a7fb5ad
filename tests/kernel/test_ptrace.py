"""ptrace: attach/peek/poke/cont/detach and ``__ptrace_may_access`` (Linux ``kernel/ptrace.c``)."""

from __future__ import annotations

import errno
import os

from kernel_sim import (
    PROT_READ,
    PROT_WRITE,
    PTRACE_ATTACH,
    PTRACE_CONT,
    PTRACE_DETACH,
    PTRACE_KILL,
    PTRACE_PEEKDATA,
    PTRACE_POKEDATA,
    PTRACE_TRACEME,
    SIGKILL,
    SIGSTOP,
    SIGTERM,
    SIGTRAP,
    SIGUSR1,
    Kernel,
)
from kernel_sim.process import Mapping
from tests.kernel.helpers import check_ok, err, exited, killed_by

ADDR: dict[str, int] = {}


def _map_secret(p, value: bytes) -> int:
    mm = p.process.mm
    addr = mm.place(4096)
    backing = bytearray(4096)
    backing[: len(value)] = value
    mm.add(Mapping(addr, 4096, backing, PROT_READ | PROT_WRITE, False, "anon"))
    return addr


def _target(p, seconds=10.0):
    ADDR[p.pid] = _map_secret(p, b"secret!!")
    for _ in range(int(seconds)):
        yield from p.nanosleep(1.0)
    word = p.mem_read(ADDR[p.pid], 0, 8)
    return 1 if word == b"POKED!!!" else 0


def _spawn_pair(tracer, *, tuid=1000, uid=1000, tcaps=None, caps=None, kernel=None):
    k = kernel or Kernel(seed=0)
    t = k.spawn(_target, uid=tuid, gid=tuid, caps=tcaps)
    tr = k.spawn(tracer, t, uid=uid, gid=uid, caps=caps)
    return k, t, tr


def test_attach_peek_poke_detach_same_uid() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from p.ptrace(PTRACE_ATTACH, t)) == 0
        wpid, st = yield from p.waitpid(t, 0)  # a tracee's stop is reported without WUNTRACED
        assert wpid == t and os.WIFSTOPPED(st) and os.WSTOPSIG(st) == SIGSTOP
        addr = ADDR[t]
        word = yield from p.ptrace(PTRACE_PEEKDATA, t, addr)
        assert word.to_bytes(8, "little") == b"secret!!"
        yield from p.ptrace(PTRACE_POKEDATA, t, addr, int.from_bytes(b"POKED!!!", "little"))
        assert (yield from err(p.ptrace(PTRACE_PEEKDATA, t, 0x1000))) == errno.EIO
        assert (yield from p.ptrace(PTRACE_DETACH, t, 0, 0)) == 0
        # no longer traced
        assert (yield from err(p.ptrace(PTRACE_PEEKDATA, t, addr))) == errno.ESRCH
        return 0

    k, t, tr = _spawn_pair(tracer)
    k.run()
    check_ok(k, tr)
    assert exited(k.exit_status(t), 1)  # the tracee ran on after detach and saw the poke


def test_different_uid_is_eperm() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM
        assert (yield from err(p.ptrace(PTRACE_PEEKDATA, t, ADDR[t]))) == errno.ESRCH
        return 0

    k, t, tr = _spawn_pair(tracer, tuid=1001)
    k.run()
    check_ok(k, tr)
    assert exited(k.exit_status(t), 0)


def test_cap_sys_ptrace_overrides_uid_test() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        yield from p.waitpid(t, 0)
        word = yield from p.ptrace(PTRACE_PEEKDATA, t, ADDR[t])
        assert word.to_bytes(8, "little") == b"secret!!"
        yield from p.ptrace(PTRACE_DETACH, t)
        return 0

    k, _t, tr = _spawn_pair(tracer, tuid=1001, uid=0)
    k.run()
    check_ok(k, tr)


def test_root_without_capabilities_cannot_trace_others() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM
        return 0

    k, _t, tr = _spawn_pair(tracer, tuid=1001, uid=0, caps=0)
    k.run()
    check_ok(k, tr)


def test_target_with_more_capabilities_needs_cap_sys_ptrace() -> None:
    """commoncap: the tracee's permitted set must be a subset of the tracer's."""

    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM
        return 0

    k, _t, tr = _spawn_pair(tracer, tuid=1000, uid=1000, tcaps=1 << 5)  # CAP_KILL
    k.run()
    check_ok(k, tr)


def test_setuid_target_is_eperm() -> None:
    """A target whose euid/suid differ from the caller's real uid (setuid exec) is refused."""
    k = Kernel(seed=0)
    k.install("/usr/bin/suid", _target, mode=0o4755)

    def victim(p, *_args):
        yield from p.execve("/usr/bin/suid", ["suid"], {})

    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM
        return 0

    t = k.spawn(victim, uid=1000, gid=1000)
    tr = k.spawn(tracer, t, uid=1000, gid=1000)
    k.run()
    check_ok(k, tr)


def test_requests_on_a_running_tracee_are_esrch() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        yield from p.waitpid(t, 0)
        yield from p.ptrace(PTRACE_CONT, t, 0, 0)
        assert (yield from err(p.ptrace(PTRACE_PEEKDATA, t, ADDR[t]))) == errno.ESRCH
        assert (yield from err(p.ptrace(PTRACE_CONT, t, 0, 0))) == errno.ESRCH
        assert (yield from err(p.ptrace(PTRACE_DETACH, t, 0, 0))) == errno.ESRCH
        assert (yield from p.ptrace(PTRACE_KILL, t)) == 0  # PTRACE_KILL needs no stop
        _, st = yield from p.waitpid(t, 0)  # the tracer sees its tracee's death
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGKILL
        return 0

    k, t, tr = _spawn_pair(tracer)
    k.run()
    check_ok(k, tr)
    assert killed_by(k.exit_status(t), SIGKILL)
    assert t not in k.processes  # init (the parent) reaped it afterwards


def test_attach_errors() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, p.pid))) == errno.EPERM  # self
        assert (yield from err(p.ptrace(PTRACE_ATTACH, 9999))) == errno.ESRCH
        assert (yield from err(p.ptrace(PTRACE_PEEKDATA, 9999, 0))) == errno.ESRCH
        yield from p.ptrace(PTRACE_ATTACH, t)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM  # already traced
        yield from p.waitpid(t, 0)
        yield from p.ptrace(PTRACE_DETACH, t)
        return 0

    k, _t, tr = _spawn_pair(tracer)
    k.run()
    check_ok(k, tr)


def test_second_tracer_is_eperm() -> None:
    k = Kernel(seed=0)
    t = k.spawn(_target, uid=1000, gid=1000)

    def first(p):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        yield from p.waitpid(t, 0)
        yield from p.nanosleep(1.0)
        yield from p.ptrace(PTRACE_DETACH, t)
        return 0

    def second(p):
        yield from p.nanosleep(1.0)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM
        return 0

    a = k.spawn(first, uid=1000, gid=1000)
    b = k.spawn(second, uid=1000, gid=1000)
    k.run()
    check_ok(k, a)
    check_ok(k, b)


def test_traceme_and_parent_peeks_stopped_child() -> None:
    def child(p):
        addr = _map_secret(p, b"childmem")
        ADDR["child"] = addr
        yield from p.ptrace(PTRACE_TRACEME)
        assert (yield from err(p.ptrace(PTRACE_TRACEME))) == errno.EPERM  # already traced
        yield from p.kill(p.pid, SIGSTOP)
        return 3

    def parent(p):
        pid = yield from p.fork(child)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSTOPPED(st)
        word = yield from p.ptrace(PTRACE_PEEKDATA, pid, ADDR["child"])
        assert word.to_bytes(8, "little") == b"childmem"
        yield from p.ptrace(PTRACE_CONT, pid, 0, 0)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 3
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(parent, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


def test_tracee_exit_reported_to_a_waiting_tracer() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        yield from p.waitpid(t, 0)
        yield from p.ptrace(PTRACE_CONT, t, 0, 0)
        wpid, st = yield from p.waitpid(t, 0)
        assert wpid == t and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
        assert (yield from err(p.waitpid(t, 0))) == errno.ECHILD
        return 0

    k, t, tr = _spawn_pair(tracer)
    k.run()
    check_ok(k, tr)
    assert exited(k.exit_status(t), 0)


def test_privilege_drop_makes_a_process_non_dumpable_until_a_plain_exec() -> None:
    """commit_creds: changing euid makes the process non-dumpable, so its new uid may not
    trace it; exec of an ordinary program (same creds) makes it dumpable again."""
    k = Kernel(seed=0)
    k.install("/usr/bin/plain", _target, mode=0o755)

    def daemon(p):
        yield from p.setgid(1000)
        yield from p.setuid(1000)  # root drops privileges
        yield from p.nanosleep(2.0)
        yield from p.execve("/usr/bin/plain", ["plain"], {})

    def tracer(p, t):
        yield from p.nanosleep(1.0)
        assert (yield from err(p.ptrace(PTRACE_ATTACH, t))) == errno.EPERM  # non-dumpable
        yield from p.nanosleep(2.0)
        yield from p.ptrace(PTRACE_ATTACH, t)  # after the exec: dumpable again
        yield from p.waitpid(t, 0)
        yield from p.ptrace(PTRACE_DETACH, t)
        return 0

    t = k.spawn(daemon)
    tr = k.spawn(tracer, t, uid=1000, gid=1000)
    k.run()
    check_ok(k, tr)


def test_setuid_exec_under_an_unprivileged_tracer_gains_nothing() -> None:
    """cap_bprm_creds_from_file: with LSM_UNSAFE_PTRACE and a tracer lacking CAP_SYS_PTRACE
    the set-uid bit is ignored, so the tracer cannot peek at a root process."""
    k = Kernel(seed=0)
    seen = []

    def suid(p):
        seen.append(((yield from p.getuid()), (yield from p.geteuid()), p.cred.cap_effective))
        return 0

    k.install("/usr/bin/suid", suid, mode=0o4755)

    def child(p):
        yield from p.ptrace(PTRACE_TRACEME)
        yield from p.execve("/usr/bin/suid", ["suid"], {})

    def parent(p):
        pid = yield from p.fork(child)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSTOPPED(st) and os.WSTOPSIG(st) == SIGTRAP  # the post-exec trap
        yield from p.ptrace(PTRACE_CONT, pid, 0, 0)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st)
        return 0

    pid = k.spawn(parent, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert seen == [(1000, 1000, 0)]

    # untraced, the same exec is set-uid root
    k2 = Kernel(seed=0)
    k2.install("/usr/bin/suid", suid, mode=0o4755)

    def plain(p):
        yield from p.execve("/usr/bin/suid", ["suid"], {})

    k2.spawn(plain, uid=1000, gid=1000)
    k2.run()
    assert seen[1][:2] == (1000, 0) and seen[1][2] != 0


def test_signals_to_a_tracee_stop_it_and_the_tracer_decides() -> None:
    """Signal-delivery-stop: the tracer sees each signal (even an ignored one) and its
    PTRACE_CONT data is what gets delivered."""
    log = []

    def tracee(p):
        yield from p.sigaction(SIGUSR1, "SIG_IGN")
        for _ in range(10):
            yield from p.nanosleep(1.0)
        log.append("survived")
        return 0

    k = Kernel(seed=0)
    t = k.spawn(tracee, uid=1000, gid=1000)

    def tracer(p):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        _, st = yield from p.waitpid(t, 0)
        assert os.WSTOPSIG(st) == SIGSTOP
        yield from p.ptrace(PTRACE_CONT, t, 0, 0)  # the attach SIGSTOP is suppressed
        yield from p.kill(t, SIGTERM)
        _, st = yield from p.waitpid(t, 0)
        assert os.WIFSTOPPED(st) and os.WSTOPSIG(st) == SIGTERM
        yield from p.ptrace(PTRACE_CONT, t, 0, 0)  # suppressed: the tracee lives on
        yield from p.kill(t, SIGUSR1)  # ignored by the tracee, still reported
        _, st = yield from p.waitpid(t, 0)
        assert os.WSTOPSIG(st) == SIGUSR1
        assert (yield from err(p.ptrace(PTRACE_CONT, t, 0, 99))) == errno.EIO  # bad signal
        yield from p.ptrace(PTRACE_DETACH, t, 0, 0)
        return 0

    tr = k.spawn(tracer, uid=1000, gid=1000)
    k.run()
    check_ok(k, tr)
    assert log == ["survived"] and exited(k.exit_status(t), 0)


def test_tracer_injects_the_signal_it_resumes_with() -> None:
    def tracer(p, t):
        yield from p.nanosleep(0.5)
        yield from p.ptrace(PTRACE_ATTACH, t)
        yield from p.waitpid(t, 0)
        yield from p.ptrace(PTRACE_CONT, t, 0, SIGTERM)  # deliver SIGTERM instead of SIGSTOP
        _, st = yield from p.waitpid(t, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGTERM
        return 0

    k, t, tr = _spawn_pair(tracer)
    k.run()
    check_ok(k, tr)
    assert killed_by(k.exit_status(t), SIGTERM)
