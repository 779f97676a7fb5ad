"""Signals: default actions, handlers, uncatchable signals, EINTR and SA_RESTART, SIGCHLD,
stop/continue reporting (Linux ``kernel/signal.c``, signal(7))."""

from __future__ import annotations

import errno
import os

import pytest

from kernel_sim import (
    SA_RESETHAND,
    SA_RESTART,
    SIG_DFL,
    SIG_IGN,
    SIGCHLD,
    SIGCONT,
    SIGINT,
    SIGKILL,
    SIGQUIT,
    SIGRTMIN,
    SIGSEGV,
    SIGSTOP,
    SIGTERM,
    SIGTSTP,
    SIGUSR1,
    SIGUSR2,
    WCONTINUED,
    WNOHANG,
    WUNTRACED,
)
from tests.kernel.helpers import check_ok, err, run


def _noop_handler(log):
    def handler(p, sig):
        log.append((p.pid, sig))
        return
        yield

    return handler


def _sleeper(p):
    yield from p.nanosleep(100.0)
    return 0


@pytest.mark.parametrize(("sig", "core"), [(SIGTERM, False), (SIGINT, False), (SIGUSR1, False),
                                           (SIGQUIT, True), (SIGSEGV, True), (SIGKILL, False)])
def test_default_terminating_actions(sig: int, core: bool) -> None:
    def prog(p):
        pid = yield from p.fork(_sleeper)
        yield from p.nanosleep(0.1)
        yield from p.kill(pid, sig)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == sig
        assert bool(os.WCOREDUMP(st)) is core
        assert p.kernel.now < 1.0  # killed at once, not after the 100 s sleep
        return 0

    check_ok(*run(prog))


@pytest.mark.parametrize("sig", [SIGCHLD, 28, SIGCONT])  # SIGWINCH is 28
def test_default_ignored_signals_do_not_interrupt(sig: int) -> None:
    def child(p):
        yield from p.nanosleep(5.0)
        return 7

    def prog(p):
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.1)
        yield from p.kill(pid, sig)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 7
        assert p.kernel.now >= 5.0  # the sleep was not cut short
        return 0

    check_ok(*run(prog))


def test_handler_runs_in_the_target_program() -> None:
    log: list[tuple[int, int]] = []

    def child(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        yield from p.nanosleep(1.0)  # EINTR once the handler ran
        return 0

    def prog(p):
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.5)
        yield from p.kill(pid, SIGUSR1)
        _, st = yield from p.waitpid(pid, 0)
        return os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99

    k, pid = run(prog)
    assert k.exit_status(pid) is not None
    child_pid = pid + 1
    assert log == [(child_pid, SIGUSR1)]


def test_handler_makes_syscall_and_returns_old_action() -> None:
    log = []

    def handler(p, sig):
        log.append((yield from p.getpid()))

    def prog(p):
        assert (yield from p.sigaction(SIGUSR1, handler)) == SIG_DFL
        assert (yield from p.sigaction(SIGUSR1, SIG_IGN)) is handler
        assert (yield from p.sigaction(SIGUSR1, handler)) == SIG_IGN
        yield from p.kill((yield from p.getpid()), SIGUSR1)  # delivered on return from kill
        assert log == [p.pid]
        return 0

    check_ok(*run(prog))


@pytest.mark.parametrize("sig", [SIGKILL, SIGSTOP])
def test_sigkill_and_sigstop_cannot_be_caught_or_ignored(sig: int) -> None:
    def prog(p):
        assert (yield from err(p.sigaction(sig, SIG_IGN))) == errno.EINVAL
        assert (yield from err(p.sigaction(sig, _noop_handler([])))) == errno.EINVAL
        assert (yield from err(p.sigaction(sig, SIG_DFL))) == errno.EINVAL
        return 0

    check_ok(*run(prog))


def test_invalid_signal_numbers() -> None:
    def prog(p):
        for sig in (0, 65, -1):
            assert (yield from err(p.sigaction(sig, SIG_IGN))) == errno.EINVAL
        assert (yield from err(p.kill((yield from p.getpid()), 65))) == errno.EINVAL
        return 0

    check_ok(*run(prog))


def test_ignored_signal_is_discarded() -> None:
    def prog(p):
        yield from p.sigaction(SIGTERM, SIG_IGN)
        yield from p.kill((yield from p.getpid()), SIGTERM)
        yield from p.nanosleep(1.0)
        return 5

    k, pid = run(prog)
    assert os.WEXITSTATUS(k.exit_status(pid)) == 5


# -- EINTR and SA_RESTART ------------------------------------------------------------------
def _interrupt_after(delay: float, sig: int = SIGUSR1):
    def sender(p, target):
        yield from p.nanosleep(delay)
        yield from p.kill(target, sig)
        return 0

    return sender


