"""Programs of the socket scenarios: UNIX (path and abstract), SCM_RIGHTS, loopback TCP."""

from __future__ import annotations

from typing import Any

from kernel_sim import (
    AF_INET,
    AF_UNIX,
    O_RDONLY,
    SOCK_STREAM,
    SyscallError,
)


def unix_listener(p: Any, ctx: Any, addr: str, delay: float, serve: int) -> Any:
    """Binds ``addr`` (a path, or "@name" for the abstract namespace) and reads what each of
    ``serve`` clients sends.  Used by the real daemon and by the impostor alike."""
    yield from p.nanosleep(delay)
    yield from p.umask(0)
    where = "\0" + addr[1:] if addr.startswith("@") else addr
    fd = yield from p.socket(AF_UNIX, SOCK_STREAM)
    try:
        yield from p.bind(fd, where)
    except SyscallError as e:
        ctx.note("bind failed", who=p.comm, addr=addr, errno=e.errno)
        return 1
    yield from p.listen(fd, 4)
    ctx.note("listening", who=p.comm, addr=addr)
    for _ in range(serve):
        conn, _peer = yield from p.accept(fd)
        data = yield from p.recv(conn, 128)
        ctx.note("got", who=p.comm, data=data)
        yield from p.close(conn)
    return 0


def unix_client(p: Any, ctx: Any, addr: str, payload: bytes | str, delay: float) -> Any:
    """Connects to what it believes is the daemon and sends ``payload`` (a password)."""
    if isinstance(payload, str):
        payload = payload.encode()
    yield from p.nanosleep(delay)
    where = "\0" + addr[1:] if addr.startswith("@") else addr
    fd = yield from p.socket(AF_UNIX, SOCK_STREAM)
    try:
        yield from p.connect(fd, where)
        yield from p.send(fd, payload)
        ctx.note("sent", who=p.comm, to=addr)
        yield from p.close(fd)
    except SyscallError as e:
        ctx.note("refused", who=p.comm, op="connect", errno=e.errno)
    return 0


# -- the confused deputy ------------------------------------------------------------------------
def deputy(p: Any, ctx: Any, path: str, trusted: list[str], serve: int) -> Any:
    """privd: performs privileged requests for clients of its 0666 socket.  It asks the
    kernel who the peer is (getpeercon) and serves only trusted domains; where there is no
    MAC label (ENOPROTOOPT) it falls back to trusting the caller -- the bug."""
    yield from p.umask(0)
    fd = yield from p.socket(AF_UNIX, SOCK_STREAM)
    yield from p.bind(fd, path)
    yield from p.listen(fd, 4)
    for _ in range(serve):
        conn, _ = yield from p.accept(fd)
        request = (yield from p.recv(conn, 128)).decode()
        try:
            peer = yield from p.getpeercon(conn)
        except SyscallError as e:
            peer = None
            ctx.note("no peer label", who=p.comm, errno=e.errno)
        ptype = peer.split(":")[2] if peer else None
        if peer is None or ptype in trusted:
            ctx.note("performed", who=p.comm, request=request, peer=ptype or "?")
        else:
            ctx.note("refused", who=p.comm, request=request, peer=ptype)
        yield from p.close(conn)
    return 0


# -- SCM_RIGHTS ---------------------------------------------------------------------------------
def fd_broker(p: Any, ctx: Any, path: str, serve: int) -> Any:
    """A root helper that opens the file a client names and hands the fd over SCM_RIGHTS
    (meant for the log viewer; it does not check who asks)."""
    yield from p.umask(0)
    fd = yield from p.socket(AF_UNIX, SOCK_STREAM)
    yield from p.bind(fd, path)
    yield from p.listen(fd, 4)
    for _ in range(serve):
        conn, _ = yield from p.accept(fd)
        want = (yield from p.recv(conn, 128)).decode()
        f = yield from p.open(want, O_RDONLY)
        yield from p.sendmsg(conn, b"here", fds=[f])
        ctx.note("passed fd", who=p.comm, path=want)
        yield from p.close(f)
        yield from p.close(conn)
    return 0


def fd_requester(p: Any, ctx: Any, path: str, want: str, delay: float) -> Any:
    yield from p.nanosleep(delay)
    fd = yield from p.socket(AF_UNIX, SOCK_STREAM)
    yield from p.connect(fd, path)
    yield from p.send(fd, want.encode())
    _data, fds, flags, _addr = yield from p.recvmsg(fd, 16, maxfds=1)
    if not fds:
        ctx.note("no fd", who=p.comm, msg_flags=flags)
        return 0
    try:
        data = yield from p.read(fds[0], 64)
        ctx.note("read", who=p.comm, path=want, data=data)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="read passed fd", errno=e.errno)
    return 0


# -- loopback TCP -------------------------------------------------------------------------------
def tcp_server(p: Any, ctx: Any, port: int, serve: int, reply: bytes | str) -> Any:
    fd = yield from p.socket(AF_INET, SOCK_STREAM)
    try:
        yield from p.bind(fd, ("127.0.0.1", port))
    except SyscallError as e:
        ctx.note("bind failed", who=p.comm, port=port, errno=e.errno)
        return 1
    yield from p.listen(fd, 4)
    ctx.note("listening", who=p.comm, port=port)
    for _ in range(serve):
        conn, _ = yield from p.accept(fd)
        yield from p.recv(conn, 64)
        yield from p.send(conn, reply.encode() if isinstance(reply, str) else reply)
        yield from p.close(conn)
    return 0


def tcp_attacker(p: Any, ctx: Any, target: int, backdoor: int, delay: float) -> Any:
    """A compromised web worker: queries the database port directly and opens a backdoor."""
    yield from p.nanosleep(delay)
    fd = yield from p.socket(AF_INET, SOCK_STREAM)
    try:
        yield from p.connect(fd, ("127.0.0.1", target))
        yield from p.send(fd, b"SELECT * FROM users")
        data = yield from p.recv(fd, 64)
        ctx.note("queried", who=p.comm, port=target, data=data)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op=f"connect {target}", errno=e.errno)
    bd = yield from p.socket(AF_INET, SOCK_STREAM)
    try:
        yield from p.bind(bd, ("127.0.0.1", backdoor))
        yield from p.listen(bd, 1)
        ctx.note("backdoor open", who=p.comm, port=backdoor)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op=f"bind {backdoor}", errno=e.errno)
    return 0
