"""AF_INET/AF_INET6 on loopback (Linux ``net/ipv4/af_inet.c``, ``tcp_ipv4.c``, ``udp.c``).

Only 127.0.0.0/8, ``::1`` and the wildcard addresses exist.  Addresses are Python's
``(host, port)`` tuples (AF_INET6 also takes and returns ``(host, port, flowinfo, scope_id)``).

* bind: EADDRNOTAVAIL for a non-local address; a port below 1024 needs CAP_NET_BIND_SERVICE
  (EACCES), checked in the protocol bind, so **after** the ``socket_bind`` hook; EINVAL if
  already bound; EADDRINUSE for an overlapping binding; port 0 takes an ephemeral port.
* Ephemeral ports come from 32768-60999 in order (Linux hashes a random offset; we are
  deterministic), with no bind/name_bind hook (implicit autobind is unchecked).
* TCP: listen/accept/connect; the loopback handshake runs inside connect() with Linux's hooks
  (``inet_conn_request`` on the listener, ``sk_alloc_security`` + ``sk_clone_security`` +
  ``inet_csk_clone`` for the child, ``inet_conn_established`` on the client).  A refused
  connect is ECONNREFUSED; a non-blocking connect returns EINPROGRESS and reports the outcome
  through SO_ERROR.
* UDP: sendto/recvfrom; a datagram to a port nobody listens on is dropped, and a connected
  sender sees ECONNREFUSED on its next call (the ICMP port-unreachable of loopback).

Deliberate differences: a full accept queue makes a blocking connect wait for room and a
non-blocking one fail with EAGAIN (Linux drops the SYN and retransmits); an SELinux-style
denial in ``inet_conn_request`` fails the connect with ETIMEDOUT at once (Linux drops the SYN
and the client times out later); sending to a peer that has closed fails with EPIPE at once
(Linux accepts one more segment and learns of the reset); SO_REUSEADDR only relaxes
conflicts between non-listening sockets; there is no TIME_WAIT.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim.caps import CAP_NET_BIND_SERVICE, CAP_NET_RAW
from kernel_sim.errors import SyscallError
from kernel_sim.net.socket import (
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SKB_OVERHEAD,
    SS_CONNECTED,
    SS_CONNECTING,
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
    sock_error,
    sock_graft,
)
from kernel_sim.net.unix import put_files, stream_recvmsg, stream_sendmsg

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File

PROT_SOCK = 1024  # net.ipv4.ip_unprivileged_port_start
LOCAL_PORT_LOW, LOCAL_PORT_HIGH = 32768, 60999  # net.ipv4.ip_local_port_range
UDP_MAX_PAYLOAD = {c.AF_INET: 65507, c.AF_INET6: 65527}
ANY = {c.AF_INET: "0.0.0.0", c.AF_INET6: "::"}
LOOPBACK = {c.AF_INET: "127.0.0.1", c.AF_INET6: "::1"}


@define(slots=True, eq=False)
class InetNet:
    """Per-kernel port tables (``inet_hashinfo`` bind buckets, ``udp_table``)."""

    ports: dict[tuple[int, int], list[Sock]] = field(factory=dict)
    next_port: dict[int, int] = field(factory=dict)  # per protocol, as TCP and UDP tables


def inet_net(k: Kernel) -> InetNet:
    net = k.subsystems.get("inet")
    if net is None:
        net = k.subsystems["inet"] = InetNet()
    return net


def inet_create(task: Task, sock: Socket, protocol: int, kern: int) -> None:
    """``inet_create``: TCP for SOCK_STREAM, UDP for SOCK_DGRAM; raw sockets are not modelled."""
    type_ = sock.type
    if type_ == c.SOCK_STREAM:
        if protocol not in (0, c.IPPROTO_TCP):
            raise SyscallError(c.EPROTONOSUPPORT)
        ops: ProtoOps = TCP_OPS
        sclass, proto = "tcp_socket", c.IPPROTO_TCP
    elif type_ == c.SOCK_DGRAM:
        if protocol not in (0, c.IPPROTO_UDP):
            raise SyscallError(c.EPROTONOSUPPORT)
        ops, sclass, proto = UDP_OPS, "udp_socket", c.IPPROTO_UDP
    elif type_ == c.SOCK_RAW:
        if not kern and not task.kernel.capable(task, CAP_NET_RAW):
            raise SyscallError(c.EPERM)
        raise SyscallError(c.EPROTONOSUPPORT)
    else:
        raise SyscallError(c.ESOCKTNOSUPPORT)
    sock.ops = ops
    sk = sk_alloc(task, sock.family, type_, proto, sclass)
    sk.socket = sock
    sock.sk = sk
    sock.sclass = sclass


# --------------------------------------------------------------------------- addresses
def parse_addr(family: int, addr: Any) -> tuple[str, int]:
    """A Python ``(host, port)`` address -> (normalised host, port); EINVAL if malformed."""
    if family == c.AF_INET:
        ok = isinstance(addr, tuple) and len(addr) == 2
    else:
        ok = isinstance(addr, tuple) and 2 <= len(addr) <= 4
    if not ok:
        raise SyscallError(c.EINVAL)
    host, port = addr[0], addr[1]
    if not isinstance(host, str) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise SyscallError(c.EINVAL)
    if host in ("", "<any>"):
        return ANY[family], port
    if host == "localhost":
        return LOOPBACK[family], port
    try:
        ip = (ipaddress.IPv4Address(host) if family == c.AF_INET
              else ipaddress.IPv6Address(host))
    except ValueError:
        raise SyscallError(c.EINVAL) from None
    return str(ip), port


def _is_local(family: int, host: str) -> bool:
    if family == c.AF_INET:
        return host == "0.0.0.0" or host.startswith("127.")
    return host in ("::", "::1")


def _is_any(host: str) -> bool:
    return host in ("0.0.0.0", "::")


def _overlap(sk: Sock, family: int, host: str) -> bool:
    """Do ``sk``'s bound address and (family, host) share a port namespace slot?"""
    h2 = sk.addr[0]
    if sk.family == family:
        return _is_any(h2) or _is_any(host) or h2 == host
    # a v6 wildcard socket is dual-stack: it also owns the v4 addresses
    return (sk.family == c.AF_INET6 and h2 == "::") or (family == c.AF_INET6 and host == "::")


