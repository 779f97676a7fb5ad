"""Process groups and sessions: setpgid/getpgid/getpgrp/setsid/getsid with Linux's errno
rules, their LSM hooks (task_setpgid, task_getpgid, task_getsid) and group signals."""

from __future__ import annotations

from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from lsm.module import BpfLsm
from tests.kernel.helpers import Gen, check_ok, err, run


def test_setsid_needs_a_process_that_leads_no_group() -> None:
    out: dict[str, Any] = {}

    def child(p: Any) -> Gen:
        pgrp = yield from p.getpgrp()
        out["child_before"] = (pgrp, (yield from p.getsid()))
        out["setsid"] = yield from p.setsid()
        out["child_after"] = (p.pid, (yield from p.getpgrp()), (yield from p.getsid(0)))
        out["again"] = yield from err(p.setsid())  # now a group (and session) leader

    def leader(p: Any) -> Gen:
        out["leader"] = yield from err(p.setsid())  # spawned: leads its own group
        yield from p.fork(child)
        yield from p.waitpid(-1)
        out["pid"] = p.pid

    k, pid = run(leader)
    check_ok(k, pid)
    assert out["leader"] == c.EPERM and out["again"] == c.EPERM
    assert out["child_before"] == (out["pid"], out["pid"])
    me, pgrp, sid = out["child_after"]
    assert out["setsid"] == me and pgrp == me and sid == me


def test_setpgid_rules() -> None:
    out: dict[str, Any] = {}

    def worker(p: Any) -> Gen:
        yield from p.nanosleep(0.01)

    def execer(p: Any) -> Gen:
        yield from p.execve("/usr/bin/worker", ["worker"])

    def own_session(p: Any) -> Gen:
        yield from p.setsid()
        yield from p.nanosleep(0.01)

    def parent(p: Any) -> Gen:
        a = yield from p.fork(worker)
        out["child_own_group"] = yield from err(p.setpgid(a, 0))
        out["child_pgid"] = yield from p.getpgid(a)
        b = yield from p.fork(worker)
        out["join_child_group"] = yield from err(p.setpgid(b, a))
        out["b_pgid"] = yield from p.getpgid(b)
        out["no_such_group"] = yield from err(p.setpgid(b, 99999))
        out["negative"] = yield from err(p.setpgid(b, -1))
        out["not_child"] = yield from err(p.setpgid(1, 0))
        out["no_such_pid"] = yield from err(p.setpgid(4242, 0))
        e = yield from p.fork(execer)
        yield from p.nanosleep(0.001)
        out["after_exec"] = yield from err(p.setpgid(e, 0))
        s = yield from p.fork(own_session)
        yield from p.nanosleep(0.001)
        out["other_session"] = yield from err(p.setpgid(s, 0))
        out["session_leader"] = yield from err(p.setpgid(0, 0))  # spawned: pgid == sid == pid
        out["kill_group"] = yield from err(p.kill(-a, c.SIGKILL))
        out["pids"] = (a, b)
        for _ in range(4):
            yield from p.waitpid(-1)

    k = Kernel()
    k.install("/usr/bin/worker", worker)
    k, pid = run(parent, kernel=k)
    check_ok(k, pid)
    a, b = out["pids"]
    assert out["child_own_group"] == 0 and out["child_pgid"] == a
    assert out["join_child_group"] == 0 and out["b_pgid"] == a
    assert out["no_such_group"] == c.EPERM and out["negative"] == c.EINVAL
    assert out["not_child"] == c.ESRCH and out["no_such_pid"] == c.ESRCH
    assert out["after_exec"] == c.EACCES and out["other_session"] == c.EPERM
    assert out["session_leader"] == c.EPERM and out["kill_group"] == 0
    assert k.exit_status(a) == k.exit_status(b) == c.SIGKILL  # the group got the signal


