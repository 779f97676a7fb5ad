"""A small VFS: superblocks, inodes, directory entries, open files and path lookup.

Enough of Linux's model for the IPC paths: directories with search permission, regular
files (contents or an installed program), FIFOs, socket files; owner, group, mode and xattrs
(``security.selinux`` among them).  Every object Linux gives a security blob carries one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c

if TYPE_CHECKING:
    from kernel_sim.cred import Cred

FMODE_READ = 0x1
FMODE_WRITE = 0x2


@define(slots=True, eq=False)
class SuperBlock:
    """A mounted filesystem.  ``fstype`` is what policy ``fs_use_*``/``genfscon`` name."""

    fstype: str
    dev: str
    security: list[Any] = field(factory=list)
    #: (major, minor): a block device's for a disk, an anonymous one (major 0) otherwise
    devno: tuple[int, int] = (0, 0)
    _inos: Any = field(factory=lambda: itertools.count(2))

    def next_ino(self) -> int:
        return next(self._inos)


@define(slots=True, eq=False)
class Inode:
    ino: int
    mode: int
    uid: int
    gid: int
    sb: SuperBlock
    nlink: int = 1
    xattrs: dict[str, bytes] = field(factory=dict)
    security: list[Any] = field(factory=list)
    children: dict[str, Inode] | None = None
    data: bytearray | None = None
    program: Callable[..., Any] | None = None
    pipe: Any = None  # kernel_sim.pipe.Pipe for FIFOs and pipes
    sock: Any = None  # the socket bound to a socket file
    private: Any = None  # filesystem-specific (mqueue, shm objects)
    fops: Any = None  # FileOps for this inode (``i_fop``), e.g. a pseudo filesystem's files
    name: str = ""
    parent: Inode | None = None
    mtime: float = 0.0
    ctime: float = 0.0
    #: S_PRIVATE: a kernel-internal inode (as SysV shm's backing file) that LSMs do not check
    is_private: bool = False

    @property
    def ftype(self) -> int:
        return self.mode & c.S_IFMT

    def is_dir(self) -> bool:
        return self.mode & c.S_IFMT == c.S_IFDIR

    def is_reg(self) -> bool:
        return self.mode & c.S_IFMT == c.S_IFREG

    def is_fifo(self) -> bool:
        return self.mode & c.S_IFMT == c.S_IFIFO

    def is_sock(self) -> bool:
        return self.mode & c.S_IFMT == c.S_IFSOCK

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return 0

    def path(self) -> str:
        """The path of the inode's last link (what audit prints as ``path=``)."""
        if self.parent is None:
            return "/" if self.is_dir() and not self.name else self.name
        parts = []
        node: Inode | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts))


@define(slots=True, eq=False)
class Dentry:
    """A name in a directory, possibly negative (``inode is None``) during creation."""

    name: str
    parent: Inode
    inode: Inode | None = None


class FileOps:
    """Operations of one kind of open file; blocking ones are generators run by the task."""

    kind = "file"

    def read(self, task: Any, file: File, n: int) -> Any:
        raise NotImplementedError

    def write(self, task: Any, file: File, data: bytes) -> Any:
        raise NotImplementedError

    def release(self, file: File) -> None:
        """The last reference to the open file went away."""


@define(slots=True, eq=False)
class File:
    """An open file description (``struct file``), shared by dup() and fork()."""

    inode: Inode
    flags: int
    f_mode: int
    ops: FileOps
    cred: Cred
    security: list[Any] = field(factory=list)
    pos: int = 0
    private: Any = None
    count: int = 1
    pseudo_path: str | None = None  # "pipe:[ino]" / "socket:[ino]" for files with no name

    def path(self) -> str:
        return self.pseudo_path if self.pseudo_path is not None else self.inode.path()

    @property
    def readable(self) -> bool:
        return bool(self.f_mode & FMODE_READ)

    @property
    def writable(self) -> bool:
        return bool(self.f_mode & FMODE_WRITE)

    @property
    def nonblock(self) -> bool:
        return bool(self.flags & c.O_NONBLOCK)


def split_path(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def acc_mode(flags: int) -> int:
    """MAY_* bits an open with ``flags`` needs (``ACC_MODE`` + O_TRUNC/O_APPEND)."""
    mode = flags & c.O_ACCMODE
    need = {c.O_RDONLY: c.MAY_READ, c.O_WRONLY: c.MAY_WRITE,
            c.O_RDWR: c.MAY_READ | c.MAY_WRITE}.get(mode, c.MAY_READ | c.MAY_WRITE)
    if flags & c.O_TRUNC:
        need |= c.MAY_WRITE
    if flags & c.O_APPEND and need & c.MAY_WRITE:
        need |= c.MAY_APPEND
    return need


def fmode_of(flags: int) -> int:
    mode = flags & c.O_ACCMODE
    if mode == c.O_RDONLY:
        return FMODE_READ
    if mode == c.O_WRONLY:
        return FMODE_WRITE
    return FMODE_READ | FMODE_WRITE
