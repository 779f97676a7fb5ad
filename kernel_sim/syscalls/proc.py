"""Process system calls: identity, fork/exec/exit/wait, signals, ptrace, LSM attributes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim import rlimit
from kernel_sim.caps import CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SYS_NICE, CAP_SYS_PTRACE
from kernel_sim.errors import SyscallError, TaskExit
from kernel_sim.syscall import RESTART_NOHAND, RESTART_SYS, Interrupted, syscall

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process
    from kernel_sim.task import Task


def _err(e: int) -> SyscallError:
    return SyscallError(e)


def _pair(limits: Any) -> tuple[Any, Any]:
    try:
        soft, hard = limits
    except (TypeError, ValueError):
        raise SyscallError(c.EFAULT) from None
    return soft, hard


def check_hook(rc: int) -> None:
    """Fail the syscall with an LSM hook's -errno."""
    if rc:
        raise SyscallError(-rc)


class ProcessSyscalls:
    __slots__ = ()
    kernel: Kernel
    process: Process

    # -- identity ----------------------------------------------------------------------------
    @syscall
    def getpid(self: Task) -> Any:
        return self.process.pid
        yield

    @syscall
    def getppid(self: Task) -> Any:
        parent = self.process.parent
        return parent.pid if parent is not None else 0
        yield

    @syscall
    def gettid(self: Task) -> Any:
        return self.tid
        yield

    @syscall
    def getuid(self: Task) -> Any:
        return self.cred.uid
        yield

    @syscall
    def geteuid(self: Task) -> Any:
        return self.cred.euid
        yield

    @syscall
    def getgid(self: Task) -> Any:
        return self.cred.gid
        yield

    @syscall
    def getegid(self: Task) -> Any:
        return self.cred.egid
        yield

    @syscall
    def capget(self: Task, pid: int = 0) -> Any:
        """capget(2) -> (effective, permitted, inheritable) bit masks of a process (the
        ``capget`` hook decides whether the caller may see them)."""
        if type(pid) is not int or pid < 0:
            raise _err(c.EINVAL)
        target = self.process.task0 if pid == 0 else None
        if pid:
            proc = self.kernel.processes.get(pid)
            if proc is None or proc.task0 is None:
                raise _err(c.ESRCH)
            target = proc.task0
        assert target is not None
        cred = target.cred
        check_hook(self.kernel.security.capget(target, cred.cap_effective,
                                               cred.cap_inheritable, cred.cap_permitted))
        return cred.cap_effective, cred.cap_permitted, cred.cap_inheritable
        yield

    @syscall
    def capset(self: Task, effective: int, permitted: int, inheritable: int) -> Any:
        """capset(2) on the caller (another pid is EPERM on Linux): permitted may only
        shrink, effective must stay within it, inheritable needs CAP_SETPCAP to grow past
        the permitted set (cap_capset); then the ``capset`` hook."""
        k = self.kernel
        old = self.cred
        new = k.prepare_creds(self)
        check_hook(k.security.capset(new, old, effective, inheritable, permitted))
        new.cap_effective, new.cap_permitted, new.cap_inheritable = (
            effective, permitted, inheritable)
        k.commit_creds(self, new)
        return 0
        yield

    @syscall
    def setuid(self: Task, uid: int) -> Any:
        """setuid(2): with CAP_SETUID set every uid, else only the effective one (to r/s uid)."""
        k = self.kernel
        old = self.cred
        new = k.prepare_creds(self)
        if k.capable(self, CAP_SETUID):
            new.uid = new.euid = new.suid = new.fsuid = uid
        elif uid in (old.uid, old.suid):
            new.euid = new.fsuid = uid
        else:
            raise _err(c.EPERM)
        rc = k.security.task_fix_setuid(new, old, 0)
        if rc:
            raise _err(-rc)
        k.commit_creds(self, new)
        return 0
        yield

    @syscall
    def setgid(self: Task, gid: int) -> Any:
        k = self.kernel
        old = self.cred
        new = k.prepare_creds(self)
        if k.capable(self, CAP_SETGID):
            new.gid = new.egid = new.sgid = new.fsgid = gid
        elif gid in (old.gid, old.sgid):
            new.egid = new.fsgid = gid
        else:
            raise _err(c.EPERM)
        rc = k.security.task_fix_setgid(new, old, 0)
        if rc:
            raise _err(-rc)
        k.commit_creds(self, new)
        return 0
        yield

    # -- lifecycle ---------------------------------------------------------------------------
    @syscall
    def fork(self: Task, child_prog: Callable[..., Any], *args: Any) -> Any:
        """fork(): the child runs ``child_prog(p, *args)`` with copies of our state."""
        return self.kernel.do_fork(self, child_prog, args, thread=False)
        yield

    @syscall
    def clone_thread(self: Task, fn: Callable[..., Any], *args: Any) -> Any:
        """clone(CLONE_VM|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD): returns the new tid."""
        return self.kernel.do_fork(self, fn, args, thread=True)
        yield

    @syscall
    def execve(self: Task, path: str, argv: list[Any] | None = None,
               envp: dict[str, str] | None = None) -> Any:
        """Replace the program; returns only on failure."""
        yield from self.kernel.do_execve(self, path, list(argv or [path]), envp or {})

    @syscall
    def exit(self: Task, status: int = 0) -> Any:
        """exit(3)/exit_group(2): end every thread of the process with ``status``."""
        self.kernel.do_group_exit(self.process, (status & 0xFF) << 8)
        raise TaskExit(self.process.group_exit or 0)
        yield

    @syscall(restart=RESTART_SYS)
    def waitpid(self: Task, pid: int, options: int = 0) -> Any:
        """waitpid(2) -> (pid, status); (0, 0) with WNOHANG when no child is ready."""
        return (yield from self.kernel.do_wait(self, pid, options))

    # -- process groups and sessions ----------------------------------------------------------
    def _find_process(self: Task, pid: int) -> Process:
        """``find_task_by_vpid`` for the group/session calls: 0 is the caller; a zombie that
        is not reaped yet is still found."""
        if type(pid) is not int:
            raise _err(c.EINVAL)
        if pid == 0:
            return self.process
        proc = self.kernel.processes.get(pid)
        if proc is None or proc.task0 is None:
            raise _err(c.ESRCH)
        return proc

    @syscall
    def setpgid(self: Task, pid: int, pgid: int) -> Any:
        """``setpgid(2)``: the caller or a child of it, in the caller's session, joins or
        founds a process group there; a child that has exec'd is out of reach (EACCES)."""
        if type(pgid) is not int or pgid < 0:
            raise _err(c.EINVAL)
        me = self.process
        p = self._find_process(pid)
        pgid = pgid or p.pid
        if p is not me:
            if p.parent is not me:
                raise _err(c.ESRCH)
            if p.sid != me.sid:
                raise _err(c.EPERM)
            if p.exec_done:
                raise _err(c.EACCES)
        if p.sid == p.pid:  # a session leader keeps its group
            raise _err(c.EPERM)
        if pgid != p.pid and not any(q.pgid == pgid and q.sid == me.sid and q.task0 is not None
                                     for q in self.kernel.processes.values()):
            raise _err(c.EPERM)  # no such group in the caller's session
        check_hook(self.kernel.security.task_setpgid(p.task0, pgid))
        p.pgid = pgid
        return 0
        yield

    @syscall
    def getpgid(self: Task, pid: int = 0) -> Any:
        """``getpgid(2)`` (``task_getpgid`` for another process)."""
        p = self._find_process(pid)
        if pid:
            check_hook(self.kernel.security.task_getpgid(p.task0))
        return p.pgid
        yield

    @syscall
    def getpgrp(self: Task) -> Any:
        return self.process.pgid
        yield

    @syscall
    def setsid(self: Task) -> Any:
        """``setsid(2)``: a process that leads no group starts a session and a group named
        after itself (no LSM hook, as in Linux)."""
        me = self.process
        if me.pgid == me.pid or any(q.pgid == me.pid and q.task0 is not None
                                    for q in self.kernel.processes.values()):
            raise _err(c.EPERM)
        me.sid = me.pgid = me.pid
        return me.sid
        yield

    @syscall
    def getsid(self: Task, pid: int = 0) -> Any:
        """``getsid(2)`` (``task_getsid`` for another process)."""
        p = self._find_process(pid)
        if pid:
            check_hook(self.kernel.security.task_getsid(p.task0))
        return p.sid
        yield

    # -- priority ----------------------------------------------------------------------------
    def _prio_targets(self: Task, which: int, who: int) -> list[Process]:
        if type(which) is not int or type(who) is not int or which not in (0, 1, 2):
            raise _err(c.EINVAL)
        procs = [p for p in self.kernel.processes.values()
                 if p.task0 is not None and p.exit_status is None]
        if which == 0:  # PRIO_PROCESS
            pid = who or self.process.pid
            return [p for p in procs if p.pid == pid]
        if which == 1:  # PRIO_PGRP
            pgid = who or self.process.pgid
            return [p for p in procs if p.pgid == pgid]
        uid = who or self.cred.uid  # PRIO_USER
        return [p for p in procs if p.task0 is not None and p.task0.cred.uid == uid]

    @syscall
    def setpriority(self: Task, which: int, who: int, nice: int) -> Any:
        """setpriority(2) as Python's ``os.setpriority``: each target needs the caller's
        euid to be its uid or euid (else EPERM) unless CAP_SYS_NICE; lowering a nice value
        needs RLIMIT_NICE room or CAP_SYS_NICE (EACCES); then ``task_setnice``."""
        targets = self._prio_targets(which, who)
        if type(nice) is not int:
            raise _err(c.EINVAL)
        nice = min(max(nice, -20), 19)
        k = self.kernel
        error = c.ESRCH
        for p in targets:
            assert p.task0 is not None
            pcred = p.task0.cred
            if self.cred.euid not in (pcred.uid, pcred.euid) and not k.capable(
                    self, CAP_SYS_NICE):
                error = c.EPERM
                continue
            if nice < p.nice and not (20 - nice <= rlimit.task_rlimit(p, c.RLIMIT_NICE)
                                      or k.capable(self, CAP_SYS_NICE)):
                error = c.EACCES
                continue
            rc = k.security.task_setnice(p.task0, nice)
            if rc:
                error = -rc
                continue
            if error == c.ESRCH:
                error = 0
            p.nice = nice
        if error:
            raise _err(error)
        return 0
        yield

    @syscall
    def getpriority(self: Task, which: int, who: int) -> Any:
        """getpriority(2) as Python's ``os.getpriority``: the lowest nice value among the
        targets (no LSM hook, as Linux)."""
        targets = self._prio_targets(which, who)
        if not targets:
            raise _err(c.ESRCH)
        return min(p.nice for p in targets)
        yield

    # -- resource limits ---------------------------------------------------------------------
    @syscall
    def getrlimit(self: Task, resource: int) -> Any:
        """``getrlimit(2)`` -> (soft, hard); ``RLIM_INFINITY`` (-1) for no limit."""
        soft, hard = rlimit.do_prlimit(self, self.process, resource, None)
        return rlimit.to_user(soft), rlimit.to_user(hard)
        yield

    @syscall
    def setrlimit(self: Task, resource: int, limits: tuple[int, int]) -> Any:
        """``setrlimit(2)``: raising the hard limit needs CAP_SYS_RESOURCE."""
        rlimit.do_prlimit(self, self.process, resource, _pair(limits))
        return 0
        yield

    @syscall
    def prlimit(self: Task, pid: int, resource: int,
                limits: tuple[int, int] | None = None) -> Any:
        """``prlimit(2)`` as Python's ``resource.prlimit``: the old (soft, hard), setting new
        ones if given; another process needs matching ids or CAP_SYS_RESOURCE, and the
        ``task_prlimit`` hook."""
        new = _pair(limits) if limits is not None else None
        target = self._find_process(pid)
        flags = rlimit.LSM_PRLIMIT_READ | (rlimit.LSM_PRLIMIT_WRITE if new is not None else 0)
        rlimit.check_prlimit_permission(self, target, flags)
        soft, hard = rlimit.do_prlimit(self, target, resource, new)
        return rlimit.to_user(soft), rlimit.to_user(hard)
        yield

    # -- signals -----------------------------------------------------------------------------
    @syscall
    def kill(self: Task, pid: int, sig: int) -> Any:
        return self.kernel.do_kill(self, pid, sig)
        yield

    @syscall
    def tgkill(self: Task, tgid: int, tid: int, sig: int) -> Any:
        return self.kernel.do_tkill(self, tgid, tid, sig)
        yield

    @syscall
    def sigaction(self: Task, sig: int, handler: Any, flags: int = 0) -> Any:
        """Install ``handler`` (SIG_DFL, SIG_IGN or ``handler(p, sig)``); returns the old one."""
        from kernel_sim.process import SigAction

        if not 1 <= sig < c.NSIG or sig in (c.SIGKILL, c.SIGSTOP):
            raise _err(c.EINVAL)
        if handler not in (c.SIG_DFL, c.SIG_IGN) and not callable(handler):
            raise _err(c.EFAULT)
        proc = self.process
        old = proc.sighand.get(sig)
        if handler == c.SIG_DFL and not flags:
            proc.sighand.pop(sig, None)
        else:
            proc.sighand[sig] = SigAction(handler, flags)
        if handler == c.SIG_IGN or (handler == c.SIG_DFL and self.kernel.sig_default_ignored(sig)):
            # POSIX: setting a pending signal to be ignored discards it
            for t in proc.threads:
                t.pending[:] = [s for s in t.pending if s != sig]
            proc.shared_pending[:] = [s for s in proc.shared_pending if s != sig]
        return old.handler if old is not None else c.SIG_DFL
        yield

    @syscall
    def sigprocmask(self: Task, how: int, sigset: set[int] | None = None) -> Any:
        """how: 0 SIG_BLOCK, 1 SIG_UNBLOCK, 2 SIG_SETMASK; returns the old mask."""
        old = set(self.blocked)
        if sigset is not None:
            s = {x for x in sigset if x not in (c.SIGKILL, c.SIGSTOP)}
            if how == 0:
                self.blocked |= s
            elif how == 1:
                self.blocked -= s
            elif how == 2:
                self.blocked = s
            else:
                raise _err(c.EINVAL)
        return old
        yield

    @syscall(restart=RESTART_NOHAND)
    def pause(self: Task) -> Any:
        """Sleep until a signal handler runs; then fail with EINTR, as pause(2) always does."""
        while True:
            yield from self.sleep(self.kernel.env.event())

    @syscall(restart=RESTART_NOHAND)
    def nanosleep(self: Task, seconds: float) -> Any:
        if seconds < 0:
            raise _err(c.EINVAL)
        env = self.kernel.env
        deadline = env.now + seconds
        while env.now < deadline:
            try:
                yield from self.sleep(env.timeout(deadline - env.now))
            except Interrupted:
                handled, _ = yield from self.handle_signals()
                if handled:
                    raise _err(c.EINTR) from None
        return 0

    # -- ptrace --------------------------------------------------------------------------------
    @syscall
    def ptrace(self: Task, request: int, pid: int = 0, addr: int = 0, data: Any = 0) -> Any:
        return (yield from self.kernel.do_ptrace(self, request, pid, addr, data))

    # -- LSM attributes (/proc/PID/attr/*) -------------------------------------------------------
    def _getattr(self: Task, target: Task, name: str) -> str:
        rc = self.kernel.security.getprocattr(target, name)
        if isinstance(rc, int):
            raise _err(-rc if rc < 0 else c.EINVAL)
        return rc

    def _setattr(self: Task, name: str, value: str | None) -> int:
        rc = self.kernel.security.setprocattr(name, value)
        if rc < 0:
            raise _err(-rc)
        return 0

    @syscall
    def getcon(self: Task) -> Any:
        return self._getattr(self, "current")
        yield

    @syscall
    def getprevcon(self: Task) -> Any:
        return self._getattr(self, "prev")
        yield

    @syscall
    def getpidcon(self: Task, pid: int) -> Any:
        proc = self.kernel.processes.get(pid)
        if proc is None or proc.leader is None:
            raise _err(c.ESRCH)
        return self._getattr(proc.leader, "current")
        yield

    @syscall
    def setcon(self: Task, context: str) -> Any:
        return self._setattr("current", context)
        yield

    @syscall
    def getexeccon(self: Task) -> Any:
        return self._getattr(self, "exec")
        yield

    @syscall
    def setexeccon(self: Task, context: str | None) -> Any:
        return self._setattr("exec", context)
        yield

    @syscall
    def setfscreatecon(self: Task, context: str | None) -> Any:
        return self._setattr("fscreate", context)
        yield

    @syscall
    def getfscreatecon(self: Task) -> Any:
        return self._getattr(self, "fscreate")
        yield

    @syscall
    def setsockcreatecon(self: Task, context: str | None) -> Any:
        return self._setattr("sockcreate", context)
        yield

    @syscall
    def getsockcreatecon(self: Task) -> Any:
        return self._getattr(self, "sockcreate")
        yield


def status_str(status: int) -> str:
    """Human form of a wait status, for traces and reports."""
    if os.WIFEXITED(status):
        return f"exited {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        from kernel_sim.signals import signame

        core = " (core dumped)" if os.WCOREDUMP(status) else ""
        return f"killed by {signame(os.WTERMSIG(status))}{core}"
    if os.WIFSTOPPED(status):
        return "stopped"
    return f"status {status:#x}"


__all__ = ["CAP_KILL", "CAP_SYS_PTRACE", "ProcessSyscalls", "status_str"]
