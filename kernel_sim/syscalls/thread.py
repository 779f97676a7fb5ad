"""Futexes and the memory threads share.

``futex_wait``/``futex_wake`` are the two FUTEX_WAIT/FUTEX_WAKE operations of futex(2); the
userspace Mutex and Cond built on them are in :mod:`kernel_sim.posix.userlock`.  Futexes have
no LSM hook (Linux has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim.posix import futex, mmap
from kernel_sim.syscall import syscall

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task


class ThreadSyscalls:
    __slots__ = ()
    kernel: Kernel

    @syscall
    def futex_wait(self: Task, addr: int, val: int) -> Any:
        """Sleep while the u32 at ``addr`` equals ``val`` (EAGAIN if it does not) until a
        futex_wake on the same word; EINTR if a handler without SA_RESTART runs."""
        return (yield from futex.do_futex_wait(self, addr, val))

    @syscall
    def futex_wake(self: Task, addr: int, n: int) -> Any:
        """Wake up to ``n`` tasks sleeping on the word at ``addr``; returns how many woke."""
        return futex.do_futex_wake(self, addr, n)
        yield

    def mem_alloc(self: Task, size: int) -> int:
        """Zeroed private memory (malloc: no system call, no hook); -> its address."""
        return mmap.mem_alloc(self, size)
