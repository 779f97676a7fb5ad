"""System V message queues: Linux's errno paths, blocking rules and LSM hooks (``ipc/msg.c``).

The last section covers all three SysV families at once: complete mediation (a module denying
every hook makes each call fail with that module's errno, or EACCES where Linux folds the
``ipc_permission`` result into EACCES, and leaves objects unchanged) and the exact hook order
of the main operations, compared with a table written from ipc-lsm-reference §3.6.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import attrs
import pytest

import kernel_sim  # noqa: F401 - import the kernel before lsm (package init order)
from kernel_sim import Kernel
from kernel_sim import constants as c
from kernel_sim.ipc.util import MSGMAX, MSGMNB
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import err

Gen = Generator[Any, Any, Any]



def run(prog: Callable[..., Gen], *args: Any, lsms: tuple[Any, ...] = (), uid: int = 1000,
        gid: int = 1000, k: Kernel | None = None) -> tuple[Kernel, int]:
    k = k or Kernel(lsms=list(lsms), seed=0)
    pid = k.spawn(prog, *args, uid=uid, gid=gid)
    k.run()
    return k, pid


def ok(k: Kernel, pid: int) -> None:
    st = k.exit_status(pid)
    assert st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, (st, k.diagnostics)


# -- msgget ----------
def test_msgget_ids_keys_and_creation_errors() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["first"] = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        out["second"] = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        out["enoent"] = yield from err(p.msgget(77, 0o600))
        q = yield from p.msgget(77, c.IPC_CREAT | 0o640)
        out["same"] = (yield from p.msgget(77, 0)) == q
        out["same_creat"] = (yield from p.msgget(77, c.IPC_CREAT | 0o600)) == q
        out["eexist"] = yield from err(p.msgget(77, c.IPC_CREAT | c.IPC_EXCL | 0o600))
        ds = yield from p.msgctl(q, c.IPC_STAT)
        out["perm"] = (ds.msg_perm.key, ds.msg_perm.uid, ds.msg_perm.cuid, ds.msg_perm.gid,
                       ds.msg_perm.mode, ds.msg_qbytes, ds.msg_qnum)
        yield from p.msgctl(out["first"], c.IPC_RMID)
        out["stale"] = yield from err(p.msgsnd(out["first"], 1, b"x"))
        out["third"] = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["first"] == 0 and out["second"] == 1
    assert out["enoent"] == c.ENOENT and out["eexist"] == c.EEXIST
    assert out["same"] and out["same_creat"]
    assert out["perm"] == (77, 1000, 1000, 1000, 0o640, MSGMNB, 0)
    assert out["stale"] == c.EINVAL
    # idr_alloc_cyclic: index 0 is not reused at once; the id is seq << 15 | idx
    assert out["third"] & 0x7FFF == 3


def test_msgget_key_is_signed_32_bit() -> None:
    out = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(0xDEADBEEF, c.IPC_CREAT | 0o600)
        out["key"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_perm.key
        out["same"] = (yield from p.msgget(-559038737, 0)) == q
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"key": -559038737, "same": True}


def test_ipcperms_owner_group_other_and_cap_ipc_owner() -> None:
    """Owner triplet for uid/cuid, group for gid/cgid, else other; root passes by CAP_IPC_OWNER."""
    res: dict[str, int] = {}

    def creator(p: Any) -> Gen:
        yield from p.msgget(500, c.IPC_CREAT | 0o640)
        yield from p.msgget(501, c.IPC_CREAT | 0o604)
        return 0

    def other(p: Any, tag: str) -> Gen:
        res[tag + "-r"] = yield from err(p.msgget(500, 0o400))
        res[tag + "-w"] = yield from err(p.msgget(500, 0o200))
        res[tag + "-none"] = yield from err(p.msgget(500, 0))
        res[tag + "-501r"] = yield from err(p.msgget(501, 0o444))
        return 0

    k = Kernel(seed=0)
    k.spawn(creator, uid=1000, gid=100)
    k.run()
    k.spawn(other, "group", uid=2000, gid=100)
    k.spawn(other, "other", uid=3000, gid=300)
    k.spawn(other, "root", uid=0, gid=0)
    k.run()
    assert res["group-r"] == 0 and res["group-w"] == c.EACCES and res["group-none"] == 0
    assert res["other-r"] == c.EACCES and res["other-none"] == 0
    assert res["group-501r"] == c.EACCES and res["other-501r"] == 0
    assert res["root-r"] == 0 and res["root-w"] == 0


def test_group_access_via_cgid_and_supplementary_groups() -> None:
    """After IPC_SET moves gid away, the creator's group (cgid) still selects the group bits."""
    res: dict[str, int] = {}

    def creator(p: Any) -> Gen:
        q = yield from p.msgget(502, c.IPC_CREAT | 0o660)
        yield from p.msgctl(q, c.IPC_SET, {"gid": 777})
        return 0

    def member(p: Any, tag: str) -> Gen:
        res[tag] = yield from err(p.msgget(502, 0o600))
        return 0

    k = Kernel(seed=0)
    k.spawn(creator, uid=1000, gid=100)
    k.run()
    k.spawn(member, "cgid", uid=2000, gid=100)
    k.spawn(member, "gid-suppl", uid=2001, gid=5, groups=[777])
    k.spawn(member, "none", uid=2002, gid=5, groups=[6])
    k.run()
    assert res == {"cgid": 0, "gid-suppl": 0, "none": c.EACCES}


