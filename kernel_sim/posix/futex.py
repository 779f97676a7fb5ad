"""Futexes (Linux ``kernel/futex/``): a wait queue per 32-bit word of user memory.

``futex_wait(addr, val)`` sleeps only if the word at ``addr`` still holds ``val`` (checked and
queued atomically: nothing runs between the two in the simulation); ``futex_wake(addr, n)``
wakes up to ``n`` sleepers, oldest first (Linux orders by task priority, then FIFO; all
simulated tasks share one priority).

The queue is found by a *key*, as in ``get_futex_key``: a private mapping is keyed by
(address space, address), so the threads of a process meet; a shared mapping is keyed by
(backing object, offset in it), so processes that map the same file or SysV segment at
different addresses meet on the same word.  There are no LSM hooks on futexes (Linux has none).

The atomic helpers (``load32``, ``cmpxchg32``, ...) are what userspace ``lock cmpxchg`` and
friends do: plain memory accesses, atomic here because a task runs without interruption between
two system calls.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from attrs import define

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.syscall import Interrupted

if TYPE_CHECKING:
    import simpy

    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Mapping
    from kernel_sim.task import Task

U32 = 0xFFFFFFFF


@define(slots=True, eq=False)
class FutexQ:
    """``struct futex_q``: one sleeping task; ``woken`` is set by futex_wake."""

    task: Task
    event: simpy.Event
    woken: bool = False


def futex_table(k: Kernel) -> dict[Any, deque[FutexQ]]:
    """The kernel-wide futex hash (one bucket per key, created on demand)."""
    table = k.subsystems.get("futex")
    if table is None:
        table = k.subsystems["futex"] = {}
    return table


def _mapping(task: Task, addr: int) -> Mapping:
    if not isinstance(addr, int) or addr % 4:
        raise SyscallError(c.EINVAL)  # futex words are 4-byte aligned
    m = task.process.mm.find(addr)
    if m is None or addr + 4 > m.start + m.size:
        raise SyscallError(c.EFAULT)
    return m


def futex_key(task: Task, addr: int) -> tuple[Any, int]:
    """``get_futex_key``: (mm, addr) for private memory, (object, offset) for shared."""
    m = _mapping(task, addr)
    if m.shared:
        obj: Any = m.obj
        try:
            hash(obj)
        except TypeError:
            obj = None
        if obj is None:
            obj = id(m.backing)
        return (obj, addr - m.start + m.offset)
    return (task.process.mm, addr)


def load32(task: Task, addr: int) -> int:
    """Read the little-endian u32 at ``addr`` (missing bytes of a short file read as 0)."""
    m = _mapping(task, addr)
    if not m.prot & c.PROT_READ:
        raise SyscallError(c.EFAULT)
    base = addr - m.start + m.offset
    return int.from_bytes(bytes(m.backing[base:base + 4]).ljust(4, b"\0"), "little")


def store32(task: Task, addr: int, value: int) -> None:
    task.mem_write(addr, 0, (value & U32).to_bytes(4, "little"))


def cmpxchg32(task: Task, addr: int, old: int, new: int) -> int:
    """``lock cmpxchg``: store ``new`` if the word equals ``old``; return the previous value."""
    cur = load32(task, addr)
    if cur == old & U32:
        store32(task, addr, new)
    return cur


def xchg32(task: Task, addr: int, new: int) -> int:
    cur = load32(task, addr)
    store32(task, addr, new)
    return cur


def fetch_add32(task: Task, addr: int, delta: int) -> int:
    """``lock xadd``: add ``delta`` (wrapping at 32 bits); return the previous value."""
    cur = load32(task, addr)
    store32(task, addr, cur + delta)
    return cur


def do_futex_wait(task: Task, addr: int, val: int) -> Any:
    """Generator: FUTEX_WAIT.  EAGAIN if ``*addr != val``; 0 once woken."""
    key = futex_key(task, addr)
    if load32(task, addr) != val & U32:
        raise SyscallError(c.EAGAIN)
    k = task.kernel
    table = futex_table(k)
    bucket = table.get(key)
    if bucket is None:
        bucket = table[key] = deque()
    q = FutexQ(task, k.env.event())
    bucket.append(q)
    try:
        yield from task.sleep(q.event)
    except Interrupted:
        if q.woken:  # the wake-up won the race with the signal: report success
            return 0
        _unqueue(table, key, q)
        raise
    return 0


def _unqueue(table: dict[Any, deque[FutexQ]], key: Any, q: FutexQ) -> None:
    bucket = table.get(key)
    if bucket is not None:
        if q in bucket:
            bucket.remove(q)
        if not bucket:
            del table[key]


def do_futex_wake(task: Task, addr: int, n: int) -> int:
    """FUTEX_WAKE: wake up to ``n`` waiters on the word's key; return how many were woken.

    As in Linux's ``futex_wake`` loop (``if (++ret >= nr_wake) break``), ``n <= 0`` still
    wakes one waiter if there is one.
    """
    key = futex_key(task, addr)
    table = futex_table(task.kernel)
    bucket = table.get(key)
    if not bucket:
        return 0
    woken = 0
    while bucket:
        q = bucket.popleft()
        q.woken = True
        if not q.event.triggered:
            q.event.succeed()
        woken += 1
        if woken >= n:
            break
    if not bucket:
        del table[key]
    return woken
