"""Small helpers for kernel tests: run programs to completion and collect what they saw."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from typing import Any

from kernel_sim import Kernel, SyscallError
from lsm.module import LsmModule

Gen = Generator[Any, Any, Any]


def err(gen: Gen) -> Gen:
    """Run one syscall; return its errno (0 on success) instead of raising."""
    try:
        yield from gen
    except SyscallError as e:
        return e.errno
    return 0


def res(gen: Gen) -> Gen:
    """Run one syscall; return ``("ok", value)`` or ``("err", errno)``."""
    try:
        value = yield from gen
    except SyscallError as e:
        return ("err", e.errno)
    return ("ok", value)


def run(prog: Callable[..., Gen], *args: Any, lsms: Sequence[LsmModule] = (),
        kernel: Kernel | None = None, until: float | None = None,
        **spawn: Any) -> tuple[Kernel, int]:
    """Boot a kernel (or use ``kernel``), spawn ``prog(p, *args)``, run; -> (kernel, pid)."""
    k = kernel if kernel is not None else Kernel(lsms=lsms, seed=0)
    pid = k.spawn(prog, *args, **spawn)
    k.run(until=until)
    return k, pid


def exited(status: int | None, code: int = 0) -> bool:
    return status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == code


def killed_by(status: int | None, sig: int) -> bool:
    return status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == sig


def check_ok(k: Kernel, pid: int) -> None:
    """Assert the program exited 0 (a failed assert inside a program raises ProgramError)."""
    st = k.exit_status(pid)
    assert exited(st, 0), f"status {st!r}, diagnostics {k.diagnostics}"
