"""POSIX IPC system calls: message queues, shared memory, named semaphores, mmap."""

from __future__ import annotations


class PosixIpcSyscalls:
    __slots__ = ()
