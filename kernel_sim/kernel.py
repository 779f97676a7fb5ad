"""The simulated kernel: boot, the set-up API used by scenarios, and process management."""

from __future__ import annotations

import inspect
import os
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any, Protocol

import simpy

from kernel_sim import constants as c
from kernel_sim.costs import COSTS, DEFAULT_COST
from kernel_sim.cred import Cred
from kernel_sim.errors import ConfigError, ProgramError, SyscallError, TaskExit
from kernel_sim.lifecycle import LifecycleMixin
from kernel_sim.pipe import PIPE_OPS, Pipe
from kernel_sim.process import AddressSpace, FdTable, Process
from kernel_sim.ptrace import PtraceMixin
from kernel_sim.sigsend import SignalMixin
from kernel_sim.task import Exec, Task, w_exitcode
from kernel_sim.trace import Tracer
from kernel_sim.vfs import Dentry, File, FileOps, Inode, SuperBlock, fmode_of, split_path
from kernel_sim.waitq import WaitQueue
from lsm.module import LsmModule
from lsm.security import Security

#: the virtio block major a VM's disk usually gets (it is assigned dynamically on Linux)
VIRTIO_BLK_MAJOR = 252

BOOT_DIRS: tuple[tuple[str, int], ...] = (
    ("/etc", 0o755), ("/home", 0o755), ("/run", 0o755), ("/usr", 0o755), ("/usr/bin", 0o755),
    ("/usr/sbin", 0o755), ("/var", 0o755), ("/var/run", 0o755), ("/tmp", 0o1777),
    ("/dev", 0o755),
)


class AuditSink(Protocol):
    """The audit subsystem.  The kernel stamps each syscall's entry time on the task
    (``sc_entry``); a sink that logs a record during a syscall sets ``task.audit_pending``,
    and only then is it called at the syscall's exit (to write the SYSCALL record), after
    which the kernel clears the flag."""

    def syscall_exit(self, task: Task, name: str, args: tuple[Any, ...], result: Any) -> None:
        ...


def dumpability_changed(old: Cred, new: Cred) -> bool:
    """``commit_creds``: a change of euid/egid/fsuid/fsgid or new permitted capabilities
    makes the process non-dumpable (so only CAP_SYS_PTRACE may trace it)."""
    return (old.euid != new.euid or old.egid != new.egid or old.fsuid != new.fsuid
            or old.fsgid != new.fsgid or bool(new.cap_permitted & ~old.cap_permitted))


