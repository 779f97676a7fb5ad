"""kill(2) permission and target selection (Linux ``kill_something_info``,
``check_kill_permission``, ``kill_ok_by_cred``)."""

from __future__ import annotations

import errno
import os

from kernel_sim import SIGCONT, SIGKILL, SIGTERM, SIGUSR1, Kernel
from kernel_sim.caps import CAP_KILL
from tests.kernel.helpers import check_ok, err, exited, killed_by


def _victim(p, seconds=10.0):
    yield from p.nanosleep(seconds)
    return 0


def _handler(log):
    def on_sig(p, sig):
        log.append(p.pid)
        return
        yield

    return on_sig


def _catcher(log, seconds=10.0):
    def prog(p):
        yield from p.sigaction(SIGUSR1, _handler(log))
        yield from err(p.nanosleep(seconds))  # EINTR when the handler ran
        return 0

    return prog


def _killer(target, sig, expect, delay=1.0):
    def prog(p):
        yield from p.nanosleep(delay)
        assert (yield from err(p.kill(target, sig))) == expect
        return 0

    return prog


def test_same_uid_may_signal() -> None:
    k = Kernel(seed=0)
    v = k.spawn(_victim, uid=1000, gid=1000)
    s = k.spawn(_killer(v, SIGTERM, 0), uid=1000, gid=1000)
    k.run()
    assert killed_by(k.exit_status(v), SIGTERM)
    assert exited(k.exit_status(s))


def test_other_uid_is_eperm_and_target_untouched() -> None:
    k = Kernel(seed=0)
    v = k.spawn(_victim, uid=1001, gid=1001)
    s = k.spawn(_killer(v, SIGKILL, errno.EPERM), uid=1000, gid=1000)
    probe = k.spawn(_killer(v, 0, errno.EPERM), uid=1000, gid=1000)
    k.run()
    assert exited(k.exit_status(v)) and k.now >= 10.0
    assert exited(k.exit_status(s)) and exited(k.exit_status(probe))


def test_root_and_cap_kill_override_and_root_without_caps_does_not() -> None:
    k = Kernel(seed=0)
    v1 = k.spawn(_victim, uid=1001, gid=1001)
    v2 = k.spawn(_victim, uid=1001, gid=1001)
    v3 = k.spawn(_victim, uid=1001, gid=1001)
    k.spawn(_killer(v1, SIGTERM, 0))  # root
    k.spawn(_killer(v2, SIGTERM, 0), uid=1000, gid=1000, caps=1 << CAP_KILL)
    k.spawn(_killer(v3, SIGTERM, errno.EPERM), uid=0, gid=0, caps=0)
    k.run()
    assert killed_by(k.exit_status(v1), SIGTERM)
    assert killed_by(k.exit_status(v2), SIGTERM)
    assert exited(k.exit_status(v3))


def test_sender_uid_matching_target_real_uid_of_setuid_program() -> None:
    """kill_ok_by_cred compares with the target's real and saved uid, not its euid."""
    k = Kernel(seed=0)

    def suid_main(p):
        assert (yield from p.geteuid()) == 0
        yield from p.nanosleep(10.0)
        return 0

    k.install("/usr/bin/suid", suid_main, mode=0o4755)

    def victim(p):
        yield from p.execve("/usr/bin/suid", ["suid"], {})

    v = k.spawn(victim, uid=1000, gid=1000)
    k.spawn(_killer(v, SIGTERM, 0), uid=1000, gid=1000)
    k.run()
    assert killed_by(k.exit_status(v), SIGTERM)


def test_esrch_and_einval() -> None:
    def prog(p):
        assert (yield from err(p.kill(4242, SIGTERM))) == errno.ESRCH
        assert (yield from err(p.kill(4242, 0))) == errno.ESRCH
        assert (yield from err(p.kill(p.pid, 65))) == errno.EINVAL
        assert (yield from err(p.kill(p.pid, -1))) == errno.EINVAL
        assert (yield from err(p.kill(4242, 65))) == errno.EINVAL  # EINVAL before the lookup
        assert (yield from err(p.kill(-4242, SIGTERM))) == errno.ESRCH  # empty group
        assert (yield from p.kill(p.pid, 0)) == 0
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


def test_kill_zero_signals_the_whole_own_process_group() -> None:
    log: list[int] = []

    def child(p):
        yield from err(p.nanosleep(5.0))
        return 0

    def prog(p):
        yield from p.sigaction(SIGUSR1, _handler(log))
        a = yield from p.fork(child)
        b = yield from p.fork(child)
        yield from p.nanosleep(0.1)
        yield from p.kill(0, SIGUSR1)
        for pid in (a, b):
            yield from p.waitpid(pid, 0)
        assert sorted(log) == sorted([p.pid, a, b])
        assert p.kernel.now < 1.0  # the children's sleeps were interrupted
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


