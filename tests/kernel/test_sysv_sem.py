"""System V semaphores: semget/semop/semctl with Linux's validation order, blocking and undo."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

import kernel_sim  # noqa: F401 - import the kernel before lsm (package init order)
from kernel_sim import Kernel
from kernel_sim import constants as c
from kernel_sim.ipc.util import SEMMSL, SEMOPM, SEMVMX
from lsm.module import BpfLsm
from tests.kernel.helpers import err

Gen = Generator[Any, Any, Any]



def run(prog: Callable[..., Gen], *args: Any, lsms: tuple[Any, ...] = (), uid: int = 1000,
        gid: int = 1000) -> tuple[Kernel, int]:
    k = Kernel(lsms=list(lsms), seed=0)
    pid = k.spawn(prog, *args, uid=uid, gid=gid)
    k.run()
    return k, pid


def ok(k: Kernel, pid: int) -> None:
    st = k.exit_status(pid)
    assert st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, (st, k.diagnostics)


def test_semget_nsems_rules() -> None:
    out: dict[str, int] = {}

    def prog(p: Any) -> Gen:
        out["neg"] = yield from err(p.semget(1, -1, c.IPC_CREAT | 0o600))
        out["over"] = yield from err(p.semget(1, SEMMSL + 1, c.IPC_CREAT | 0o600))
        out["zero_create"] = yield from err(p.semget(1, 0, c.IPC_CREAT | 0o600))
        out["zero_private"] = yield from err(p.semget(c.IPC_PRIVATE, 0, 0o600))
        s = yield from p.semget(1, 3, c.IPC_CREAT | 0o600)
        out["zero_existing"] = (yield from p.semget(1, 0, 0)) - s
        out["fewer"] = (yield from p.semget(1, 2, 0)) - s
        out["more"] = yield from err(p.semget(1, 4, 0))
        out["eexist"] = yield from err(p.semget(1, 3, c.IPC_CREAT | c.IPC_EXCL))
        out["enoent"] = yield from err(p.semget(2, 3, 0))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"neg": c.EINVAL, "over": c.EINVAL, "zero_create": c.EINVAL,
                   "zero_private": c.EINVAL, "zero_existing": 0, "fewer": 0,
                   "more": c.EINVAL, "eexist": c.EEXIST, "enoent": c.ENOENT}


def test_semget_nsems_checked_before_permissions() -> None:
    out: dict[str, int] = {}

    def owner(p: Any) -> Gen:
        yield from p.semget(5, 2, c.IPC_CREAT | 0o600)
        return 0

    def stranger(p: Any) -> Gen:
        out["more"] = yield from err(p.semget(5, 3, 0o400))
        out["perm"] = yield from err(p.semget(5, 2, 0o400))
        return 0

    k = Kernel(seed=0)
    k.spawn(owner, uid=1000, gid=1000)
    k.run()
    k.spawn(stranger, uid=2000, gid=2000)
    k.run()
    assert out == {"more": c.EINVAL, "perm": c.EACCES}


def test_semop_validation_order() -> None:
    """EINVAL (nsops < 1) < E2BIG < EINVAL id < EFBIG < EACCES < hook < value errors."""
    out: dict[str, int] = {}

    def owner(p: Any) -> Gen:
        s = yield from p.semget(9, 2, c.IPC_CREAT | 0o644)
        out["s"] = s
        out["empty"] = yield from err(p.semop(s, []))
        out["e2big"] = yield from err(p.semop(999999, [(0, 1, 0)] * (SEMOPM + 1)))
        out["opm"] = yield from err(p.semop(s, [(0, 0, 0)] * SEMOPM))
        out["badid"] = yield from err(p.semop(999999, [(5, 1, 0)]))
        out["efbig"] = yield from err(p.semop(s, [(0, 1, 0), (2, 1, 0)]))
        out["erange"] = yield from err(p.semop(s, [(0, SEMVMX + 1, 0)]))
        out["vmx"] = yield from err(p.semop(s, [(0, SEMVMX, 0)]))
        out["erange2"] = yield from err(p.semop(s, [(0, 1, 0)]))
        yield from p.semctl(s, 0, c.SETVAL, 0)
        out["undo_range"] = yield from err(p.semop(s, [(1, SEMVMX, c.SEM_UNDO)]))
        out["undo_range2"] = yield from err(p.semop(s, [(1, -SEMVMX, 0)]))
        # semadj is -SEMVMX now; it may reach -SEMAEM - 1 but not go beyond
        out["undo_edge"] = yield from err(p.semop(s, [(1, 1, c.SEM_UNDO)]))
        out["undo_erange"] = yield from err(p.semop(s, [(1, 1, c.SEM_UNDO)]))
        out["undo_val"] = yield from p.semctl(s, 1, c.GETVAL)
        out["nowait"] = yield from err(p.semop(s, [(0, -1, c.IPC_NOWAIT)]))
        return 0

    def stranger(p: Any) -> Gen:
        s = out["s"]
        out["s_efbig"] = yield from err(p.semop(s, [(7, 1, 0)]))
        out["s_alter"] = yield from err(p.semop(s, [(0, 1, 0)]))
        out["s_read"] = yield from err(p.semop(s, [(0, 0, c.IPC_NOWAIT)]))
        return 0

    k = Kernel(seed=0)
    k.spawn(owner, uid=1000, gid=1000)
    k.run()
    k.spawn(stranger, uid=2000, gid=2000)
    k.run()
    assert out.pop("s") >= 0
    assert out == {"empty": c.EINVAL, "e2big": c.E2BIG, "opm": 0, "badid": c.EINVAL,
                   "efbig": c.EFBIG, "erange": c.ERANGE, "vmx": 0, "erange2": c.ERANGE,
                   "undo_range": 0, "undo_range2": 0, "undo_edge": 0,
                   "undo_erange": c.ERANGE, "undo_val": 1, "nowait": c.EAGAIN,
                   "s_efbig": c.EFBIG, "s_alter": c.EACCES, "s_read": 0}


def test_semop_is_all_or_nothing() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 3, 0o600)
        yield from p.semctl(s, 0, c.SETALL, [1, 0, 5])
        out["fail"] = yield from err(p.semop(s, [(0, -1, 0), (2, 1, 0), (1, -1, c.IPC_NOWAIT)]))
        out["vals"] = yield from p.semctl(s, 0, c.GETALL)
        out["range"] = yield from err(p.semop(s, [(2, 1, 0), (0, SEMVMX, 0)]))
        out["vals2"] = yield from p.semctl(s, 0, c.GETALL)
        # the same semaphore twice in one call is applied in order
        yield from p.semop(s, [(2, -5, 0), (2, 3, 0)])
        out["dup"] = yield from p.semctl(s, 2, c.GETVAL)
        out["pid"] = (yield from p.semctl(s, 2, c.GETPID)) == p.pid
        out["pid0"] = (yield from p.semctl(s, 1, c.GETPID)) == p.pid  # set by SETALL
        ds = yield from p.semctl(s, 0, c.IPC_STAT)
        out["stat"] = (ds.sem_nsems, ds.sem_otime > 0, ds.sem_perm.mode)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["fail"] == c.EAGAIN and out["vals"] == [1, 0, 5]
    assert out["range"] == c.ERANGE and out["vals2"] == [1, 0, 5]
    assert out["dup"] == 3 and out["pid"] and out["pid0"]
    assert out["stat"] == (3, True, 0o600)


def test_blocking_decrement_and_wait_for_zero_with_counts() -> None:
    log: list[Any] = []

    def dec(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, -2, 0)])
        log.append(("dec", p.kernel.now))
        return 0

    def zero(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(1, 0, 0)])
        log.append(("zero", p.kernel.now))
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 2, 0o600)
        yield from p.semctl(s, 1, c.SETVAL, 1)
        yield from p.fork(dec, s)
        yield from p.fork(zero, s)
        yield from p.nanosleep(0.01)
        log.append(("counts", (yield from p.semctl(s, 0, c.GETNCNT)),
                    (yield from p.semctl(s, 1, c.GETZCNT)),
                    (yield from p.semctl(s, 1, c.GETNCNT))))
        yield from p.semop(s, [(0, 1, 0)])
        yield from p.nanosleep(0.01)
        log.append(("half", len(log)))
        yield from p.semop(s, [(0, 1, 0), (1, -1, 0)])
        yield from p.waitpid(-1, 0)
        yield from p.waitpid(-1, 0)
        log.append(("final", (yield from p.semctl(s, 0, c.GETALL)),
                    (yield from p.semctl(s, 0, c.GETNCNT))))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert log[0] == ("counts", 1, 1, 0)
    assert log[1] == ("half", 1)  # +1 is not enough for -2: nobody woke
    names = {e[0] for e in log[2:4]}
    assert names == {"dec", "zero"} and all(e[1] >= 0.02 for e in log[2:4])
    assert log[4] == ("final", [0, 0], 0)


def test_waker_completes_sleeper_operation_before_anyone_else() -> None:
    """update_queue applies a sleeper's operation on its behalf: a later caller cannot steal it."""
    out: dict[str, Any] = {}

    def sleeper(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, -1, 0)])
        out["sleeper"] = True
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 1, 0o600)
        yield from p.fork(sleeper, s)
        yield from p.nanosleep(0.01)
        yield from p.semop(s, [(0, 1, 0)])
        out["steal"] = yield from err(p.semop(s, [(0, -1, c.IPC_NOWAIT)]))
        yield from p.waitpid(-1, 0)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"steal": c.EAGAIN, "sleeper": True}