def _conflict(net: InetNet, proto: int, port: int, sk: Sock, family: int, host: str) -> bool:
    for other in net.ports.get((proto, port), ()):
        if other is sk or not _overlap(other, family, host):
            continue
        if sk.reuseaddr and other.reuseaddr and TCP_LISTEN not in (other.state, sk.state):
            continue
        return True
    return False


def _hash(net: InetNet, sk: Sock, host: str, port: int) -> None:
    sk.addr = _mkaddr(sk.family, host, port)
    net.ports.setdefault((sk.protocol, port), []).append(sk)


def _mkaddr(family: int, host: str, port: int) -> tuple[Any, ...]:
    return (host, port) if family == c.AF_INET else (host, port, 0, 0)


def inet_get_port(k: Kernel, sk: Sock, host: str, port: int) -> None:
    """``inet_csk_get_port``/``udp_lib_get_port``: a given port, or the next free ephemeral."""
    net = inet_net(k)
    if port:
        if _conflict(net, sk.protocol, port, sk, sk.family, host):
            raise SyscallError(c.EADDRINUSE)
        _hash(net, sk, host, port)
        return
    span = LOCAL_PORT_HIGH - LOCAL_PORT_LOW + 1
    for _ in range(span):
        cand = net.next_port.get(sk.protocol, LOCAL_PORT_LOW)
        net.next_port[sk.protocol] = cand + 1 if cand < LOCAL_PORT_HIGH else LOCAL_PORT_LOW
        if not _conflict(net, sk.protocol, cand, sk, sk.family, host):
            _hash(net, sk, host, cand)
            return
    raise SyscallError(c.EADDRINUSE)


def inet_autobind(k: Kernel, sk: Sock) -> None:
    """Implicit bind before connect/send/listen: wildcard address, ephemeral port, no hook."""
    if sk.addr is None:
        inet_get_port(k, sk, ANY[sk.family], 0)


def _set_source(sk: Sock) -> None:
    """The route's source address for a wildcard-bound socket that connects, as
    ``tcp_v4_connect``/``ip4_datagram_connect`` set ``inet_saddr``: on loopback the local
    route's ``src``, 127.0.0.1 (``::1`` for IPv6)."""
    if sk.addr is not None and _is_any(sk.addr[0]):
        sk.addr = _mkaddr(sk.family, LOOPBACK[sk.family], sk.addr[1])