def test_id_table_limits_give_enospc() -> None:
    from kernel_sim.ipc.util import ipc_ns

    out: dict[str, int] = {}

    def prog(p: Any) -> Gen:
        ns = ipc_ns(p.kernel)
        ns.msg_ctlmni, ns.sc_semmni, ns.sc_semmns = 1, 1, 4
        yield from p.msgget(c.IPC_PRIVATE, 0o600)
        out["msgmni"] = yield from err(p.msgget(c.IPC_PRIVATE, 0o600))
        out["semmns"] = yield from err(p.semget(c.IPC_PRIVATE, 5, 0o600))
        yield from p.semget(c.IPC_PRIVATE, 4, 0o600)
        out["semmni"] = yield from err(p.semget(c.IPC_PRIVATE, 1, 0o600))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"msgmni": c.ENOSPC, "semmns": c.ENOSPC, "semmni": c.ENOSPC}


def test_hooks_receive_linux_arguments() -> None:
    """ipc_permission gets the requested flag; *_associate the get flags; objects carry kind."""
    m = BpfLsm("args")
    seen: list[tuple[Any, ...]] = []
    m.attach("ipc_permission", lambda perm, flag: seen.append(("perm", perm.kind, flag)))
    m.attach("msg_queue_associate", lambda perm, flg: seen.append(("assoc", perm.key, flg)))
    m.attach("sem_associate", lambda perm, flg: seen.append(("assoc", perm.kind, flg)))
    m.attach("shm_associate", lambda perm, flg: seen.append(("assoc", perm.kind, flg)))
    m.attach("msg_queue_msgctl", lambda perm, cmd: seen.append(("ctl", perm is None, cmd)))

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(40, c.IPC_CREAT | 0o600)
        yield from p.msgget(40, 0o400)
        yield from p.msgsnd(q, 1, b"")
        yield from p.msgrcv(q, 0)
        yield from p.semget(41, 1, c.IPC_CREAT | 0o600)
        yield from p.semget(41, 1, c.IPC_CREAT | 0o600)
        yield from p.shmget(42, 1, c.IPC_CREAT | 0o600)
        yield from p.shmget(42, 1, 0)
        yield from p.msgctl(0, c.MSG_INFO)
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert seen == [("perm", "msg", 0o400), ("assoc", 40, 0o400), ("perm", "msg", 0o222),
                    ("perm", "msg", 0o444), ("perm", "sem", c.IPC_CREAT | 0o600),
                    ("assoc", "sem", c.IPC_CREAT | 0o600), ("perm", "shm", 0),
                    ("assoc", "shm", 0), ("ctl", True, c.MSG_INFO)]


# -- msgsnd / msgrcv ----------
def test_msgsnd_msgrcv_argument_errors() -> None:
    out: dict[str, int] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        out["mtype0"] = yield from err(p.msgsnd(q, 0, b"x"))
        out["mtype-1"] = yield from err(p.msgsnd(q, -1, b"x"))
        out["toobig"] = yield from err(p.msgsnd(q, 1, bytes(MSGMAX + 1)))
        out["max"] = yield from err(p.msgsnd(q, 1, bytes(MSGMAX)))
        out["badid"] = yield from err(p.msgsnd(12345, 1, b"x"))
        out["negid"] = yield from err(p.msgrcv(-1, 10))
        out["negsz"] = yield from err(p.msgrcv(q, -1))
        out["copy_block"] = yield from err(p.msgrcv(q, 10, 0, c.MSG_COPY))
        out["copy_except"] = yield from err(
            p.msgrcv(q, 10, 0, c.MSG_COPY | c.IPC_NOWAIT | c.MSG_EXCEPT))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"mtype0": c.EINVAL, "mtype-1": c.EINVAL, "toobig": c.EINVAL, "max": 0,
                   "badid": c.EINVAL, "negid": c.EINVAL, "negsz": c.EINVAL,
                   "copy_block": c.EINVAL, "copy_except": c.EINVAL}


def test_msgrcv_type_selection() -> None:
    got: list[Any] = []

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        for t, d in ((3, b"a"), (1, b"b"), (2, b"c"), (3, b"d"), (1, b"e")):
            yield from p.msgsnd(q, t, d)
        got.append((yield from p.msgrcv(q, 10, 3)))  # first of type 3
        got.append((yield from p.msgrcv(q, 10, -2)))  # lowest type <= 2: first type 1
        got.append((yield from p.msgrcv(q, 10, 1, c.MSG_EXCEPT)))  # first not type 1
        got.append((yield from p.msgrcv(q, 10, 0)))  # first in queue
        got.append((yield from p.msgrcv(q, 10, -5)))
        got.append((yield from err(p.msgrcv(q, 10, 0, c.IPC_NOWAIT))))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert got == [(3, b"a"), (1, b"b"), (2, b"c"), (3, b"d"), (1, b"e"), c.ENOMSG]


