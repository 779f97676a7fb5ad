"""Socket system calls (Linux ``net/socket.c`` ``__sys_*``): AF_UNIX and loopback AF_INET/6.

Each call looks the fd up (EBADF, ENOTSOCK), runs the socket-layer LSM hook **before** the
protocol (so ``socket_bind`` precedes CAP_NET_BIND_SERVICE and ``socket_connect`` precedes
the UNIX path lookup and ECONNREFUSED), then the protocol operation in
:mod:`kernel_sim.net.unix` / :mod:`kernel_sim.net.inet`.  A file's O_NONBLOCK turns into
MSG_DONTWAIT as in ``__sys_sendto``/``__sys_recvfrom``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.net.socket import (
    EMPTY_MSG,
    NO_PEERCRED,
    SOCK_TYPE_MASK,
    SOMAXCONN,
    TCP_LISTEN,
    MsgHdr,
    Socket,
    fd_available,
    sock_alloc,
    sock_alloc_file,
    sock_create,
    sock_error,
    sock_map_fd,
    sock_recvmsg,
    sock_release,
    sock_sendmsg,
    sockfd_lookup,
)
from kernel_sim.syscall import syscall

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task

SOCK_MIN_SNDBUF, SOCK_MIN_RCVBUF = 4608, 2304
SYSCTL_WMEM_MAX = SYSCTL_RMEM_MAX = 212992
_BYTES = (bytes, bytearray, memoryview)


def _flags_of(type_: int) -> tuple[int, int]:
    flags = type_ & ~SOCK_TYPE_MASK
    if flags & ~(c.SOCK_CLOEXEC | c.SOCK_NONBLOCK):
        raise SyscallError(c.EINVAL)
    return type_ & SOCK_TYPE_MASK, flags


def _nonblock(sock: Socket, flags: int) -> int:
    file = sock.file
    if file is not None and file.flags & c.O_NONBLOCK:
        return flags | c.MSG_DONTWAIT
    return flags


def _data(data: Any) -> bytes:
    if not isinstance(data, _BYTES):
        raise SyscallError(c.EFAULT)
    return bytes(data)


def _ops(sock: Socket) -> Any:
    ops = sock.ops
    if ops is None:  # pragma: no cover - a released socket has no fd
        raise SyscallError(c.EBADF)
    return ops


class NetSyscalls:
    __slots__ = ()
    kernel: Kernel

    # -- creation --------------------------------------------------------------------------
    @syscall
    def socket(self: Task, family: int, type: int, proto: int = 0) -> Any:
        type_, flags = _flags_of(type)
        sock = sock_create(self, family, type_, proto)
        try:
            fd_available(self)
        except SyscallError:
            sock_release(sock)
            raise
        return sock_map_fd(self, sock, flags)
        yield

    @syscall
    def socketpair(self: Task, family: int, type: int, proto: int = 0) -> Any:
        type_, flags = _flags_of(type)
        files = self.process.files
        if len(files.fds) + 2 > files.max_fds:
            raise SyscallError(c.EMFILE)
        k = self.kernel
        sock1 = sock_create(self, family, type_, proto)
        try:
            sock2 = sock_create(self, family, type_, proto)
        except SyscallError:
            sock_release(sock1)
            raise
        try:
            check(k.security.socket_socketpair(sock1, sock2))
            _ops(sock1).socketpair(self, sock1, sock2)
        except SyscallError:
            sock_release(sock1)
            sock_release(sock2)
            raise
        try:
            file1 = sock_alloc_file(self, sock1, flags)
        except SyscallError:
            sock_release(sock2)
            raise
        try:
            file2 = sock_alloc_file(self, sock2, flags)
        except SyscallError:
            k.fput(file1)
            raise
        cloexec = bool(flags & c.SOCK_CLOEXEC)
        return files.alloc(file1, cloexec), files.alloc(file2, cloexec)
        yield

    # -- addresses and connections ------------------------------------------------------------
    @syscall
    def bind(self: Task, fd: int, addr: Any) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_bind(sock, addr))
        _ops(sock).bind(self, sock, addr)
        return 0
        yield

    @syscall
    def listen(self: Task, fd: int, backlog: int) -> Any:
        sock = sockfd_lookup(self, fd)
        if backlog < 0 or backlog > SOMAXCONN:  # (unsigned) backlog > somaxconn
            backlog = SOMAXCONN
        check(self.kernel.security.socket_listen(sock, backlog))
        _ops(sock).listen(self, sock, backlog)
        return 0
        yield

    @syscall
    def connect(self: Task, fd: int, addr: Any) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_connect(sock, addr))
        file = sock.file
        flags = file.flags if file is not None else 0
        return (yield from _ops(sock).connect(self, sock, addr, flags))

    @syscall
    def accept(self: Task, fd: int) -> Any:
        return (yield from _do_accept(self, fd, 0))

    @syscall
    def accept4(self: Task, fd: int, flags: int = 0) -> Any:
        if flags & ~(c.SOCK_CLOEXEC | c.SOCK_NONBLOCK):
            raise SyscallError(c.EINVAL)
        return (yield from _do_accept(self, fd, flags))

    @syscall
    def shutdown(self: Task, fd: int, how: int) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_shutdown(sock, how))
        _ops(sock).shutdown(sock, how)
        return 0
        yield

    @syscall
    def getsockname(self: Task, fd: int) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_getsockname(sock))
        return _ops(sock).getname(sock, False)
        yield

    @syscall
    def getpeername(self: Task, fd: int) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_getpeername(sock))
        return _ops(sock).getname(sock, True)
        yield

    # -- data ----------------------------------------------------------------------------------
    @syscall
    def send(self: Task, fd: int, data: Any, flags: int = 0) -> Any:
        sock = sockfd_lookup(self, fd)
        if not isinstance(data, _BYTES):
            raise SyscallError(c.EFAULT)
        data = bytes(data)
        # sock_sendmsg inlined: the socket_sendmsg hook, then the protocol
        rc = self.kernel.security.socket_sendmsg(sock, MsgHdr(None, data, (), flags), len(data))
        if rc:
            raise SyscallError(-rc)
        if sock.file.flags & c.O_NONBLOCK:  # type: ignore[union-attr]
            flags |= c.MSG_DONTWAIT
        return (yield from sock.ops.sendmsg(self, sock, data, None, flags,  # type: ignore
                                            None))

    @syscall
    def sendto(self: Task, fd: int, data: Any, flags_or_addr: Any, addr: Any = None) -> Any:
        """``sendto(fd, data, addr)`` or, as Python's socket, ``sendto(fd, data, flags, addr)``."""
        if addr is None:
            flags, addr = 0, flags_or_addr
        else:
            flags = flags_or_addr
        sock = sockfd_lookup(self, fd)
        data = _data(data)
        return (yield from sock_sendmsg(self, sock, data, (), _nonblock(sock, flags), addr,
                                        MsgHdr(addr, data, (), flags)))

    @syscall
    def sendmsg(self: Task, fd: int, data: Any, fds: Any = (), flags: int = 0,
                addr: Any = None, creds: Any = None) -> Any:
        """``fds`` travel as SCM_RIGHTS; ``creds=(pid, uid, gid)`` as SCM_CREDENTIALS."""
        sock = sockfd_lookup(self, fd)
        if not isinstance(data, _BYTES):  # Python's sendmsg takes a list of buffers
            try:
                data = b"".join(bytes(b) for b in data)
            except TypeError:
                raise SyscallError(c.EFAULT) from None
        data = bytes(data)
        fds = tuple(fds) if fds else ()
        return (yield from sock_sendmsg(self, sock, data, fds, _nonblock(sock, flags), addr,
                                        MsgHdr(addr, data, fds, flags), creds))

    @syscall
    def recv(self: Task, fd: int, n: int, flags: int = 0) -> Any:
        sock = sockfd_lookup(self, fd)
        # sock_recvmsg inlined: the socket_recvmsg hook, then the protocol
        rc = self.kernel.security.socket_recvmsg(sock, MsgHdr(flags=flags) if flags
                                                 else EMPTY_MSG, n, flags)
        if rc:
            raise SyscallError(-rc)
        if sock.file.flags & c.O_NONBLOCK:  # type: ignore[union-attr]
            flags |= c.MSG_DONTWAIT
        data, _fds, _mf, _addr = yield from sock.ops.recvmsg(self, sock, n, 0,  # type: ignore
                                                             flags)
        return data

    @syscall
    def recvfrom(self: Task, fd: int, n: int, flags: int = 0) -> Any:
        sock = sockfd_lookup(self, fd)
        data, _fds, _mf, addr = yield from sock_recvmsg(self, sock, n, 0,
                                                        _nonblock(sock, flags),
                                                        MsgHdr(flags=flags))
        return data, addr

    @syscall
    def recvmsg(self: Task, fd: int, n: int, maxfds: int = 0, flags: int = 0,
                creds: bool = False, security: bool = False) -> Any:
        """Returns ``(data, fds, msg_flags, addr)``; ``maxfds`` is the control buffer's room.

        With ``creds=True`` one more item is the SCM_CREDENTIALS ``(pid, uid, gid)`` delivered
        with the message, or None (it is delivered only when SO_PASSCRED is set); with
        ``security=True`` one more is the SCM_SECURITY context of the sending socket, or None
        (only under SO_PASSSEC, for an AF_UNIX stream also SO_PASSCRED, and only when an LSM
        labels sockets).
        """
        sock = sockfd_lookup(self, fd)
        sk = sock.sk
        if sk is not None:
            sk.rcv_cred = None
            sk.rcv_sec_from = None
        data, fds, mflags, addr = yield from sock_recvmsg(self, sock, n, maxfds,
                                                          _nonblock(sock, flags),
                                                          MsgHdr(flags=flags))
        out: tuple[Any, ...] = (data, tuple(fds), mflags, addr)
        if creds:
            out += (sk.rcv_cred if sk is not None and sk.passcred else None,)
        if security:
            out += (_scm_security(self, sk),)
        return out

    # -- options -------------------------------------------------------------------------------
    @syscall
    def getsockopt(self: Task, fd: int, level: int, optname: int) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_getsockopt(sock, level, optname))
        return _sock_getsockopt(self, sock, level, optname)
        yield

    @syscall
    def setsockopt(self: Task, fd: int, level: int, optname: int, value: Any) -> Any:
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_setsockopt(sock, level, optname))
        _sock_setsockopt(sock, level, optname, value)
        return 0
        yield

    @syscall
    def getpeercon(self: Task, fd: int) -> Any:
        """libselinux ``getpeercon``: ``getsockopt(fd, SOL_SOCKET, SO_PEERSEC)``."""
        sock = sockfd_lookup(self, fd)
        check(self.kernel.security.socket_getsockopt(sock, c.SOL_SOCKET, c.SO_PEERSEC))
        return _sock_getsockopt(self, sock, c.SOL_SOCKET, c.SO_PEERSEC)
        yield