def inet_unhash(k: Kernel, sk: Sock) -> None:
    if sk.addr is None:
        return
    bucket = inet_net(k).ports.get((sk.protocol, sk.addr[1]))
    if bucket is not None and sk in bucket:
        bucket.remove(sk)


def _dest(family: int, addr: Any) -> tuple[str, int]:
    host, port = parse_addr(family, addr)
    if _is_any(host):
        host = LOOPBACK[family]  # connecting to INADDR_ANY reaches the local host
    elif not _is_local(family, host):
        raise SyscallError(c.ENETUNREACH)
    if port == 0:
        raise SyscallError(c.ECONNREFUSED)
    return host, port


def _src_host(sk: Sock) -> str:
    host: str = sk.addr[0]
    return LOOPBACK[sk.family] if _is_any(host) else host


def _lookup(k: Kernel, proto: int, family: int, host: str, port: int,
            want_state: int | None) -> Sock | None:
    for sk in inet_net(k).ports.get((proto, port), ()):
        if want_state is not None and sk.state != want_state:
            continue
        if _overlap(sk, family, host):
            return sk
    return None


# --------------------------------------------------------------------------- common ops
class InetOps(ProtoOps):
    family = c.AF_INET

    def bind(self, task: Task, sock: Socket, addr: Any) -> None:
        """``__inet_bind``: address, then CAP_NET_BIND_SERVICE, then state, then the port."""
        k = task.kernel
        sk = sock.sk
        assert sk is not None
        host, port = parse_addr(sk.family, addr)
        if not _is_local(sk.family, host):
            raise SyscallError(c.EADDRNOTAVAIL)
        if port and port < PROT_SOCK and not k.capable(task, CAP_NET_BIND_SERVICE):
            raise SyscallError(c.EACCES)
        if sk.state != TCP_CLOSE or sk.addr is not None:
            raise SyscallError(c.EINVAL)
        inet_get_port(k, sk, host, port)

    def getname(self, sock: Socket, peer: bool) -> Any:
        sk = sock.sk
        assert sk is not None
        if peer:
            if sk.daddr is None or (sk.type == c.SOCK_STREAM and sk.state != TCP_ESTABLISHED):
                raise SyscallError(c.ENOTCONN)
            return sk.daddr
        return sk.addr if sk.addr is not None else _mkaddr(sk.family, ANY[sk.family], 0)

    def shutdown(self, sock: Socket, how: int) -> None:
        if how not in (c.SHUT_RD, c.SHUT_WR, c.SHUT_RDWR):
            raise SyscallError(c.EINVAL)
        sk = sock.sk
        assert sk is not None
        if sk.type == c.SOCK_STREAM and sk.state not in (TCP_ESTABLISHED, TCP_LISTEN):
            raise SyscallError(c.ENOTCONN)
        mode = how + 1
        sk.shutdown |= mode
        sk.wq.wake_all()
        sk.wr_wait.wake_all()
        peer = sk.peer
        if peer is not None and mode & SEND_SHUTDOWN:
            peer.shutdown |= RCV_SHUTDOWN  # our FIN: the peer reads EOF
            peer.wq.wake_all()

    def release(self, sock: Socket) -> None:
        sk = sock.sk
        if sk is not None:
            sock.sk = None
            inet_release_sock(sock.kernel, sk, False)


def inet_release_sock(k: Kernel, sk: Sock, reset: bool) -> None:
    """Close: unhash the port; a FIN (or a RST if data was unread) reaches the peer."""
    inet_unhash(k, sk)
    state = sk.state
    sk.state = TCP_CLOSE
    sk.shutdown = SHUTDOWN_MASK
    sk.dead = True
    peer = sk.peer
    sk.peer = None
    if peer is not None:
        peer.shutdown = SHUTDOWN_MASK
        if sk.rcvq or reset:
            peer.err = c.ECONNRESET
        peer.wq.wake_all()
        peer.wr_wait.wake_all()
    sk_drain_and_free(k, sk, state, inet_release_sock)