def test_msgrcv_e2big_keeps_message_and_msg_noerror_truncates() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgsnd(q, 7, b"0123456789")
        out["e2big"] = yield from err(p.msgrcv(q, 4))
        out["qnum"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        out["copy"] = yield from p.msgrcv(q, 64, 0, c.MSG_COPY | c.IPC_NOWAIT)
        out["copy_missing"] = yield from err(p.msgrcv(q, 64, 1, c.MSG_COPY | c.IPC_NOWAIT))
        out["trunc"] = yield from p.msgrcv(q, 4, 0, c.MSG_NOERROR)
        ds = yield from p.msgctl(q, c.IPC_STAT)
        out["after"] = (ds.msg_qnum, ds.msg_cbytes)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["e2big"] == c.E2BIG and out["qnum"] == 1
    assert out["copy"] == (7, b"0123456789") and out["copy_missing"] == c.ENOMSG
    assert out["trunc"] == (7, b"0123") and out["after"] == (0, 0)


def test_full_queue_bytes_and_count_rules() -> None:
    """Full means cbytes + sz > qbytes or qnum + 1 > qbytes (qnum is bounded by qbytes too)."""
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgctl(q, c.IPC_SET, {"msg_qbytes": 10})
        out["fill"] = yield from err(p.msgsnd(q, 1, bytes(10), c.IPC_NOWAIT))
        out["byte_full"] = yield from err(p.msgsnd(q, 1, b"z", c.IPC_NOWAIT))
        out["zero_fits"] = yield from err(p.msgsnd(q, 1, b"", c.IPC_NOWAIT))
        yield from p.msgrcv(q, 100)
        yield from p.msgrcv(q, 100)
        yield from p.msgctl(q, c.IPC_SET, {"msg_qbytes": 2})
        out["e1"] = yield from err(p.msgsnd(q, 1, b"", c.IPC_NOWAIT))
        out["e2"] = yield from err(p.msgsnd(q, 1, b"", c.IPC_NOWAIT))
        out["count_full"] = yield from err(p.msgsnd(q, 1, b"", c.IPC_NOWAIT))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"fill": 0, "byte_full": c.EAGAIN, "zero_fits": 0, "e1": 0, "e2": 0,
                   "count_full": c.EAGAIN}


def test_blocking_receive_and_pipelined_send() -> None:
    """A sleeping receiver is handed the message directly; the queue never holds it."""
    log: dict[str, Any] = {}

    def receiver(p: Any, q: int) -> Gen:
        m = yield from p.msgrcv(q, 100, 2)
        log["got"] = (m, p.kernel.now)
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.fork(receiver, q)
        yield from p.nanosleep(0.01)
        yield from p.msgsnd(q, 1, b"not for it")
        yield from p.msgsnd(q, 2, b"for it")
        ds = yield from p.msgctl(q, c.IPC_STAT)
        log["stat"] = (ds.msg_qnum, ds.msg_cbytes, ds.msg_lrpid != 0)
        yield from p.waitpid(-1, 0)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert log["stat"] == (1, 10, True)
    assert log["got"][0] == (2, b"for it") and log["got"][1] >= 0.01


def test_pipelined_send_e2big_goes_to_receiver_and_message_is_queued() -> None:
    out: dict[str, Any] = {}

    def receiver(p: Any, q: int) -> Gen:
        out["rx"] = yield from err(p.msgrcv(q, 2))
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        child = yield from p.fork(receiver, q)
        yield from p.nanosleep(0.01)
        yield from p.msgsnd(q, 1, b"toolong")
        yield from p.waitpid(child, 0)
        out["left"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"rx": c.E2BIG, "left": 1}


def test_blocked_sender_resumes_when_space_frees() -> None:
    times: dict[str, float] = {}

    def sender(p: Any, q: int) -> Gen:
        yield from p.msgsnd(q, 1, bytes(MSGMAX))
        yield from p.msgsnd(q, 1, bytes(MSGMAX))
        yield from p.msgsnd(q, 1, b"x")  # blocks: queue full
        times["sent"] = p.kernel.now
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.fork(sender, q)
        yield from p.nanosleep(0.05)
        times["rcv"] = p.kernel.now
        yield from p.msgrcv(q, MSGMAX)
        yield from p.waitpid(-1, 0)
        yield from p.msgrcv(q, MSGMAX)
        times["second"] = (yield from p.msgrcv(q, 10, 0, c.IPC_NOWAIT))[1] == b"x"
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert times["sent"] >= times["rcv"] >= 0.05 and times["second"]