class Kernel(LifecycleMixin, SignalMixin, PtraceMixin):
    """A simulated Linux kernel.

    ``Kernel(lsms=[...], seed=0)`` boots with pid 1 (init, reaping orphans) and the usual
    directory tree.  ``capability`` is always stacked first; ``lsms`` follow in order.
    """

    def __init__(self, lsms: Sequence[LsmModule] = (), seed: int = 0,
                 costs: dict[str, float] | None = None, trace: bool = False) -> None:
        self.env = simpy.Environment()
        self.rng = random.Random(seed)
        self.seed = seed
        self.costs = dict(COSTS)
        if costs:
            self.costs.update(costs)
        self.default_cost = self.costs.pop("default", DEFAULT_COST)
        self.tracer: Tracer | None = Tracer(self) if trace else None
        self.flow: Any = None  # a kernel_sim.flow.FlowTracker while flows are tracked
        observer = self.tracer.hook if self.tracer is not None else None
        from lsm.capability import Capability  # local: lsm.capability imports kernel_sim
        self.security = Security([Capability(), *lsms], observer=observer)
        #: the audit subsystem, if a module registered one (``register_audit``)
        self.audit: AuditSink | None = None
        self.processes: dict[int, Process] = {}
        self.tasks: dict[int, Task] = {}
        self.statuses: dict[int, int] = {}
        self.diagnostics: list[dict[str, Any]] = []
        #: subsystem callbacks (SysV shm detach, semaphore undo, ...)
        self.fork_handlers: list[Callable[[Process, Process], None]] = []
        self.exec_handlers: list[Callable[[Process], None]] = []
        self.exit_handlers: list[Callable[[Process], None]] = []
        self.subsystems: dict[str, Any] = {}
        self._next_pid = 1
        self._anon_minor = 0x1F  # anonymous devices of the boot-time mounts come first on Linux
        self._boot_fs()
        self.init = self._boot_init()
        for module in self.security.modules:
            boot = getattr(module, "kernel_booted", None)
            if boot is not None:
                boot(self)

    # ------------------------------------------------------------------ boot
    def new_sb(self, fstype: str, dev: str | None = None) -> SuperBlock:
        sb = SuperBlock(fstype, dev or fstype)
        if dev is not None and dev.startswith("vd") and dev[3:].isdigit():
            sb.devno = (VIRTIO_BLK_MAJOR, int(dev[3:]))  # vda1 -> 252:1, as a typical VM has
        else:  # get_anon_bdev: major 0, minors handed out in mount order
            self._anon_minor += 1
            sb.devno = (0, self._anon_minor)
        sb.security = self.security.alloc_blob("superblock")
        self.security.sb_alloc_security(sb)
        return sb

    def new_inode(self, sb: SuperBlock, mode: int, uid: int, gid: int) -> Inode:
        inode = Inode(sb.next_ino(), mode, uid, gid, sb)
        inode.security = self.security.alloc_blob("inode")
        inode.mtime = inode.ctime = self.env.now
        if mode & c.S_IFMT == c.S_IFDIR:
            inode.children = {}
        rc = self.security.inode_alloc_security(inode)
        if rc:
            # inode_init_always fails with -ENOMEM whatever the LSM said; new_inode then
            # returns NULL and each caller picks its errno (pipe: ENFILE, socket: ENFILE)
            raise SyscallError(c.ENOMEM)
        return inode

    def _boot_fs(self) -> None:
        self.rootfs = self.new_sb("ext4", "vda1")
        self.tmpfs = self.new_sb("tmpfs")
        self.mqueuefs = self.new_sb("mqueue")
        self.pipefs = self.new_sb("pipefs")
        self.sockfs = self.new_sb("sockfs")
        self.root = self.new_inode(self.rootfs, c.S_IFDIR | 0o755, 0, 0)
        for path, mode in BOOT_DIRS:
            self.mkdir(path, mode)
        self.mkdir("/dev/shm", 0o1777, sb=self.tmpfs)
        self.mkdir("/dev/mqueue", 0o1777, sb=self.mqueuefs)

    def _boot_init(self) -> Process:
        from kernel_sim.init import init_main

        cred = Cred.for_user(0, 0)
        cred.security = self.security.alloc_blob("cred")
        proc = self._new_process(None, "init", cred, exe="/sbin/init")
        task = proc.threads[0]
        self.security.task_init_context(task, None)
        task.sim = self.env.process(self._task_main(task, init_main, ()))
        return proc

    # ------------------------------------------------------------------ set-up API
    def _setup_parent(self, path: str) -> tuple[Inode, str]:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"path must be absolute: {path!r}")
        parts = split_path(path)
        if not parts:
            raise ConfigError("cannot replace '/'")
        node = self.root
        for name in parts[:-1]:
            assert node.children is not None
            child = node.children.get(name)
            if child is None:
                child = self._link(node, name, self.new_inode(node.sb, c.S_IFDIR | 0o755, 0, 0))
            if not child.is_dir():
                raise ConfigError(f"{path}: {name!r} is not a directory")
            node = child
        return node, parts[-1]

    def _link(self, parent: Inode, name: str, inode: Inode, label: str | None = None) -> Inode:
        assert parent.children is not None
        parent.children[name] = inode
        inode.name = name
        inode.parent = parent
        if label is not None:
            inode.xattrs["security.selinux"] = label.encode()
        self.security.d_instantiate(Dentry(name, parent, inode), inode)
        return inode

    def _setup_node(self, path: str, mode: int, uid: int, gid: int, label: str | None,
                    sb: SuperBlock | None = None) -> Inode:
        parent, name = self._setup_parent(path)
        assert parent.children is not None
        if name in parent.children:
            raise ConfigError(f"{path} already exists")
        inode = self.new_inode(sb or parent.sb, mode, uid, gid)
        return self._link(parent, name, inode, label)

    def install(self, path: str, prog: Callable[..., Any] | bytes, label: str | None = None,
                mode: int = 0o755, uid: int = 0, gid: int = 0) -> Inode:
        """Install a program (generator function run by ``execve``) or a file's bytes."""
        if isinstance(prog, bytes | bytearray):
            inode = self._setup_node(path, c.S_IFREG | (mode & 0o7777), uid, gid, label)
            inode.data = bytearray(prog)
            return inode
        if not inspect.isgeneratorfunction(prog):
            raise ConfigError(f"{path}: a program must be a generator function or bytes")
        inode = self._setup_node(path, c.S_IFREG | (mode & 0o7777), uid, gid, label)
        inode.program = prog
        inode.data = bytearray(b"\x7fELF" + prog.__name__.encode())
        return inode

    def mkdir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0,
              label: str | None = None, sb: SuperBlock | None = None) -> Inode:
        parent, name = self._setup_parent(path)
        assert parent.children is not None
        existing = parent.children.get(name)
        if existing is not None:
            if not existing.is_dir():
                raise ConfigError(f"{path} exists and is not a directory")
            existing.mode = c.S_IFDIR | (mode & 0o7777)
            existing.uid, existing.gid = uid, gid
            if label is not None:
                existing.xattrs["security.selinux"] = label.encode()
                self.security.d_instantiate(Dentry(name, parent, existing), existing)
            return existing
        inode = self.new_inode(sb or parent.sb, c.S_IFDIR | (mode & 0o7777), uid, gid)
        return self._link(parent, name, inode, label)

    def mkfifo(self, path: str, mode: int = 0o666, uid: int = 0, gid: int = 0,
               label: str | None = None) -> Inode:
        return self._setup_node(path, c.S_IFIFO | (mode & 0o7777), uid, gid, label)

    def lookup(self, path: str) -> Inode | None:
        """The inode at ``path`` (no permission checks), for tests and reports."""
        node = self.root
        for name in split_path(path):
            if node.children is None or name not in node.children:
                return None
            node = node.children[name]
        return node

    def spawn(self, prog: Callable[..., Any], *args: Any, comm: str | None = None,
              uid: int = 0, gid: int = 0, groups: Iterable[int] = (),
              context: str | None = None, caps: int | None = None, cwd: str = "/",
              umask: int = 0o022, exe: str | None = None) -> int:
        """Start ``prog(p, *args)`` as a new process, child of init.  Returns its pid."""
        if not inspect.isgeneratorfunction(prog):
            raise ConfigError(f"spawn: {prog!r} is not a generator function")
        cred = Cred.for_user(uid, gid, frozenset(groups))
        if caps is not None:
            cred.cap_effective = cred.cap_permitted = caps
        cred.security = self.security.alloc_blob("cred")
        rc = self.security.cred_prepare(cred, self.init.threads[0].cred if self.init.threads
                                        else cred)
        if rc:
            raise ConfigError(f"spawn: cred_prepare failed: {os.strerror(-rc)}")
        name = (comm or prog.__name__)[:15]
        proc = self._new_process(self.init, name, cred, exe=exe or f"/usr/bin/{name}")
        cwd_inode = self.lookup(cwd)
        if cwd_inode is None or not cwd_inode.is_dir():
            raise ConfigError(f"spawn: cwd {cwd!r} is not a directory")
        proc.cwd = cwd_inode
        proc.umask = umask
        task = proc.threads[0]
        if context is not None:
            rc = self.security.task_init_context(task, context)
            if rc:
                self._forget(proc)
                raise ConfigError(f"spawn {name}: context {context!r} rejected: "
                                  f"{os.strerror(-rc)}")
        task.sim = self.env.process(self._task_main(task, prog, args))
        return proc.pid

    def _new_process(self, parent: Process | None, comm: str, cred: Cred,
                     exe: str = "") -> Process:
        pid = self._alloc_pid()
        proc = Process(pid, comm, parent, FdTable(self), AddressSpace(), WaitQueue(self.env),
                       WaitQueue(self.env), pgid=pid, sid=pid, cwd=self.root, exe=exe,
                       cmdline=(exe,) if exe else ())
        task = Task(self, pid, proc, cred, comm)
        proc.threads.append(task)
        proc.task0 = task
        self.processes[pid] = proc
        self.tasks[pid] = task
        if parent is not None:
            parent.children.append(proc)
        return proc

    def _forget(self, proc: Process) -> None:
        self.processes.pop(proc.pid, None)
        self.tasks.pop(proc.pid, None)
        if proc.parent is not None and proc in proc.parent.children:
            proc.parent.children.remove(proc)

    def _alloc_pid(self) -> int:
        pid = self._next_pid
        self._next_pid += 1
        return pid

    # ------------------------------------------------------------------ running
    def run(self, until: float | None = None) -> None:
        """Run until no task can make progress (or until simulated time ``until``)."""
        self.env.run(until=until)

    @property
    def now(self) -> float:
        return self.env.now

    def exit_status(self, pid: int) -> int | None:
        """The wait status Linux would report for ``pid`` (None while it runs)."""
        return self.statuses.get(pid)

    def audit_log(self) -> list[str]:
        for m in self.security.modules:
            fn = getattr(m, "audit_log", None)
            if fn is not None:
                return list(fn())
        return []

    def avc_stats(self) -> dict[str, int]:
        for m in self.security.modules:
            fn = getattr(m, "avc_stats", None)
            if fn is not None:
                return dict(fn())
        return {}

    def trace_lines(self) -> list[str]:
        return self.tracer.lines() if self.tracer is not None else []

    def diag(self, event: str, **fields: Any) -> None:
        self.diagnostics.append({"t": round(self.env.now, 9), "event": event, **fields})

    def _task_main(self, task: Task, prog: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        proc = task.process
        try:
            while True:
                try:
                    rv = yield from prog(task, *args)
                    break
                except Exec as ex:
                    prog, args = ex.prog, tuple(ex.argv[1:])
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
            if task is proc.task0:
                self.do_group_exit(proc, w_exitcode(code))
        except TaskExit:
            pass
        except SyscallError as e:
            # like an uncaught exception in a script: the interpreter exits with status 1
            self.diag("uncaught-syscall-error", pid=task.pid, comm=task.comm, error=str(e))
            self.do_group_exit(proc, w_exitcode(1))
        except Exception as e:
            name = getattr(prog, "__qualname__", repr(prog))
            self.do_group_exit(proc, w_exitcode(1))
            self._exit_task(task)
            raise ProgramError(f"program {name} (pid {task.pid}, {task.comm}) raised "
                               f"{type(e).__name__}: {e}") from e
        self._exit_task(task)

    # ------------------------------------------------------------------ credentials
    def capable(self, task: Task, cap: int, opts: int = 0) -> bool:
        return self.security.capable(task.cred, None, cap, opts) == 0

    def prepare_creds(self, task: Task) -> Cred:
        new = task.cred.copy()
        new.security = self.security.alloc_blob("cred")
        rc = self.security.cred_prepare(new, task.cred)
        if rc:
            raise SyscallError(c.ENOMEM)  # prepare_creds returns NULL; callers say -ENOMEM
        return new

    def commit_creds(self, task: Task, new: Cred) -> None:
        old = task.cred
        if dumpability_changed(old, new):
            task.process.dumpable = False  # set_dumpable(suid_dumpable): 0, not ptraceable
        task.cred = new
        self.security.cred_free(old)

    # ------------------------------------------------------------------ files
    def alloc_file(self, task: Task, inode: Inode, flags: int, ops: FileOps,
                   pseudo_path: str | None = None) -> File:
        file = File(inode, flags, fmode_of(flags), ops, task.cred, pseudo_path=pseudo_path)
        file.security = self.security.alloc_blob("file")
        rc = self.security.file_alloc_security(file)
        if rc:
            raise SyscallError(-rc)
        return file

    def fput(self, file: File) -> None:
        file.count -= 1
        if file.count == 0:
            file.ops.release(file)
            self.security.file_free_security(file)

    def create_inode(self, task: Task, dentry: Dentry, mode: int) -> Inode:
        parent = dentry.parent
        gid = parent.gid if parent.mode & c.S_ISGID else task.cred.fsgid
        if parent.mode & c.S_ISGID and mode & c.S_IFMT == c.S_IFDIR:
            mode |= c.S_ISGID  # inode_init_owner: subdirectories of a setgid dir inherit it
        inode = self.new_inode(parent.sb, mode, task.cred.fsuid, gid)
        rc = self.security.inode_init_security(inode, parent, dentry.name)
        if rc and rc != -c.EOPNOTSUPP:
            raise SyscallError(-rc)
        dentry.inode = inode
        assert parent.children is not None
        parent.children[dentry.name] = inode
        inode.name = dentry.name
        inode.parent = parent
        parent.mtime = self.env.now
        self.security.d_instantiate(dentry, inode)
        return inode

    def remove_name(self, dentry: Dentry) -> None:
        assert dentry.parent.children is not None and dentry.inode is not None
        del dentry.parent.children[dentry.name]
        dentry.inode.nlink -= 1
        dentry.parent.mtime = self.env.now

    def dentry_of(self, inode: Inode) -> Dentry:
        return Dentry(inode.name, inode.parent or inode, inode)

    def do_pipe(self, task: Task, flags: int) -> tuple[int, int]:
        if flags & ~(c.O_CLOEXEC | c.O_NONBLOCK | c.O_DIRECT):
            raise SyscallError(c.EINVAL)
        try:
            inode = self.new_inode(self.pipefs, c.S_IFIFO | 0o600, task.cred.fsuid,
                                   task.cred.fsgid)
        except SyscallError:
            raise SyscallError(c.ENFILE) from None  # get_pipe_inode failed
        pipe = Pipe(self.env)
        inode.pipe = pipe
        path = f"pipe:[{inode.ino}]"
        nb = flags & c.O_NONBLOCK
        # alloc_file_pseudo: an anonymous dentry is instantiated before the files exist
        self.security.d_instantiate(Dentry("", inode, inode), inode)
        wfile = self.alloc_file(task, inode, c.O_WRONLY | nb, PIPE_OPS, path)
        try:
            rfile = self.alloc_file(task, inode, c.O_RDONLY | nb, PIPE_OPS, path)
        except SyscallError:
            self.security.file_free_security(wfile)  # create_pipe_files: fput(f)
            raise
        rfile.private = wfile.private = pipe
        pipe.readers = pipe.writers = 1
        files = task.process.files
        cloexec = bool(flags & c.O_CLOEXEC)
        try:
            rfd = files.alloc(rfile, cloexec)
        except SyscallError:
            self.fput(rfile)
            self.fput(wfile)
            raise
        try:
            wfd = files.alloc(wfile, cloexec)
        except SyscallError:
            files.close(rfd)
            self.fput(wfile)
            raise
        return rfd, wfd

    def register_audit(self, sink: AuditSink) -> None:
        """Install the audit subsystem: records logged during a syscall share its serial and
        get a SYSCALL record at exit (see :class:`AuditSink`)."""
        self.audit = sink

    def find_task(self, tid: int) -> Task | None:
        return self.tasks.get(tid)

    def basename(self, path: str) -> str:
        return PurePosixPath(path).name[:15]

