"""fork, exec, exit and wait (Linux ``kernel/fork.c``, ``fs/exec.c``, ``kernel/exit.c``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.process import AddressSpace, Process, SigAction
from kernel_sim.rlimit import nproc_exceeded
from kernel_sim.waitq import WaitQueue

if TYPE_CHECKING:
    from kernel_sim.cred import Cred
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File

CLONE_THREAD_FLAGS = c.CLONE_VM | c.CLONE_FS | c.CLONE_FILES | c.CLONE_SIGHAND | c.CLONE_THREAD


@define(slots=True, eq=False)
class Bprm:
    """``struct linux_binprm``: what an exec is about to become."""

    file: File
    filename: str
    cred: Cred
    argv: list[Any]
    envp: dict[str, str]
    task: Task
    unsafe: int = 0
    secureexec: bool = False
    #: set by an LSM: fds to replace with the null device at commit (fd -> reason)
    extra: dict[str, Any] = field(factory=dict)


_TEXT = c.PROT_READ | c.PROT_EXEC
_DATA = c.PROT_READ | c.PROT_WRITE


class LifecycleMixin:
    def do_fork(self: Kernel, task: Task, prog: Callable[..., Any], args: tuple[Any, ...],
                thread: bool) -> int:
        import inspect

        from kernel_sim.task import Task as TaskCls

        if not inspect.isgeneratorfunction(prog):
            raise SyscallError(c.EINVAL)
        parent = task.process
        if parent.group_exit is not None:
            raise SyscallError(c.EAGAIN)
        cred = self.prepare_creds(task)
        if nproc_exceeded(task):
            raise SyscallError(c.EAGAIN)
        if thread:
            child = TaskCls(self, 0, parent, cred, task.comm)
            rc = self.security.task_alloc(child, CLONE_THREAD_FLAGS)
            if rc:
                raise SyscallError(-rc)
            child.tid = self._alloc_pid()
            child.blocked = set(task.blocked)
            parent.threads.append(child)
            self.tasks[child.tid] = child
            child.sim = self.env.process(self._task_main(child, prog, args))
            return child.tid
        proc = Process(0, parent.comm, parent, parent.files, parent.mm, WaitQueue(self.env),
                       WaitQueue(self.env), pgid=parent.pgid, sid=parent.sid, cwd=parent.cwd,
                       umask=parent.umask, exe=parent.exe, cmdline=parent.cmdline,
                       exec_done=False, rlimits=list(parent.rlimits), nice=parent.nice)
        child = TaskCls(self, 0, proc, cred, task.comm)
        rc = self.security.task_alloc(child, 0)
        if rc:
            raise SyscallError(-rc)
        proc.files = parent.files.copy()
        proc.mm = parent.mm.copy_for_fork()
        proc.sighand = {s: SigAction(a.handler, a.flags) for s, a in parent.sighand.items()}
        proc.dumpable = parent.dumpable
        for handler in self.fork_handlers:
            handler(parent, proc)
        pid = self._alloc_pid()
        proc.pid = child.tid = pid
        child.blocked = set(task.blocked)
        proc.threads.append(child)
        proc.task0 = child
        parent.children.append(proc)
        self.processes[pid] = proc
        self.tasks[pid] = child
        child.sim = self.env.process(self._task_main(child, prog, args))
        return pid

    def do_execve(self: Kernel, task: Task, path: str, argv: list[Any],
                  envp: dict[str, str]) -> Any:
        """Generator: returns only by raising (an error, or Exec to start the program)."""
        from kernel_sim.syscalls.fs import REGULAR_OPS
        from kernel_sim.task import Exec

        sec = self.security
        # do_open_execat -> path_openat: the file is allocated before the path walk
        file = self.alloc_file(task, None, c.O_RDONLY, REGULAR_OPS)  # type: ignore[arg-type]
        try:
            inode = namei.lookup(task, path)
            if not inode.is_reg():
                raise SyscallError(c.EACCES)
            if not inode.mode & 0o111:
                raise SyscallError(c.EACCES)  # even root needs one execute bit
            check(namei.inode_permission(task, inode, c.MAY_EXEC | c.MAY_OPEN))
            file.inode = inode
            check(sec.file_open(file))
            new = self.prepare_creds(task)  # prepare_bprm_creds
            if inode.mode & c.S_ISUID:
                new.euid = new.suid = new.fsuid = inode.uid
            if inode.mode & c.S_ISGID:
                new.egid = new.sgid = new.fsgid = inode.gid
            bprm = Bprm(file, path, new, argv, envp, task)
            if task.process.ptracer is not None:
                bprm.unsafe |= 1  # LSM_UNSAFE_PTRACE
            check(sec.bprm_creds_for_exec(bprm))
            # prepare_binprm reads the header with kernel_read -> rw_verify_area
            check(sec.file_permission(file, c.MAY_READ))
            check(sec.bprm_check_security(bprm))
            if inode.program is None:
                raise SyscallError(c.ENOEXEC)  # no binary handler recognised the file
            # begin_new_exec computes the file-based creds once a handler has accepted it
            check(sec.bprm_creds_from_file(bprm, file))
        except BaseException:
            self.fput(file)
            raise
        # ---- point of no return (begin_new_exec) ----
        proc = task.process
        for other in list(proc.threads):
            if other is not task:
                self._kill_thread(other)
        sec.bprm_committing_creds(bprm)
        from kernel_sim.kernel import dumpability_changed

        changed = dumpability_changed(task.cred, bprm.cred)
        self.commit_creds(task, bprm.cred)
        for handler in self.exec_handlers:
            handler(proc)
        proc.mm = AddressSpace()
        files = proc.files
        for fd in sorted(files.cloexec):
            if fd in files.fds:
                files.close(fd)
        for sig, act in list(proc.sighand.items()):
            if act.handler != c.SIG_IGN:
                del proc.sighand[sig]
        sec.bprm_committed_creds(bprm)
        name = self.basename(path)
        proc.comm = task.comm = name
        proc.exe = path
        proc.cmdline = tuple(str(a) for a in argv)
        proc.exec_done = True
        # load_elf_binary maps the program's segments (text r-x, data rw-, both private) with
        # the new credentials; a refusal now is past the point of no return: execve fails and
        # the process dies of SIGSEGV (bprm_execve's force_fatal_sig)
        rc = (sec.mmap_file(file, _TEXT, _TEXT, c.MAP_PRIVATE)
              or sec.mmap_file(file, _DATA, _DATA, c.MAP_PRIVATE))
        self.fput(file)  # free_bprm: the binary stays open until the exec has committed
        if rc:
            self.force_sig(task, c.SIGSEGV)
            raise SyscallError(-rc)
        # begin_new_exec recomputes dumpability: a plain exec makes the process dumpable again
        new = bprm.cred
        proc.dumpable = not (changed or bprm.secureexec or new.euid != new.uid
                             or new.egid != new.gid)
        if proc.ptracer is not None:
            # ptrace_event(PTRACE_EVENT_EXEC): a legacy tracee gets SIGTRAP after the exec
            # (we do not model PTRACE_SEIZE options, so every tracee is a legacy one)
            self.send_signal(proc, c.SIGTRAP, kernel=True)
        raise Exec(inode.program, argv)
        yield

    def _kill_thread(self: Kernel, other: Task) -> None:
        """de_thread: the other threads die silently when one thread execs."""
        proc = other.process
        if other in proc.threads:
            proc.threads.remove(other)
        self.tasks.pop(other.tid, None)
        other.killed = True
        other.wake_for_signal()

    def do_group_exit(self: Kernel, proc: Process, status: int) -> None:
        if proc.group_exit is not None:
            return
        proc.group_exit = status
        current = self.security.current
        for t in proc.threads:
            if t is not current:
                t.wake_for_signal()
        if proc.stopped:
            proc.stopped = False
            proc.cont_wait.wake_all()

    def _exit_task(self: Kernel, task: Task) -> None:
        proc = task.process
        if task in proc.threads:
            proc.threads.remove(task)
        self.tasks.pop(task.tid, None)
        if not proc.threads and proc.exit_status is None:
            self._exit_process(proc)
        # after exit_files & co: Linux frees the task's blob only when the task struct goes
        self.security.task_free(task)

    def _exit_process(self: Kernel, proc: Process) -> None:
        status = proc.group_exit if proc.group_exit is not None else 0
        proc.group_exit = status
        proc.files.close_all()
        for handler in self.exit_handlers:
            handler(proc)
        proc.mm = AddressSpace()
        # tracees of this process are released and resumed
        for other in self.processes.values():
            tracer = other.ptracer
            if tracer is not None and tracer.process is proc:
                if other.exit_status is not None:
                    self._ptrace_release_zombie(other)
                other.ptracer = None
                if other.stopped:
                    other.stopped = False
                    other.cont_wait.wake_all()
        tracer = proc.ptracer
        if tracer is not None and tracer.process is not proc.parent and tracer.process.alive:
            # exit_notify: a tracer that is not the parent sees the exit first (do_wait below)
            tracer.process.child_wait.wake_all()
        else:
            proc.ptracer = None
        init = self.init
        if proc is not init:
            for child in list(proc.children):
                child.parent = init
                init.children.append(child)
                if child.exit_status is not None:
                    self.send_signal(init, c.SIGCHLD, kernel=True)
                    init.child_wait.wake_all()
            proc.children.clear()
        proc.exit_status = status
        self.statuses[proc.pid] = status
        parent = proc.parent
        if parent is None:
            return
        act = parent.sighand.get(c.SIGCHLD)
        if act is not None and (act.handler == c.SIG_IGN or act.flags & c.SA_NOCLDWAIT):
            self._reap(parent, proc)  # POSIX: children of a parent ignoring SIGCHLD are reaped
        else:
            self.send_signal(parent, c.SIGCHLD, kernel=True)
        parent.child_wait.wake_all()

    def _ptrace_release_zombie(self: Kernel, proc: Process) -> None:
        """A traced zombie is detached: now its real parent is told and may reap it."""
        proc.ptracer = None
        parent = proc.parent
        if parent is not None:
            self.send_signal(parent, c.SIGCHLD, kernel=True)
            parent.child_wait.wake_all()

    def _reap(self: Kernel, parent: Process, child: Process) -> None:
        child.reaped = True
        if child in parent.children:
            parent.children.remove(child)
        self.processes.pop(child.pid, None)

    def do_wait(self: Kernel, task: Task, pid: int, options: int) -> Any:
        """Generator for waitpid(2)."""
        if options & ~(c.WNOHANG | c.WUNTRACED | c.WCONTINUED | 0x40000000 | 0x80000000):
            raise SyscallError(c.EINVAL)
        proc = task.process
        while True:
            candidates = [ch for ch in proc.children if _wait_match(ch, pid, proc)]
            traced = [p for p in self.processes.values()
                      if p.ptracer is not None and p.ptracer.process is proc
                      and p not in candidates and _wait_match(p, pid, proc, traced=True)]
            if not candidates and not traced:
                raise SyscallError(c.ECHILD)
            for ch in candidates + traced:
                traced_by_us = ch.ptracer is not None and ch.ptracer.process is proc
                if ch.exit_status is not None and ch in traced:
                    # the tracer (not the parent) sees the exit once; then the parent reaps
                    self._ptrace_release_zombie(ch)
                    return ch.pid, ch.exit_status
                if (ch.exit_status is not None and not ch.reaped and ch in proc.children
                        and (ch.ptracer is None or traced_by_us)):
                    self._reap(proc, ch)
                    return ch.pid, ch.exit_status
                # a tracee's stops go to its tracer; a parent that is not the tracer sees
                # them only with WUNTRACED (wait_task_stopped)
                if ch.stop_report is not None and (options & c.WUNTRACED or traced_by_us):
                    sig = ch.stop_report
                    ch.stop_report = None
                    return ch.pid, (sig << 8) | 0x7F
                if options & c.WCONTINUED and ch.cont_report:
                    ch.cont_report = False
                    return ch.pid, 0xFFFF
            if options & c.WNOHANG:
                return 0, 0
            yield from task.sleep(proc.child_wait.prepare())


def _wait_match(ch: Process, pid: int, parent: Process, traced: bool = False) -> bool:
    if pid > 0:
        return ch.pid == pid
    if pid == -1:
        return True
    if pid == 0:
        return ch.pgid == parent.pgid
    return ch.pgid == -pid