# --------------------------------------------------------------------------- TCP
class TcpOps(InetOps):
    name = "tcp"

    def listen(self, task: Task, sock: Socket, backlog: int) -> None:
        sk = sock.sk
        assert sk is not None
        if sock.state != SS_UNCONNECTED or sk.state not in (TCP_CLOSE, TCP_LISTEN):
            raise SyscallError(c.EINVAL)
        if sk.state != TCP_LISTEN:
            inet_autobind(task.kernel, sk)
            sk.state = TCP_LISTEN
        elif backlog > sk.max_ack_backlog:
            sk.peer_wait.wake_all()
        sk.max_ack_backlog = backlog

    def connect(self, task: Task, sock: Socket, addr: Any, flags: int) -> Any:
        """``__inet_stream_connect`` + ``tcp_v4_connect`` + the loopback handshake."""
        k = task.kernel
        sk = sock.sk
        assert sk is not None
        if sock.state == SS_CONNECTED:
            raise SyscallError(c.EISCONN)
        if sock.state == SS_CONNECTING:
            err = sock_error(sk)
            if err:
                sock.state = SS_UNCONNECTED
                raise SyscallError(err)
            raise SyscallError(c.EISCONN if sk.state == TCP_ESTABLISHED else c.EALREADY)
        if sk.state != TCP_CLOSE:
            raise SyscallError(c.EISCONN)
        host, port = _dest(sk.family, addr)
        inet_autobind(k, sk)
        _set_source(sk)
        nonblock = flags & c.O_NONBLOCK
        while True:
            listener = _lookup(k, c.IPPROTO_TCP, sk.family, host, port, TCP_LISTEN)
            if listener is None or listener.shutdown & RCV_SHUTDOWN:
                err = c.ECONNREFUSED
                break
            if len(listener.rcvq) > listener.max_ack_backlog:
                if nonblock:
                    raise SyscallError(c.EAGAIN)
                yield from task.sleep(listener.peer_wait.prepare())
                continue
            err = tcp_handshake(task, sk, listener, host, port)
            break
        if nonblock:
            if err:
                sk.err = err
            sock.state = SS_CONNECTING
            raise SyscallError(c.EINPROGRESS)
        if err:
            raise SyscallError(err)
        sock.state = SS_CONNECTED
        return 0

    def accept(self, task: Task, sock: Socket, newsock: Socket, flags: int) -> Any:
        sk = sock.sk
        assert sk is not None
        if sk.state != TCP_LISTEN:
            raise SyscallError(c.EINVAL)
        while not sk.rcvq:
            if flags & c.O_NONBLOCK:
                raise SyscallError(c.EAGAIN)
            yield from task.sleep(sk.wq.prepare())
        skb = sk.rcvq.popleft()
        sk.peer_wait.wake_all()
        child = skb.embryo
        assert child is not None
        sock_graft(child, newsock)
        newsock.state = SS_CONNECTED
        return 0

    def sendmsg(self, task: Task, sock: Socket, data: bytes, files: list[File] | None,
                flags: int, addr: Any, creds: Any = None) -> Any:
        put_files(task.kernel, files)  # SCM_RIGHTS is AF_UNIX only: ignored, as Linux
        sk = sock.sk
        assert sk is not None
        if sk.state != TCP_ESTABLISHED:
            err = sock_error(sk)  # sk_stream_wait_connect
            if err:
                raise SyscallError(err)
            if not flags & c.MSG_NOSIGNAL:
                task.kernel.force_sig(task, c.SIGPIPE)
            raise SyscallError(c.EPIPE)
        if sk.err:
            raise SyscallError(sock_error(sk))
        return (yield from stream_sendmsg(task, sock, data, None, flags, None))

    def recvmsg(self, task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
        data, _fds, mflags, _addr = yield from stream_recvmsg(task, sock, n, 0, flags)
        return data, [], mflags, None


def tcp_handshake(task: Task, sk: Sock, listener: Sock, host: str, port: int) -> int:
    """SYN / SYN-ACK / ACK on loopback, with the hooks Linux runs for each step."""
    k = task.kernel
    sec = k.security
    if sec.inet_conn_request(listener, None, sk):
        return c.ETIMEDOUT
    child = sk_alloc(task, listener.family, listener.type, listener.protocol,
                     listener.sclass)  # sk_clone_lock -> sk_prot_alloc
    sec.sk_clone_security(listener, child)
    sec.inet_csk_clone(child, sk)
    child.addr = _mkaddr(listener.family, host, port)
    child.daddr = _mkaddr(sk.family, _src_host(sk), sk.addr[1])
    child.state = TCP_ESTABLISHED
    child.peer = sk
    sk.peer = child
    sk.daddr = _mkaddr(sk.family, host, port)
    sk.state = TCP_ESTABLISHED
    sec.inet_conn_established(sk, None)
    listener.rcvq.append(Skb(b"", embryo=child))
    listener.wq.wake_all()
    return 0


# --------------------------------------------------------------------------- UDP
class UdpOps(InetOps):
    name = "udp"

    def connect(self, task: Task, sock: Socket, addr: Any, flags: int) -> Any:
        """``ip4_datagram_connect``: set the default destination (AF_UNSPEC disconnects)."""
        k = task.kernel
        sk = sock.sk
        assert sk is not None
        if addr is None or addr == c.AF_UNSPEC:
            sk.daddr = None
            sk.state = TCP_CLOSE
            sock.state = SS_UNCONNECTED
            return 0
        host, port = _dest(sk.family, addr)
        inet_autobind(k, sk)
        _set_source(sk)
        sk.daddr = _mkaddr(sk.family, host, port)
        sk.state = TCP_ESTABLISHED
        sock.state = SS_CONNECTED
        return 0
        yield

    def sendmsg(self, task: Task, sock: Socket, data: bytes, files: list[File] | None,
                flags: int, addr: Any, creds: Any = None) -> Any:
        k = task.kernel
        put_files(k, files)
        sk = sock.sk
        assert sk is not None
        err = sock_error(sk)
        if err:
            raise SyscallError(err)
        if sk.shutdown & SEND_SHUTDOWN:
            if not flags & c.MSG_NOSIGNAL:
                k.force_sig(task, c.SIGPIPE)
            raise SyscallError(c.EPIPE)
        if addr is None:
            if sk.daddr is None:
                raise SyscallError(c.EDESTADDRREQ)
            host, port = sk.daddr[0], sk.daddr[1]
        else:
            host, port = _dest(sk.family, addr)
        size = len(data)
        if size > UDP_MAX_PAYLOAD[sk.family]:
            raise SyscallError(c.EMSGSIZE)
        inet_autobind(k, sk)
        src = _mkaddr(sk.family, _src_host(sk), sk.addr[1])
        other = None
        for cand in inet_net(k).ports.get((c.IPPROTO_UDP, port), ()):
            if not _overlap(cand, sk.family, host):
                continue
            if cand.daddr is not None and tuple(cand.daddr[:2]) != src[:2]:
                continue  # a connected receiver only takes its peer's datagrams
            other = cand
            break
        if other is None:
            if sk.daddr is not None:
                sk.err = c.ECONNREFUSED  # ICMP port unreachable, reported on the next call
            return size
        truesize = size + SKB_OVERHEAD
        if other.rmem + truesize > other.rcvbuf or other.shutdown & RCV_SHUTDOWN:
            return size  # receive buffer full: dropped silently
        other.rmem += truesize
        other.rcvq.append(Skb(bytes(data), None, src, truesize=truesize))
        other.wq.wake_all()
        return size
        yield

    def recvmsg(self, task: Task, sock: Socket, n: int, maxfds: int, flags: int) -> Any:
        sk = sock.sk
        assert sk is not None
        if n < 0:
            raise SyscallError(c.EINVAL)
        while True:
            err = sock_error(sk)
            if err:
                raise SyscallError(err)
            if sk.rcvq:
                break
            if sk.shutdown & RCV_SHUTDOWN:
                return b"", [], 0, None
            if flags & c.MSG_DONTWAIT:
                raise SyscallError(c.EAGAIN)
            yield from task.sleep(sk.wq.prepare())
        skb = sk.rcvq[0]
        data = skb.data
        mflags = 0
        if len(data) > n:
            data = data[:n]
            mflags = c.MSG_TRUNC
        if not flags & c.MSG_PEEK:
            sk.rcvq.popleft()
            sk.rmem -= skb.truesize
        return data, [], mflags, skb.addr

    def listen(self, task: Task, sock: Socket, backlog: int) -> None:
        raise SyscallError(c.EOPNOTSUPP)


TCP_OPS = TcpOps()
UDP_OPS = UdpOps()

