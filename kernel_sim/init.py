"""pid 1: reaps every child and orphan, as init does, from a SIGCHLD handler."""

from __future__ import annotations

import contextlib
from typing import Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError


def _reap(p: Any, sig: int) -> Any:
    while True:
        try:
            pid, _status = yield from p.waitpid(-1, c.WNOHANG)
        except SyscallError:
            return
        if pid == 0:
            return


def init_main(p: Any) -> Any:
    yield from p.sigaction(c.SIGCHLD, _reap, c.SA_RESTART)
    while True:
        with contextlib.suppress(SyscallError):
            yield from p.pause()
