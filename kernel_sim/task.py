"""Tasks (threads): credentials, sleeping, signal delivery and exit.

A task runs a *program*: a generator function ``prog(p, *args)`` that makes system calls with
``yield from p.NAME(...)``.  The task object is ``p``.  System calls live in the mixins of
:mod:`kernel_sim.syscalls`; this module holds what every syscall relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from kernel_sim import constants as c
from kernel_sim.errors import TaskExit
from kernel_sim.signals import Action, default_action
from kernel_sim.syscall import Interrupted, NewProgram
from kernel_sim.syscalls.fs import FileSyscalls
from kernel_sim.syscalls.ipc import IpcSyscalls
from kernel_sim.syscalls.net import NetSyscalls
from kernel_sim.syscalls.posix import PosixIpcSyscalls
from kernel_sim.syscalls.proc import ProcessSyscalls
from kernel_sim.syscalls.thread import ThreadSyscalls

if TYPE_CHECKING:
    from kernel_sim.cred import Cred
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process

Program = Callable[..., Generator[Any, Any, Any]]


def w_exitcode(code: int, sig: int = 0, core: bool = False) -> int:
    """Linux's wait status encoding (decode with ``os.WIFEXITED`` & co)."""
    return ((code & 0xFF) << 8) | (sig & 0x7F) | (0x80 if core else 0)


class Exec(NewProgram):
    def __init__(self, prog: Program, argv: list[Any]) -> None:
        super().__init__()
        self.prog = prog
        self.argv = argv