def _do_accept(task: Task, fd: int, flags: int) -> Any:
    """``__sys_accept4_file``/``do_accept``: new socket and file, ``socket_accept``, accept."""
    k = task.kernel
    fd_available(task)
    sock = sockfd_lookup(task, fd)
    ops = _ops(sock)
    newsock = sock_alloc(task, sock.family, sock.type)
    newsock.ops = ops
    newsock.sclass = sock.sclass
    newfile = sock_alloc_file(task, newsock, flags)
    try:
        check(k.security.socket_accept(sock, newsock))
        # blocking follows the listener's O_NONBLOCK; accept4's flags are the new file's
        lflags = sock.file.flags if sock.file is not None else 0
        yield from ops.accept(task, sock, newsock, lflags)
        addr = ops.getname(newsock, True)
    except BaseException:
        k.fput(newfile)
        raise
    try:
        newfd = task.process.files.alloc(newfile, bool(flags & c.SOCK_CLOEXEC))
    except SyscallError:
        k.fput(newfile)
        raise
    return newfd, addr


def _sock_getsockopt(task: Task, sock: Socket, level: int, optname: int) -> Any:
    """``sock_getsockopt`` for SOL_SOCKET; other levels belong to the protocol."""
    sk = sock.sk
    assert sk is not None
    if level != c.SOL_SOCKET:
        raise SyscallError(c.EOPNOTSUPP if sock.family == c.AF_UNIX else c.ENOPROTOOPT)
    if optname == c.SO_TYPE:
        return sock.type
    if optname == c.SO_ERROR:
        return sock_error(sk)
    if optname == c.SO_SNDBUF:
        return sk.sndbuf
    if optname == c.SO_RCVBUF:
        return sk.rcvbuf
    if optname == c.SO_PEERCRED:
        return sk.peercred if sk.peercred is not None else NO_PEERCRED
    if optname == c.SO_PEERSEC:
        out: list[str] = []
        check(task.kernel.security.socket_getpeersec_stream(sock, out))
        return out[0] if out else ""
    if optname == c.SO_ACCEPTCONN:
        return int(sk.state == TCP_LISTEN)
    if optname == c.SO_DOMAIN:
        return sock.family
    if optname == c.SO_PROTOCOL:
        return sk.protocol
    if optname == c.SO_PASSCRED:
        return int(sk.passcred)
    if optname == c.SO_PASSSEC:
        return int(sk.passsec)
    if optname == c.SO_REUSEADDR:
        return int(sk.reuseaddr)
    raise SyscallError(c.ENOPROTOOPT)


