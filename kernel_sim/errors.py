"""Exceptions that cross the kernel boundary.

Inside the kernel, failures are negative errno ints (as in C, so LSM hook results compare with
their defaults).  At the system-call boundary a failure becomes :class:`SyscallError`, thrown
into the calling program; it *is* an :class:`OSError`, so ``e.errno`` is Linux's value.
"""

from __future__ import annotations

import errno as _errno
import os


class KernelSimError(Exception):
    """Root of kernel-sim's own errors."""


class SyscallError(OSError):
    """A system call failed with ``errno`` (Linux's value), as a C program sees ``-1``/errno."""

    def __init__(self, err: int, syscall: str = "") -> None:
        super().__init__(err, os.strerror(err))
        self.syscall = syscall

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno or 0, str(self.errno))
        where = f"{self.syscall}: " if self.syscall else ""
        return f"{where}{name} ({self.strerror})"

    def __reduce__(self):  # pragma: no cover - pickling support for multiprocessing users
        return (SyscallError, (self.errno, self.syscall))


class ProgramError(KernelSimError):
    """A simulated program raised a Python exception that is not a system-call failure.

    That is a bug in the program (not a simulated crash), so it stops :meth:`Kernel.run`
    with the program's name and pid instead of being hidden.
    """


class ConfigError(KernelSimError, ValueError):
    """Bad input to the kernel's set-up API (install paths, spawn arguments, ...)."""


class TaskExit(BaseException):
    """Unwinds a task's program when it exits or is killed.  Programs must not catch it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
