"""Resource limits: getrlimit/setrlimit/prlimit with Linux's rules, inheritance, and the
limits the simulator enforces (RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_MSGQUEUE)."""

from __future__ import annotations

from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from lsm.module import BpfLsm
from tests.kernel.helpers import Gen, check_ok, err, run

INF = c.RLIM_INFINITY


def test_defaults_and_setting_rules() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["nofile"] = yield from p.getrlimit(c.RLIMIT_NOFILE)
        out["core"] = yield from p.getrlimit(c.RLIMIT_CORE)
        out["lower"] = yield from err(p.setrlimit(c.RLIMIT_NOFILE, (256, 2048)))
        out["after"] = yield from p.getrlimit(c.RLIMIT_NOFILE)
        out["raise_hard"] = yield from err(p.setrlimit(c.RLIMIT_NOFILE, (256, 4096)))
        out["soft_over_hard"] = yield from err(p.setrlimit(c.RLIMIT_NOFILE, (4096, 2048)))
        out["bad_resource"] = yield from err(p.getrlimit(16))
        out["inf_soft"] = yield from err(p.setrlimit(c.RLIMIT_CORE, (INF, INF)))
        out["core_after"] = yield from p.getrlimit(c.RLIMIT_CORE)

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert out["nofile"] == (1024, 4096) and out["core"] == (0, INF)
    assert out["lower"] == 0 and out["after"] == (256, 2048)
    assert out["raise_hard"] == c.EPERM and out["soft_over_hard"] == c.EINVAL
    assert out["bad_resource"] == c.EINVAL
    assert out["inf_soft"] == 0 and out["core_after"] == (INF, INF)


def test_root_may_raise_hard_limits_up_to_nr_open() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["raise"] = yield from err(p.setrlimit(c.RLIMIT_NOFILE, (1024, 1 << 20)))
        out["past_nr_open"] = yield from err(p.setrlimit(c.RLIMIT_NOFILE, (1024, (1 << 20) + 1)))

    k, pid = run(prog)
    check_ok(k, pid)
    assert out == {"raise": 0, "past_nr_open": c.EPERM}


def test_nofile_bounds_descriptors_and_is_inherited() -> None:
    out: dict[str, Any] = {}

    def child(p: Any) -> Gen:
        out["child"] = yield from p.getrlimit(c.RLIMIT_NOFILE)
        out["child_pipe"] = yield from err(p.pipe())

    def prog(p: Any) -> Gen:
        yield from p.setrlimit(c.RLIMIT_NOFILE, (4, 4))  # fds 0-3
        r, w = yield from p.pipe()
        out["fds"] = (r, w)
        out["third"] = yield from err(p.pipe())
        out["dup2"] = yield from err(p.dup2(r, 4))
        out["dupfd"] = yield from err(p.fcntl(r, c.F_DUPFD, 4))
        yield from p.fork(child)
        yield from p.waitpid(-1)

    k, pid = run(prog)
    check_ok(k, pid)
    assert out["fds"] == (0, 1) and out["third"] == 0  # fds 2 and 3
    assert out["dup2"] == c.EBADF and out["dupfd"] == c.EINVAL
    assert out["child"] == (4, 4) and out["child_pipe"] == c.EMFILE


def test_nproc_limits_a_users_processes_but_not_root() -> None:
    out: dict[str, Any] = {}

    def sleeper(p: Any) -> Gen:
        yield from p.nanosleep(0.01)

    def prog(p: Any, key: str) -> Gen:
        yield from p.setrlimit(c.RLIMIT_NPROC, (3, 3))
        results = []
        for _ in range(3):
            results.append((yield from err(p.fork(sleeper))) == 0)
        out[key] = results
        for _ in range(sum(results)):
            yield from p.waitpid(-1)

    k = Kernel()
    user = k.spawn(prog, "user", uid=1000, gid=1000)
    root = k.spawn(prog, "root")
    k.run()
    check_ok(k, user)
    check_ok(k, root)
    assert out["user"] == [True, True, False]  # 3 tasks of uid 1000: the caller and two
    assert out["root"] == [True, True, True]


def test_prlimit_of_another_process_and_its_hooks() -> None:
    calls: list[tuple[str, Any]] = []
    m = BpfLsm("watch")

    @m.hook("task_prlimit")
    def prlimit(cred: Any, tcred: Any, flags: int) -> int:
        calls.append(("prlimit", flags))
        return 0

    @m.hook("task_setrlimit")
    def setrlimit(p: Any, resource: int, new: Any) -> int:
        calls.append(("setrlimit", (resource, new)))
        return -c.EACCES if resource == c.RLIMIT_CORE else 0

    out: dict[str, Any] = {}

    def target(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        out["target_nofile"] = yield from p.getrlimit(c.RLIMIT_NOFILE)

    def other_user(p: Any) -> Gen:
        yield from p.nanosleep(0.01)

    def prog(p: Any, t: int, o: int) -> Gen:
        yield from p.nanosleep(0.001)
        out["read"] = yield from p.prlimit(t, c.RLIMIT_NOFILE)
        out["write"] = yield from p.prlimit(t, c.RLIMIT_NOFILE, (512, 4096))
        out["denied"] = yield from err(p.prlimit(t, c.RLIMIT_CORE, (0, 0)))
        out["foreign"] = yield from err(p.prlimit(o, c.RLIMIT_NOFILE))
        out["missing"] = yield from err(p.prlimit(4242, c.RLIMIT_NOFILE))

    k = Kernel(lsms=[m])
    t = k.spawn(target, uid=1000, gid=1000)
    o = k.spawn(other_user, uid=2000, gid=2000)
    pid = k.spawn(prog, t, o, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert out["read"] == (1024, 4096) and out["write"] == (1024, 4096)
    assert out["target_nofile"] == (512, 4096)
    assert out["denied"] == c.EACCES and out["foreign"] == c.EPERM
    assert out["missing"] == c.ESRCH
    assert calls == [("prlimit", 1), ("prlimit", 3), ("setrlimit", (c.RLIMIT_NOFILE, (512, 4096))),
                     ("prlimit", 3), ("setrlimit", (c.RLIMIT_CORE, (0, 0)))]