def test_rmid_wakes_sleepers_with_eidrm() -> None:
    out: dict[str, int] = {}

    def sleeper(p: Any, s: int, n: int) -> Gen:
        out[f"s{n}"] = yield from err(p.semop(s, [(0, -1, 0)] if n else [(1, 0, 0)]))
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 2, 0o600)
        yield from p.semctl(s, 1, c.SETVAL, 4)
        yield from p.fork(sleeper, s, 0)
        yield from p.fork(sleeper, s, 1)
        yield from p.nanosleep(0.01)
        out["before"] = len(out)
        yield from p.semctl(s, 0, c.IPC_RMID)
        yield from p.waitpid(-1, 0)
        yield from p.waitpid(-1, 0)
        out["after"] = yield from err(p.semctl(s, 0, c.GETVAL))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"before": 0, "s0": c.EIDRM, "s1": c.EIDRM, "after": c.EINVAL}


@pytest.mark.parametrize("flags", [0, c.SA_RESTART])
def test_semop_eintr_is_never_restarted(flags: int) -> None:
    out: dict[str, Any] = {}

    def handler(p: Any, sig: int) -> Gen:
        out["handled"] = sig
        return None
        yield

    def child(p: Any, s: int) -> Gen:
        yield from p.sigaction(c.SIGUSR1, handler, flags)
        out["rc"] = yield from err(p.semop(s, [(0, -1, 0)]))
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 1, 0o600)
        ch = yield from p.fork(child, s)
        yield from p.nanosleep(0.01)
        yield from p.kill(ch, c.SIGUSR1)
        yield from p.waitpid(ch, 0)
        out["ncnt"] = yield from p.semctl(s, 0, c.GETNCNT)
        yield from p.semop(s, [(0, 1, 0)])
        out["val"] = yield from p.semctl(s, 0, c.GETVAL)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"handled": c.SIGUSR1, "rc": c.EINTR, "ncnt": 0, "val": 1}


