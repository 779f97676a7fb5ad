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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.caps import CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.net.socket import (
    NO_PEERCRED,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SKB_OVERHEAD,
    SOMAXCONN,
    SS_CONNECTED,
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
    skb_free,
    sock_error,
    sock_graft,
)
from kernel_sim.process import RLIMIT_NOFILE

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File

PF_UNIX = 1
UNIX_PATH_MAX = 108
#: net.unix.max_dgram_qlen
MAX_DGRAM_QLEN = 10
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


# --------------------------------------------------------------------------- addresses
def unix_mkname(addr: Any) -> str:
    """Validate a ``sockaddr_un`` as Python passes it: ``""`` means family-only (autobind)."""
    if isinstance(addr, bytes | bytearray):
        addr = bytes(addr).decode("latin-1")
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


# --------------------------------------------------------------------------- SCM_CREDENTIALS
def scm_check_creds(task: Task, creds: Any) -> tuple[int, int, int]:
    """``scm_check_creds``: a process may only claim its own pid (else CAP_SYS_ADMIN), one of
    its real/effective/saved uids (else CAP_SETUID) and gids (else CAP_SETGID): EPERM; a pid
    that does not exist: ESRCH; a malformed ucred or uid/gid -1: EINVAL."""
    try:
        pid, uid, gid = (int(x) for x in creds)
    except (TypeError, ValueError):
        raise SyscallError(c.EINVAL) from None
    if uid < 0 or gid < 0:
        raise SyscallError(c.EINVAL)
    k = task.kernel
    cred = task.cred
    if ((pid == task.pid or k.capable(task, CAP_SYS_ADMIN))
            and (uid in (cred.uid, cred.euid, cred.suid) or k.capable(task, CAP_SETUID))
            and (gid in (cred.gid, cred.egid, cred.sgid) or k.capable(task, CAP_SETGID))):
        if pid != task.pid:
            proc = k.processes.get(pid)
            if proc is None or proc.exit_status is not None:
                raise SyscallError(c.ESRCH)
        return (pid, uid, gid)
    raise SyscallError(c.EPERM)


def default_creds(task: Task) -> tuple[int, int, int]:
    """``scm_set_cred(current)``: the tgid and the **real** uid/gid."""
    return (task.pid, task.cred.uid, task.cred.gid)


def skb_creds(skb: Skb) -> tuple[int, int, int] | None:
    if skb.cred is not None:
        return skb.cred
    writer = skb.writer
    task0 = getattr(writer, "task0", None)
    if task0 is None:
        return None
    return (writer.pid, task0.cred.uid, task0.cred.gid)


# --------------------------------------------------------------------------- SCM_RIGHTS
def scm_fp_copy(task: Task, fds: Any) -> list[File] | None:
    """``scm_fp_copy``: at most SCM_MAX_FD descriptors, each must be open (EBADF)."""
    if not fds:
        return None
    fds = tuple(fds)
    if len(fds) > c.SCM_MAX_FD:
        raise SyscallError(c.EINVAL)
    table = task.process.files
    files = [table.get(fd) for fd in fds]
    for f in files:
        f.count += 1
    return files


def unix_attach_fds(task: Task, skb: Skb, files: list[File]) -> None:
    """``unix_attach_fds``: ETOOMANYREFS above RLIMIT_NOFILE in flight without a capability."""
    k = task.kernel
    net = unix_net(k)
    uid = task.cred.uid
    if (net.inflight.get(uid, 0) > RLIMIT_NOFILE and not k.capable(task, CAP_SYS_RESOURCE)
            and not k.capable(task, CAP_SYS_ADMIN)):
        raise SyscallError(c.ETOOMANYREFS)
    net.inflight[uid] = net.inflight.get(uid, 0) + len(files)
    skb.fds = files
    skb.fd_uid = uid


def unix_detach_fds(k: Kernel, skb: Skb) -> list[File]:
    files = skb.fds or []
    skb.fds = None
    if files:
        net = unix_net(k)
        net.inflight[skb.fd_uid] = net.inflight.get(skb.fd_uid, 0) - len(files)
    return files


def scm_destroy(k: Kernel, skb: Skb) -> None:
    for f in unix_detach_fds(k, skb):
        k.fput(f)


def put_files(k: Kernel, files: list[File] | None) -> None:
    if files:
        for f in files:
            k.fput(f)