def test_rmid_wakes_blocked_receiver_and_sender_with_eidrm() -> None:
    out: dict[str, int] = {}

    def receiver(p: Any, q: int) -> Gen:
        out["rcv"] = yield from err(p.msgrcv(q, 10, 99))
        return 0

    def sender(p: Any, q: int) -> Gen:
        yield from p.msgsnd(q, 1, bytes(MSGMAX))
        out["snd"] = yield from err(p.msgsnd(q, 1, bytes(MSGMAX)))
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o666)
        yield from p.msgsnd(q, 1, b"y")
        yield from p.fork(receiver, q)
        yield from p.fork(sender, q)
        yield from p.nanosleep(0.01)
        out["before"] = len(out)
        yield from p.msgctl(q, c.IPC_RMID)
        yield from p.waitpid(-1, 0)
        yield from p.waitpid(-1, 0)
        out["after"] = yield from err(p.msgsnd(q, 1, b"z"))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"before": 0, "rcv": c.EIDRM, "snd": c.EIDRM, "after": c.EINVAL}


@pytest.mark.parametrize("flags", [0, c.SA_RESTART])
def test_blocked_msgrcv_and_msgsnd_eintr_with_handler(flags: int) -> None:
    """ERESTARTNOHAND: a handler makes them fail with EINTR even with SA_RESTART."""
    out: dict[str, Any] = {}

    def handler(p: Any, sig: int) -> Gen:
        out.setdefault("handled", []).append(sig)
        return None
        yield

    def child(p: Any, q: int, which: str) -> Gen:
        yield from p.sigaction(c.SIGUSR1, handler, flags)
        if which == "rcv":
            out["rcv"] = yield from err(p.msgrcv(q, 10))
        else:
            out["snd"] = yield from err(p.msgsnd(q, 1, b"x"))
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        full = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgctl(full, c.IPC_SET, {"msg_qbytes": 0})
        a = yield from p.fork(child, q, "rcv")
        b = yield from p.fork(child, full, "snd")
        yield from p.nanosleep(0.01)
        yield from p.kill(a, c.SIGUSR1)
        yield from p.kill(b, c.SIGUSR1)
        yield from p.waitpid(a, 0)
        yield from p.waitpid(b, 0)
        out["qnum"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["rcv"] == c.EINTR and out["snd"] == c.EINTR
    assert out["handled"] == [c.SIGUSR1, c.SIGUSR1] and out["qnum"] == 0


def test_fifo_order_per_type_and_stat_fields() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        for i in range(6):
            yield from p.msgsnd(q, 1 + i % 2, bytes([i]) * (i + 1))
        ds = yield from p.msgctl(q, c.IPC_STAT)
        out["stat"] = (ds.msg_qnum, ds.msg_cbytes, ds.msg_lspid == p.pid, ds.msg_lrpid,
                       ds.msg_stime > 0, ds.msg_rtime)
        out["t2"], out["t1"] = [], []
        for _ in range(3):
            out["t2"].append((yield from p.msgrcv(q, 10, 2))[1])
        for _ in range(3):
            out["t1"].append((yield from p.msgrcv(q, 10, 1))[1])
        ds = yield from p.msgctl(q, c.IPC_STAT)
        out["after"] = (ds.msg_qnum, ds.msg_cbytes, ds.msg_lrpid == p.pid, ds.msg_rtime > 0)
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out["stat"] == (6, 21, True, 0, True, 0.0)
    assert out["t2"] == [b"\x01" * 2, b"\x03" * 4, b"\x05" * 6]
    assert out["t1"] == [b"\x00", b"\x02" * 3, b"\x04" * 5]
    assert out["after"] == (0, 0, True, True)


# -- msgctl ----------
def test_ipc_set_and_rmid_owner_creator_or_cap_sys_admin() -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        q = yield from p.msgget(600, c.IPC_CREAT | 0o666)
        out["q"] = q
        out["raise_qbytes"] = yield from err(p.msgctl(q, c.IPC_SET, {"msg_qbytes": MSGMNB + 1}))
        out["bad_uid"] = yield from err(p.msgctl(q, c.IPC_SET, {"uid": -1}))
        # give the queue away: the creator keeps control through cuid
        yield from p.msgctl(q, c.IPC_SET, {"uid": 2000, "mode": 0o600})
        ds = yield from p.msgctl(q, c.IPC_STAT)
        out["given"] = (ds.msg_perm.uid, ds.msg_perm.cuid, ds.msg_perm.mode)
        return 0

    def stranger(p: Any) -> Gen:
        q = out["q"]
        out["stranger_set"] = yield from err(p.msgctl(q, c.IPC_SET, {"mode": 0o777}))
        out["stranger_rmid"] = yield from err(p.msgctl(q, c.IPC_RMID))
        out["stranger_stat"] = yield from err(p.msgctl(q, c.IPC_STAT))
        return 0

    def root(p: Any) -> Gen:
        q = out["q"]
        out["root_qbytes"] = yield from err(p.msgctl(q, c.IPC_SET, {"msg_qbytes": 65536}))
        out["root_qb"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qbytes
        out["root_rmid"] = yield from err(p.msgctl(q, c.IPC_RMID))
        return 0

    k = Kernel(seed=0)
    k.spawn(owner, uid=1000, gid=1000)
    k.run()
    k.spawn(stranger, uid=3000, gid=3000)
    k.run()
    k.spawn(root, uid=0, gid=0)
    k.run()
    assert out["raise_qbytes"] == c.EPERM and out["bad_uid"] == c.EINVAL
    assert out["given"] == (2000, 1000, 0o600)
    assert out["stranger_set"] == c.EPERM and out["stranger_rmid"] == c.EPERM
    assert out["stranger_stat"] == c.EACCES
    assert out["root_qbytes"] == 0 and out["root_qb"] == 65536 and out["root_rmid"] == 0


def test_info_and_stat_by_index_commands() -> None:
    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        yield from p.msgget(c.IPC_PRIVATE, 0o600)
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgsnd(q, 1, b"abc")
        out["q"] = q
        out["info"] = yield from p.msgctl(0, c.IPC_INFO)
        out["minfo"] = yield from p.msgctl(0, c.MSG_INFO)
        out["stat1"] = yield from p.msgctl(1, c.MSG_STAT)
        out["stat9"] = yield from err(p.msgctl(9, c.MSG_STAT))
        out["badcmd"] = yield from err(p.msgctl(q, 99))
        return 0

    def stranger(p: Any) -> Gen:
        out["s_stat"] = yield from err(p.msgctl(1, c.MSG_STAT))
        out["s_any"] = yield from p.msgctl(1, c.MSG_STAT_ANY)
        return 0

    k = Kernel(seed=0)
    k.spawn(owner)
    k.run()
    k.spawn(stranger, uid=4000, gid=4000)
    k.run()
    maxidx, info = out["info"]
    assert maxidx == 1 and info.msgmax == MSGMAX and info.msgmnb == MSGMNB
    assert info.msgmni == 32000
    _, minfo = out["minfo"]
    assert (minfo.msgpool, minfo.msgmap, minfo.msgtql) == (2, 1, 3)
    ident, ds = out["stat1"]
    assert ident == out["q"] and ds.msg_qnum == 1
    assert out["stat9"] == c.EINVAL and out["badcmd"] == c.EINVAL
    assert out["s_stat"] == c.EACCES and out["s_any"][0] == out["q"]


def test_ipc_set_mode_excludes_sleeping_receiver() -> None:
    """IPC_SET wakes receivers (internal EAGAIN) so they re-check their permissions."""
    out: dict[str, Any] = {}

    def receiver(p: Any, q: int) -> Gen:
        out["rcv"] = yield from err(p.msgrcv(q, 10))
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o666)
        yield from p.fork(receiver, q)
        yield from p.nanosleep(0.01)
        yield from p.msgctl(q, c.IPC_SET, {"mode": 0o600})
        yield from p.waitpid(-1, 0)
        return 0

    k = Kernel(seed=0)
    k.spawn(prog, uid=1000, gid=1000)
    k.run()
    # the child runs as the same user: still allowed, so it must still be asleep ...
    assert "rcv" not in out

    out.clear()
    k2 = Kernel(seed=0)

    def prog2(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o666)
        yield from p.fork(other_rcv, q)
        yield from p.nanosleep(0.01)
        yield from p.msgctl(q, c.IPC_SET, {"mode": 0o600})
        yield from p.waitpid(-1, 0)
        return 0

    def other_rcv(p: Any, q: int) -> Gen:
        yield from p.setuid(3000)
        out["rcv"] = yield from err(p.msgrcv(q, 10))
        return 0

    k2.spawn(prog2, uid=0, gid=0)
    k2.run()
    assert out["rcv"] == c.EACCES


def test_ipc_set_accepts_the_stat_object() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        ds = yield from p.msgctl(q, c.IPC_STAT)
        new = attrs.evolve(ds, msg_qbytes=100,
                           msg_perm=attrs.evolve(ds.msg_perm, mode=0o640, gid=55))
        yield from p.msgctl(q, c.IPC_SET, new)
        ds2 = yield from p.msgctl(q, c.IPC_STAT)
        out["set"] = (ds2.msg_qbytes, ds2.msg_perm.mode, ds2.msg_perm.gid, ds2.msg_perm.cgid,
                      ds2.msg_ctime >= ds.msg_ctime)
        out["efault"] = yield from err(p.msgctl(q, c.IPC_SET))
        return 0

    k, pid = run(prog)
    ok(k, pid)
    assert out == {"set": (100, 0o640, 55, 1000, True), "efault": c.EFAULT}


def test_denied_creation_frees_the_label_and_creates_nothing() -> None:
    m = BpfLsm("no-create")
    freed: list[str] = []
    for kind in ("msg_queue", "sem", "shm"):
        m.attach(f"{kind}_alloc_security", lambda perm: -c.EACCES)
        m.attach(f"{kind}_free_security", lambda perm: freed.append(perm.kind))
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["msg"] = yield from err(p.msgget(1, c.IPC_CREAT | 0o600))
        out["sem"] = yield from err(p.semget(1, 1, c.IPC_CREAT | 0o600))
        out["shm"] = yield from err(p.shmget(1, 1, c.IPC_CREAT | 0o600))
        out["again"] = yield from err(p.msgget(1, 0))
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert out == {"msg": c.EACCES, "sem": c.EACCES, "shm": c.EACCES, "again": c.ENOENT}
    assert freed == ["msg", "sem", "shm"]


# -- LSM hooks ----------
def test_msgrcv_denial_hides_message_instead_of_eacces() -> None:
    m = BpfLsm("hide-type-2")
    seen: list[int] = []

    @m.hook("msg_queue_msgrcv")
    def _rcv(perm: Any, msg: Any, target: Any, mtype: int, mode: int) -> int:
        seen.append(msg.m_type)
        return -c.EACCES if msg.m_type == 2 else 0

    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgsnd(q, 2, b"secret")
        yield from p.msgsnd(q, 1, b"public")
        out["typed"] = yield from err(p.msgrcv(q, 10, 2, c.IPC_NOWAIT))
        out["any"] = yield from p.msgrcv(q, 10, 0, c.IPC_NOWAIT)
        out["none"] = yield from err(p.msgrcv(q, 10, 0, c.IPC_NOWAIT))
        out["qnum"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert out == {"typed": c.ENOMSG, "any": (1, b"public"), "none": c.ENOMSG, "qnum": 1}
    # every candidate is asked, on every scan: [2] then [2, 1] then [2]
    assert seen == [2, 2, 1, 2]


def test_hidden_message_makes_a_blocking_receiver_sleep() -> None:
    m = BpfLsm("hide-all")
    m.attach("msg_queue_msgrcv", lambda perm, msg, target, mtype, mode: -c.EACCES)
    out: dict[str, Any] = {}

    def receiver(p: Any, q: int) -> Gen:
        out["rx"] = yield from err(p.msgrcv(q, 10))
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        yield from p.msgsnd(q, 1, b"hidden")
        child = yield from p.fork(receiver, q)
        yield from p.nanosleep(0.05)
        out["asleep"] = "rx" not in out
        yield from p.msgctl(q, c.IPC_RMID)
        yield from p.waitpid(child, 0)
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert out == {"asleep": True, "rx": c.EIDRM}


def test_pipelined_send_checks_receiver_as_subject_and_queues_on_denial() -> None:
    m = BpfLsm("rcv-subject")
    calls: list[tuple[int, int]] = []
    deny = {"on": True}

    @m.hook("msg_queue_msgrcv")
    def _rcv(perm: Any, msg: Any, target: Any, mtype: int, mode: int) -> int:
        calls.append((target.pid, m.security.current.pid))
        return -c.EACCES if deny["on"] else 0

    out: dict[str, Any] = {}

    def receiver(p: Any, q: int) -> Gen:
        out["rx_pid"] = p.pid
        out["rx"] = yield from p.msgrcv(q, 10)
        return 0

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        child = yield from p.fork(receiver, q)
        yield from p.nanosleep(0.01)
        yield from p.msgsnd(q, 5, b"m")
        out["queued"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        deny["on"] = False
        yield from p.msgsnd(q, 6, b"n")
        yield from p.waitpid(child, 0)
        out["left"] = (yield from p.msgctl(q, c.IPC_STAT)).msg_qnum
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    rx = out["rx_pid"]
    assert calls[0] == (rx, pid)  # pipelined: target = receiver, current = sender
    assert out["queued"] == 1 and out["rx"] == (6, b"n") and out["left"] == 1


def test_msgsnd_lsm_denial_and_msg_label_lifecycle() -> None:
    m = BpfLsm("count")
    alloc: list[Any] = []
    freed: list[Any] = []
    m.attach("msg_msg_alloc_security", lambda msg: alloc.append(msg))
    m.attach("msg_msg_free_security", lambda msg: freed.append(msg))
    m.attach("msg_queue_msgsnd", lambda perm, msg, flg: -c.EPERM if msg.m_type == 9 else 0)
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
        out["denied"] = yield from err(p.msgsnd(q, 9, b"x"))
        yield from p.msgsnd(q, 1, b"a")
        yield from p.msgsnd(q, 1, b"b")
        yield from p.msgrcv(q, 10)
        yield from p.msgctl(q, c.IPC_RMID)
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    assert out["denied"] == c.EPERM
    assert len(alloc) == 3 and sorted(map(id, alloc)) == sorted(map(id, freed))


# -- all SysV families: complete mediation and hook order ----------
SPAWN_HOOKS = frozenset({"cred_prepare", "task_alloc", "task_init_context", "inode_alloc_security",
                         "sb_alloc_security", "file_alloc_security"})
DENY = c.ENOTRECOVERABLE if hasattr(c, "ENOTRECOVERABLE") else 131


def _deny_all_module() -> tuple[BpfLsm, dict[str, bool]]:
    state = {"on": False}
    m = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind != "int" or spec.name in SPAWN_HOOKS:
            continue

        def deny(*_a: Any, _d: int = spec.default) -> int:
            return -DENY if state["on"] else _d

        m.attach(spec.name, deny)
    return m, state


def test_complete_mediation_every_sysv_call_is_denied_and_changes_nothing() -> None:
    m, state = _deny_all_module()
    res: dict[str, int] = {}
    snap: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.msgget(10, c.IPC_CREAT | 0o600)
        yield from p.msgsnd(q, 1, b"keep")
        s = yield from p.semget(11, 2, c.IPC_CREAT | 0o600)
        yield from p.semctl(s, 0, c.SETVAL, 3)
        h = yield from p.shmget(12, 4096, c.IPC_CREAT | 0o600)
        addr = yield from p.shmat(h)
        addr2 = yield from p.shmat(h, c.SHM_RDONLY)
        p.mem_write(addr, 0, b"data")
        before = ((yield from p.msgctl(q, c.IPC_STAT)), (yield from p.semctl(s, 0, c.GETALL)),
                  (yield from p.shmctl(h, c.IPC_STAT)))
        state["on"] = True
        calls = {
            "msgget-create": p.msgget(20, c.IPC_CREAT | 0o600),
            "msgget-private": p.msgget(c.IPC_PRIVATE, 0o600),
            "msgget-existing": p.msgget(10, 0),
            "msgsnd": p.msgsnd(q, 1, b"new"),
            "msgrcv": p.msgrcv(q, 100, 0, c.IPC_NOWAIT),
            "msgctl-stat": p.msgctl(q, c.IPC_STAT),
            "msgctl-stat-any": p.msgctl(0, c.MSG_STAT_ANY),
            "msgctl-info": p.msgctl(0, c.IPC_INFO),
            "msgctl-set": p.msgctl(q, c.IPC_SET, {"mode": 0o666}),
            "msgctl-rmid": p.msgctl(q, c.IPC_RMID),
            "semget-create": p.semget(21, 1, c.IPC_CREAT | 0o600),
            "semget-existing": p.semget(11, 0, 0),
            "semop": p.semop(s, [(0, -1, 0)]),
            "semop-zero": p.semop(s, [(1, 0, c.IPC_NOWAIT)]),
            "semctl-getval": p.semctl(s, 0, c.GETVAL),
            "semctl-getall": p.semctl(s, 0, c.GETALL),
            "semctl-setval": p.semctl(s, 0, c.SETVAL, 9),
            "semctl-setall": p.semctl(s, 0, c.SETALL, [9, 9]),
            "semctl-getpid": p.semctl(s, 0, c.GETPID),
            "semctl-stat": p.semctl(s, 0, c.IPC_STAT),
            "semctl-info": p.semctl(0, 0, c.SEM_INFO),
            "semctl-set": p.semctl(s, 0, c.IPC_SET, {"mode": 0o666}),
            "semctl-rmid": p.semctl(s, 0, c.IPC_RMID),
            "shmget-create": p.shmget(22, 4096, c.IPC_CREAT | 0o600),
            "shmget-existing": p.shmget(12, 0, 0),
            "shmat": p.shmat(h),
            "shmat-rdonly": p.shmat(h, c.SHM_RDONLY),
            "shmctl-stat": p.shmctl(h, c.IPC_STAT),
            "shmctl-info": p.shmctl(0, c.SHM_INFO),
            "shmctl-lock": p.shmctl(h, c.SHM_LOCK),
            "shmctl-set": p.shmctl(h, c.IPC_SET, {"mode": 0o666}),
            "shmctl-rmid": p.shmctl(h, c.IPC_RMID),
        }
        for name, call in calls.items():
            res[name] = yield from err(call)
        snap["shmdt"] = yield from err(p.shmdt(addr2))  # no hook: works under deny-all
        state["on"] = False
        after = ((yield from p.msgctl(q, c.IPC_STAT)), (yield from p.semctl(s, 0, c.GETALL)),
                 (yield from p.shmctl(h, c.IPC_STAT)))
        snap["before"], snap["after"] = before, after
        snap["data"] = p.mem_read(addr, 0, 4)
        snap["keys"] = [(yield from err(p.msgget(20, 0))), (yield from err(p.semget(21, 0, 0))),
                        (yield from err(p.shmget(22, 0, 0)))]
        snap["in_use"] = [(yield from p.msgctl(0, c.MSG_INFO))[1].msgpool,
                          (yield from p.semctl(0, 0, c.SEM_INFO))[1].semusz,
                          (yield from p.shmctl(0, c.SHM_INFO))[1].used_ids]
        return 0

    k, pid = run(prog, lsms=(m,))
    ok(k, pid)
    # Linux folds an ipc_permission denial (inside ipcperms) into EACCES, and so does
    # semctl_setval for its own hook; every other path returns the module's errno.
    folded = {"msgget-existing", "msgrcv", "msgctl-stat", "semget-existing", "semop",
              "semop-zero", "semctl-getval", "semctl-getall", "semctl-setval", "semctl-setall",
              "semctl-getpid", "semctl-stat", "shmget-existing", "shmat", "shmat-rdonly",
              "shmctl-stat"}
    expected = {name: c.EACCES if name in folded else DENY for name in res}
    # msgsnd fails first in load_msg (msg_msg_alloc_security), before ipcperms
    expected["msgsnd"] = DENY
    assert res == expected
    assert snap["shmdt"] == 0
    b_msg, b_sem, b_shm = snap["before"]
    a_msg, a_sem, a_shm = snap["after"]
    assert (b_msg, b_sem) == (a_msg, a_sem) and snap["data"] == b"data"
    assert attrs.evolve(b_shm, shm_nattch=1, shm_dtime=0, shm_lpid=0) == attrs.evolve(
        a_shm, shm_dtime=0, shm_lpid=0)  # only the shmdt changed the segment
    assert snap["keys"] == [c.ENOENT] * 3 and snap["in_use"] == [1, 1, 1]


IPC_PREFIXES = ("ipc_", "msg_", "sem_", "shm_", "capable", "mmap_file")

#: hook order per operation, from ipc-lsm-reference §3.6 (and ipc/{util,msg,sem,shm}.c)
EXPECTED_ORDER = {
    "msgget-create": ["msg_queue_alloc_security"],
    "msgget-existing": ["ipc_permission", "msg_queue_associate"],
    "msgsnd": ["msg_msg_alloc_security", "ipc_permission", "msg_queue_msgsnd"],
    "msgsnd-to-sleeper": ["msg_msg_alloc_security", "ipc_permission", "msg_queue_msgsnd",
                          "msg_queue_msgrcv"],
    "msgrcv": ["ipc_permission", "msg_queue_msgrcv", "msg_queue_msgrcv",
               "msg_msg_free_security"],
    "semop": ["ipc_permission", "sem_semop"],
    "shmat": ["ipc_permission", "shm_shmat", "mmap_file"],  # do_shmat maps the segment
    "shmctl-rmid": ["shm_shmctl", "shm_free_security"],
    "shmctl-rmid-root-nonowner": ["capable", "shm_shmctl", "shm_free_security"],
    "shmctl-lock-root": ["shm_shmctl", "capable"],
    "msgctl-rmid": ["msg_queue_msgctl", "msg_msg_free_security", "msg_msg_free_security",
                    "msg_queue_free_security"],
}


def test_hook_order_matches_linux() -> None:
    rec: list[str] = []
    on = {"v": False}
    m = BpfLsm("recorder")
    for spec in HOOKS:
        if spec.name.startswith(IPC_PREFIXES):
            m.attach(spec.name, lambda *_a, _n=spec.name: rec.append(_n)
                     if on["v"] == m.security.current.pid else None)
    got: dict[str, list[str]] = {}

    def record(name: str, gen: Gen) -> Gen:
        rec.clear()
        on["v"] = p_now["p"].pid
        try:
            result = yield from gen
        finally:
            on["v"] = False
        got[name] = list(rec)
        return result

    def sleeper(p: Any, q: int) -> Gen:
        yield from p.msgrcv(q, 100, 42)
        return 0

    p_now: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        p_now["p"] = p
        q = yield from record("msgget-create", p.msgget(30, c.IPC_CREAT | 0o666))
        yield from record("msgget-existing", p.msgget(30, 0o600))
        yield from record("msgsnd", p.msgsnd(q, 2, b"a"))
        yield from p.msgsnd(q, 1, b"b")
        yield from record("msgrcv", p.msgrcv(q, 100, -2))  # both candidates, lowest type wins
        child = yield from p.fork(sleeper, q)
        yield from p.nanosleep(0.01)
        yield from record("msgsnd-to-sleeper", p.msgsnd(q, 42, b"c"))
        yield from p.waitpid(child, 0)
        yield from p.msgsnd(q, 3, b"left")
        yield from record("msgctl-rmid", p.msgctl(q, c.IPC_RMID))
        s = yield from p.semget(c.IPC_PRIVATE, 1, 0o600)
        yield from record("semop", p.semop(s, [(0, 1, 0)]))
        h = yield from p.shmget(c.IPC_PRIVATE, 100, 0o666)
        yield from record("shmat", p.shmat(h))
        h2 = yield from p.shmget(c.IPC_PRIVATE, 100, 0o600)
        yield from record("shmctl-rmid", p.shmctl(h2, c.IPC_RMID))
        got["h"] = [h]
        return 0

    def root(p: Any) -> Gen:
        p_now["p"] = p
        h = got["h"][0]
        yield from record("shmctl-lock-root", p.shmctl(h, c.SHM_LOCK))
        yield from record("shmctl-rmid-root-nonowner", p.shmctl(h, c.IPC_RMID))
        return 0

    k = Kernel(lsms=[m], seed=0)
    k.spawn(owner, uid=1000, gid=1000)
    k.run()
    k.spawn(root, uid=0, gid=0)
    k.run()
    got.pop("h")
    assert got == EXPECTED_ORDER
