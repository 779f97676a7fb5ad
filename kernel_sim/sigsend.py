"""Sending signals (Linux ``kernel/signal.c``): permission checks, queueing, stop/continue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.caps import CAP_KILL
from kernel_sim.errors import SyscallError, TaskExit
from kernel_sim.signals import Action, default_action
from kernel_sim.task import w_exitcode

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process
    from kernel_sim.task import Task

_STOP_SIGS = frozenset({c.SIGSTOP, c.SIGTSTP, c.SIGTTIN, c.SIGTTOU})


class SignalMixin:
    def sig_default_ignored(self: Kernel, sig: int) -> bool:
        return default_action(sig) == Action.IGN

    def pgrp_orphaned(self: Kernel, pgid: int) -> bool:
        """``will_become_orphaned_pgrp``: no live member has a parent in another group of
        the same session (init as parent does not count).  Processes started by
        :meth:`Kernel.spawn` lead their own session, so their groups are orphaned."""
        for p in self.processes.values():
            if p.pgid != pgid or p.exit_status is not None:
                continue
            parent = p.parent
            if (parent is not None and parent is not self.init and parent.pgid != pgid
                    and parent.sid == p.sid):
                return False
        return True

    def _sig_ignored(self: Kernel, proc: Process, sig: int) -> bool:
        if sig in (c.SIGKILL, c.SIGSTOP) or proc.ptracer is not None:
            return False
        act = proc.sighand.get(sig)
        handler = act.handler if act is not None else c.SIG_DFL
        if handler == c.SIG_IGN:
            return True
        return handler == c.SIG_DFL and default_action(sig) == Action.IGN

    def _kill_ok_by_cred(self: Kernel, sender: Task, target: Task) -> bool:
        cred, tcred = sender.cred, target.cred
        if cred.euid in (tcred.suid, tcred.uid) or cred.uid in (tcred.suid, tcred.uid):
            return True
        return self.capable(sender, CAP_KILL)

    def check_kill_permission(self: Kernel, sender: Task, proc: Process, sig: int) -> int:
        """DAC (same uid or CAP_KILL; SIGCONT within a session), then ``task_kill``."""
        target = proc.task0
        assert target is not None
        if proc is not sender.process and not self._kill_ok_by_cred(sender, target):
            if not (sig == c.SIGCONT and proc.sid == sender.process.sid):
                return -c.EPERM
        return self.security.task_kill(target, None, sig, None)

    def _kill_one(self: Kernel, sender: Task, proc: Process, sig: int) -> int:
        rc = self.check_kill_permission(sender, proc, sig)
        if rc or sig == 0:
            return rc
        self.send_signal(proc, sig)
        return 0

    def do_kill(self: Kernel, sender: Task, pid: int, sig: int) -> int:
        if not 0 <= sig < c.NSIG:
            raise SyscallError(c.EINVAL)
        if pid > 0:
            proc = self.processes.get(pid)
            if proc is None or proc.task0 is None:
                raise SyscallError(c.ESRCH)
            rc = self._kill_one(sender, proc, sig)
            if rc:
                raise SyscallError(-rc)
            return 0
        if pid == -1:
            # every process but init and ourselves; EPERM is ignored, the last other
            # result wins (so an LSM's EACCES can surface depending on the order)
            result, found = 0, False
            for proc in sorted(self.processes.values(), key=lambda p: p.pid):
                # zombies count until reaped (for_each_process still lists them)
                if proc.pid == 1 or proc is sender.process or proc.task0 is None:
                    continue
                found = True
                rc = self._kill_one(sender, proc, sig)
                if rc != -c.EPERM:
                    result = rc
            if not found:
                raise SyscallError(c.ESRCH)
            if result:
                raise SyscallError(-result)
            return 0
        pgid = sender.process.pgid if pid == 0 else -pid
        members = [p for p in sorted(self.processes.values(), key=lambda p: p.pid)
                   if p.pgid == pgid and p.task0 is not None]  # zombies stay in the group
        if not members:
            raise SyscallError(c.ESRCH)
        success, last = False, -c.ESRCH
        for proc in members:
            rc = self._kill_one(sender, proc, sig)
            if rc == 0:
                success = True
            else:
                last = rc
        if success:
            return 0
        raise SyscallError(-last)

    def do_tkill(self: Kernel, sender: Task, tgid: int, tid: int, sig: int) -> int:
        if not 0 <= sig < c.NSIG or tid <= 0:
            raise SyscallError(c.EINVAL)
        target = self.tasks.get(tid)
        if target is None or (tgid > 0 and target.process.pid != tgid):
            raise SyscallError(c.ESRCH)
        rc = self.check_kill_permission(sender, target.process, sig)
        if rc:
            raise SyscallError(-rc)
        if sig:
            self.send_signal(target.process, sig, thread=target)
        return 0

    def send_signal(self: Kernel, proc: Process, sig: int, thread: Task | None = None,
                    kernel: bool = False) -> None:
        """Queue ``sig`` (no permission check; ``kernel`` marks kernel-generated signals)."""
        if proc.exit_status is not None or proc.group_exit is not None:
            return
        if sig in _STOP_SIGS:
            _discard(proc, {c.SIGCONT})
        elif sig == c.SIGCONT:
            _discard(proc, _STOP_SIGS)
            if proc.stopped and proc.ptracer is None:
                proc.stopped = False
                proc.stop_report = None
                proc.cont_report = True
                proc.cont_wait.wake_all()
                if proc.parent is not None:
                    proc.parent.child_wait.wake_all()
        if sig == c.SIGKILL and proc.stopped:
            proc.stopped = False
            proc.cont_wait.wake_all()
        if self._sig_ignored(proc, sig):
            return
        queue = thread.pending if thread is not None else proc.shared_pending
        if sig < c.SIGRTMIN and sig in queue:
            return  # standard signals do not queue twice
        queue.append(sig)
        # complete_signal: a fatal default action takes the whole group down now
        act = proc.sighand.get(sig)
        fatal = sig == c.SIGKILL or (
            (act is None or act.handler == c.SIG_DFL)
            and default_action(sig) in (Action.TERM, Action.CORE)
        )
        if thread is not None:
            thread.wake_for_signal()
            return
        if fatal:
            unblocked = [t for t in proc.threads if sig == c.SIGKILL or sig not in t.blocked]
            if (unblocked and proc.stopped and proc.ptracer is None
                    and default_action(sig) != Action.CORE):
                # complete_signal turns it into a group exit: a stopped group dies now
                # (a core-dumping signal waits for SIGCONT)
                proc.stopped = False
                proc.cont_wait.wake_all()
            for t in unblocked:
                t.wake_for_signal()
            return
        for t in proc.threads:
            if sig not in t.blocked:
                t.wake_for_signal()
                return

    def force_sig(self: Kernel, task: Task, sig: int) -> None:
        """A kernel-generated, thread-directed signal (SIGPIPE, SIGSEGV): never mediated."""
        proc = task.process
        act = proc.sighand.get(sig)
        if sig in task.blocked or (act is not None and act.handler == c.SIG_IGN):
            if sig not in (c.SIGPIPE,):
                proc.sighand.pop(sig, None)
                task.blocked.discard(sig)
        self.send_signal(proc, sig, thread=task, kernel=True)

    def fault(self: Kernel, task: Task, sig: int) -> Any:
        """A memory fault: the process dies with ``sig`` and a core dump.

        Deliberate difference: Linux would run a handler for SIGSEGV and retry the access;
        simulated memory accesses are not restartable, so the default action is taken.
        """
        self.do_group_exit(task.process, w_exitcode(0, sig, core=task.process.dumpable))
        raise TaskExit(task.process.group_exit or 0)

    def do_notify_parent_cldstop(self: Kernel, parent: Process) -> None:
        """Tell the process waiting on a stopped child (its parent or tracer): SIGCHLD
        unless that process set SA_NOCLDSTOP, and a wake-up for its wait calls."""
        act = parent.sighand.get(c.SIGCHLD)
        if not (act is not None and act.flags & c.SA_NOCLDSTOP):
            self.send_signal(parent, c.SIGCHLD, kernel=True)
        parent.child_wait.wake_all()

    def stay_stopped(self: Kernel, task: Task) -> Any:
        """Generator: sleep while the thread group is stopped (until SIGCONT, a tracer's
        resume, SIGKILL or a group exit); a signal only re-checks."""
        import simpy

        proc = task.process
        while proc.stopped and proc.group_exit is None and not task.killed:
            ev = proc.cont_wait.prepare()
            task.sleeping = True
            try:
                yield ev
            except simpy.Interrupt:
                pass
            finally:
                task.sleeping = False
        self.security.current = task

    def do_signal_stop(self: Kernel, task: Task, sig: int) -> Any:
        """Generator: stop the thread group until SIGCONT, SIGKILL or a tracer resumes it."""
        proc = task.process
        if not proc.stopped:
            proc.stopped = True
            proc.stop_report = sig
            proc.cont_report = False
            if proc.parent is not None:
                self.do_notify_parent_cldstop(proc.parent)
            if proc.ptracer is not None:
                proc.ptracer.process.child_wait.wake_all()
        yield from self.stay_stopped(task)


def _discard(proc: Process, sigs: frozenset[int] | set[int]) -> None:
    proc.shared_pending[:] = [s for s in proc.shared_pending if s not in sigs]
    for t in proc.threads:
        t.pending[:] = [s for s in t.pending if s not in sigs]