def test_pipe_read_interrupted_with_eintr_without_sa_restart() -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        r, _w = yield from p.pipe()
        yield from p.fork(_interrupt_after(1.0), p.pid)
        assert (yield from err(p.read(r, 10))) == errno.EINTR
        assert 1.0 <= p.kernel.now < 1.1
        return 0

    check_ok(*run(prog))
    assert len(log) == 1


def test_pipe_read_restarted_with_sa_restart() -> None:
    log = []

    def helper(p, target, w):
        yield from p.nanosleep(1.0)
        yield from p.kill(target, SIGUSR1)
        yield from p.nanosleep(1.0)
        yield from p.write(w, b"after")
        return 0

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log), SA_RESTART)
        r, w = yield from p.pipe()
        yield from p.fork(helper, p.pid, w)
        assert (yield from p.read(r, 10)) == b"after"
        assert p.kernel.now >= 2.0
        return 0

    check_ok(*run(prog))
    assert len(log) == 1


def test_waitpid_eintr_and_restart() -> None:
    log = []

    def child(p):
        yield from p.nanosleep(3.0)
        return 4

    def prog(p, flags):
        yield from p.sigaction(SIGUSR2, _noop_handler(log), flags)
        pid = yield from p.fork(child)
        yield from p.fork(_interrupt_after(1.0, SIGUSR2), p.pid)
        r = yield from err(p.waitpid(pid, 0))
        if flags & SA_RESTART:
            assert r == 0 and p.kernel.now >= 3.0
        else:
            assert r == errno.EINTR and p.kernel.now < 2.0
        return 0

    check_ok(*run(prog, 0))
    check_ok(*run(prog, SA_RESTART))
    assert len(log) == 2


def test_waitpid_not_interrupted_by_a_signal_without_handler() -> None:
    """SIGCHLD of the other child is ignored by default: waitpid keeps waiting."""

    def quick(p):
        return 0
        yield

    def slow(p):
        yield from p.nanosleep(2.0)
        return 3

    def prog(p):
        s = yield from p.fork(slow)
        yield from p.fork(quick)
        pid, st = yield from p.waitpid(s, 0)
        assert pid == s and os.WEXITSTATUS(st) == 3
        return 0

    check_ok(*run(prog))


@pytest.mark.parametrize("flags", [0, SA_RESTART])
def test_pause_returns_eintr_after_a_handler(flags: int) -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log), flags)
        yield from p.fork(_interrupt_after(2.0), p.pid)
        assert (yield from err(p.pause())) == errno.EINTR
        assert p.kernel.now >= 2.0
        return 0

    check_ok(*run(prog))
    assert len(log) == 1


@pytest.mark.parametrize("flags", [0, SA_RESTART])
def test_nanosleep_eintr_even_with_sa_restart(flags: int) -> None:
    """nanosleep returns -ERESTART_RESTARTBLOCK: EINTR whenever a handler ran."""
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log), flags)
        yield from p.fork(_interrupt_after(1.0), p.pid)
        assert (yield from err(p.nanosleep(10.0))) == errno.EINTR
        assert 1.0 <= p.kernel.now < 2.0
        return 0

    check_ok(*run(prog))


def test_nanosleep_advances_simulated_time_exactly() -> None:
    def prog(p):
        t0 = p.kernel.now
        yield from p.nanosleep(1.5)
        t1 = p.kernel.now
        assert 1.5 <= t1 - t0 < 1.5 + 1e-5
        assert (yield from err(p.nanosleep(-1))) == errno.EINVAL
        return 0

    check_ok(*run(prog))


def test_blocked_signal_waits_until_unblocked() -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        yield from p.sigprocmask(0, {SIGUSR1})
        yield from p.kill(p.pid, SIGUSR1)
        yield from p.getpid()
        assert log == []
        yield from p.sigprocmask(1, {SIGUSR1})
        assert log == [(p.pid, SIGUSR1)]
        return 0

    check_ok(*run(prog))


# -- SIGCHLD, stop and continue -------------------------------------------------------------
def test_sigchld_sent_to_parent_on_child_exit() -> None:
    log = []

    def child(p):
        return 0
        yield

    def prog(p):
        yield from p.sigaction(SIGCHLD, _noop_handler(log))
        pid = yield from p.fork(child)
        yield from p.nanosleep(1.0)  # EINTR'd by the handler
        assert log == [(p.pid, SIGCHLD)]
        yield from p.waitpid(pid, 0)
        return 0

    check_ok(*run(prog))


