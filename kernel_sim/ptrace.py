"""ptrace: attach, peek, poke, continue, detach (Linux ``kernel/ptrace.c``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.caps import CAP_SYS_PTRACE
from kernel_sim.errors import SyscallError

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process
    from kernel_sim.task import Task

WORD = 8


class PtraceMixin:
    def ptrace_may_access(self: Kernel, tracer: Task, proc: Process, mode: int) -> int:
        """``__ptrace_may_access``: same group, or matching uids/gids, or CAP_SYS_PTRACE;
        a non-dumpable target needs CAP_SYS_PTRACE; then the LSMs."""
        target = proc.task0
        if target is None:
            return -c.ESRCH
        if proc is tracer.process:
            return 0
        cred, tcred = tracer.cred, target.cred
        if mode & c.PTRACE_MODE_FSCREDS:
            uid, gid = cred.fsuid, cred.fsgid
        else:
            uid, gid = cred.uid, cred.gid
        opts = 2 if mode & c.PTRACE_MODE_NOAUDIT else 0
        same = (uid == tcred.euid == tcred.suid == tcred.uid
                and gid == tcred.egid == tcred.sgid == tcred.gid)
        has_cap: bool | None = None
        if not same:
            has_cap = self.capable(tracer, CAP_SYS_PTRACE, opts)
            if not has_cap:
                return -c.EPERM
        if not proc.dumpable:
            if has_cap is None:
                has_cap = self.capable(tracer, CAP_SYS_PTRACE, opts)
            if not has_cap:
                return -c.EPERM
        return self.security.ptrace_access_check(target, mode)

    def _tracee(self: Kernel, tracer: Task, pid: int) -> Process:
        proc = self.processes.get(pid)
        if (proc is None or proc.ptracer is None or proc.ptracer.process is not tracer.process
                or proc.exit_status is not None):
            raise SyscallError(c.ESRCH)
        return proc

    def _resume(self: Kernel, proc: Process) -> None:
        proc.stopped = False
        proc.stop_report = None
        proc.cont_wait.wake_all()

    def ptrace_signal_stop(self: Kernel, task: Task, sig: int) -> Any:
        """Generator: a signal-delivery-stop (``ptrace_signal``).  Every signal but SIGKILL
        stops a tracee and is reported to the tracer, whose PTRACE_CONT/PTRACE_DETACH
        ``data`` is the signal then delivered (0: suppressed).  Returns that signal."""
        proc = task.process
        tracer = proc.ptracer
        assert tracer is not None
        proc.stopped = True
        proc.stop_report = sig
        proc.ptrace_resume = 0
        self.do_notify_parent_cldstop(tracer.process)
        yield from self.stay_stopped(task)
        resumed = proc.ptrace_resume or 0
        proc.ptrace_resume = None
        return resumed

    def do_ptrace(self: Kernel, tracer: Task, request: int, pid: int, addr: int,
                  data: Any) -> Any:
        if request == c.PTRACE_TRACEME:
            proc = tracer.process
            parent = proc.parent
            if proc.ptracer is not None or parent is None or parent.task0 is None:
                raise SyscallError(c.EPERM)
            rc = self.security.ptrace_traceme(parent.task0)
            if rc:
                raise SyscallError(-rc)
            proc.ptracer = parent.task0
            return 0
        if request in (c.PTRACE_ATTACH, c.PTRACE_SEIZE):
            found = self.processes.get(pid)
            if found is None or found.task0 is None:
                raise SyscallError(c.ESRCH)
            proc = found
            if proc is tracer.process:
                raise SyscallError(c.EPERM)
            rc = self.ptrace_may_access(tracer, proc,
                                        c.PTRACE_MODE_ATTACH | c.PTRACE_MODE_REALCREDS)
            if rc:
                raise SyscallError(-rc)
            # ptrace_attach tests exit_state and an existing tracer after the access check
            if proc.exit_status is not None or proc.ptracer is not None:
                raise SyscallError(c.EPERM)
            proc.ptracer = tracer
            if request == c.PTRACE_ATTACH:
                self.send_signal(proc, c.SIGSTOP, kernel=True)
            return 0
        proc = self._tracee(tracer, pid)
        if request == c.PTRACE_KILL:
            self.send_signal(proc, c.SIGKILL, kernel=True)
            return 0
        if not proc.stopped:
            raise SyscallError(c.ESRCH)  # ptrace_check_attach: only PTRACE_KILL skips this
        if request in (c.PTRACE_DETACH, c.PTRACE_CONT):
            if data and not 0 < int(data) < c.NSIG:
                raise SyscallError(c.EIO)  # ptrace_resume: !valid_signal(data)
            if request == c.PTRACE_DETACH:
                proc.ptracer = None
            if proc.ptrace_resume is not None:
                proc.ptrace_resume = int(data)  # delivered (or not) by the waking tracee
            elif data:
                self.send_signal(proc, int(data), kernel=True)
            self._resume(proc)
            return 0
        if request in (c.PTRACE_PEEKDATA, c.PTRACE_PEEKTEXT):
            m = proc.mm.find(addr)
            if m is None or addr + WORD > m.start + m.size:
                raise SyscallError(c.EIO)
            base = addr - m.start + m.offset
            raw = bytes(m.backing[base:base + WORD]).ljust(WORD, b"\0")
            return int.from_bytes(raw, "little")
        if request in (c.PTRACE_POKEDATA, c.PTRACE_POKETEXT):
            m = proc.mm.find(addr)
            if m is None or addr + WORD > m.start + m.size:
                raise SyscallError(c.EIO)
            base = addr - m.start + m.offset
            if len(m.backing) < base + WORD:
                m.backing.extend(bytes(base + WORD - len(m.backing)))
            m.backing[base:base + WORD] = (int(data) & (2**64 - 1)).to_bytes(WORD, "little")
            return 0
        raise SyscallError(c.EIO)
        yield
