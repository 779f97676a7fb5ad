"""System V and POSIX IPC system calls (filled in by the IPC subsystem modules)."""

from __future__ import annotations


class IpcSyscalls:
    __slots__ = ()