def _scm_security(task: Task, sk: Any) -> str | None:
    """``scm_passec``: the sender's label (``security_socket_getpeersec_dgram`` on the
    sending socket, then ``secid_to_secctx``; asked at receive time here, which gives the
    same answer since a socket's label is fixed)."""
    sender = sk.rcv_sec_from if sk is not None and sk.passsec else None
    if sender is None or sender.socket is None:
        return None
    out: list[str] = []
    if task.kernel.security.socket_getpeersec_dgram(sender.socket, None, out) or not out:
        return None
    return out[0]


def _sock_setsockopt(sock: Socket, level: int, optname: int, value: Any) -> None:
    sk = sock.sk
    assert sk is not None
    if level != c.SOL_SOCKET:
        raise SyscallError(c.EOPNOTSUPP if sock.family == c.AF_UNIX else c.ENOPROTOOPT)
    if not isinstance(value, int):
        raise SyscallError(c.EINVAL)
    if optname == c.SO_SNDBUF:
        sk.sndbuf = max(min(value, SYSCTL_WMEM_MAX) * 2, SOCK_MIN_SNDBUF)
        sk.wr_wait.wake_all()
    elif optname == c.SO_RCVBUF:
        sk.rcvbuf = max(min(value, SYSCTL_RMEM_MAX) * 2, SOCK_MIN_RCVBUF)
    elif optname == c.SO_PASSCRED:
        sk.passcred = bool(value)
    elif optname == c.SO_REUSEADDR:
        sk.reuseaddr = bool(value)
    elif optname == c.SO_PASSSEC:
        sk.passsec = bool(value)
    else:
        raise SyscallError(c.ENOPROTOOPT)