def test_kill_negative_pgrp_success_if_any_member_succeeded() -> None:
    log: list[int] = []
    k = Kernel(seed=0)
    members = {}

    def member(p, uid):
        yield from p.setuid(uid)
        yield from p.sigaction(SIGUSR1, _handler(log))
        yield from err(p.nanosleep(5.0))
        return 0

    def leader(p):  # root: its children take uids 1000 and 2000, all in this group
        members["a"] = yield from p.fork(member, 1000)
        members["b"] = yield from p.fork(member, 2000)
        yield from p.sigaction(SIGUSR1, _handler(log))
        for pid in members.values():
            yield from p.waitpid(pid, 0)
        return 0

    lead = k.spawn(leader)

    def alice(p):
        yield from p.nanosleep(1.0)
        assert (yield from p.kill(-lead, SIGUSR1)) == 0  # only member a was allowed
        return 0

    def carol(p):
        yield from p.nanosleep(1.5)
        assert (yield from err(p.kill(-lead, SIGUSR1))) == errno.EPERM  # nobody allowed
        return 0

    k.spawn(alice, uid=1000, gid=1000)
    k.spawn(carol, uid=3000, gid=3000)
    k.run()
    assert log == [members["a"]]
    assert exited(k.exit_status(lead))


def test_kill_minus_one_skips_init_and_self_and_ignores_eperm() -> None:
    log: list[int] = []
    k = Kernel(seed=0)
    mine = k.spawn(_catcher(log), uid=1000, gid=1000)
    other = k.spawn(_catcher(log), uid=2000, gid=2000)

    def alice(p):
        yield from p.sigaction(SIGUSR1, _handler(log))
        yield from p.nanosleep(1.0)
        assert (yield from p.kill(-1, SIGUSR1)) == 0
        yield from p.getpid()
        return 0

    a = k.spawn(alice, uid=1000, gid=1000)
    k.run()
    assert log == [mine]  # not the other user's process, not itself, not init
    assert exited(k.exit_status(a))
    assert k.exit_status(other) is not None and k.now >= 10.0


def test_kill_minus_one_with_only_forbidden_targets_returns_zero() -> None:
    k = Kernel(seed=0)
    k.spawn(_victim, uid=2000, gid=2000)

    def alice(p):
        yield from p.nanosleep(1.0)
        assert (yield from p.kill(-1, SIGTERM)) == 0  # every result was EPERM: ignored
        return 0

    a = k.spawn(alice, uid=1000, gid=1000)
    k.run()
    check_ok(k, a)


def test_kill_minus_one_without_candidates_is_esrch() -> None:
    def prog(p):
        assert (yield from err(p.kill(-1, SIGTERM))) == errno.ESRCH
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


def test_root_kill_minus_one_spares_init() -> None:
    k = Kernel(seed=0)
    v = k.spawn(_victim, uid=2000, gid=2000)

    def root(p):
        yield from p.nanosleep(1.0)
        yield from p.kill(-1, SIGKILL)
        return 0

    r = k.spawn(root)
    k.run()
    assert killed_by(k.exit_status(v), SIGKILL)
    check_ok(k, r)
    assert k.processes[1].exit_status is None  # init lives on


def test_sigcont_within_the_session_bypasses_the_uid_test() -> None:
    k = Kernel(seed=0)
    outsider = k.spawn(_victim, uid=0, gid=0)

    def child(p, parent):
        yield from p.setuid(2000)
        assert (yield from p.kill(parent, SIGCONT)) == 0  # same session
        assert (yield from err(p.kill(parent, SIGUSR1))) == errno.EPERM
        assert (yield from err(p.kill(outsider, SIGCONT))) == errno.EPERM  # other session
        return 0

    def parent(p):
        pid = yield from p.fork(child, p.pid)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
        return 0

    pid = k.spawn(parent)
    k.run()
    check_ok(k, pid)


def test_signal_to_own_process_needs_no_permission() -> None:
    def prog(p):
        yield from p.sigaction(SIGUSR1, "SIG_IGN")
        assert (yield from p.kill(p.pid, SIGUSR1)) == 0
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000, caps=0)
    k.run()
    check_ok(k, pid)


def test_zombies_still_count_as_signal_targets_until_reaped() -> None:
    """A zombie keeps its pid and process group until its parent reaps it."""

    def quick(p):
        return 0
        yield

    def prog(p):
        pid = yield from p.fork(quick)
        yield from p.nanosleep(1.0)  # now a zombie, not reaped
        assert (yield from p.kill(pid, SIGTERM)) == 0
        yield from p.waitpid(pid, 0)
        assert (yield from err(p.kill(pid, SIGTERM))) == errno.ESRCH
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)