def test_group_and_session_queries_of_others_call_the_hooks() -> None:
    calls: list[tuple[str, int]] = []
    m = BpfLsm("watch")

    @m.hook("task_setpgid")
    def setpgid(p: Any, pgid: int) -> int:
        calls.append(("setpgid", p.pid))
        return 0

    @m.hook("task_getpgid")
    def getpgid(p: Any) -> int:
        calls.append(("getpgid", p.pid))
        return -c.EPERM if p.pid == 1 else 0

    @m.hook("task_getsid")
    def getsid(p: Any) -> int:
        calls.append(("getsid", p.pid))
        return -c.EACCES

    out: dict[str, Any] = {}

    def child(p: Any) -> Gen:
        yield from p.nanosleep(0.01)

    def prog(p: Any) -> Gen:
        yield from p.getpgid(0)  # the caller itself: no hook
        yield from p.getpgrp()
        yield from p.getsid()
        out["init"] = yield from err(p.getpgid(1))
        out["sid_init"] = yield from err(p.getsid(1))
        kid = yield from p.fork(child)
        out["setpgid"] = yield from err(p.setpgid(kid, 0))
        out["kid"] = kid
        yield from p.waitpid(kid)

    k, pid = run(prog, lsms=[m])
    check_ok(k, pid)
    assert out["init"] == c.EPERM and out["sid_init"] == c.EACCES and out["setpgid"] == 0
    assert calls == [("getpgid", 1), ("getsid", 1), ("setpgid", out["kid"])]


def test_capset_drops_capabilities_for_good_and_capget_reads_them() -> None:
    from kernel_sim.caps import CAP_KILL

    out: dict[str, Any] = {}
    kill_bit = 1 << CAP_KILL

    def victim(p: Any) -> Gen:
        yield from p.nanosleep(0.05)

    def prog(p: Any, target: int) -> Gen:
        eff, perm, inh = yield from p.capget()
        out["root has kill"] = bool(eff & kill_bit and perm & kill_bit)
        out["peek"] = (yield from p.capget(target))[0]
        out["drop eff"] = yield from err(p.capset(eff & ~kill_bit, perm, inh))
        out["kill after eff drop"] = yield from err(p.kill(target, 0))
        out["raise eff again"] = yield from err(p.capset(eff, perm, inh))  # still permitted
        out["drop perm"] = yield from err(p.capset(eff & ~kill_bit, perm & ~kill_bit, inh))
        out["regain"] = yield from err(p.capset(eff, perm, inh))
        out["eff outside perm"] = yield from err(p.capset(kill_bit, 0, 0))

    k = Kernel()
    t = k.spawn(victim, uid=1000, gid=1000)
    pid = k.spawn(prog, t)
    k.run()
    check_ok(k, pid)
    assert out["root has kill"] and out["peek"] == 0
    assert out["drop eff"] == 0 and out["kill after eff drop"] == c.EPERM
    assert out["raise eff again"] == 0 and out["drop perm"] == 0
    assert out["regain"] == c.EPERM and out["eff outside perm"] == c.EPERM


def test_setpriority_and_getpriority() -> None:
    out: dict[str, Any] = {}

    def other(p: Any) -> Gen:
        yield from p.nanosleep(0.05)

    def user(p: Any, o: int) -> Gen:
        out["raise own"] = yield from err(p.setpriority(0, 0, 5))
        out["lower own"] = yield from err(p.setpriority(0, 0, 0))  # needs CAP_SYS_NICE
        out["other user"] = yield from err(p.setpriority(0, o, 10))
        out["missing"] = yield from err(p.setpriority(0, 4242, 10))
        out["bad which"] = yield from err(p.setpriority(7, 0, 1))
        out["own"] = yield from p.getpriority(0, 0)

    def root(p: Any, o: int) -> Gen:
        yield from p.nanosleep(0.01)
        out["root lowers other"] = yield from err(p.setpriority(0, o, -5))
        out["other now"] = yield from p.getpriority(0, o)
        out["clamped"] = yield from err(p.setpriority(0, 0, -99))
        out["root now"] = yield from p.getpriority(0, 0)

    k = Kernel()
    o = k.spawn(other, uid=2000, gid=2000)
    u = k.spawn(user, o, uid=1000, gid=1000)
    r = k.spawn(root, o)
    k.run()
    for pid in (u, r):
        check_ok(k, pid)
    assert out == {"raise own": 0, "lower own": c.EACCES, "other user": c.EPERM,
                   "missing": c.ESRCH, "bad which": c.EINVAL, "own": 5,
                   "root lowers other": 0, "other now": -5, "clamped": 0, "root now": -20}