def test_sem_undo_applied_at_exit_and_clamped() -> None:
    out: dict[str, Any] = {}

    def child(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, 3, c.SEM_UNDO), (1, -2, c.SEM_UNDO), (2, 1, 0)])
        out["inside"] = yield from p.semctl(s, 0, c.GETALL)
        return 0

    def killed(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, 1, c.SEM_UNDO)])
        yield from p.pause()
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 3, 0o600)
        yield from p.semctl(s, 0, c.SETALL, [0, 5, 0])
        ch = yield from p.fork(child, s)
        yield from p.waitpid(ch, 0)
        out["after_exit"] = yield from p.semctl(s, 0, c.GETALL)
        out["undo_pid"] = (yield from p.semctl(s, 0, c.GETPID)) == ch
        ch2 = yield from p.fork(killed, s)
        yield from p.nanosleep(0.01)
        # someone else takes the unit the victim added: undo would go below 0 -> clamped
        yield from p.semop(s, [(0, -1, 0)])
        yield from p.kill(ch2, c.SIGKILL)
        yield from p.waitpid(ch2, 0)
        out["clamped"] = yield from p.semctl(s, 0, c.GETVAL)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["inside"] == [3, 3, 1] and out["after_exit"] == [0, 5, 1]
    assert out["undo_pid"] and out["clamped"] == 0