def test_tstp_is_discarded_in_an_orphaned_process_group() -> None:
    """Spawned processes lead their own session (parent: init), so their process group is
    orphaned and the terminal stop signals are dropped (get_signal: is_current_pgrp_orphaned);
    SIGSTOP still stops."""

    def prog(p):
        pid = yield from p.fork(_sleeper)
        yield from p.nanosleep(0.1)
        for sig in (SIGTSTP, 21, 22):  # SIGTSTP, SIGTTIN, SIGTTOU
            yield from p.kill(pid, sig)
        yield from p.nanosleep(0.1)
        assert (yield from p.waitpid(pid, WUNTRACED | WNOHANG)) == (0, 0)
        yield from p.kill(pid, SIGSTOP)
        _wpid, st = yield from p.waitpid(pid, WUNTRACED)
        assert os.WIFSTOPPED(st) and os.WSTOPSIG(st) == SIGSTOP
        yield from p.kill(pid, SIGKILL)
        yield from p.waitpid(pid, 0)
        return 0

    check_ok(*run(prog))


@pytest.mark.parametrize("stopsig", [SIGSTOP])
def test_stop_and_continue_are_reported_by_waitpid(stopsig: int) -> None:
    def child(p):
        for _ in range(10):
            yield from p.nanosleep(1.0)
        return 9

    def prog(p):
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.5)
        yield from p.kill(pid, stopsig)
        wpid, st = yield from p.waitpid(pid, WUNTRACED)
        assert wpid == pid and os.WIFSTOPPED(st) and os.WSTOPSIG(st) == stopsig
        # reported once only
        assert (yield from p.waitpid(pid, WUNTRACED | WNOHANG)) == (0, 0)
        stopped_at = p.kernel.now
        yield from p.nanosleep(20.0)  # the child makes no progress while stopped
        assert (yield from p.waitpid(pid, WNOHANG)) == (0, 0)
        yield from p.kill(pid, SIGCONT)
        wpid, st = yield from p.waitpid(pid, WCONTINUED)
        assert wpid == pid and os.WIFCONTINUED(st)
        wpid, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 9
        assert p.kernel.now > stopped_at + 20.0
        return 0

    check_ok(*run(prog))


def test_stopped_child_not_reported_without_wuntraced() -> None:
    def prog(p):
        pid = yield from p.fork(_sleeper)
        yield from p.kill(pid, SIGSTOP)
        yield from p.nanosleep(0.1)
        assert (yield from p.waitpid(pid, WNOHANG)) == (0, 0)
        yield from p.kill(pid, SIGKILL)  # SIGKILL ends a stopped process
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGKILL
        return 0

    check_ok(*run(prog))


def test_sigchld_sent_on_stop() -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGCHLD, _noop_handler(log), SA_RESTART)
        pid = yield from p.fork(_sleeper)
        yield from p.kill(pid, SIGSTOP)
        yield from p.waitpid(pid, WUNTRACED)
        yield from p.getpid()
        assert log == [(p.pid, SIGCHLD)]
        yield from p.kill(pid, SIGKILL)
        yield from p.waitpid(pid, 0)
        return 0

    check_ok(*run(prog))


def test_handler_inherited_by_fork_and_sigkill_during_handler_wait() -> None:
    log = []

    def child(p):
        yield from p.nanosleep(5.0)
        return 0

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.1)
        yield from p.kill(pid, SIGUSR1)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st)  # the handler ran, nanosleep returned EINTR -> uncaught -> 1
        return 0

    check_ok(*run(prog))
    assert [pid for pid, _ in log] and log[0][1] == SIGUSR1 and log[0][0] != 2


# -- more delivery rules ----------------------------------------------------------------------
def test_fatal_signal_kills_a_stopped_process_at_once() -> None:
    """complete_signal: a fatal, unhandled non-core signal ends a stopped group at once."""

    def prog(p):
        pid = yield from p.fork(_sleeper)
        yield from p.kill(pid, SIGSTOP)
        yield from p.waitpid(pid, WUNTRACED)
        yield from p.kill(pid, SIGTERM)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGTERM
        assert p.kernel.now < 1.0
        return 0

    check_ok(*run(prog))


def test_core_signal_to_a_stopped_process_waits_for_sigcont() -> None:
    def prog(p):
        pid = yield from p.fork(_sleeper)
        yield from p.kill(pid, SIGSTOP)
        yield from p.waitpid(pid, WUNTRACED)
        yield from p.kill(pid, SIGQUIT)
        yield from p.nanosleep(1.0)
        assert (yield from p.waitpid(pid, WNOHANG)) == (0, 0)  # still stopped
        yield from p.kill(pid, SIGCONT)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGQUIT and os.WCOREDUMP(st)
        return 0

    check_ok(*run(prog))


