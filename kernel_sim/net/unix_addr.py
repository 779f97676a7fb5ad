"""AF_UNIX addresses and the per-kernel AF_UNIX state (``net/unix/af_unix.c``).

Holds :class:`UnixNet` (the abstract namespace, the autobind counter, the per-user count
of fds in flight), ``sockaddr_un`` validation, bind (a pathname makes an S_IFSOCK inode
through ``inode_mknod``; an abstract name; autobind) and ``unix_find_other``, the lookup a
connect or a sendto does.  Naming lives here, apart from the socket ops (:mod:`.unix`) and
the data paths (:mod:`.unix_msg`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.net.socket import Sock, Socket

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task

UNIX_PATH_MAX = 108
UNIX_AUTOBIND_SPACE = 1 << 20


@define(slots=True, eq=False)
class UnixNet:
    """Per-kernel AF_UNIX state: the abstract namespace, autobind counter, in-flight fds."""

    abstract: dict[str, Sock] = field(factory=dict)
    ordernum: int = 0
    inflight: dict[int, int] = field(factory=dict)  # per user (``user->unix_inflight``)


def unix_net(k: Kernel) -> UnixNet:
    net = k.subsystems.get("unix")
    if net is None:
        net = k.subsystems["unix"] = UnixNet()
    return net



def unix_mkname(addr: Any) -> str:
    """Validate a ``sockaddr_un`` as Python passes it: ``""`` means family-only (autobind)."""
    if isinstance(addr, bytes | bytearray):
        # the same decoding as str names are encoded with, so b"..." and "..." name one socket
        # and the length check below measures the caller's bytes
        addr = bytes(addr).decode("utf-8", "surrogateescape")
    if not isinstance(addr, str):
        raise SyscallError(c.EINVAL)
    if len(addr.encode("utf-8", "surrogateescape")) > UNIX_PATH_MAX:
        raise SyscallError(c.EINVAL)
    if addr and addr[0] != "\0" and "\0" in addr:
        addr = addr[:addr.index("\0")]  # a pathname ends at its first NUL, as in C
    return addr


def unix_autobind(k: Kernel, sk: Sock) -> None:
    """``unix_autobind``: the first free ``"\\0%05x"`` name (no bind hook, as Linux)."""
    if sk.addr is not None:
        return
    net = unix_net(k)
    for _ in range(UNIX_AUTOBIND_SPACE):
        name = f"\0{net.ordernum:05x}"
        net.ordernum = (net.ordernum + 1) & (UNIX_AUTOBIND_SPACE - 1)
        if name not in net.abstract:
            net.abstract[name] = sk
            sk.addr = name
            return
    raise SyscallError(c.ENOSPC)


def unix_bind(task: Task, sock: Socket, addr: Any) -> None:
    k = task.kernel
    sk = sock.sk
    assert sk is not None
    name = unix_mkname(addr)
    if name == "":
        unix_autobind(k, sk)  # a no-op (success) on a bound socket, as Linux
        return
    if name[0] == "\0":
        net = unix_net(k)
        if sk.addr is not None:
            raise SyscallError(c.EINVAL)
        if name in net.abstract:
            raise SyscallError(c.EADDRINUSE)
        net.abstract[name] = sk
        sk.addr = name
        return
    # unix_bind_bsd: vfs_mknod first (EEXIST -> EADDRINUSE), then the already-bound check
    dentry = namei.lookup_parent(task, name)
    try:
        namei.may_create(task, dentry)
    except SyscallError as e:
        if e.errno == c.EEXIST:
            raise SyscallError(c.EADDRINUSE) from None
        raise
    fmode = c.S_IFSOCK | (sock.inode.mode & 0o777 & ~task.process.umask)
    check(k.security.inode_mknod(dentry.parent, dentry, fmode, 0))
    inode = k.create_inode(task, dentry, fmode)
    if sk.addr is not None:
        k.remove_name(dentry)  # out_unlink: the new file does not survive
        raise SyscallError(c.EINVAL)
    inode.sock = sk
    sk.inode = inode
    sk.addr = name


def unix_find_other(task: Task, name: str, type_: int) -> Sock:
    """``unix_find_other``: path walk + write permission, or the abstract table."""
    if name[0] == "\0":
        other = unix_net(task.kernel).abstract.get(name)
        if other is None:
            raise SyscallError(c.ECONNREFUSED)
    else:
        inode = namei.lookup(task, name)
        check(namei.inode_permission(task, inode, c.MAY_WRITE))
        if not inode.is_sock():
            raise SyscallError(c.ECONNREFUSED)
        other = inode.sock
        if other is None:
            raise SyscallError(c.ECONNREFUSED)
    if other.type != type_:
        raise SyscallError(c.EPROTOTYPE)
    return other


def unix_connect_name(addr: Any) -> str:
    name = unix_mkname(addr)
    if name == "":
        raise SyscallError(c.EINVAL)
    return name