def test_undo_at_exit_wakes_waiters_and_is_not_inherited_by_fork() -> None:
    out: dict[str, Any] = {}

    def holder(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, -1, c.SEM_UNDO)])  # take the lock
        yield from p.fork(grandchild, s)
        yield from p.nanosleep(0.05)
        return 0  # exit releases the lock through the undo

    def grandchild(p: Any, s: int) -> Gen:
        return 0  # its exit must not apply the parent's undo
        yield

    def waiter(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, -1, 0)])
        out["got_lock_at"] = p.kernel.now
        return 0

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 1, 0o600)
        yield from p.semctl(s, 0, c.SETVAL, 1)
        yield from p.fork(holder, s)
        yield from p.nanosleep(0.01)
        yield from p.fork(waiter, s)
        yield from p.nanosleep(0.02)
        out["mid"] = yield from p.semctl(s, 0, c.GETVAL)
        yield from p.waitpid(-1, 0)
        yield from p.waitpid(-1, 0)
        out["end"] = yield from p.semctl(s, 0, c.GETVAL)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["mid"] == 0 and out["got_lock_at"] >= 0.05 and out["end"] == 0


def test_setval_range_before_lookup_and_clears_undo() -> None:
    out: dict[str, Any] = {}

    def child(p: Any, s: int) -> Gen:
        yield from p.semop(s, [(0, 2, c.SEM_UNDO), (1, 2, c.SEM_UNDO)])
        yield from p.semctl(s, 0, c.SETVAL, 10)  # forgets semadj[0] in every undo list
        return 0

    def prog(p: Any) -> Gen:
        out["range_badid"] = yield from err(p.semctl(99999, 0, c.SETVAL, SEMVMX + 1))
        out["neg_badid"] = yield from err(p.semctl(99999, 0, c.SETVAL, -1))
        s = yield from p.semget(c.IPC_PRIVATE, 2, 0o600)
        out["badnum"] = yield from err(p.semctl(s, 2, c.SETVAL, 1))
        out["badnum_get"] = yield from err(p.semctl(s, -1, c.GETVAL))
        out["setall_range"] = yield from err(p.semctl(s, 0, c.SETALL, [1, SEMVMX + 1]))
        out["setall_neg"] = yield from err(p.semctl(s, 0, c.SETALL, [1, -1]))
        out["vals0"] = yield from p.semctl(s, 0, c.GETALL)
        ch = yield from p.fork(child, s)
        yield from p.waitpid(ch, 0)
        out["vals"] = yield from p.semctl(s, 0, c.GETALL)
        out["badcmd"] = yield from err(p.semctl(s, 0, 99))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["range_badid"] == c.ERANGE and out["neg_badid"] == c.ERANGE
    assert out["badnum"] == c.EINVAL and out["badnum_get"] == c.EINVAL
    assert out["setall_range"] == c.ERANGE and out["setall_neg"] == c.ERANGE
    assert out["vals0"] == [0, 0] and out["vals"] == [10, 0] and out["badcmd"] == c.EINVAL


