"""AF_UNIX sockets (Linux ``net/unix/af_unix.c``, ``net/core/scm.c``).

* Addresses: a ``str`` path (bind creates an S_IFSOCK file, mode ``0777 & ~umask``, through
  ``inode_mknod`` like mkfifo; the inode's ``.sock`` points at the bound sock), ``"\\0name"``
  in the abstract namespace (no file, no DAC) and ``""`` (autobind: ``"\\0"`` + 5 hex digits).
* Connect needs search permission along the path and write permission on the socket file
  (``inode_permission(MAY_WRITE)``, so DAC then the LSM); ECONNREFUSED for a non-socket, an
  unbound or non-listening socket; EPROTOTYPE for a type mismatch.
* Stream/seqpacket: a connect queues an embryo sock on the listener (``unix_stream_connect``
  hook after the listener is found); backlog full (``qlen > backlog``, Linux's off-by-one)
  blocks, or EAGAIN when non-blocking.  SO_PEERCRED is recorded at connect/socketpair/listen.
* Dgram: ``unix_may_send`` on connect and on every datagram; ``max_dgram_qlen`` 10 (again
  ``qlen > 10`` is full) -> block or EAGAIN; EMSGSIZE above ``sndbuf - 32``.
* SCM_RIGHTS: each passed file gets a reference; ``file_receive`` per fd on receipt; a denial
  or a short ``maxfds`` drops the rest and sets MSG_CTRUNC (recvmsg still succeeds).

Deliberate differences from Linux: the in-flight fd garbage collector (cycles of sockets
passed over themselves) is not modelled; skb memory is ``len + SKB_OVERHEAD``; autobind
names are handed out in order from 0 (Linux starts at a random number); dgram and
seqpacket EPIPE raise no SIGPIPE (as Linux's ``unix_dgram_sendmsg``).

This module holds socket creation, the proto ops (bind/listen/connect/accept/shutdown/
release) and the per-type ops tables.  Addresses and the per-kernel state are in
:mod:`.unix_addr`, SCM_RIGHTS/SCM_CREDENTIALS in :mod:`.unix_scm`, the sendmsg/recvmsg data
paths in :mod:`.unix_msg`; their names are re-exported here (``__all__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.net.socket import (
    NO_PEERCRED,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SOMAXCONN,
    SS_CONNECTED,
    SS_UNCONNECTED,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    ProtoOps,
    Skb,
    Sock,
    Socket,
    sk_alloc,
    sk_drain_and_free,
    sk_free,
    sock_graft,
)
from kernel_sim.net.unix_addr import (
    UNIX_AUTOBIND_SPACE,
    UNIX_PATH_MAX,
    UnixNet,
    unix_autobind,
    unix_bind,
    unix_connect_name,
    unix_find_other,
    unix_mkname,
    unix_net,
)
from kernel_sim.net.unix_msg import (
    dgram_recvmsg,
    dgram_sendmsg,
    stream_recvmsg,
    stream_sendmsg,
)
from kernel_sim.net.unix_scm import (
    put_files,
    scm_check_creds,
    scm_destroy,
    scm_detach_fds,
    scm_fp_copy,
    skb_creds,
    unix_attach_fds,
    unix_detach_fds,
)

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File

PF_UNIX = 1
#: net.unix.max_dgram_qlen
MAX_DGRAM_QLEN = 10


def unix_sclass(type_: int) -> str:
    return "unix_dgram_socket" if type_ == c.SOCK_DGRAM else "unix_stream_socket"


def current_cred_tuple(task: Task) -> tuple[int, int, int]:
    """What ``init_peercred`` records: the tgid and the effective uid/gid."""
    return (task.pid, task.cred.euid, task.cred.egid)


# --------------------------------------------------------------------------- creation
def unix_create(task: Task, sock: Socket, protocol: int, kern: int) -> None:
    """``unix_create``: pick the ops by type; SOCK_RAW becomes SOCK_DGRAM."""
    if protocol and protocol != PF_UNIX:
        raise SyscallError(c.EPROTONOSUPPORT)
    type_ = sock.type
    if type_ == c.SOCK_RAW:
        type_ = sock.type = c.SOCK_DGRAM
    ops = UNIX_OPS.get(type_)
    if ops is None:
        raise SyscallError(c.ESOCKTNOSUPPORT)
    sock.ops = ops
    sk = unix_create1(task, type_)
    sock_init_data(sk, sock)


def unix_create1(task: Task, type_: int) -> Sock:
    sk = sk_alloc(task, c.AF_UNIX, type_, 0, unix_sclass(type_))
    sk.max_ack_backlog = MAX_DGRAM_QLEN
    return sk


def sock_init_data(sk: Sock, sock: Socket) -> None:
    sk.socket = sock
    sock.sk = sk
    sock.sclass = sk.sclass


# --------------------------------------------------------------------------- ops
class UnixStreamOps(ProtoOps):
    family = c.AF_UNIX
    name = "unix_stream"

    def bind(self, task: Task, sock: Socket, addr: Any) -> None:
        unix_bind(task, sock, addr)

    def listen(self, task: Task, sock: Socket, backlog: int) -> None:
        sk = sock.sk
        assert sk is not None
        if sk.addr is None:
            raise SyscallError(c.EINVAL)
        if sk.state not in (TCP_CLOSE, TCP_LISTEN):
            raise SyscallError(c.EINVAL)
        if backlog > sk.max_ack_backlog:
            sk.peer_wait.wake_all()
        sk.max_ack_backlog = backlog
        sk.state = TCP_LISTEN
        sk.peercred = current_cred_tuple(task)

    def connect(self, task: Task, sock: Socket, addr: Any, flags: int) -> Any:
        k = task.kernel
        sk = sock.sk
        assert sk is not None
        name = unix_connect_name(addr)
        if sk.passcred and sk.addr is None:
            unix_autobind(k, sk)
        newsk = unix_create1(task, sk.type)
        try:
            while True:
                other = unix_find_other(task, name, sk.type)
                if other.state != TCP_LISTEN or other.shutdown & RCV_SHUTDOWN or other.dead:
                    raise SyscallError(c.ECONNREFUSED)
                if len(other.rcvq) > other.max_ack_backlog:
                    if flags & c.O_NONBLOCK:
                        raise SyscallError(c.EAGAIN)
                    yield from task.sleep(other.peer_wait.prepare())
                    continue
                if sk.state == TCP_ESTABLISHED:
                    raise SyscallError(c.EISCONN)
                if sk.state != TCP_CLOSE:
                    raise SyscallError(c.EINVAL)
                # Linux 6.x passes the client's struct sock; we pass its struct socket
                # (``sock.sk`` is that sock), as the LSMs here expect: (socket, sock, sock)
                check(k.security.unix_stream_connect(sock, other, newsk))
                break
        except BaseException:
            sk_free(newsk)
            raise
        newsk.state = TCP_ESTABLISHED
        newsk.peercred = current_cred_tuple(task)
        newsk.peer = sk
        newsk.addr = other.addr
        newsk.sclass = other.sclass
        sk.peercred = other.peercred
        sk.peer = newsk
        sk.state = TCP_ESTABLISHED
        sock.state = SS_CONNECTED
        other.rcvq.append(Skb(b"", embryo=newsk))
        other.wq.wake_all()
        return 0

    def socketpair(self, task: Task, a: Socket, b: Socket) -> None:
        ska, skb_ = a.sk, b.sk
        assert ska is not None and skb_ is not None
        ska.peer, skb_.peer = skb_, ska
        ska.peercred = skb_.peercred = current_cred_tuple(task)
        if a.type != c.SOCK_DGRAM:
            ska.state = skb_.state = TCP_ESTABLISHED
            a.state = b.state = SS_CONNECTED

    def accept(self, task: Task, sock: Socket, newsock: Socket, flags: int) -> Any:
        sk = sock.sk
        assert sk is not None
        if sk.state != TCP_LISTEN:
            raise SyscallError(c.EINVAL)
        while True:
            if sk.rcvq:
                skb = sk.rcvq.popleft()
                sk.peer_wait.wake_all()  # room in the backlog for a waiting connect
                break
            if flags & c.O_NONBLOCK:
                raise SyscallError(c.EAGAIN)
            yield from task.sleep(sk.wq.prepare())
        tsk = skb.embryo
        assert tsk is not None
        sock_graft(tsk, newsock)
        newsock.state = SS_CONNECTED
        return 0

    def getname(self, sock: Socket, peer: bool) -> Any:
        sk = sock.sk
        assert sk is not None
        if peer:
            if sk.peer is None or (sk.state != TCP_ESTABLISHED and sk.type != c.SOCK_DGRAM):
                raise SyscallError(c.ENOTCONN)
            sk = sk.peer
        return sk.addr if sk.addr is not None else ""

    # the data paths are the protocol functions themselves: no extra generator frame per call
    sendmsg = staticmethod(stream_sendmsg)  # type: ignore[assignment]
    recvmsg = staticmethod(stream_recvmsg)

    def shutdown(self, sock: Socket, how: int) -> None:
        unix_shutdown(sock, how)

    def release(self, sock: Socket) -> None:
        sk = sock.sk
        if sk is not None:
            sock.sk = None
            unix_release_sock(sock.kernel, sk, False)


def unix_shutdown(sock: Socket, how: int) -> None:
    """``unix_shutdown``: SHUT_RD/WR/RDWR (0..2) become RCV/SEND shutdown bits."""
    if how not in (c.SHUT_RD, c.SHUT_WR, c.SHUT_RDWR):
        raise SyscallError(c.EINVAL)
    sk = sock.sk
    assert sk is not None
    mode = how + 1
    sk.shutdown |= mode
    sk.wq.wake_all()
    sk.wr_wait.wake_all()
    other = sk.peer
    if other is not None and sk.type in (c.SOCK_STREAM, c.SOCK_SEQPACKET):
        peer_mode = 0
        if mode & RCV_SHUTDOWN:
            peer_mode |= SEND_SHUTDOWN
        if mode & SEND_SHUTDOWN:
            peer_mode |= RCV_SHUTDOWN
        other.shutdown |= peer_mode
        other.wq.wake_all()
        other.wr_wait.wake_all()


def unix_release_sock(k: Kernel, sk: Sock, embrion: bool) -> None:
    """``unix_release_sock``: unhash the name, shut the peer down, free queued skbs."""
    net = unix_net(k)
    addr = sk.addr
    if isinstance(addr, str) and addr.startswith("\0") and net.abstract.get(addr) is sk:
        del net.abstract[addr]
    if sk.inode is not None:
        if sk.inode.sock is sk:
            sk.inode.sock = None  # the file stays; connecting to it is ECONNREFUSED
        sk.inode = None
    state = sk.state
    sk.state = TCP_CLOSE
    sk.shutdown = SHUTDOWN_MASK
    sk.dead = True
    skpair = sk.peer
    sk.peer = None
    if skpair is not None:
        if sk.type in (c.SOCK_STREAM, c.SOCK_SEQPACKET):
            skpair.shutdown = SHUTDOWN_MASK
            if sk.rcvq or embrion:
                skpair.err = c.ECONNRESET
        skpair.wq.wake_all()
        skpair.wr_wait.wake_all()
        skpair.peer_wait.wake_all()
    sk_drain_and_free(k, sk, state, unix_release_sock)


class UnixSeqpacketOps(UnixStreamOps):
    name = "unix_seqpacket"

    def sendmsg(self, task: Task, sock: Socket, data: bytes,  # type: ignore[override]
                files: list[File] | None, flags: int, addr: Any,
                creds: tuple[int, int, int] | None = None) -> Any:
        sk = sock.sk
        assert sk is not None
        if sk.state != TCP_ESTABLISHED:
            put_files(task.kernel, files)
            raise SyscallError(c.ENOTCONN)
        # unix_seqpacket_sendmsg ignores a destination address
        return (yield from dgram_sendmsg(task, sock, data, files, flags, None, creds))

    def recvmsg(self, task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
        sk = sock.sk
        assert sk is not None
        if sk.state != TCP_ESTABLISHED:
            raise SyscallError(c.ENOTCONN)
        return (yield from dgram_recvmsg(task, sock, n, maxfds, flags))



class UnixDgramOps(UnixStreamOps):
    name = "unix_dgram"

    def listen(self, task: Task, sock: Socket, backlog: int) -> None:
        raise SyscallError(c.EOPNOTSUPP)

    def accept(self, task: Task, sock: Socket, newsock: Socket, flags: int) -> Any:
        raise SyscallError(c.EOPNOTSUPP)
        yield

    def connect(self, task: Task, sock: Socket, addr: Any, flags: int) -> Any:
        """``unix_dgram_connect``: set the default peer (AF_UNSPEC disconnects)."""
        k = task.kernel
        sk = sock.sk
        assert sk is not None
        if addr is None or addr == c.AF_UNSPEC:
            old = sk.peer
            sk.peer = None
            sk.state = TCP_CLOSE
            sock.state = SS_UNCONNECTED
            if old is not None:  # writers blocked on the old peer's full queue retry
                old.peer_wait.wake_all()
            return 0
        name = unix_connect_name(addr)
        if sk.passcred and sk.addr is None:
            unix_autobind(k, sk)
        other = unix_find_other(task, name, sk.type)
        if other.dead:
            raise SyscallError(c.ECONNREFUSED)
        if not (other.peer is None or other.peer is sk):
            raise SyscallError(c.EPERM)
        check(k.security.unix_may_send(sock, other.socket))
        old = sk.peer
        sk.peer = other
        sk.state = TCP_ESTABLISHED
        if old is not None and old is not other:
            old.peer_wait.wake_all()
        return 0
        yield

    sendmsg = staticmethod(dgram_sendmsg)  # type: ignore[assignment]
    recvmsg = staticmethod(dgram_recvmsg)


UNIX_STREAM_OPS = UnixStreamOps()
UNIX_SEQPACKET_OPS = UnixSeqpacketOps()
UNIX_DGRAM_OPS = UnixDgramOps()
UNIX_OPS: dict[int, ProtoOps] = {
    c.SOCK_STREAM: UNIX_STREAM_OPS,
    c.SOCK_SEQPACKET: UNIX_SEQPACKET_OPS,
    c.SOCK_DGRAM: UNIX_DGRAM_OPS,
}

__all__ = [
    "NO_PEERCRED",
    "SOMAXCONN",
    "UNIX_AUTOBIND_SPACE",
    "UNIX_PATH_MAX",
    "UnixNet",
    "dgram_recvmsg",
    "dgram_sendmsg",
    "put_files",
    "scm_check_creds",
    "scm_destroy",
    "scm_detach_fds",
    "scm_fp_copy",
    "skb_creds",
    "stream_recvmsg",
    "stream_sendmsg",
    "unix_attach_fds",
    "unix_autobind",
    "unix_bind",
    "unix_connect_name",
    "unix_create",
    "unix_detach_fds",
    "unix_find_other",
    "unix_mkname",
    "unix_net",
]
