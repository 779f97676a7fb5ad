"""POSIX IPC system calls: message queues, shared memory, named semaphores, mmap.

Message queues, ftruncate, mmap/munmap and link are system calls (``@syscall``).  shm_open,
shm_unlink and the sem_* calls are C-library functions in glibc; here too they are plain
generators that make the system calls glibc makes (open, write, mmap, link, unlink, fstat,
close, futex), so traces, audit records and LSM hooks are the ones a real program produces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.caps import CAP_FOWNER
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.posix import mmap as _mmap
from kernel_sim.posix import mqueue, sem, shm
from kernel_sim.syscall import syscall
from kernel_sim.vfs import Dentry

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.posix.mqueue import MqAttr
    from kernel_sim.task import Task


class PosixIpcSyscalls:
    __slots__ = ()
    kernel: Kernel

    # -- message queues ----------------------------------------------------------------------
    @syscall
    def mq_open(self: Task, name: str, flags: int, mode: int = 0o600,
                attr: Any = None) -> Any:
        """Open or create the queue ``name`` ("/name"); -> a descriptor (close-on-exec).

        ``attr``: a dict or object with ``mq_maxmsg`` and ``mq_msgsize`` (used on creation).
        """
        return mqueue.do_mq_open(self, name, flags, mode, attr)
        yield

    @syscall
    def mq_send(self: Task, mqd: int, data: bytes, prio: int = 0) -> Any:
        """Queue ``data`` with priority ``prio`` (< 32768); blocks while the queue is full
        (EAGAIN with O_NONBLOCK).  No LSM hook, as on Linux."""
        return (yield from mqueue.do_mq_timedsend(self, mqd, data, prio))

    @syscall
    def mq_receive(self: Task, mqd: int, size: int) -> Any:
        """-> (data, prio) of the oldest message of the highest priority; ``size`` must be at
        least the queue's mq_msgsize (EMSGSIZE).  Blocks while empty (EAGAIN with O_NONBLOCK)."""
        return (yield from mqueue.do_mq_timedreceive(self, mqd, size))

    @syscall
    def mq_timedsend(self: Task, mqd: int, data: bytes, prio: int,
                     abs_timeout: float | None) -> Any:
        """mq_send that fails with ETIMEDOUT if the queue is still full at ``abs_timeout``
        (simulated seconds, as ``kernel.env.now`` counts them)."""
        return (yield from mqueue.do_mq_timedsend(self, mqd, data, prio, abs_timeout))

    @syscall
    def mq_timedreceive(self: Task, mqd: int, size: int, abs_timeout: float | None) -> Any:
        """mq_receive that fails with ETIMEDOUT if the queue is still empty at
        ``abs_timeout``."""
        return (yield from mqueue.do_mq_timedreceive(self, mqd, size, abs_timeout))

    @syscall
    def mq_unlink(self: Task, name: str) -> Any:
        return mqueue.do_mq_unlink(self, name)
        yield

    @syscall
    def mq_notify(self: Task, mqd: int, sigevent: Any = None) -> Any:
        """Ask for a signal when the queue becomes non-empty with no receiver waiting
        (``{"sigev_notify": SIGEV_SIGNAL, "sigev_signo": sig}``); None unregisters."""
        return mqueue.do_mq_notify(self, mqd, sigevent)
        yield

    @syscall
    def mq_close(self: Task, mqd: int) -> Any:
        """glibc's mq_close is close(2)."""
        self.process.files.close(mqd)
        return 0
        yield

    @syscall
    def mq_getattr(self: Task, mqd: int) -> Any:
        """-> :class:`~kernel_sim.posix.mqueue.MqAttr` (mq_flags, mq_maxmsg, mq_msgsize,
        mq_curmsgs)."""
        return mqueue.mq_getsetattr(self, mqd, None)
        yield

    @syscall
    def mq_setattr(self: Task, mqd: int, attr: MqAttr | dict[str, int]) -> Any:
        """Set O_NONBLOCK from ``attr.mq_flags`` (nothing else may change); -> the old attr."""
        return mqueue.mq_getsetattr(self, mqd, attr)
        yield

    # -- shared memory -----------------------------------------------------------------------
    def shm_open(self: Task, name: str, flags: int, mode: int = 0o600) -> Any:
        """glibc: open("/dev/shm/NAME", flags | O_NOFOLLOW | O_CLOEXEC, mode) -> fd."""
        return (yield from shm.shm_open(self, name, flags, mode))

    def shm_unlink(self: Task, name: str) -> Any:
        """glibc: unlink("/dev/shm/NAME"), EPERM reported as EACCES."""
        return (yield from shm.shm_unlink(self, name))

    @syscall
    def ftruncate(self: Task, fd: int, length: int) -> Any:
        return shm.do_ftruncate(self, fd, length)
        yield

    @syscall
    def mmap(self: Task, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> Any:
        """Map a file (or anonymous memory) -> the address; read and write it with
        ``p.mem_read`` / ``p.mem_write``."""
        return _mmap.do_mmap(self, addr, length, prot, flags, fd, offset)
        yield

    @syscall
    def munmap(self: Task, addr: int, length: int) -> Any:
        return _mmap.do_munmap(self, addr, length)
        yield

    @syscall
    def mprotect(self: Task, addr: int, length: int, prot: int) -> Any:
        """Change the protection of mapped pages (``file_mprotect`` per mapping)."""
        return _mmap.do_mprotect(self, addr, length, prot)
        yield

    @syscall
    def link(self: Task, oldpath: str, newpath: str) -> Any:
        """link(2) (``do_linkat`` + ``vfs_link``); here because glibc's sem_open needs it."""
        k = self.kernel
        inode = namei.lookup(self, oldpath)
        new = namei.lookup_parent(self, newpath)
        if new.inode is not None:
            raise SyscallError(c.EEXIST)
        if inode.sb is not new.parent.sb:
            raise SyscallError(c.EXDEV)
        cred = self.cred
        if cred.fsuid != inode.uid and not k.capable(self, CAP_FOWNER):
            # fs.protected_hardlinks=1: a non-owner may only link a "safe" source
            setgid_exec = inode.mode & (c.S_ISGID | 0o010) == c.S_ISGID | 0o010
            safe = (inode.is_reg() and not inode.mode & c.S_ISUID and not setgid_exec
                    and not namei.inode_permission(self, inode, c.MAY_READ | c.MAY_WRITE))
            if not safe:
                raise SyscallError(c.EPERM)
        namei.may_create(self, new)
        if inode.is_dir():
            raise SyscallError(c.EPERM)
        old = k.dentry_of(inode)
        check(k.security.inode_link(old, new.parent, new))
        parent = new.parent
        assert parent.children is not None
        parent.children[new.name] = inode
        inode.nlink += 1
        inode.name, inode.parent = new.name, parent
        inode.ctime = parent.mtime = k.env.now
        k.security.d_instantiate(Dentry(new.name, parent, inode), inode)
        return 0
        yield

    # -- named semaphores (glibc) --------------------------------------------------------------
    def sem_open(self: Task, name: str, flags: int, mode: int = 0o600, value: int = 0) -> Any:
        """-> a :class:`~kernel_sim.posix.sem.Sem` (the mapped ``sem_t``)."""
        return (yield from sem.sem_open(self, name, flags, mode, value))

    def sem_close(self: Task, s: sem.Sem) -> Any:
        return (yield from sem.sem_close(self, s))

    def sem_unlink(self: Task, name: str) -> Any:
        return (yield from sem.sem_unlink(self, name))

    def sem_wait(self: Task, s: sem.Sem) -> Any:
        return (yield from sem.sem_wait(self, s))

    def sem_trywait(self: Task, s: sem.Sem) -> Any:
        return (yield from sem.sem_trywait(self, s))

    def sem_post(self: Task, s: sem.Sem) -> Any:
        return (yield from sem.sem_post(self, s))

    def sem_getvalue(self: Task, s: sem.Sem) -> int:
        """The semaphore's value (a plain memory read, as in glibc)."""
        return sem.sem_getvalue(self, s)
