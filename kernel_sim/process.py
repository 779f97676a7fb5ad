"""Thread groups (what userspace calls a process), their fd tables and address spaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.rlimit import INIT_RLIMITS
from kernel_sim.vfs import File

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.waitq import WaitQueue

RLIMIT_NOFILE = INIT_RLIMITS[c.RLIMIT_NOFILE][0]  # a new fd table's size (init's soft limit)


class FdTable:
    """``struct files_struct``: shared by the threads of a process, copied by fork."""

    __slots__ = ("cloexec", "fds", "kernel", "max_fds")

    def __init__(self, kernel: Kernel, max_fds: int = RLIMIT_NOFILE) -> None:
        self.kernel = kernel
        self.fds: dict[int, File] = {}
        self.cloexec: set[int] = set()
        self.max_fds = max_fds

    def get(self, fd: int) -> File:
        try:
            return self.fds[fd]
        except (KeyError, TypeError):
            raise SyscallError(c.EBADF) from None

    def alloc(self, file: File, cloexec: bool = False, lowest: int = 0) -> int:
        fd = lowest
        fds = self.fds
        while fd in fds:
            fd += 1
        if fd >= self.max_fds:
            raise SyscallError(c.EMFILE)
        fds[fd] = file
        if cloexec:
            self.cloexec.add(fd)
        return fd

    def install(self, fd: int, file: File, cloexec: bool = False) -> None:
        """Put ``file`` at ``fd``, closing what was there (dup2 semantics)."""
        old = self.fds.get(fd)
        self.fds[fd] = file
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)
        if old is not None:
            self.kernel.fput(old)

    def close(self, fd: int) -> None:
        file = self.fds.pop(fd, None)
        if file is None:
            raise SyscallError(c.EBADF)
        self.cloexec.discard(fd)
        self.kernel.fput(file)

    def copy(self) -> FdTable:
        new = FdTable(self.kernel, self.max_fds)
        new.fds = dict(self.fds)
        new.cloexec = set(self.cloexec)
        for file in new.fds.values():
            file.count += 1
        return new

    def close_all(self) -> None:
        for fd in sorted(self.fds):
            self.close(fd)


@define(slots=True, eq=False)
class Mapping:
    """A mapped region.  ``backing`` is shared with other mappings of the same object."""

    start: int
    size: int
    backing: bytearray
    prot: int
    shared: bool
    kind: str  # "anon", "heap" (malloc), "file", "file-private", "sysv-shm", ...
    obj: Any = None  # the shm segment / file the mapping came from
    offset: int = 0
    #: ``vm_file``: the open file a file mapping came from (for mprotect's checks).
    #: Deliberate difference: it is kept without a reference, so the file is released when
    #: its descriptors close rather than at munmap (nothing observable hangs on that)
    file: Any = None
    #: ``anon_vma``: a private file mapping that has been written (its pages were copied)
    cow: bool = False

    def piece(self, start: int, size: int) -> Mapping:
        """The part [start, start + size) of this mapping, as a mapping of its own."""
        return Mapping(start, size, self.backing, self.prot, self.shared, self.kind, self.obj,
                       self.offset + (start - self.start), self.file, self.cow)


class AddressSpace:
    """``struct mm_struct`` reduced to what IPC needs: mappings with shared backing bytes."""

    __slots__ = ("_next", "maps")

    BASE = 0x7F0000000000

    def __init__(self) -> None:
        self.maps: dict[int, Mapping] = {}
        self._next = self.BASE

    def place(self, size: int) -> int:
        addr = self._next
        pages = (max(size, 1) + c.PAGE_SIZE - 1) // c.PAGE_SIZE
        self._next += (pages + 1) * c.PAGE_SIZE  # leave a guard page
        return addr

    def add(self, m: Mapping) -> None:
        self.maps[m.start] = m

    def find(self, addr: int) -> Mapping | None:
        m = self.maps.get(addr)
        if m is not None:
            return m
        for m in self.maps.values():
            if m.start <= addr < m.start + m.size:
                return m
        return None

    def copy_for_fork(self) -> AddressSpace:
        new = AddressSpace()
        new._next = self._next
        for start, m in self.maps.items():
            backing = m.backing if m.shared else bytearray(m.backing)
            new.maps[start] = Mapping(m.start, m.size, backing, m.prot, m.shared, m.kind, m.obj,
                                      m.offset, m.file, m.cow)
        return new


@define(slots=True, eq=False)
class SigAction:
    handler: Any  # SIG_DFL, SIG_IGN or a generator function handler(p, sig)
    flags: int = 0


@define(slots=True, eq=False)
class Process:
    """A thread group.  ``pid`` is the tgid; the first thread's tid equals it."""

    pid: int
    comm: str
    parent: Process | None
    files: FdTable
    mm: AddressSpace
    child_wait: WaitQueue
    cont_wait: WaitQueue
    threads: list[Task] = field(factory=list)
    #: the first thread, kept after exit (signals to a zombie still name a task)
    task0: Task | None = None
    children: list[Process] = field(factory=list)
    sighand: dict[int, SigAction] = field(factory=dict)
    shared_pending: list[int] = field(factory=list)
    pgid: int = 0
    sid: int = 0
    cwd: Any = None
    umask: int = 0o022
    exe: str = ""
    #: ``signal->rlim``: (soft, hard) per RLIMIT_* (kernel values; see kernel_sim.rlimit)
    rlimits: list[tuple[int, int]] = field(factory=lambda: list(INIT_RLIMITS))
    #: nice value (-20..19): kept and inherited, not used for scheduling (no CPU model)
    nice: int = 0
    #: the process has exec'd since its fork (Linux: PF_FORKNOEXEC clear); its parent may
    #: then no longer setpgid() it
    exec_done: bool = True
    #: argv of the running program (what /proc/PID/cmdline shows; the audit PROCTITLE)
    cmdline: tuple[str, ...] = ()
    #: wait status once the process is a zombie; None while alive
    exit_status: int | None = None
    group_exit: int | None = None  # set when exit_group/fatal signal is under way
    reaped: bool = False
    stopped: bool = False
    stop_report: int | None = None  # a stop/continue waitpid has not reported yet
    cont_report: bool = False
    ptracer: Task | None = None
    #: set while in a signal-delivery-stop: the signal the tracer resumes it with (0: none)
    ptrace_resume: int | None = None
    dumpable: bool = True
    #: per-subsystem state (e.g. SysV semaphore undo lists), cleaned up at exit
    ipc: dict[str, Any] = field(factory=dict)

    @property
    def leader(self) -> Task | None:
        return self.threads[0] if self.threads else None

    @property
    def alive(self) -> bool:
        return self.exit_status is None
