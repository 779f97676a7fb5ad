"""Property-based stress of SysV IPC: many processes, random operations, kills and IPC_RMID.

Hypothesis draws a workload: a few worker processes, each with a list of operations on one
shared message queue, one semaphore array and one shared memory segment, plus SIGKILLs at
random times and optional IPC_RMIDs.  A driver stops every worker at the end and checks:

* messages: nothing received that was never sent, nothing received twice, every confirmed
  send received or still queued (unless the queue was removed), FIFO order per
  (sender, mtype) within each receiver and between received and still-queued messages;
* semaphores: each final value is the initial value plus the confirmed operations plus some
  subset of the operations whose outcome a kill hid; a SEM_UNDO mutex is never held twice and
  is released by the undo of a killed holder;
* shared memory: the final contents equal the last write of every slot.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernel_sim  # noqa: F401 - import the kernel before lsm (package init order)
from kernel_sim import Kernel, SyscallError
from kernel_sim import constants as c

Gen = Generator[Any, Any, Any]
NSEMS = 3
SLOTS = 4
MUTEX = NSEMS  # the extra semaphore used as a SEM_UNDO lock
T_END = 0.05

op_st = st.one_of(
    st.tuples(st.just("snd"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("rcv"), st.integers(-3, 3), st.booleans(), st.booleans()),
    st.tuples(st.just("sem"), st.integers(0, NSEMS - 1), st.integers(-2, 2), st.booleans()),
    st.tuples(st.just("lock"), st.integers(0, SLOTS - 1), st.integers(0, 255)),
    st.tuples(st.just("write"), st.integers(0, SLOTS - 1), st.integers(0, 255)),
    st.tuples(st.just("sleep"), st.integers(1, 5)),
)


def _workloads(workers: int, ops: int, kills: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "workers": st.lists(st.lists(op_st, max_size=ops), min_size=2, max_size=workers),
        "kills": st.lists(st.tuples(st.integers(1, 40), st.integers(0, workers - 1)),
                          max_size=kills),
        "rmid_msg": st.one_of(st.none(), st.integers(1, 40)),
        "rmid_shm": st.one_of(st.none(), st.integers(1, 40)),
        "qbytes": st.sampled_from([16, 64, 16384]),
    })


workload_st = _workloads(4, 12, 3)
heavy_workload_st = _workloads(8, 30, 6)


class World:
    """What the workers did, as seen from user space (shared by the simulated programs)."""

    def __init__(self) -> None:
        self.attempted: set[bytes] = set()
        self.confirmed: set[bytes] = set()
        self.received: dict[int, list[bytes]] = {}
        self.sem_done: list[tuple[int, int]] = []
        self.sem_pending: dict[int, tuple[int, int]] = {}
        self.writes: dict[int, int] = {}
        self.holder: int | None = None
        self.violations: list[str] = []
        self.result: dict[str, Any] = {}


def worker(p: Any, w: World, wid: int, ops: list[Any], ids: tuple[int, int, int]) -> Gen:
    q, s, h = ids
    addr = yield from p.shmat(h)
    seq = 0
    for op in ops:
        kind = op[0]
        try:
            if kind == "snd":
                _, mtype, nowait = op
                payload = f"{wid}:{mtype}:{seq}".encode()
                seq += 1
                w.attempted.add(payload)
                yield from p.msgsnd(q, mtype, payload, c.IPC_NOWAIT if nowait else 0)
                w.confirmed.add(payload)
            elif kind == "rcv":
                _, mtype, except_, nowait = op
                flags = (c.IPC_NOWAIT if nowait else 0) | (
                    c.MSG_EXCEPT if except_ and mtype > 0 else 0)
                _t, data = yield from p.msgrcv(q, 64, mtype, flags)
                w.received.setdefault(p.pid, []).append(data)
            elif kind == "sem":
                _, num, delta, nowait = op
                w.sem_pending[p.pid] = (num, delta)
                yield from p.semop(s, [(num, delta, c.IPC_NOWAIT if nowait else 0)])
                del w.sem_pending[p.pid]
                w.sem_done.append((num, delta))
            elif kind == "lock":
                _, slot, val = op
                yield from p.semop(s, [(MUTEX, -1, c.SEM_UNDO)])
                prev = w.holder
                if prev is not None and p.kernel.processes[prev].exit_status is None:
                    w.violations.append(f"mutex held by {prev} and {p.pid}")
                w.holder = p.pid
                p.mem_write(addr, slot, bytes([val]))
                w.writes[slot] = val
                yield from p.nanosleep(0.001)
                w.holder = None
                yield from p.semop(s, [(MUTEX, 1, c.SEM_UNDO)])
            elif kind == "write":
                _, slot, val = op
                p.mem_write(addr, slot, bytes([val]))
                w.writes[slot] = val
            else:
                yield from p.nanosleep(op[1] / 1000)
        except SyscallError as e:
            w.sem_pending.pop(p.pid, None)  # a failed semop changed nothing
            if e.errno not in (c.EAGAIN, c.ENOMSG, c.EIDRM, c.EINVAL, c.E2BIG):
                w.violations.append(f"{kind}: unexpected {e}")
    return 0


def driver(p: Any, w: World, load: dict[str, Any]) -> Gen:
    q = yield from p.msgget(c.IPC_PRIVATE, 0o600)
    yield from p.msgctl(q, c.IPC_SET, {"msg_qbytes": load["qbytes"]})
    s = yield from p.semget(c.IPC_PRIVATE, NSEMS + 1, 0o600)
    yield from p.semctl(s, 0, c.SETALL, [2] * NSEMS + [1])
    h = yield from p.shmget(c.IPC_PRIVATE, 4096, 0o600)
    addr = yield from p.shmat(h)
    pids = []
    for wid, ops in enumerate(load["workers"]):
        pids.append((yield from p.fork(worker, w, wid, ops, (q, s, h))))
    events = [(t / 1000, "kill", i) for t, i in load["kills"] if i < len(pids)]
    if load["rmid_msg"] is not None:
        events.append((load["rmid_msg"] / 1000, "rmid_msg", 0))
    if load["rmid_shm"] is not None:
        events.append((load["rmid_shm"] / 1000, "rmid_shm", 0))
    now = 0.0
    for t, what, i in sorted(events):
        if t > now:
            yield from p.nanosleep(t - now)
            now = t
        if what == "kill":
            with contextlib.suppress(SyscallError):
                yield from p.kill(pids[i], c.SIGKILL)
        elif what == "rmid_msg":
            yield from p.msgctl(q, c.IPC_RMID)
        else:
            yield from p.shmctl(h, c.IPC_RMID)
    yield from p.nanosleep(max(T_END - now, 0))
    for pid in pids:  # stop whoever is still blocked
        with contextlib.suppress(SyscallError):
            yield from p.kill(pid, c.SIGKILL)
    for pid in pids:
        yield from p.waitpid(pid, 0)
    res = w.result
    res["sems"] = yield from p.semctl(s, 0, c.GETALL)
    res["shm"] = p.mem_read(addr, 0, SLOTS)
    res["nattch"] = (yield from p.shmctl(h, c.IPC_STAT)).shm_nattch
    yield from p.shmdt(addr)
    try:
        yield from p.shmctl(h, c.IPC_STAT)
        res["shm_gone"] = False
    except SyscallError as e:
        res["shm_gone"] = e.errno == c.EINVAL
    left: list[bytes] = []
    res["queue_removed"] = load["rmid_msg"] is not None
    if not res["queue_removed"]:
        while True:
            try:
                left.append((yield from p.msgrcv(q, 64, 0, c.IPC_NOWAIT))[1])
            except SyscallError as e:
                assert e.errno == c.ENOMSG
                break
    res["left"] = left
    return 0


def _parse(m: bytes) -> tuple[int, int, int]:
    a, b, cc = m.decode().split(":")
    return int(a), int(b), int(cc)


def check_world(w: World, load: dict[str, Any]) -> None:
    res = w.result
    assert not w.violations, w.violations
    received = [m for msgs in w.received.values() for m in msgs]
    left = res["left"]
    # messages: none invented, none duplicated, none lost
    assert set(received) <= w.attempted and set(left) <= w.attempted
    assert len(received) + len(left) == len(set(received) | set(left))
    if not res["queue_removed"]:
        assert w.confirmed <= set(received) | set(left)
    # FIFO per (sender, mtype): each receiver's view and the leftovers ascend, and every
    # leftover comes after everything received from the same stream
    last_rcv: dict[tuple[int, int], int] = {}
    for msgs in [*w.received.values(), left]:
        seen: dict[tuple[int, int], int] = {}
        for m in msgs:
            wid, mtype, seq = _parse(m)
            assert seq > seen.get((wid, mtype), -1), f"FIFO broken for {(wid, mtype)}"
            seen[(wid, mtype)] = seq
        if msgs is not left:
            for key, seq in seen.items():
                last_rcv[key] = max(last_rcv.get(key, -1), seq)
    for m in left:
        wid, mtype, seq = _parse(m)
        assert seq > last_rcv.get((wid, mtype), -1)
    # semaphores: confirmed ops exactly, plus any subset of the ones a kill left unresolved
    sems = res["sems"]
    assert sems[MUTEX] == 1  # the SEM_UNDO lock is free once every holder is gone
    base = [2] * NSEMS
    for num, delta in w.sem_done:
        base[num] += delta
    pending = list(w.sem_pending.values())
    options = set()
    for r in range(len(pending) + 1):
        for combo in itertools.combinations(pending, r):
            vals = list(base)
            for num, delta in combo:
                vals[num] += delta
            options.add(tuple(vals))
    assert tuple(sems[:NSEMS]) in options, (sems, base, pending)
    assert all(v >= 0 for v in sems)
    # shared memory: the last write of each slot
    expect = bytes(w.writes.get(i, 0) for i in range(SLOTS))
    assert res["shm"] == expect
    if load["rmid_shm"] is not None:
        assert res["nattch"] == 1 and res["shm_gone"]  # destroyed at the driver's detach
    else:
        assert not res["shm_gone"]


def run_workload(load: dict[str, Any]) -> World:
    w = World()
    k = Kernel(seed=0)
    pid = k.spawn(driver, w, load, uid=1000, gid=1000)
    k.run()
    st_ = k.exit_status(pid)
    assert st_ is not None and os.WIFEXITED(st_) and os.WEXITSTATUS(st_) == 0, k.diagnostics
    return w


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(workload_st)
def test_sysv_random_workload_invariants(load: dict[str, Any]) -> None:
    check_world(run_workload(load), load)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heavy_workload_st)
def test_sysv_random_workload_invariants_heavy(load: dict[str, Any]) -> None:
    check_world(run_workload(load), load)


def test_stress_checker_catches_a_lost_message() -> None:
    """The invariants can fail: drop a confirmed message from the record and they do."""
    load = {"workers": [[("snd", 1, True), ("snd", 1, True)], [("rcv", 1, False, False)]],
            "kills": [], "rmid_msg": None, "rmid_shm": None, "qbytes": 16384}
    w = run_workload(load)
    check_world(w, load)
    w.result["left"] = []
    with pytest.raises(AssertionError):
        check_world(w, load)


def test_same_workload_same_outcome() -> None:
    """Determinism: the simulated world replays identically."""
    load = {"workers": [[("snd", 1, False), ("sem", 0, -2, False), ("rcv", 0, False, False)],
                        [("rcv", 1, False, False), ("sem", 0, 1, False), ("snd", 2, False)],
                        [("lock", 0, 7), ("sem", 0, 1, True), ("write", 1, 9)]],
            "kills": [(3, 2)], "rmid_msg": None, "rmid_shm": 20, "qbytes": 16}
    a, b = run_workload(load), run_workload(load)
    assert (a.received, a.sem_done, a.writes, a.result) == (
        b.received, b.sem_done, b.writes, b.result)
    check_world(a, load)
