"""fork, exec, exit and wait: statuses, zombies, orphans, SIGCHLD, execve's rules."""

from __future__ import annotations

import errno
import os

from kernel_sim import (
    F_GETFD,
    O_CLOEXEC,
    SIG_IGN,
    SIGCHLD,
    SIGTERM,
    SIGUSR1,
    WNOHANG,
    Kernel,
)
from tests.kernel.helpers import check_ok, err, exited, killed_by, run


def _ret(code):
    def child(p):
        return code
        yield

    return child


def test_identity_calls() -> None:
    def child(p, parent):
        assert (yield from p.getppid()) == parent
        assert (yield from p.getpid()) == (yield from p.gettid()) == p.pid
        return 0

    def prog(p):
        me = yield from p.getpid()
        assert me == (yield from p.gettid())
        assert (yield from p.getppid()) == 1  # spawned processes are children of init
        pid = yield from p.fork(child, me)
        assert pid > me
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
        return 0

    check_ok(*run(prog))


def test_exit_statuses() -> None:
    def exiter(p, code):
        yield from p.exit(code)
        raise AssertionError("exit returned")

    def prog(p):
        for child, code in ((_ret(7), 7), (_ret(0), 0), (exiter, 3)):
            pid = yield from (p.fork(child, code) if child is exiter else p.fork(child))
            _, st = yield from p.waitpid(pid, 0)
            assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == code, (child, st)
        pid = yield from p.fork(exiter, 256 + 5)  # only the low 8 bits survive
        _, st = yield from p.waitpid(pid, 0)
        assert os.WEXITSTATUS(st) == 5
        return 0

    check_ok(*run(prog))


def test_spawned_status_visible_to_kernel() -> None:
    k, pid = run(_ret(42))
    assert exited(k.exit_status(pid), 42)


def test_zombie_until_reaped() -> None:
    def prog(p):
        pid = yield from p.fork(_ret(1))
        yield from p.nanosleep(1.0)
        # a zombie still exists: kill(pid, 0) succeeds, and waitpid reports it once
        assert (yield from err(p.kill(pid, 0))) == 0
        assert p.kernel.processes[pid].exit_status is not None
        wpid, st = yield from p.waitpid(pid, WNOHANG)
        assert wpid == pid and os.WEXITSTATUS(st) == 1
        assert (yield from err(p.kill(pid, 0))) == errno.ESRCH
        assert (yield from err(p.waitpid(pid, 0))) == errno.ECHILD
        assert pid not in p.kernel.processes
        return 0

    check_ok(*run(prog))


def test_echild_and_wnohang() -> None:
    def slow(p):
        yield from p.nanosleep(5.0)
        return 2

    def prog(p):
        assert (yield from err(p.waitpid(-1, 0))) == errno.ECHILD
        pid = yield from p.fork(slow)
        assert (yield from p.waitpid(-1, WNOHANG)) == (0, 0)
        assert (yield from p.waitpid(pid, WNOHANG)) == (0, 0)
        assert (yield from err(p.waitpid(pid + 100, 0))) == errno.ECHILD
        assert (yield from err(p.waitpid(1, 0))) == errno.ECHILD  # init is not our child
        assert (yield from err(p.waitpid(-1, 0x1000))) == errno.EINVAL
        wpid, st = yield from p.waitpid(-1, 0)
        assert wpid == pid and os.WEXITSTATUS(st) == 2 and p.kernel.now >= 5.0
        return 0

    check_ok(*run(prog))


def test_waitpid_by_process_group() -> None:
    def prog(p):
        a = yield from p.fork(_ret(1))
        b = yield from p.fork(_ret(2))
        got = set()
        for _ in range(2):
            wpid, st = yield from p.waitpid(0, 0)  # our process group
            got.add((wpid, os.WEXITSTATUS(st)))
        assert got == {(a, 1), (b, 2)}
        assert (yield from err(p.waitpid(-p.pid, 0))) == errno.ECHILD
        return 0

    check_ok(*run(prog))