def scm_detach_fds(task: Task, files: list[File], maxfds: int, flags: int) -> tuple[
        list[int], int]:
    """``scm_detach_fds``: install up to ``maxfds``; ``file_receive`` may stop it early.

    Returns the new fds and MSG_CTRUNC if some were dropped.  Consumes the references.
    """
    k = task.kernel
    table = task.process.files
    out: list[int] = []
    cloexec = bool(flags & c.MSG_CMSG_CLOEXEC)
    n = min(max(maxfds, 0), len(files))
    i = 0
    while i < n:
        f = files[i]
        if k.security.file_receive(f):
            break
        try:
            out.append(table.alloc(f, cloexec))  # the in-flight reference moves to the fd
        except SyscallError:
            break
        i += 1
    for f in files[i:]:
        k.fput(f)
    return out, (c.MSG_CTRUNC if i < len(files) else 0)


# --------------------------------------------------------------------------- stream
def stream_sendmsg(task: Task, sock: Socket, data: bytes, files: list[File] | None,
                   flags: int, addr: Any, sigpipe: bool = True,
                   creds: tuple[int, int, int] | None = None) -> Any:
    """``unix_stream_sendmsg`` (also TCP on loopback): chunks limited by ``sndbuf``."""
    sk = sock.sk
    assert sk is not None
    other = sk.peer
    total = len(data)
    if (not files and creds is None and addr is None and other is not None
            and sk.state == TCP_ESTABLISHED and not flags & c.MSG_OOB
            and 0 < total <= (sk.sndbuf >> 1) - 64
            and sk.wmem < sk.sndbuf and not sk.shutdown & SEND_SHUTDOWN
            and not other.dead and not other.shutdown & RCV_SHUTDOWN):
        # the common case: one skb that fits, nothing to wait for
        truesize = total + SKB_OVERHEAD
        other.rcvq.append(Skb(data, sk, sk.addr, task.process, truesize=truesize))
        sk.wmem += truesize
        other.wq.wake_all()
        return total
    k = task.kernel
    try:
        if flags & c.MSG_OOB:
            raise SyscallError(c.EOPNOTSUPP)
        if addr is not None:
            raise SyscallError(c.EISCONN if sk.state == TCP_ESTABLISHED else c.EOPNOTSUPP)
        if other is None or sk.state != TCP_ESTABLISHED:
            if sk.err and sk.family != c.AF_UNIX:
                raise SyscallError(sock_error(sk))
            raise SyscallError(c.ENOTCONN)
    except BaseException:
        put_files(k, files)
        raise
    sent = 0
    nonblock = flags & c.MSG_DONTWAIT
    writer = task.process
    try:
        if sk.shutdown & SEND_SHUTDOWN:
            return _pipe_err(task, sent, flags, sigpipe)
        while sent < total:
            size = min(total - sent, (sk.sndbuf >> 1) - 64)
            while sk.wmem >= sk.sndbuf:
                if sk.shutdown & SEND_SHUTDOWN or other.dead or other.shutdown & RCV_SHUTDOWN:
                    return _pipe_err(task, sent, flags, sigpipe)
                if nonblock:
                    if sent:
                        return sent
                    raise SyscallError(c.EAGAIN)
                try:
                    yield from task.sleep(sk.wr_wait.prepare())
                except BaseException:
                    if sent:
                        return sent
                    raise
            if other.dead or other.shutdown & RCV_SHUTDOWN:
                return _pipe_err(task, sent, flags, sigpipe)
            chunk = data if size == total else data[sent:sent + size]
            skb = Skb(chunk, sk, sk.addr, writer, truesize=size + SKB_OVERHEAD, cred=creds)
            if files:
                unix_attach_fds(task, skb, files)
                files = None
            sk.wmem += skb.truesize
            other.rcvq.append(skb)
            other.wq.wake_all()
            sent += size
        return sent
    finally:
        put_files(k, files)


def _pipe_err(task: Task, sent: int, flags: int, sigpipe: bool) -> int:
    if sent:
        return sent
    if sigpipe and not flags & c.MSG_NOSIGNAL:
        task.kernel.force_sig(task, c.SIGPIPE)
    raise SyscallError(c.EPIPE)