def test_semctl_permissions_ownership_and_info() -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        s = yield from p.semget(44, 2, c.IPC_CREAT | 0o640)
        out["s"] = s
        return 0

    def group(p: Any) -> Gen:
        s = out["s"]
        out["g_get"] = yield from err(p.semctl(s, 0, c.GETVAL))
        out["g_set"] = yield from err(p.semctl(s, 0, c.SETVAL, 1))
        out["g_setall"] = yield from err(p.semctl(s, 0, c.SETALL, [1, 1]))
        out["g_rmid"] = yield from err(p.semctl(s, 0, c.IPC_RMID))
        out["g_ipcset"] = yield from err(p.semctl(s, 0, c.IPC_SET, {"mode": 0o666}))
        out["g_stat"] = yield from err(p.semctl(s, 0, c.IPC_STAT))
        return 0

    def other(p: Any) -> Gen:
        s = out["s"]
        out["o_get"] = yield from err(p.semctl(s, 0, c.GETVAL))
        out["o_stat"] = yield from err(p.semctl(0, 0, c.SEM_STAT))
        out["o_any"] = (yield from p.semctl(0, 0, c.SEM_STAT_ANY))[0] == s
        out["info"] = yield from p.semctl(0, 0, c.IPC_INFO)
        out["seminfo"] = yield from p.semctl(0, 0, c.SEM_INFO)
        return 0

    def root(p: Any) -> Gen:
        s = out["s"]
        yield from p.semctl(s, 0, c.IPC_SET, {"uid": 5, "gid": 6, "mode": 0o606})
        ds = yield from p.semctl(s, 0, c.IPC_STAT)
        out["root_set"] = (ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.cuid, ds.sem_perm.mode)
        out["root_rmid"] = yield from err(p.semctl(s, 0, c.IPC_RMID))
        return 0

    k = Kernel(seed=0)
    for prog, uid, gid in ((owner, 1000, 100), (group, 2000, 100), (other, 3000, 300),
                           (root, 0, 0)):
        k.spawn(prog, uid=uid, gid=gid)
        k.run()
    assert out["g_get"] == 0 and out["g_set"] == c.EACCES and out["g_setall"] == c.EACCES
    assert out["g_rmid"] == c.EPERM and out["g_ipcset"] == c.EPERM and out["g_stat"] == 0
    assert out["o_get"] == c.EACCES and out["o_stat"] == c.EACCES and out["o_any"]
    maxidx, info = out["info"]
    assert maxidx == 0 and info.semvmx == SEMVMX and info.semopm == SEMOPM
    assert info.semmsl == SEMMSL
    _, seminfo = out["seminfo"]
    assert (seminfo.semusz, seminfo.semaem) == (1, 2)
    assert out["root_set"] == (5, 6, 1000, 0o606) and out["root_rmid"] == 0


def test_sem_semop_hook_gets_alter_and_setval_folds_lsm_error() -> None:
    m = BpfLsm("sem-hooks")
    seen: list[tuple[int, bool]] = []

    @m.hook("sem_semop")
    def _op(perm: Any, sops: Any, nsops: int, alter: bool) -> int:
        seen.append((nsops, alter))
        return -c.EPERM if nsops == 3 else 0

    m.attach("sem_semctl", lambda perm, cmd: -c.EPERM if cmd in (c.SETVAL, c.GETALL) else 0)
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        s = yield from p.semget(c.IPC_PRIVATE, 2, 0o600)
        yield from p.semop(s, [(0, 0, 0)])
        yield from p.semop(s, [(0, 1, 0), (1, 0, 0)])
        out["op3"] = yield from err(p.semop(s, [(0, 1, 0)] * 3))
        out["setval"] = yield from err(p.semctl(s, 0, c.SETVAL, 1))
        out["getall"] = yield from err(p.semctl(s, 0, c.GETALL))
        out["vals"] = [(yield from p.semctl(s, 0, c.GETVAL))]
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert seen == [(1, False), (2, True), (3, True)]
    assert out == {"op3": c.EPERM, "setval": c.EACCES, "getall": c.EPERM, "vals": [1]}
