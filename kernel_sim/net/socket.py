"""The socket layer (Linux ``net/socket.c``, ``include/net/sock.h``).

``Socket`` is ``struct socket`` (the sockfs inode's half, what an fd refers to) and ``Sock``
is ``struct sock`` (the protocol half that carries the ``sock`` security blob, the peer and
the queues).  This module creates and releases them with the LSM hooks Linux calls
(``socket_create`` -> sockfs inode -> ``sk_alloc_security`` -> ``socket_post_create``, then
``file_alloc_security`` on the ``socket:[ino]`` file) and implements the socket file
operations, so read/write/close work on socket fds.  Protocols live in :mod:`.unix` and
:mod:`.inet`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.vfs import File, FileOps

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import Inode
    from kernel_sim.waitq import WaitQueue

# struct sock states (the TCP state numbers Linux reuses for every family)
TCP_ESTABLISHED, TCP_SYN_SENT, TCP_CLOSE, TCP_LISTEN = 1, 2, 7, 10
# struct socket states
SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED = 1, 2, 3
RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2
SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN
SOCK_TYPE_MASK = 0xF
SOCK_MAX = 11
NPROTO = 46
SOMAXCONN = 4096
#: net.core.wmem_default / rmem_default
SK_WMEM_DEFAULT = SK_RMEM_DEFAULT = 212992
#: what one queued skb costs against sndbuf beyond its data (struct sk_buff + shared info).
#: Linux charges ``skb->truesize``; a fixed overhead is our approximation.
SKB_OVERHEAD = 512
#: ``struct ucred`` of a socket that has no peer: pid 0, uid/gid -1
NO_PEERCRED = (0, -1, -1)

FAMILY_NAMES = {c.AF_UNIX: "UNIX", c.AF_INET: "TCP", c.AF_INET6: "TCPv6"}


@define(slots=True, eq=False)
class Skb:
    """``struct sk_buff`` reduced to what the queues need.

    ``truesize`` is charged to ``sender.wmem`` until the skb is consumed or freed (UDP charges
    the receiver's ``rmem`` instead and has no ``sender``); ``fds``
    are the in-flight ``struct file`` references of SCM_RIGHTS (one reference each);
    ``embryo`` is the server-side sock of a pending UNIX stream connection.
    """

    data: bytes
    sender: Sock | None = None
    addr: Any = None
    writer: Any = None  # the sending process: stream reads never glue two writers' data
    fds: list[File] | None = None
    fd_uid: int = 0  # whose in-flight fd count the fds are charged to
    off: int = 0
    truesize: int = 0
    embryo: Sock | None = None
    cred: tuple[int, int, int] | None = None  # SCM_CREDENTIALS (pid, uid, gid) if recorded


@define(slots=True, eq=False)
class Sock:
    """``struct sock``: protocol state, queues and the ``sock`` LSM blob (``sk.security``).

    ``sclass`` names the LSM object class (unix_stream_socket, unix_dgram_socket,
    tcp_socket, udp_socket); ``peer`` is the connected sock (SO_PEERSEC asks the LSM about it);
    ``addr`` is the bound address as the syscalls take it (a str for AF_UNIX, ``(host, port)``
    for AF_INET/AF_INET6, None if unbound).
    """

    kernel: Kernel
    family: int
    type: int
    protocol: int
    sclass: str
    wq: WaitQueue  # sk_sleep: readers, acceptors, connect waiters of this sock
    peer_wait: WaitQueue  # senders waiting for room in this sock's receive queue
    wr_wait: WaitQueue  # this sock's own senders waiting for sndbuf space
    security: list[Any] = field(factory=list)
    socket: Socket | None = None
    state: int = TCP_CLOSE
    peer: Sock | None = None
    addr: Any = None
    daddr: Any = None  # INET: the connected remote address
    inode: Inode | None = None  # AF_UNIX: the socket file this sock is bound to
    shutdown: int = 0
    err: int = 0
    dead: bool = False
    rcvq: deque[Skb] = field(factory=deque)
    max_ack_backlog: int = 0
    sndbuf: int = SK_WMEM_DEFAULT
    rcvbuf: int = SK_RMEM_DEFAULT
    wmem: int = 0
    rmem: int = 0
    peercred: tuple[int, int, int] | None = None
    passcred: bool = False
    rcv_cred: tuple[int, int, int] | None = None  # SCM_CREDENTIALS of the last message read
    passsec: bool = False
    #: the sending sock of the last message read, for SCM_SECURITY (its label is the one
    #: Linux took at send time: a socket's label never changes)
    rcv_sec_from: Sock | None = None
    reuseaddr: bool = False
    private: Any = None  # protocol-specific (INET: the port binding)


@define(slots=True, eq=False)
class Socket:
    """``struct socket``: what a socket fd's file points at (``file.private``).

    ``inode`` is its sockfs inode (``inode.private`` points back here, as ``SOCKET_I``).
    ``family``/``type``/``sclass`` are copied from the sock for LSMs and reports.
    """

    kernel: Kernel
    family: int
    type: int
    inode: Inode
    sclass: str = "socket"
    ops: ProtoOps | None = None
    sk: Sock | None = None
    file: File | None = None
    state: int = SS_UNCONNECTED


@define(slots=True, eq=False)
class MsgHdr:
    """What ``socket_sendmsg``/``socket_recvmsg`` receive as ``msg`` (``struct msghdr``).

    Read-only for hooks (``EMPTY_MSG`` is shared by every plain receive).
    """

    name: Any = None
    data: bytes = b""
    fds: tuple[int, ...] = ()
    flags: int = 0


class ProtoOps:
    """``struct proto_ops``: one instance per family and socket type.

    Blocking operations are generators run by the calling task.  Defaults are Linux's
    ``sock_no_*`` (EOPNOTSUPP).
    """

    family = c.AF_UNSPEC
    name = "proto"

    def bind(self, task: Task, sock: Socket, addr: Any) -> None:
        raise SyscallError(c.EOPNOTSUPP)

    def connect(self, task: Task, sock: Socket, addr: Any, flags: int) -> Any:
        raise SyscallError(c.EOPNOTSUPP)
        yield

    def socketpair(self, task: Task, a: Socket, b: Socket) -> None:
        raise SyscallError(c.EOPNOTSUPP)

    def listen(self, task: Task, sock: Socket, backlog: int) -> None:
        raise SyscallError(c.EOPNOTSUPP)

    def accept(self, task: Task, sock: Socket, newsock: Socket, flags: int) -> Any:
        raise SyscallError(c.EOPNOTSUPP)
        yield

    def getname(self, sock: Socket, peer: bool) -> Any:
        raise SyscallError(c.EOPNOTSUPP)

    def sendmsg(self, task: Task, sock: Socket, data: bytes, files: list[File] | None,
                flags: int, addr: Any, creds: Any = None) -> Any:
        if files:
            from kernel_sim.net.unix import put_files

            put_files(task.kernel, files)
        raise SyscallError(c.EOPNOTSUPP)
        yield

    def recvmsg(self, task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
        raise SyscallError(c.EOPNOTSUPP)
        yield

    def shutdown(self, sock: Socket, how: int) -> None:
        raise SyscallError(c.EOPNOTSUPP)

    def release(self, sock: Socket) -> None:
        """The last reference to the socket went away."""


# --------------------------------------------------------------------------- allocation
def sk_alloc(task: Task, family: int, type_: int, protocol: int, sclass: str) -> Sock:
    """``sk_alloc``: a new sock with its blob, labelled by ``sk_alloc_security``."""
    k = task.kernel
    env = k.env
    from kernel_sim.waitq import WaitQueue

    sk = Sock(k, family, type_, protocol, sclass, WaitQueue(env), WaitQueue(env),
              WaitQueue(env))
    sk.security = k.security.alloc_blob("sock")
    rc = k.security.sk_alloc_security(sk, family)
    if rc:
        raise SyscallError(-rc)
    return sk


def sk_free(sk: Sock) -> None:
    """``__sk_destruct``: the sock's blob goes away."""
    sk.kernel.security.sk_free_security(sk)


def sock_alloc(task: Task, family: int, type_: int) -> Socket:
    """``sock_alloc``: a socket and its sockfs inode (``inode_alloc_security``)."""
    k = task.kernel
    cred = task.cred
    inode = k.new_inode(k.sockfs, c.S_IFSOCK | 0o777, cred.fsuid, cred.fsgid)
    sock = Socket(k, family, type_, inode)
    inode.private = sock
    return sock


def sock_graft(sk: Sock, sock: Socket) -> None:
    """``sock_graft``: attach ``sk`` to ``sock`` and let the LSM copy its label to the inode."""
    sk.socket = sock
    sock.sk = sk
    sock.sclass = sk.sclass
    sk.kernel.security.sock_graft(sk, sock)


def sock_create(task: Task, family: int, type_: int, protocol: int, kern: int = 0) -> Socket:
    """``__sock_create``: ``socket_create`` hook, sockfs inode, protocol create, post_create."""
    from kernel_sim.net import FAMILIES

    if not 0 <= family < NPROTO:
        raise SyscallError(c.EAFNOSUPPORT)
    if not 0 <= type_ < SOCK_MAX:
        raise SyscallError(c.EINVAL)
    k = task.kernel
    rc = k.security.socket_create(family, type_, protocol, kern)
    if rc:
        raise SyscallError(-rc)
    create = FAMILIES.get(family)
    if create is None:
        raise SyscallError(c.EAFNOSUPPORT)
    sock = sock_alloc(task, family, type_)
    try:
        create(task, sock, protocol, kern)
    except SyscallError:
        sock_release(sock)
        raise
    rc = k.security.socket_post_create(sock, family, sock.type, protocol, kern)
    if rc:
        sock_release(sock)
        raise SyscallError(-rc)
    return sock


def sock_release(sock: Socket) -> None:
    """``sock_release``: protocol release, then the sockfs inode goes away."""
    ops = sock.ops
    if ops is not None:
        sock.ops = None
        ops.release(sock)
    sock.file = None
    sock.kernel.security.inode_free_security(sock.inode)


def sock_alloc_file(task: Task, sock: Socket, flags: int) -> File:
    """``sock_alloc_file``: the ``socket:[ino]`` file (``file_alloc_security``)."""
    k = task.kernel
    try:
        file = k.alloc_file(task, sock.inode, c.O_RDWR | (flags & c.O_NONBLOCK), SOCK_FILE_OPS,
                            f"socket:[{sock.inode.ino}]")
    except SyscallError:
        sock_release(sock)
        raise
    file.private = sock
    sock.file = file
    return file


def fd_available(task: Task) -> None:
    """``get_unused_fd_flags`` comes first in socket()/accept(): EMFILE before anything."""
    files = task.process.files
    if len(files.fds) >= files.max_fds:
        raise SyscallError(c.EMFILE)


def sock_map_fd(task: Task, sock: Socket, flags: int) -> int:
    file = sock_alloc_file(task, sock, flags)
    try:
        return task.process.files.alloc(file, bool(flags & c.O_CLOEXEC))
    except SyscallError:
        task.kernel.fput(file)
        raise


def sockfd_lookup(task: Task, fd: int) -> Socket:
    """``sockfd_lookup_light``: EBADF for a bad fd, ENOTSOCK for a file that is no socket."""
    try:
        file = task.process.files.fds[fd]
    except (KeyError, TypeError):
        raise SyscallError(c.EBADF) from None
    if file.ops is not SOCK_FILE_OPS:
        raise SyscallError(c.ENOTSOCK)
    sock: Socket = file.private
    return sock


# --------------------------------------------------------------------------- send / receive
def sock_sendmsg(task: Task, sock: Socket, data: bytes, fds: Any, flags: int, addr: Any,
                 msg: MsgHdr, creds: Any = None) -> Any:
    """``sock_sendmsg``: the ``socket_sendmsg`` hook on every send, then the protocol.

    The control messages (``scm_send``: SCM_RIGHTS, then SCM_CREDENTIALS) are taken after the
    hook, as Linux's protocol sendmsg does; only AF_UNIX accepts them (INET: EINVAL, an
    unknown SOL_SOCKET control message).
    """
    rc = task.kernel.security.socket_sendmsg(sock, msg, len(data))
    if rc:
        raise SyscallError(-rc)
    ops = sock.ops
    if ops is None:
        raise SyscallError(c.EBADF)
    if not fds and creds is None:
        return (yield from ops.sendmsg(task, sock, data, None, flags, addr))
    if sock.family != c.AF_UNIX:
        raise SyscallError(c.EINVAL)
    from kernel_sim.net.unix import put_files, scm_check_creds, scm_fp_copy

    files = scm_fp_copy(task, fds)
    if creds is not None:
        try:
            creds = scm_check_creds(task, creds)
        except SyscallError:
            put_files(task.kernel, files)
            raise
    return (yield from ops.sendmsg(task, sock, data, files, flags, addr, creds=creds))


def sock_recvmsg(task: Task, sock: Socket, n: int, maxfds: int, flags: int,
                 msg: MsgHdr) -> Any:
    """``sock_recvmsg``: the ``socket_recvmsg`` hook on every receive, then the protocol."""
    rc = task.kernel.security.socket_recvmsg(sock, msg, n, flags)
    if rc:
        raise SyscallError(-rc)
    ops = sock.ops
    if ops is None:
        raise SyscallError(c.EBADF)
    return (yield from ops.recvmsg(task, sock, n, maxfds, flags))


def sock_error(sk: Sock) -> int:
    """``sock_error``: report and clear the pending error."""
    err = sk.err
    sk.err = 0
    return err


def skb_free(k: Kernel, skb: Skb) -> None:
    """``kfree_skb``: uncharge the sender and drop the in-flight file references."""
    sender = skb.sender
    if sender is not None and skb.truesize:
        sender.wmem -= skb.truesize
        skb.truesize = 0
        sender.wr_wait.wake_all()
    if skb.fds:
        from kernel_sim.net.unix import scm_destroy

        scm_destroy(k, skb)


def sk_drain_and_free(k: Kernel, sk: Sock, state: int,
                      release: Callable[[Kernel, Sock, bool], None]) -> None:
    """The common tail of closing a sock: wake its waiters, drop what is queued (a listener's
    not-yet-accepted children are released with ``release(k, child, True)``), free it."""
    sk.peer_wait.wake_all()
    sk.wq.wake_all()
    while sk.rcvq:
        skb = sk.rcvq.popleft()
        if state == TCP_LISTEN and skb.embryo is not None:
            release(k, skb.embryo, True)
        skb_free(k, skb)
    sk_free(sk)


class SockFileOps(FileOps):
    """``socket_file_ops``: read/write are recv/send with no flags; close releases."""

    kind = "socket"

    def read(self, task: Task, file: File, n: int) -> Any:
        sock: Socket = file.private
        flags = c.MSG_DONTWAIT if file.flags & c.O_NONBLOCK else 0
        data, _fds, _mflags, _addr = yield from sock_recvmsg(task, sock, n, 0, flags, EMPTY_MSG)
        return data

    def write(self, task: Task, file: File, data: bytes) -> Any:
        sock: Socket = file.private
        flags = c.MSG_DONTWAIT if file.flags & c.O_NONBLOCK else 0
        data = bytes(data)
        return (yield from sock_sendmsg(task, sock, data, None, flags, None,
                                        MsgHdr(data=data)))

    def release(self, file: File) -> None:
        sock_release(file.private)


SOCK_FILE_OPS = SockFileOps()
#: the ``msg`` of a plain recv()/read() (no name, no flags), shared
EMPTY_MSG = MsgHdr()