def test_orphans_are_reparented_to_init_and_reaped() -> None:
    seen = {}

    def grandchild(p):
        seen["before"] = yield from p.getppid()
        yield from p.nanosleep(2.0)
        seen["after"] = yield from p.getppid()
        return 6

    def child(p):
        seen["gc"] = yield from p.fork(grandchild)
        yield from p.nanosleep(1.0)
        return 0  # exits before the grandchild

    def prog(p):
        c = yield from p.fork(child)
        yield from p.waitpid(c, 0)
        seen["child"] = c
        return 0

    k, _ = run(prog)
    assert seen["before"] == seen["child"]
    assert seen["after"] == 1
    gc = seen["gc"]
    assert exited(k.exit_status(gc), 6)
    assert gc not in k.processes  # init reaped it
    assert k.processes[1].children == []


def test_children_of_a_parent_ignoring_sigchld_are_auto_reaped() -> None:
    def prog(p):
        yield from p.sigaction(SIGCHLD, SIG_IGN)
        yield from p.fork(_ret(3))
        yield from p.nanosleep(1.0)
        assert (yield from err(p.waitpid(-1, WNOHANG))) == errno.ECHILD
        return 0

    check_ok(*run(prog))


def test_killed_child_status() -> None:
    def victim(p):
        yield from p.nanosleep(10.0)
        return 0

    def prog(p):
        pid = yield from p.fork(victim)
        yield from p.kill(pid, SIGTERM)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGTERM and not os.WIFEXITED(st)
        return 0

    check_ok(*run(prog))


def test_fork_rejects_non_generator() -> None:
    def prog(p):
        assert (yield from err(p.fork(print))) == errno.EINVAL
        return 0

    check_ok(*run(prog))


def test_uncaught_syscall_error_exits_1() -> None:
    def prog(p):
        yield from p.close(55)
        return 0

    k, pid = run(prog)
    assert exited(k.exit_status(pid), 1)


def test_fork_copies_credentials_and_umask() -> None:
    def child(p):
        assert (yield from p.getuid()) == 1000
        assert (yield from p.umask(0)) == 0o027
        return 0

    def prog(p):
        yield from p.umask(0o027)
        pid = yield from p.fork(child)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WEXITSTATUS(st) == 0
        assert (yield from p.umask(0o022)) == 0o027  # the child's change did not leak back
        return 0

    check_ok(*run(prog, uid=1000, gid=1000))


# -- execve --------------------------------------------------------------------------------
def _hello(p, *args):
    yield from p.getpid()
    return len(args) + 10


def test_execve_runs_the_installed_program_and_changes_comm() -> None:
    k = Kernel(seed=0)
    k.install("/usr/bin/hello", _hello, mode=0o755)
    before = {}

    def prog(p):
        before["comm"] = p.comm
        yield from p.execve("/usr/bin/hello", ["hello", "a", "b"], {})
        raise AssertionError("execve returned")

    k, pid = run(prog, kernel=k, comm="starter")
    assert before["comm"] == "starter"
    assert exited(k.exit_status(pid), 12)  # argv[1:] are the program's arguments
    assert k.processes[1].children == [] or pid not in k.processes
    assert k.tasks.get(pid) is None


def test_execve_comm_seen_by_new_program() -> None:
    k = Kernel(seed=0)
    seen = []

    def newprog(p):
        seen.append((p.comm, p.process.comm, (yield from p.getpid())))
        return 0

    k.install("/usr/bin/a-rather-long-program-name", newprog)

    def prog(p):
        yield from p.execve("/usr/bin/a-rather-long-program-name", ["x"], {})

    _, pid = run(prog, kernel=k)
    assert seen == [("a-rather-long-p", "a-rather-long-p", pid)]  # TASK_COMM_LEN 16


