"""AF_UNIX data paths: ``unix_stream_sendmsg``/``unix_stream_read_generic`` (also loopback
TCP, :mod:`.inet`) and ``unix_dgram_sendmsg``/``unix_dgram_recvmsg`` (datagram, and
seqpacket through :class:`~kernel_sim.net.unix.UnixSeqpacketOps`).

Each sendmsg/recvmsg tries a fast path for the common case (connected, room to queue,
nothing to wait for, no ancillary data) before the full path with its waits and errno
order.  Socket creation and connection setup stay in :mod:`.unix`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.net.socket import (
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SKB_OVERHEAD,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    Skb,
    Socket,
    skb_free,
    sock_error,
)
from kernel_sim.net.unix_addr import unix_autobind, unix_connect_name, unix_find_other
from kernel_sim.net.unix_scm import (
    put_files,
    scm_detach_fds,
    skb_creds,
    unix_attach_fds,
    unix_detach_fds,
)

if TYPE_CHECKING:
    from kernel_sim.task import Task
    from kernel_sim.vfs import File


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
    """``unix_stream_read_generic``: merge skbs (from one writer only under SO_PASSCRED, so
    each credential message covers its data); stop after passed fds."""
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
            if sk.passcred:  # stream reads keep the sender's label only with creds
                sk.rcv_cred = skb_creds(skb)
                sk.rcv_sec_from = skb.sender
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
    boundary = False
    while True:
        idx = 0
        got_fds = False
        while copied < n and idx < len(q):
            skb = q[idx]
            if (writer is not None and sk.passcred
                    and (skb.writer is not writer or skb.cred != fcred)):
                boundary = True  # never glue messages from different writers (or credentials)
                break
            if writer is None:
                writer = skb.writer
                addr = skb.addr
                fcred = skb.cred
                if sk.passcred:
                    sk.rcv_cred = skb_creds(skb)
                    sk.rcv_sec_from = skb.sender
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
        if copied >= target or got_fds or boundary or n == 0:
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
    sk.rcv_sec_from = skb.sender  # a datagram always carries its sender's label
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
