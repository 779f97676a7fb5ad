"""POSIX shared memory as glibc builds it: files in the tmpfs mounted on ``/dev/shm``.

``shm_open`` and ``shm_unlink`` are C-library functions, not system calls: they check the name
(``__shm_get_name``) and call open(2) / unlink(2), so they take exactly open's and unlink's
path, DAC and hooks (``inode_permission`` on every directory walked, ``may_create``,
``inode_create``, ``inode_init_security``, ``d_instantiate``, ``file_open``; ``may_delete`` +
``inode_unlink``).  ``ftruncate`` is the system call that sizes the object
(``security_file_truncate``, then ``security_inode_setattr`` with the new size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.vfs import FMODE_WRITE

if TYPE_CHECKING:
    from kernel_sim.task import Task

SHMDIR = "/dev/shm/"
NAME_MAX = 255
#: ``struct shmdir_name``: sizeof SHMDIR + sizeof "sem." + NAME_MAX
_SHMDIR_NAME_BUF = len(SHMDIR) + 1 + len("sem.") + 1 + NAME_MAX


def shm_get_name(name: Any, sem_prefix: bool = False) -> str:
    """glibc ``__shm_get_name``: "/dev/shm/" [+ "sem."] + name without its leading slashes."""
    if not isinstance(name, str):
        raise SyscallError(c.EFAULT)
    stripped = name.lstrip("/")
    path = SHMDIR + ("sem." if sem_prefix else "") + stripped
    if not stripped or "/" in stripped:
        raise SyscallError(c.EINVAL)
    if len(path) + 1 > _SHMDIR_NAME_BUF:
        raise SyscallError(c.ENAMETOOLONG if len(stripped) > NAME_MAX else c.EINVAL)
    return path


def shm_open(task: Task, name: Any, flags: int, mode: int) -> Any:
    """Generator: glibc ``shm_open`` = open(/dev/shm/NAME, flags|O_NOFOLLOW|O_CLOEXEC, mode)."""
    path = shm_get_name(name)
    try:
        return (yield from task.open(path, flags | c.O_NOFOLLOW | c.O_CLOEXEC, mode))
    except SyscallError as e:
        if e.errno == c.EISDIR:
            raise SyscallError(c.EINVAL, "shm_open") from None
        raise


def unlink_eacces(task: Task, path: str) -> Any:
    """Generator: unlink(2), with glibc's EPERM -> EACCES (shm_unlink, sem_unlink)."""
    try:
        return (yield from task.unlink(path))
    except SyscallError as e:
        if e.errno == c.EPERM:
            raise SyscallError(c.EACCES, "unlink") from None
        raise


def shm_unlink(task: Task, name: Any) -> Any:
    """Generator: glibc ``shm_unlink`` (a bad name is ENOENT there, not EINVAL)."""
    try:
        path = shm_get_name(name)
    except SyscallError:
        raise SyscallError(c.ENOENT, "shm_unlink") from None
    return (yield from unlink_eacces(task, path))


def do_ftruncate(task: Task, fd: int, length: int) -> int:
    """``do_sys_ftruncate``: EINVAL (length < 0), EBADF, EINVAL (not a regular file open for
    writing), ``security_file_truncate``, then ``do_truncate`` -> ``security_inode_setattr``.

    The file's bytearray is resized in place: mappings of it keep seeing its contents.
    """
    if not isinstance(length, int) or length < 0:
        raise SyscallError(c.EINVAL)
    file = task.process.files.get(fd)
    inode = file.inode
    if not inode.is_reg() or not file.f_mode & FMODE_WRITE:
        raise SyscallError(c.EINVAL)
    k = task.kernel
    check(k.security.file_truncate(file))
    check(k.security.inode_setattr(k.dentry_of(inode), {"size": length}))
    if file.ops.kind != "regular":
        return 0  # e.g. an mqueue inode: i_size changes, nothing else does
    data = inode.data
    if data is None:
        data = inode.data = bytearray()
    cur = len(data)
    if length < cur:
        del data[length:]
    elif length > cur:
        data.extend(bytes(length - cur))
    inode.mtime = inode.ctime = k.env.now
    return 0