def test_execve_errors() -> None:
    k = Kernel(seed=0)
    k.install("/usr/bin/noexec", _hello, mode=0o644)
    k.install("/usr/bin/data", b"just some text\n", mode=0o755)
    k.install("/usr/bin/ownerx", _hello, mode=0o700)  # root only
    k.mkdir("/opt/closed", 0o700)
    k.install("/opt/closed/tool", _hello, mode=0o755)

    def prog(p):
        assert (yield from err(p.execve("/usr/bin/noexec", ["x"], {}))) == errno.EACCES
        assert (yield from err(p.execve("/usr/bin/missing", ["x"], {}))) == errno.ENOENT
        assert (yield from err(p.execve("/usr/bin/data", ["x"], {}))) == errno.ENOEXEC
        assert (yield from err(p.execve("/usr/bin", ["x"], {}))) == errno.EACCES
        assert (yield from err(p.execve("/usr/bin/ownerx", ["x"], {}))) == errno.EACCES
        assert (yield from err(p.execve("/opt/closed/tool", ["x"], {}))) == errno.EACCES
        assert (yield from err(p.execve("/usr/bin/hello/x", ["x"], {}))) == errno.ENOENT
        return 0

    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))


def test_root_needs_an_execute_bit() -> None:
    k = Kernel(seed=0)
    k.install("/usr/bin/noexec", _hello, mode=0o644)
    k.install("/usr/bin/otherx", _hello, mode=0o001, uid=5, gid=5)

    def prog(p):
        assert (yield from err(p.execve("/usr/bin/noexec", ["x"], {}))) == errno.EACCES
        yield from p.execve("/usr/bin/otherx", ["x"], {})

    k, pid = run(prog, kernel=k)
    assert exited(k.exit_status(pid), 10)


def test_execve_closes_cloexec_fds_and_keeps_the_others() -> None:
    k = Kernel(seed=0)
    seen = {}

    def newprog(p, keep, drop):
        seen["keep"] = yield from err(p.fcntl(keep, F_GETFD))
        seen["drop"] = yield from err(p.fcntl(drop, F_GETFD))
        return 0

    k.install("/usr/bin/newprog", newprog)

    def prog(p):
        r, _w = yield from p.pipe()
        r2, _w2 = yield from p.pipe2(O_CLOEXEC)
        yield from p.execve("/usr/bin/newprog", ["newprog", r, r2], {})

    check_ok(*run(prog, kernel=k))
    assert seen == {"keep": 0, "drop": errno.EBADF}


def test_execve_resets_handlers_but_keeps_ignored_signals() -> None:
    k = Kernel(seed=0)

    def newprog(p):
        yield from p.kill(p.pid, SIGTERM)  # still ignored
        yield from p.kill(p.pid, SIGUSR1)  # handler reset to SIG_DFL: terminates
        return 0

    def handler(p, sig):
        return
        yield

    k.install("/usr/bin/newprog", newprog)

    def prog(p):
        yield from p.sigaction(SIGUSR1, handler)
        yield from p.sigaction(SIGTERM, SIG_IGN)
        yield from p.execve("/usr/bin/newprog", ["newprog"], {})

    k, pid = run(prog, kernel=k)
    assert killed_by(k.exit_status(pid), SIGUSR1)


def test_setuid_program_changes_euid_only() -> None:
    k = Kernel(seed=0)
    seen = {}

    def suid(p):
        seen["ids"] = ((yield from p.getuid()), (yield from p.geteuid()))
        return 0

    k.install("/usr/bin/suid", suid, mode=0o4755)

    def prog(p):
        yield from p.execve("/usr/bin/suid", ["suid"], {})

    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))
    assert seen["ids"] == (1000, 0)


def test_exec_in_forked_child_and_parent_waits() -> None:
    k = Kernel(seed=0)
    k.install("/usr/bin/hello", _hello)

    def child(p):
        yield from p.execve("/usr/bin/hello", ["hello", "x"], {})

    def prog(p):
        pid = yield from p.fork(child)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WEXITSTATUS(st) == 11
        return 0

    check_ok(*run(prog, kernel=k))
