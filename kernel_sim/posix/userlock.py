"""Userspace locks on futex words, as glibc builds them: :class:`Mutex` and :class:`Cond`.

Both objects are thin handles on a 32-bit word in the process's memory (any mapping: private
memory shared by the threads of a process, or a MAP_SHARED mapping shared between processes).
The kernel is only entered to sleep or to wake a sleeper, so an uncontended lock/unlock makes
no system call and calls no hook, as on Linux.

Usage, inside a program (every method is a generator taking the calling task)::

    addr = p.mem_alloc(8)            # or an address inside a MAP_SHARED mapping
    m = Mutex(p, addr)               # pthread_mutex_init: the word becomes 0
    cv = Cond(p, addr + 4)           # pthread_cond_init: the sequence word becomes 0
    yield from m.lock(p)
    while not ready():
        yield from cv.wait(p, m)     # unlock, sleep, relock; may wake spuriously
    yield from m.unlock(p)
    ...
    yield from cv.signal(p)          # or cv.broadcast(p)

``Mutex.attach(addr)`` / ``Cond.attach(addr)`` wrap a word another thread or process already
initialised (for instance after fork, or when a second process maps the same file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.posix.futex import cmpxchg32, fetch_add32, load32, store32, xchg32

if TYPE_CHECKING:
    from kernel_sim.task import Task

INT_MAX = 0x7FFFFFFF
UNLOCKED, LOCKED, CONTENDED = 0, 1, 2


def _futex_wait(p: Task, addr: int, val: int) -> Any:
    """Generator: futex_wait, where EAGAIN (value changed) and EINTR just mean "re-check"."""
    try:
        yield from p.futex_wait(addr, val)
    except SyscallError as e:
        if e.errno not in (c.EAGAIN, c.EINTR):
            raise


class Mutex:
    """Drepper's three-state mutex ("Futexes Are Tricky", mutex #3; glibc ``lll_lock``).

    The word is 0 (unlocked), 1 (locked, no waiters) or 2 (locked, maybe waiters).  lock: CAS
    0->1; otherwise swap in 2 and sleep while the old value was not 0.  unlock: decrement; if
    the old value was 2, store 0 and wake one sleeper.  Not recursive, no owner check (a
    PTHREAD_MUTEX_NORMAL mutex).
    """

    __slots__ = ("addr",)

    def __init__(self, p: Task | None, addr: int) -> None:
        self.addr = addr
        if p is not None:
            store32(p, addr, UNLOCKED)

    @classmethod
    def attach(cls, addr: int) -> Mutex:
        return cls(None, addr)

    def lock(self, p: Task) -> Any:
        addr = self.addr
        cur = cmpxchg32(p, addr, UNLOCKED, LOCKED)
        if cur == UNLOCKED:
            return
        if cur != CONTENDED:
            cur = xchg32(p, addr, CONTENDED)
        while cur != UNLOCKED:
            yield from _futex_wait(p, addr, CONTENDED)
            cur = xchg32(p, addr, CONTENDED)

    def trylock(self, p: Task) -> bool:
        """Take the lock if it is free (no system call); True on success (EBUSY otherwise)."""
        return cmpxchg32(p, self.addr, UNLOCKED, LOCKED) == UNLOCKED

    def unlock(self, p: Task) -> Any:
        addr = self.addr
        if fetch_add32(p, addr, -1) != LOCKED:
            store32(p, addr, UNLOCKED)
            yield from p.futex_wake(addr, 1)

    def value(self, p: Task) -> int:
        return load32(p, self.addr)


class Cond:
    """A condition variable made of one sequence word (the pre-2.25 glibc idea, simplified).

    wait: read the sequence, unlock the mutex, futex_wait on the sequence (it returns at once
    if a signal already bumped it, so no wake-up is lost), relock.  signal/broadcast: bump the
    sequence, wake one / all sleepers.  Spurious wake-ups are allowed, as POSIX says: wait in a
    loop on the predicate.
    """

    __slots__ = ("addr",)

    def __init__(self, p: Task | None, addr: int) -> None:
        self.addr = addr
        if p is not None:
            store32(p, addr, 0)

    @classmethod
    def attach(cls, addr: int) -> Cond:
        return cls(None, addr)

    def wait(self, p: Task, mutex: Mutex) -> Any:
        seq = load32(p, self.addr)
        yield from mutex.unlock(p)
        yield from _futex_wait(p, self.addr, seq)
        yield from mutex.lock(p)

    def signal(self, p: Task) -> Any:
        fetch_add32(p, self.addr, 1)
        yield from p.futex_wake(self.addr, 1)

    def broadcast(self, p: Task) -> Any:
        fetch_add32(p, self.addr, 1)
        yield from p.futex_wake(self.addr, INT_MAX)
