"""Named POSIX semaphores built exactly as glibc builds them (``nptl/sem_open.c`` & co).

A named semaphore is the file ``/dev/shm/sem.NAME`` holding a 32-byte ``sem_t``, mapped
MAP_SHARED by every process that opens it.  The counter lives in the mapped bytes (x86_64
``struct new_sem``: a 64-bit ``data`` word, value in the low 32 bits, the number of waiters in
the high 32; then ``private``), changed with atomic instructions; the kernel is entered only to
sleep (``futex_wait`` on the value word) and to wake sleepers (``futex_wake``, only when the
waiter count says someone sleeps).

``sem_open`` with O_CREAT makes the file under a temporary name (``sem.XXXXXX``, O_EXCL),
writes the initial ``sem_t``, maps it, then link(2)s it to the real name (EEXIST -> open the
existing one, unless O_EXCL) and unlinks the temporary name, so nobody ever maps a half-made
semaphore.  The system calls made (and so the LSM hooks) are the ones strace shows for glibc.
"""

from __future__ import annotations

import contextlib
import string
from typing import TYPE_CHECKING, Any

from attrs import define

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.posix.shm import SHMDIR, shm_get_name, unlink_eacces

if TYPE_CHECKING:
    from kernel_sim.process import Process
    from kernel_sim.task import Task
    from kernel_sim.vfs import Inode

SEM_VALUE_MAX = 0x7FFFFFFF
SEM_NWAITERS_SHIFT = 32
SEM_VALUE_MASK = (1 << SEM_NWAITERS_SHIFT) - 1
SIZEOF_SEM_T = 32
FUTEX_SHARED = 0
NRETRIES = 50
U64 = (1 << 64) - 1
_TMPCHARS = string.ascii_letters + string.digits


@define(slots=True, eq=False)
class Sem:
    """What sem_open returns (glibc's ``sem_t *``): the address of the mapped ``sem_t``."""

    addr: int
    name: str
    inode: Inode | None = None
    refcnt: int = 1


def _load64(task: Task, addr: int) -> int:
    return int.from_bytes(task.mem_read(addr, 0, 8), "little")


def _cas64(task: Task, addr: int, old: int, new: int) -> bool:
    if _load64(task, addr) != old:
        return False
    task.mem_write(addr, 0, (new & U64).to_bytes(8, "little"))
    return True


def init_bytes(value: int) -> bytes:
    """``__new_sem_open_init``: value, no waiters, FUTEX_SHARED; padded to sizeof(sem_t)."""
    return (value.to_bytes(8, "little") + FUTEX_SHARED.to_bytes(4, "little")).ljust(
        SIZEOF_SEM_T, b"\0")


def _table(task: Task) -> dict[Inode, Sem]:
    """glibc's per-process tree of mapped semaphores (``__sem_mappings``).

    It is process memory: fork copies it, exec discards it (with the address space).
    """
    k = task.kernel
    if "posix_sem" not in k.subsystems:
        k.subsystems["posix_sem"] = True
        k.fork_handlers.append(_sem_fork)
        k.exec_handlers.append(_sem_exec)
    table = task.process.ipc.get("posix_sem")
    if table is None:
        table = task.process.ipc["posix_sem"] = {}
    return table


def _sem_fork(parent: Process, child: Process) -> None:
    table = parent.ipc.get("posix_sem")
    if table:
        child.ipc["posix_sem"] = {i: Sem(s.addr, s.name, s.inode, s.refcnt)
                                  for i, s in table.items()}


def _sem_exec(proc: Process) -> None:
    proc.ipc.pop("posix_sem", None)


def _check_add_mapping(task: Task, name: str, fd: int, existing: int | None) -> Any:
    """Generator: ``__sem_check_add_mapping``: fstat, reuse this process's mapping if the
    same file is mapped already, else map it (MAP_SHARED, read-write)."""
    yield from task.fstat(fd)
    inode = task.process.files.get(fd).inode
    table = _table(task)
    sem = table.get(inode)
    if sem is not None and task.process.mm.find(sem.addr) is not None:
        sem.refcnt += 1
        if existing is not None:
            yield from task.munmap(existing, SIZEOF_SEM_T)
        return sem
    addr = existing
    if addr is None:
        addr = yield from task.mmap(0, SIZEOF_SEM_T, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED,
                                    fd, 0)
    sem = Sem(addr, name, inode)
    table[inode] = sem
    return sem


