"""System V shared memory: shmget sizes, shmat/shmdt, deferred destruction, fork/exec/exit."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import kernel_sim  # noqa: F401 - import the kernel before lsm (package init order)
from kernel_sim import Kernel
from kernel_sim import constants as c
from kernel_sim.ipc.util import SHMMAX, SHMMNI
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


def test_shmget_sizes() -> None:
    out: dict[str, int] = {}

    def prog(p: Any) -> Gen:
        out["zero"] = yield from err(p.shmget(c.IPC_PRIVATE, 0, 0o600))
        out["huge"] = yield from err(p.shmget(c.IPC_PRIVATE, SHMMAX + 1, 0o600))
        h = yield from p.shmget(3, 100, c.IPC_CREAT | 0o600)
        out["bigger"] = yield from err(p.shmget(3, 101, 0))
        out["smaller"] = (yield from p.shmget(3, 50, 0)) - h
        out["zero_existing"] = (yield from p.shmget(3, 0, 0)) - h
        out["segsz"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_segsz
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"zero": c.EINVAL, "huge": c.EINVAL, "bigger": c.EINVAL, "smaller": 0,
                   "zero_existing": 0, "segsz": 100}


def test_shmget_size_checked_before_permissions_and_shmmni() -> None:
    out: dict[str, int] = {}

    def owner(p: Any) -> Gen:
        yield from p.shmget(8, 10, c.IPC_CREAT | 0o600)
        return 0

    def stranger(p: Any) -> Gen:
        out["size"] = yield from err(p.shmget(8, 11, 0))
        out["perm"] = yield from err(p.shmget(8, 10, 0o400))
        return 0

    def filler(p: Any) -> Gen:
        n = 1
        while True:
            e = yield from err(p.shmget(c.IPC_PRIVATE, 1, 0o600))
            if e:
                out["full"], out["n"] = e, n
                return 0
            n += 1

    k = Kernel(seed=0)
    k.spawn(owner)
    k.run()
    k.spawn(stranger, uid=2000, gid=2000)
    k.spawn(filler)
    k.run()
    assert out == {"size": c.EINVAL, "perm": c.EACCES, "full": c.ENOSPC, "n": SHMMNI}


def test_shmat_read_write_and_rdonly_segfaults() -> None:
    out: dict[str, Any] = {}

    def writer_ro(p: Any, h: int) -> Gen:
        a = yield from p.shmat(h, c.SHM_RDONLY)
        out["ro_read"] = p.mem_read(a, 0, 5)
        p.mem_write(a, 0, b"nope")  # SIGSEGV
        out["survived"] = True
        return 0

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 5000, 0o600)
        a = yield from p.shmat(h)
        b = yield from p.shmat(h)
        p.mem_write(a, 0, b"hello")
        p.mem_write(a, 4096, b"page2")
        out["alias"] = (p.mem_read(b, 0, 5), p.mem_read(b, 4096, 5), a != b)
        out["nattch"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        ch = yield from p.fork(writer_ro, h)
        _, st = yield from p.waitpid(ch, 0)
        out["status"] = st
        out["data"] = p.mem_read(a, 0, 5)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["alias"] == (b"hello", b"page2", True) and out["nattch"] == 2
    assert out["ro_read"] == b"hello" and "survived" not in out
    assert os.WIFSIGNALED(out["status"]) and os.WTERMSIG(out["status"]) == c.SIGSEGV
    assert out["data"] == b"hello"


def test_shmat_permissions_and_errors() -> None:
    out: dict[str, int] = {}

    def owner(p: Any) -> Gen:
        yield from p.shmget(21, 4096, c.IPC_CREAT | 0o640)
        return 0

    def group(p: Any) -> Gen:
        h = yield from p.shmget(21, 0, 0)
        out["rw"] = yield from err(p.shmat(h))
        out["ro"] = yield from err(p.shmat(h, c.SHM_RDONLY))
        out["exec"] = yield from err(p.shmat(h, c.SHM_RDONLY | c.SHM_EXEC))
        out["remap"] = yield from err(p.shmat(h, c.SHM_REMAP))
        out["badid"] = yield from err(p.shmat(h + 1))
        out["neg"] = yield from err(p.shmat(-1))
        out["dt_bad"] = yield from err(p.shmdt(0x1000))
        out["dt_unaligned"] = yield from err(p.shmdt(0x1001))
        return 0

    k = Kernel(seed=0)
    k.spawn(owner, uid=1000, gid=50)
    k.run()
    k.spawn(group, uid=2000, gid=50)
    k.run()
    assert out == {"rw": c.EACCES, "ro": 0, "exec": c.EACCES, "remap": c.EINVAL,
                   "badid": c.EINVAL, "neg": c.EINVAL, "dt_bad": c.EINVAL,
                   "dt_unaligned": c.EINVAL}


def test_shmdt_twice_and_stat_times() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 10, 0o600)
        a = yield from p.shmat(h)
        ds = yield from p.shmctl(h, c.IPC_STAT)
        out["att"] = (ds.shm_nattch, ds.shm_cpid == p.pid, ds.shm_lpid == p.pid,
                      ds.shm_atime > 0, ds.shm_dtime)
        yield from p.shmdt(a)
        out["again"] = yield from err(p.shmdt(a))
        ds = yield from p.shmctl(h, c.IPC_STAT)
        out["det"] = (ds.shm_nattch, ds.shm_dtime > ds.shm_atime)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"att": (1, True, True, True, 0.0), "again": c.EINVAL, "det": (0, True)}


def test_rmid_is_deferred_until_last_detach() -> None:
    out: dict[str, Any] = {}
    m = BpfLsm("free-watch")
    freed: list[int] = []
    m.attach("shm_free_security", lambda perm: freed.append(perm.id))

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(77, 64, c.IPC_CREAT | 0o600)
        a = yield from p.shmat(h)
        p.mem_write(a, 0, b"kept")
        yield from p.shmctl(h, c.IPC_RMID)
        ds = yield from p.shmctl(h, c.IPC_STAT)
        out["marked"] = (ds.shm_perm.mode & c.SHM_DEST != 0, ds.shm_perm.key, ds.shm_nattch)
        out["bykey"] = yield from err(p.shmget(77, 0, 0))
        out["freed_early"] = list(freed)
        out["still"] = p.mem_read(a, 0, 4)
        b = yield from p.shmat(h)  # Linux still allows attaching a SHM_DEST segment by id
        out["nattch2"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        new = yield from p.shmget(77, 64, c.IPC_CREAT | 0o600)
        out["new_differs"] = new != h
        yield from p.shmdt(a)
        out["after_one"] = yield from err(p.shmctl(h, c.IPC_STAT))
        yield from p.shmdt(b)
        out["gone"] = yield from err(p.shmctl(h, c.IPC_STAT))
        out["freed"] = list(freed) == [h]
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert out == {"marked": (True, c.IPC_PRIVATE, 1), "bykey": c.ENOENT, "freed_early": [],
                   "still": b"kept", "nattch2": 2, "new_differs": True, "after_one": 0,
                   "gone": c.EINVAL, "freed": True}


def test_attachments_survive_fork_and_die_with_exec_and_exit() -> None:
    out: dict[str, Any] = {}

    def after_exec(p: Any, h: int) -> Gen:
        out["after_exec"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        out["mapped"] = any(m.kind == "sysv-shm" for m in p.process.mm.maps.values())
        return 0

    def child(p: Any, h: int, a: int) -> Gen:
        p.mem_write(a, 0, b"child")  # same pages as the parent
        out["in_child"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        yield from p.execve("/usr/bin/after", ["after", h])
        return 1

    def exiter(p: Any, h: int) -> Gen:
        yield from p.shmat(h)
        yield from p.shmat(h)
        out["exiter"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        return 0

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 100, 0o600)
        a = yield from p.shmat(h)
        ch = yield from p.fork(child, h, a)
        yield from p.waitpid(ch, 0)
        out["parent_sees"] = p.mem_read(a, 0, 5)
        ch = yield from p.fork(exiter, h)
        yield from p.waitpid(ch, 0)
        out["after_exit"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        return 0

    k = Kernel(seed=0)
    k.install("/usr/bin/after", after_exec)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    ok(k, pid)
    assert out == {"in_child": 2, "after_exec": 1, "mapped": False, "parent_sees": b"child",
                   "exiter": 4, "after_exit": 1}


def test_deferred_destroy_completes_at_exit_of_last_user() -> None:
    out: dict[str, Any] = {}

    def user(p: Any, h: int) -> Gen:
        yield from p.shmat(h)
        yield from p.nanosleep(0.05)
        return 0

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 100, 0o600)
        ch = yield from p.fork(user, h)
        yield from p.nanosleep(0.01)
        yield from p.shmctl(h, c.IPC_RMID)
        out["during"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        yield from p.waitpid(ch, 0)
        out["after"] = yield from err(p.shmctl(h, c.IPC_STAT))
        _, usage = yield from p.shmctl(0, c.SHM_INFO)
        out["usage"] = (usage.used_ids, usage.shm_tot)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"during": 1, "after": c.EINVAL, "usage": (0, 0)}


def test_shmctl_set_rmid_ownership_info_and_stat_any() -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        h = yield from p.shmget(31, 8192, c.IPC_CREAT | 0o600)
        out["h"] = h
        yield from p.shmctl(h, c.IPC_SET, {"shm_perm": {"uid": 2000, "mode": 0o644}})
        ds = yield from p.shmctl(h, c.IPC_STAT)
        out["set"] = (ds.shm_perm.uid, ds.shm_perm.cuid, ds.shm_perm.mode)
        out["info"] = yield from p.shmctl(0, c.IPC_INFO)
        out["usage"] = yield from p.shmctl(0, c.SHM_INFO)
        out["badcmd"] = yield from err(p.shmctl(h, 99))
        return 0

    def stranger(p: Any) -> Gen:
        h = out["h"]
        out["s_rmid"] = yield from err(p.shmctl(h, c.IPC_RMID))
        out["s_set"] = yield from err(p.shmctl(h, c.IPC_SET, {"mode": 0o666}))
        out["s_stat"] = yield from err(p.shmctl(h, c.IPC_STAT))
        out["s_shmstat"] = (yield from p.shmctl(0, c.SHM_STAT))[0] == h
        return 0

    def locked_out(p: Any) -> Gen:
        h = out["h"]
        out["l_stat"] = yield from err(p.shmctl(0, c.SHM_STAT))
        out["l_any"] = (yield from p.shmctl(0, c.SHM_STAT_ANY))[0] == h
        return 0

    def new_owner(p: Any) -> Gen:
        out["n_rmid"] = yield from err(p.shmctl(out["h"], c.IPC_RMID))
        return 0

    k = Kernel(seed=0)
    for prog, uid in ((owner, 1000), (stranger, 3000), (new_owner, 2000)):
        if prog is new_owner:
            k.spawn(locked_out, uid=3000, gid=3000)
            k.run()
            k2_set = out.get("l_stat")
            assert k2_set == 0  # mode 0644 lets others read
        k.spawn(prog, uid=uid, gid=uid)
        k.run()
    assert out["set"] == (2000, 1000, 0o644)
    maxidx, info = out["info"]
    assert maxidx == 0 and info.shmmni == SHMMNI and info.shmmin == 1 and info.shmmax == SHMMAX
    assert out["usage"][1].used_ids == 1 and out["usage"][1].shm_tot == 2
    assert out["badcmd"] == c.EINVAL
    assert out["s_rmid"] == c.EPERM and out["s_set"] == c.EPERM and out["s_stat"] == 0
    assert out["s_shmstat"] and out["l_any"] and out["n_rmid"] == 0


def test_shm_lock_lsm_first_then_owner_or_cap_ipc_lock() -> None:
    m = BpfLsm("lock-order")
    events: list[str] = []
    deny = {"on": False}

    @m.hook("shm_shmctl")
    def _ctl(perm: Any, cmd: int) -> int:
        if cmd in (c.SHM_LOCK, c.SHM_UNLOCK):
            events.append("shm_shmctl")
            return -c.EACCES if deny["on"] else 0
        return 0

    @m.hook("capable")
    def _cap(cred: Any, ns: Any, cap: int, opts: int) -> int:
        events.append(f"capable:{cap}")
        return 0

    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 10, 0o666)
        out["h"] = h
        out["own_lock"] = yield from err(p.shmctl(h, c.SHM_LOCK))
        out["locked"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_perm.mode & c.SHM_LOCKED
        return 0

    def stranger(p: Any) -> Gen:
        h = out["h"]
        events.clear()
        out["str_unlock"] = yield from err(p.shmctl(h, c.SHM_UNLOCK))
        out["str_events"] = list(events)
        deny["on"] = True
        out["str_denied"] = yield from err(p.shmctl(h, c.SHM_UNLOCK))
        deny["on"] = False
        return 0

    def root(p: Any) -> Gen:
        h = out["h"]
        events.clear()
        out["root_unlock"] = yield from err(p.shmctl(h, c.SHM_UNLOCK))
        out["root_events"] = list(events)
        out["unlocked"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_perm.mode & c.SHM_LOCKED
        return 0

    k = Kernel(lsms=[m], seed=0)
    for prog, uid in ((owner, 1000), (stranger, 3000), (root, 0)):
        k.spawn(prog, uid=uid, gid=uid)
        k.run()
    assert out["own_lock"] == 0 and out["locked"] == c.SHM_LOCKED
    # no ipcperms (the segment is 0666 but that is irrelevant); LSM, then the owner test
    assert out["str_unlock"] == c.EPERM and out["str_events"] == ["shm_shmctl"]
    assert out["str_denied"] == c.EACCES
    assert out["root_unlock"] == 0 and out["unlocked"] == 0
    assert out["root_events"] == ["shm_shmctl", "capable:14"]


def test_shmat_hook_arguments_and_denial() -> None:
    m = BpfLsm("shmat")
    seen: list[tuple[str, int]] = []

    @m.hook("shm_shmat")
    def _at(perm: Any, addr: int, flg: int) -> int:
        seen.append((perm.kind, flg))
        return -c.EPERM if not flg & c.SHM_RDONLY else 0

    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        h = yield from p.shmget(c.IPC_PRIVATE, 10, 0o600)
        out["rw"] = yield from err(p.shmat(h))
        out["ro"] = yield from err(p.shmat(h, c.SHM_RDONLY))
        out["nattch"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert seen == [("shm", 0), ("shm", c.SHM_RDONLY)]
    assert out == {"rw": c.EPERM, "ro": 0, "nattch": 1}
