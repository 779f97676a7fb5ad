"""Futexes and the userspace Mutex/Cond built on them, as glibc does."""

from __future__ import annotations


class ThreadSyscalls:
    __slots__ = ()