def sem_open(task: Task, name: Any, oflag: int, mode: int, value: int) -> Any:
    """Generator: glibc ``sem_open``; returns a :class:`Sem`."""
    path = shm_get_name(name, sem_prefix=True)
    k = task.kernel
    create = False
    while True:
        if not create and (not oflag & c.O_CREAT or not oflag & c.O_EXCL):
            try:
                fd = yield from task.open(
                    path, (oflag & ~(c.O_CREAT | c.O_ACCMODE)) | c.O_NOFOLLOW | c.O_RDWR)
            except SyscallError as e:
                if oflag & c.O_CREAT and e.errno == c.ENOENT:
                    create = True
                    continue
                raise
            failure: SyscallError | None = None
            try:
                sem = yield from _check_add_mapping(task, name, fd, None)
            except SyscallError as e:
                failure = e
            yield from _quiet(task.close(fd))
            if failure is not None:
                raise failure
            return sem
        # try_create
        if not isinstance(value, int) or not 0 <= value <= SEM_VALUE_MAX:
            raise SyscallError(c.EINVAL, "sem_open")
        for _ in range(NRETRIES):
            tmpname = SHMDIR + "sem." + "".join(k.rng.choice(_TMPCHARS) for _ in range(6))
            try:
                fd = yield from task.open(tmpname, c.O_RDWR | c.O_CREAT | c.O_EXCL, mode)
                break
            except SyscallError as e:
                if e.errno != c.EEXIST:
                    raise
        else:
            raise SyscallError(c.EAGAIN, "sem_open")
        retry = False
        failure = None
        try:
            yield from task.write(fd, init_bytes(value))
            addr = yield from task.mmap(0, SIZEOF_SEM_T, c.PROT_READ | c.PROT_WRITE,
                                        c.MAP_SHARED, fd, 0)
            try:
                yield from task.link(tmpname, path)
            except SyscallError as e:
                yield from task.munmap(addr, SIZEOF_SEM_T)
                if oflag & c.O_EXCL or e.errno != c.EEXIST:
                    raise
                retry = True  # someone else created it first: open theirs
            if not retry:
                sem = yield from _check_add_mapping(task, name, fd, addr)
        except SyscallError as e:
            failure = e
        yield from _quiet(task.unlink(tmpname))
        yield from _quiet(task.close(fd))
        if failure is not None:
            raise failure
        if not retry:
            return sem
        create = False


def _quiet(gen: Any) -> Any:
    """Generator: run a clean-up system call whose failure glibc ignores."""
    with contextlib.suppress(SyscallError):
        yield from gen


def sem_close(task: Task, sem: Sem) -> Any:
    """Generator: drop one reference; unmap when it was the last (``__sem_remove_mapping``)."""
    table = _table(task)
    inode = sem.inode
    if inode is not None and table.get(inode) is sem:
        sem.refcnt -= 1
        if sem.refcnt > 0:
            return 0
        del table[inode]
    elif task.process.mm.find(sem.addr) is None:
        raise SyscallError(c.EINVAL, "sem_close")
    yield from task.munmap(sem.addr, SIZEOF_SEM_T)
    return 0


def sem_unlink(task: Task, name: Any) -> Any:
    try:
        path = shm_get_name(name, sem_prefix=True)
    except SyscallError:
        raise SyscallError(c.ENOENT, "sem_unlink") from None
    return (yield from unlink_eacces(task, path))


def _addr(sem: Any) -> int:
    return sem.addr if isinstance(sem, Sem) else int(sem)


def sem_trywait(task: Task, sem: Any) -> Any:
    """Generator: decrement if positive, else EAGAIN (no system call at all)."""
    addr = _addr(sem)
    d = _load64(task, addr)
    if d & SEM_VALUE_MASK == 0 or not _cas64(task, addr, d, d - 1):
        raise SyscallError(c.EAGAIN, "sem_trywait")
    return 0
    yield


def sem_wait(task: Task, sem: Any) -> Any:
    """Generator: ``__new_sem_wait_slow64``: register as a waiter, sleep on the value word
    while it is 0, then take one unit and deregister in one atomic step."""
    addr = _addr(sem)
    d = _load64(task, addr)
    if d & SEM_VALUE_MASK and _cas64(task, addr, d, d - 1):
        return 0  # fast path: no system call
    d = _load64(task, addr) + (1 << SEM_NWAITERS_SHIFT)
    task.mem_write(addr, 0, (d & U64).to_bytes(8, "little"))
    while True:
        if d & SEM_VALUE_MASK == 0:
            try:
                yield from task.futex_wait(addr, 0)
            except SyscallError as e:
                if e.errno != c.EAGAIN:  # EINTR: __sem_wait_cleanup, then fail
                    d = _load64(task, addr) - (1 << SEM_NWAITERS_SHIFT)
                    task.mem_write(addr, 0, (d & U64).to_bytes(8, "little"))
                    raise
            d = _load64(task, addr)
        elif _cas64(task, addr, d, d - 1 - (1 << SEM_NWAITERS_SHIFT)):
            return 0
        else:
            d = _load64(task, addr)


def sem_post(task: Task, sem: Any) -> Any:
    """Generator: increment (EOVERFLOW at SEM_VALUE_MAX); futex_wake(1) if anyone waits."""
    addr = _addr(sem)
    d = _load64(task, addr)
    if d & SEM_VALUE_MASK == SEM_VALUE_MAX:
        raise SyscallError(c.EOVERFLOW, "sem_post")
    task.mem_write(addr, 0, ((d + 1) & U64).to_bytes(8, "little"))
    if d >> SEM_NWAITERS_SHIFT:
        yield from task.futex_wake(addr, 1)
    return 0


def sem_getvalue(task: Task, sem: Any) -> int:
    """The current value (glibc reports 0, never a negative count, when tasks wait)."""
    return _load64(task, _addr(sem)) & SEM_VALUE_MASK