class Task(ProcessSyscalls, FileSyscalls, IpcSyscalls, PosixIpcSyscalls, NetSyscalls,
           ThreadSyscalls):
    """A schedulable thread.  ``p.pid`` is the thread group id, ``p.tid`` its own id."""

    __slots__ = ("audit_names", "audit_pending", "blocked", "comm", "cred", "in_syscall",
                 "kernel", "killed", "pending", "process", "sc_entry", "security", "sim",
                 "sleeping", "tid")

    def __init__(self, kernel: Kernel, tid: int, process: Process, cred: Cred, comm: str):
        self.kernel = kernel
        self.tid = tid
        self.process = process
        self.cred = cred
        self.comm = comm
        self.security: list[Any] = kernel.security.alloc_blob("task")
        self.pending: list[int] = []
        self.blocked: set[int] = set()
        self.sleeping = False
        self.killed = False  # another thread exec'd: this one dies at its next check
        self.in_syscall: str | None = None
        #: audit bookkeeping kept by the kernel, read by the audit sink only when it logs:
        #: the current syscall's number (generation) and entry time, and whether it logged
        self.sc_entry = 0.0
        self.audit_pending = False
        #: names the running syscall resolved, for audit PATH records (see namei.audit_name)
        self.audit_names: list[Any] | None = None
        self.sim: simpy.Process | None = None

    # -- identity ------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.process.pid

    def __repr__(self) -> str:
        return f"<task {self.comm} pid={self.pid} tid={self.tid}>"

    # -- sleeping --------------------------------------------------------------------------------
    def sleep(self, event: simpy.Event) -> Generator[Any, Any, Any]:
        """Sleep interruptibly until ``event``; a signal raises :class:`Interrupted`."""
        if self.process.group_exit is not None or self.killed or self.has_pending():
            raise Interrupted
        self.sleeping = True
        try:
            return (yield event)
        except simpy.Interrupt:
            raise Interrupted from None
        finally:
            self.sleeping = False
            self.kernel.security.current = self

    def sleep_for(self, event: simpy.Event, timeout: float | None) -> Generator[Any, Any, bool]:
        """Sleep until ``event`` or for ``timeout`` seconds (None: no limit); True if the
        event came.  (SimPy cannot cancel the timer: it still fires, into nothing.)"""
        if timeout is None:
            yield from self.sleep(event)
            return True
        env = self.kernel.env
        yield from self.sleep(env.any_of([event, env.timeout(timeout)]))
        return bool(event.triggered)

    def wake_for_signal(self) -> None:
        """``signal_wake_up``: interrupt an interruptible sleep (once)."""
        if self.sleeping and self.sim is not None and self.sim.is_alive:
            self.sleeping = False
            self.sim.interrupt("signal")

    # -- signals ---------------------------------------------------------------------------------
    def has_pending(self) -> bool:
        if self.pending:
            for s in self.pending:
                if s not in self.blocked:
                    return True
        shared = self.process.shared_pending
        if shared:
            for s in shared:
                if s not in self.blocked:
                    return True
        return False

    def _dequeue_signal(self) -> int:
        for queue in (self.pending, self.process.shared_pending):
            if not queue:
                continue
            best = None
            for s in queue:
                if s in self.blocked:
                    continue
                if best is None or s < best:
                    best = s
            if best is not None:
                queue.remove(best)
                return best
        return 0

    def handle_signals(self) -> Generator[Any, Any, tuple[bool, bool]]:
        """``do_signal``: act on every deliverable signal.  Returns (handler_ran, all_restart)."""
        handled = False
        all_restart = True
        proc = self.process
        while True:
            if proc.group_exit is not None or self.killed:
                raise TaskExit(proc.group_exit or 0)
            sig = self._dequeue_signal()
            if not sig:
                return handled, all_restart
            if sig == c.SIGKILL:
                self.kernel.do_group_exit(proc, w_exitcode(0, c.SIGKILL))
                raise TaskExit(proc.group_exit or 0)
            if proc.ptracer is not None:
                # ptrace_signal: the tracer sees the signal first and picks what is delivered
                sig = yield from self.kernel.ptrace_signal_stop(self, sig)
                if not sig:
                    continue
            act = proc.sighand.get(sig)
            handler = act.handler if act is not None else c.SIG_DFL
            if handler == c.SIG_IGN:
                continue
            if handler == c.SIG_DFL:
                action = default_action(sig)
                if action in (Action.IGN, Action.CONT):
                    continue
                if action == Action.STOP:
                    # SIGTSTP/SIGTTIN/SIGTTOU are discarded in an orphaned process group
                    if sig == c.SIGSTOP or not self.kernel.pgrp_orphaned(proc.pgid):
                        yield from self.kernel.do_signal_stop(self, sig)
                    continue
                # do_coredump: a non-dumpable (set-id, privilege-dropped) process leaves no
                # core; RLIMIT_CORE is not consulted, as with a piped core_pattern
                # (systemd-coredump, apport), which ignores it
                core = action == Action.CORE and proc.dumpable
                self.kernel.do_group_exit(proc, w_exitcode(0, sig, core))
                raise TaskExit(proc.group_exit or 0)
            # a user handler runs in this task, with the signal blocked meanwhile
            assert act is not None
            handled = True
            if not act.flags & c.SA_RESTART:
                all_restart = False
            if act.flags & c.SA_RESETHAND:
                proc.sighand.pop(sig, None)
            added = sig not in self.blocked and not act.flags & c.SA_NODEFER
            if added:
                self.blocked.add(sig)
            try:
                yield from handler(self, sig)  # type: ignore[operator]  # a generator function
            finally:
                if added:
                    self.blocked.discard(sig)
                self.kernel.security.current = self

    # -- memory (plain accesses: no system call, no hook) -------------------------------------
    def mem_read(self, addr: int, offset: int, n: int) -> bytes:
        """Read ``n`` bytes at ``addr + offset`` of a mapping; a bad address is SIGSEGV."""
        m = self.process.mm.find(addr)
        if m is None or offset < 0 or n < 0 or addr - m.start + offset + n > m.size:
            self.kernel.fault(self, c.SIGSEGV)
        assert m is not None
        if not m.prot & c.PROT_READ:
            self.kernel.fault(self, c.SIGSEGV)
        base = addr - m.start + offset + m.offset
        self.kernel.flow is None or self.kernel.flow.mem_read(self, m, m.backing[base:base + n])
        return bytes(m.backing[base:base + n])

    def mem_write(self, addr: int, offset: int, data: bytes) -> int:
        """Write ``data`` at ``addr + offset``; a read-only mapping faults with SIGSEGV."""
        m = self.process.mm.find(addr)
        n = len(data)
        if m is None or offset < 0 or addr - m.start + offset + n > m.size:
            self.kernel.fault(self, c.SIGSEGV)
        assert m is not None
        if not m.prot & c.PROT_WRITE:
            self.kernel.fault(self, c.SIGSEGV)
        if m.file is not None and not m.shared:
            m.cow = True  # the private copy now differs from the file
        base = addr - m.start + offset + m.offset
        backing = m.backing
        if len(backing) < base + n:
            backing.extend(bytes(base + n - len(backing)))
        backing[base:base + n] = data
        return n