def test_blocked_read_survives_stop_and_continue() -> None:
    """A stop is not a handler: the read is restarted transparently after SIGCONT."""

    def reader(p, r):
        data = yield from p.read(r, 10)
        return len(data)

    def prog(p):
        r, w = yield from p.pipe()
        pid = yield from p.fork(reader, r)
        yield from p.nanosleep(0.1)
        yield from p.kill(pid, SIGSTOP)
        yield from p.waitpid(pid, WUNTRACED)
        yield from p.kill(pid, SIGCONT)
        yield from p.nanosleep(0.1)
        yield from p.write(w, b"12345")
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 5
        return 0

    check_ok(*run(prog))


def test_sigkill_ends_a_blocked_reader() -> None:
    def reader(p, r):
        yield from p.read(r, 10)
        return 0

    def prog(p):
        r, _w = yield from p.pipe()
        pid = yield from p.fork(reader, r)
        yield from p.nanosleep(0.5)
        yield from p.kill(pid, SIGKILL)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGKILL
        return 0

    check_ok(*run(prog))


def test_interrupted_blocking_write_returns_the_partial_count() -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        r, w = yield from p.pipe()
        yield from p.fork(_interrupt_after(1.0), p.pid)
        n = yield from p.write(w, b"z" * 100000)
        assert n == 65536  # what fit before the signal; no EINTR once something was written
        assert (yield from p.read(r, 1 << 20)) == b"z" * 65536
        return 0

    check_ok(*run(prog))
    assert len(log) == 1


def test_sa_resethand_runs_the_handler_once() -> None:
    log = []

    def prog(p):
        yield from p.sigaction(SIGUSR1, _noop_handler(log), SA_RESETHAND)
        yield from p.kill(p.pid, SIGUSR1)
        assert len(log) == 1
        yield from p.kill(p.pid, SIGUSR1)  # default action now: terminate
        return 0

    k, pid = run(prog)
    assert os.WIFSIGNALED(k.exit_status(pid)) and os.WTERMSIG(k.exit_status(pid)) == SIGUSR1


def test_standard_signals_coalesce_realtime_signals_queue() -> None:
    log = []

    def prog(p):
        rt = SIGRTMIN + 1
        yield from p.sigaction(SIGUSR1, _noop_handler(log))
        yield from p.sigaction(rt, _noop_handler(log))
        yield from p.sigprocmask(0, {SIGUSR1, rt})
        for _ in range(3):
            yield from p.kill(p.pid, SIGUSR1)
            yield from p.kill(p.pid, rt)
        yield from p.sigprocmask(1, {SIGUSR1, rt})
        assert [s for _, s in log] == [SIGUSR1, rt, rt, rt]  # lowest number first
        return 0

    check_ok(*run(prog))


def test_signal_blocked_while_its_handler_runs() -> None:
    log = []

    def handler(p, sig):
        log.append(("enter", sig))
        yield from p.kill(p.pid, sig)  # blocked during the handler: delivered after it
        yield from p.getpid()
        log.append(("leave", sig))

    def prog(p):
        yield from p.sigaction(SIGUSR2, handler, SA_RESETHAND)
        yield from p.kill(p.pid, SIGUSR2)
        return 0

    k, pid = run(prog)
    # the second SIGUSR2 came after the first handler finished, with SIG_DFL (reset): fatal
    assert log == [("enter", SIGUSR2), ("leave", SIGUSR2)]
    assert os.WIFSIGNALED(k.exit_status(pid)) and os.WTERMSIG(k.exit_status(pid)) == SIGUSR2


def test_sa_nocldstop_suppresses_sigchld_for_stops_only() -> None:
    from kernel_sim import SA_NOCLDSTOP

    log = []

    def prog(p):
        yield from p.sigaction(SIGCHLD, _noop_handler(log), SA_RESTART | SA_NOCLDSTOP)
        pid = yield from p.fork(_sleeper)
        yield from p.kill(pid, SIGSTOP)
        yield from p.waitpid(pid, WUNTRACED)
        yield from p.getpid()
        assert log == []  # no SIGCHLD for the stop
        yield from p.kill(pid, SIGKILL)
        yield from p.waitpid(pid, 0)
        yield from p.getpid()
        assert log == [(p.pid, SIGCHLD)]  # but one for the death
        return 0

    check_ok(*run(prog))


def test_non_dumpable_process_leaves_no_core() -> None:
    """do_coredump skips a process made non-dumpable by a privilege change."""

    def prog(p):
        yield from p.setuid(1000)  # root drops privileges: no longer dumpable
        yield from p.kill(p.pid, SIGQUIT)
        return 0

    k, pid = run(prog)
    st = k.exit_status(pid)
    assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGQUIT and not os.WCOREDUMP(st)