def stream_recvmsg(task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
    """``unix_stream_read_generic``: merge skbs from one writer; stop after passed fds."""
    k = task.kernel
    sk = sock.sk
    assert sk is not None
    if sk.state != TCP_ESTABLISHED:
        raise SyscallError(c.EINVAL if sk.family == c.AF_UNIX else c.ENOTCONN)
    if flags & c.MSG_OOB:
        raise SyscallError(c.EOPNOTSUPP)
    if n < 0:
        raise SyscallError(c.EINVAL)
    q = sk.rcvq
    while not q and n:
        err = sock_error(sk)
        if err:
            raise SyscallError(err)
        if sk.shutdown & RCV_SHUTDOWN:
            return b"", [], 0, None
        if flags & c.MSG_DONTWAIT:
            raise SyscallError(c.EAGAIN)
        yield from task.sleep(sk.wq.prepare())
    if len(q) == 1 and not flags & (c.MSG_PEEK | c.MSG_WAITALL):
        skb = q[0]
        if not skb.fds and not skb.off and len(skb.data) <= n:
            # the common case: one whole skb without passed fds
            q.popleft()
            sender = skb.sender
            if sender is not None:
                sender.wmem -= skb.truesize
                sender.wr_wait.wake_all()
            if sk.passcred:
                sk.rcv_cred = skb_creds(skb)
            return skb.data, [], 0, skb.addr
    peek = flags & c.MSG_PEEK
    target = n if flags & c.MSG_WAITALL else 1
    chunks: list[bytes] = []
    copied = 0
    addr = None
    writer = None
    fcred = None
    fds: list[int] = []
    mflags = 0
    while True:
        idx = 0
        got_fds = False
        while copied < n and idx < len(q):
            skb = q[idx]
            if writer is not None and (skb.writer is not writer or skb.cred != fcred):
                break  # never glue messages from different writers (or credentials)
            if writer is None:
                writer = skb.writer
                addr = skb.addr
                fcred = skb.cred
                if sk.passcred:
                    sk.rcv_cred = skb_creds(skb)
            avail = len(skb.data) - skb.off
            chunk = min(avail, n - copied)
            chunks.append(skb.data[skb.off:skb.off + chunk])
            copied += chunk
            if peek:
                idx += 1
                if skb.fds:
                    dup = list(skb.fds)
                    for f in dup:
                        f.count += 1
                    fds, mflags = scm_detach_fds(task, dup, maxfds, flags)
                    got_fds = True
            else:
                skb.off += chunk
                if skb.fds:
                    files = unix_detach_fds(k, skb)
                    fds, mflags = scm_detach_fds(task, files, maxfds, flags)
                    got_fds = True
                if skb.off >= len(skb.data):
                    q.popleft()
                    skb_free(k, skb)
            if got_fds:
                break
        if copied >= target or got_fds or n == 0:
            break
        err = sock_error(sk)
        if err:
            if copied:
                break
            raise SyscallError(err)
        if sk.shutdown & RCV_SHUTDOWN:
            break
        if flags & c.MSG_DONTWAIT:
            if copied:
                break
            raise SyscallError(c.EAGAIN)
        try:
            yield from task.sleep(sk.wq.prepare())
        except BaseException:
            if copied:
                break
            raise
        if peek:  # re-peek from the start: nothing was consumed
            chunks.clear()
            copied = 0
            writer = None
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return data, fds, mflags, addr


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


# --------------------------------------------------------------------------- dgram
def dgram_sendmsg(task: Task, sock: Socket, data: bytes, files: list[File] | None,
                  flags: int, addr: Any, creds: tuple[int, int, int] | None = None) -> Any:
    """``unix_dgram_sendmsg``: ``unix_may_send`` on every datagram (not SEQPACKET)."""
    k = task.kernel
    sk = sock.sk
    assert sk is not None
    other = sk.peer
    size = len(data)
    if (not files and creds is None and addr is None and other is not None
            and not other.dead and not flags & c.MSG_OOB and size <= sk.sndbuf - 32
            and not other.shutdown & RCV_SHUTDOWN and not (sk.passcred and sk.addr is None)
            and ((other.peer is sk and sk.wmem < sk.sndbuf)
                 or (other.peer is None and len(other.rcvq) <= other.max_ack_backlog))):
        # the common case: connected, room in the queue, nothing to wait for
        if sk.type != c.SOCK_SEQPACKET:
            rc = k.security.unix_may_send(sock, other.socket)
            if rc:
                raise SyscallError(-rc)
        truesize = size + SKB_OVERHEAD
        other.rcvq.append(Skb(data, sk, sk.addr, task.process, truesize=truesize))
        sk.wmem += truesize
        other.wq.wake_all()
        return size
    try:
        if flags & c.MSG_OOB:
            raise SyscallError(c.EOPNOTSUPP)
        name = None
        if addr is not None:
            name = unix_connect_name(addr)
            other = None
        else:
            other = sk.peer
            if other is None:
                raise SyscallError(c.ENOTCONN)
        if sk.passcred and sk.addr is None:
            unix_autobind(k, sk)
        size = len(data)
        if size > sk.sndbuf - 32:
            raise SyscallError(c.EMSGSIZE)
        nonblock = flags & c.MSG_DONTWAIT
        while True:
            if other is None:
                assert name is not None
                other = unix_find_other(task, name, sk.type)
            if other.dead:
                if sk.type == c.SOCK_SEQPACKET:
                    raise SyscallError(c.EPIPE)
                if sk.peer is other:
                    sk.peer = None
                    sk.state = TCP_CLOSE
                    raise SyscallError(c.ECONNREFUSED)
                if name is None:
                    raise SyscallError(c.ECONNRESET)
                other = None
                continue
            if not (other.peer is None or other.peer is sk):
                raise SyscallError(c.EPERM)
            if other.shutdown & RCV_SHUTDOWN:
                raise SyscallError(c.EPIPE)
            if sk.type != c.SOCK_SEQPACKET:
                check(k.security.unix_may_send(sock, other.socket))
            if other.peer is not sk:
                if len(other.rcvq) > other.max_ack_backlog:
                    if nonblock:
                        raise SyscallError(c.EAGAIN)
                    yield from task.sleep(other.peer_wait.prepare())
                    continue
            elif sk.wmem >= sk.sndbuf:
                # a mutually connected pair (socketpair) is limited by sndbuf, not qlen
                if nonblock:
                    raise SyscallError(c.EAGAIN)
                yield from task.sleep(sk.wr_wait.prepare())
                continue
            break
        skb = Skb(data, sk, sk.addr, task.process, truesize=size + SKB_OVERHEAD, cred=creds)
        if files:
            unix_attach_fds(task, skb, files)
            files = None
        sk.wmem += skb.truesize
        other.rcvq.append(skb)
        other.wq.wake_all()
        return size
    finally:
        put_files(k, files)


def dgram_recvmsg(task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
    """``unix_dgram_recvmsg``: one datagram; MSG_TRUNC if it did not fit."""
    k = task.kernel
    sk = sock.sk
    assert sk is not None
    if flags & c.MSG_OOB:
        raise SyscallError(c.EOPNOTSUPP)
    if n < 0:
        raise SyscallError(c.EINVAL)
    while True:
        if sk.rcvq:
            break
        err = sock_error(sk)
        if err:
            raise SyscallError(err)
        if sk.shutdown & RCV_SHUTDOWN:
            return b"", [], 0, None
        if flags & c.MSG_DONTWAIT:
            raise SyscallError(c.EAGAIN)
        yield from task.sleep(sk.wq.prepare())
    q = sk.rcvq
    skb = q[0]
    mflags = 0
    data = skb.data
    if sk.passcred:
        sk.rcv_cred = skb_creds(skb)
    if len(data) > n:
        data = data[:n]
        mflags |= c.MSG_TRUNC
    fds: list[int] = []
    if flags & c.MSG_PEEK:
        if skb.fds:
            dup = list(skb.fds)
            for f in dup:
                f.count += 1
            fds, ctr = scm_detach_fds(task, dup, maxfds, flags)
            mflags |= ctr
    else:
        q.popleft()
        sk.peer_wait.wake_all()  # unix_dgram_recvmsg wakes senders blocked on a full queue
        if skb.fds:
            fds, ctr = scm_detach_fds(task, unix_detach_fds(k, skb), maxfds, flags)
            mflags |= ctr
        skb_free(k, skb)
    return data, fds, mflags, skb.addr


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
            sk.peer = None
            sk.state = TCP_CLOSE
            sock.state = 1
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

__all__ = ["NO_PEERCRED", "SOMAXCONN", "UnixNet", "unix_create", "unix_net"]
