"""AF_INET/AF_INET6 on loopback: ports, privileged binds after the LSM hook, TCP
connect/accept, UDP datagrams, and the hook order of ipc-lsm-reference §3.11 / §7 item 27."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from kernel_sim.caps import CAP_NET_BIND_SERVICE
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err, killed_by, res

Gen = Generator[Any, Any, Any]
I4, I6, S, D = c.AF_INET, c.AF_INET6, c.SOCK_STREAM, c.SOCK_DGRAM
LO = "127.0.0.1"


def run(*progs: tuple[Any, dict[str, Any]], lsms: Any = ()) -> tuple[Kernel, list[int]]:
    k = Kernel(lsms=lsms, seed=0)
    pids = [k.spawn(prog, **kw) for prog, kw in progs]
    k.run()
    return k, pids


def ok(*progs: tuple[Any, dict[str, Any]], lsms: Any = ()) -> Kernel:
    k, pids = run(*progs, lsms=lsms)
    for pid in pids:
        check_ok(k, pid)
    return k


def test_tcp_round_trip_addresses_and_ephemeral_ports() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        lfd = yield from p.socket(I4, S)
        yield from p.bind(lfd, (LO, 8080))
        yield from p.listen(lfd, 5)
        fd, addr = yield from p.accept(lfd)
        out["accept_addr"] = addr
        out["srv_name"] = yield from p.getsockname(fd)
        out["data"] = yield from p.recv(fd, 100)
        yield from p.send(fd, b"pong")
        out["peercred"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERCRED)
        out["peersec"] = yield from err(p.getpeercon(fd))
        out["class"] = p.process.files.get(fd).private.sclass

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        fd = yield from p.socket(I4, S)
        out["unbound_name"] = yield from p.getsockname(fd)
        out["unconn_peer"] = yield from err(p.getpeername(fd))
        yield from p.connect(fd, ("localhost", 8080))
        out["cli_name"] = yield from p.getsockname(fd)
        out["cli_peer"] = yield from p.getpeername(fd)
        yield from p.send(fd, b"ping")
        out["reply"] = yield from p.recv(fd, 100)
        out["again"] = yield from err(p.connect(fd, (LO, 8080)))
        u = yield from p.socket(I4, D)
        yield from p.bind(u, (LO, 0))
        out["udp_port"] = (yield from p.getsockname(u))[1]

    ok((server, {}), (client, {}))
    assert out["accept_addr"] == (LO, 32768) and out["cli_name"] == (LO, 32768)  # the route source
    assert out["srv_name"] == (LO, 8080) and out["cli_peer"] == (LO, 8080)
    assert out["unbound_name"] == ("0.0.0.0", 0) and out["unconn_peer"] == c.ENOTCONN
    assert out["data"] == b"ping" and out["reply"] == b"pong"
    assert out["again"] == c.EISCONN
    assert out["udp_port"] == 32768  # UDP has its own port table
    assert out["peercred"] == (0, -1, -1)  # SO_PEERCRED is an AF_UNIX thing
    assert out["peersec"] == c.ENOPROTOOPT  # no labeled networking: the hook's default
    assert out["class"] == "tcp_socket"


def test_bind_errors_overlap_rules_and_privileged_ports() -> None:
    out: dict[str, Any] = {}

    def user(p: Any) -> Gen:
        def try_(family: int, type_: int, addr: Any) -> Gen:
            fd = yield from p.socket(family, type_)
            return (yield from err(p.bind(fd, addr)))

        a = yield from p.socket(I4, S)
        yield from p.bind(a, (LO, 5000))
        out["same"] = yield from try_(I4, S, (LO, 5000))
        out["any_vs_lo"] = yield from try_(I4, S, ("0.0.0.0", 5000))
        out["other_lo"] = yield from try_(I4, S, ("127.0.0.2", 5000))
        out["udp_same_port"] = yield from try_(I4, D, (LO, 5000))
        out["v6_any"] = yield from try_(I6, S, ("::", 5000))
        out["v6_lo"] = yield from try_(I6, S, ("::1", 5000))
        out["notlocal"] = yield from try_(I4, S, ("10.0.0.1", 6000))
        out["notlocal6"] = yield from try_(I6, S, ("2001:db8::1", 6000))
        out["malformed"] = yield from try_(I4, S, ("not-an-ip", 6000))
        out["badport"] = yield from try_(I4, S, (LO, 70000))
        out["unix_addr"] = yield from try_(I4, S, "/tmp/x")
        out["priv"] = yield from try_(I4, S, (LO, 80))
        out["priv_udp"] = yield from try_(I4, D, ("0.0.0.0", 53))
        out["twice"] = yield from err(p.bind(a, (LO, 5001)))
        yield from p.close(a)
        out["after_close"] = yield from try_(I4, S, (LO, 5000))

    def root(p: Any) -> Gen:
        fd = yield from p.socket(I4, S)
        out["root_priv"] = yield from err(p.bind(fd, (LO, 80)))

    def capped(p: Any) -> Gen:
        fd = yield from p.socket(I4, S)
        out["cap_priv"] = yield from err(p.bind(fd, (LO, 443)))

    ok((user, {"uid": 1000, "gid": 1000}), (root, {}),
       (capped, {"uid": 1000, "gid": 1000, "caps": 1 << CAP_NET_BIND_SERVICE}))
    assert out["same"] == c.EADDRINUSE and out["any_vs_lo"] == c.EADDRINUSE
    assert out["other_lo"] == 0 and out["udp_same_port"] == 0
    assert out["v6_any"] == c.EADDRINUSE and out["v6_lo"] == 0
    assert out["notlocal"] == c.EADDRNOTAVAIL and out["notlocal6"] == c.EADDRNOTAVAIL
    assert out["malformed"] == c.EINVAL and out["badport"] == c.EINVAL
    assert out["unix_addr"] == c.EINVAL
    assert out["priv"] == c.EACCES and out["priv_udp"] == c.EACCES
    assert out["twice"] == c.EINVAL and out["after_close"] == 0
    assert out["root_priv"] == 0 and out["cap_priv"] == 0


def test_socket_bind_hook_runs_before_the_capability_check() -> None:
    order: list[str] = []
    m = BpfLsm("order")

    def bind_hook(sock: Any, addr: Any) -> int:
        order.append("socket_bind")
        return -c.EPERM if addr[1] == 81 else 0

    def capable(cred: Any, ns: Any, cap: int, opts: int) -> None:
        if cap == CAP_NET_BIND_SERVICE:
            order.append("capable")

    m.attach("socket_bind", bind_hook)
    m.attach("capable", capable)
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        fd = yield from p.socket(I4, S)
        out["denied_by_lsm"] = yield from err(p.bind(fd, (LO, 81)))
        out["denied_by_cap"] = yield from err(p.bind(fd, (LO, 80)))

    ok((prog, {"uid": 1000, "gid": 1000}), lsms=[m])
    # the LSM decides first (EPERM, no capability check); then the protocol refuses (EACCES)
    assert out["denied_by_lsm"] == c.EPERM and out["denied_by_cap"] == c.EACCES
    assert order == ["socket_bind", "socket_bind"]  # cap_capable refused before our module


def _nb_listener(p: Any, port: int) -> Gen:
    fd = yield from p.socket(I4, S | c.SOCK_NONBLOCK)
    yield from p.bind(fd, (LO, port))
    yield from p.listen(fd, 1)
    return fd


def test_connect_errors_and_nonblocking_connect() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from p.socket(I4, S)
        yield from p.bind(lfd, ("0.0.0.0", 7000))
        yield from p.listen(lfd, 5)

        def try_(addr: Any, type_: int = S) -> Gen:
            fd = yield from p.socket(I4, type_)
            return (yield from err(p.connect(fd, addr)))

        out["refused"] = yield from try_((LO, 7001))
        out["unreach"] = yield from try_(("8.8.8.8", 53))
        out["any_is_local"] = yield from try_(("0.0.0.0", 7000))
        out["other_lo"] = yield from try_(("127.0.0.9", 7000))
        out["listener"] = yield from err(p.connect(lfd, (LO, 7000)))
        nb = yield from p.socket(I4, S | c.SOCK_NONBLOCK)
        out["nb"] = yield from err(p.connect(nb, (LO, 7000)))
        out["nb_error"] = yield from p.getsockopt(nb, c.SOL_SOCKET, c.SO_ERROR)
        out["nb_again"] = yield from err(p.connect(nb, (LO, 7000)))
        nb2 = yield from p.socket(I4, S | c.SOCK_NONBLOCK)
        out["nb_refused"] = yield from err(p.connect(nb2, (LO, 7002)))
        out["nb_refused_error"] = yield from p.getsockopt(nb2, c.SOL_SOCKET, c.SO_ERROR)
        nb3 = yield from p.socket(I4, S | c.SOCK_NONBLOCK)
        yield from err(p.connect(nb3, (LO, 7003)))
        out["nb_refused_reconnect"] = yield from err(p.connect(nb3, (LO, 7003)))
        ok_ = yield from res(p.accept4(lfd, c.SOCK_NONBLOCK))
        out["accept_nb"] = ok_[0]
        out["accept_nb_flags"] = yield from p.fcntl(ok_[1][0], c.F_GETFL)
        out["accept_nb_empty"] = yield from err(
            p.accept((yield from _nb_listener(p, 7100))))
        out["udp_listen"] = yield from err(p.listen((yield from p.socket(I4, D)), 1))
        out["raw"] = yield from err(p.socket(I4, c.SOCK_RAW))
        out["proto"] = yield from err(p.socket(I4, S, c.IPPROTO_UDP))

    ok((prog, {"uid": 1000, "gid": 1000}))
    assert out["refused"] == c.ECONNREFUSED and out["unreach"] == c.ENETUNREACH
    assert out["any_is_local"] == 0 and out["other_lo"] == 0
    assert out["listener"] == c.EISCONN
    assert out["nb"] == c.EINPROGRESS and out["nb_error"] == 0 and out["nb_again"] == c.EISCONN
    assert out["nb_refused"] == c.EINPROGRESS and out["nb_refused_error"] == c.ECONNREFUSED
    assert out["nb_refused_reconnect"] == c.ECONNREFUSED
    assert out["accept_nb"] == "ok" and out["accept_nb_flags"] & c.O_NONBLOCK
    assert out["accept_nb_empty"] == c.EAGAIN
    assert out["udp_listen"] == c.EOPNOTSUPP
    assert out["raw"] == c.EPERM and out["proto"] == c.EPROTONOSUPPORT


def test_tcp_backlog_blocking_accept_and_eof_epipe() -> None:
    out: dict[str, Any] = {"log": []}

    def server(p: Any) -> Gen:
        lfd = yield from p.socket(I4, S)
        yield from p.bind(lfd, (LO, 9000))
        yield from p.listen(lfd, 0)
        out["log"].append("listening")
        fd, _ = yield from p.accept(lfd)  # blocks until the client connects
        out["log"].append("accepted")
        out["got"] = yield from p.recv(fd, 10)
        yield from p.shutdown(fd, c.SHUT_WR)
        yield from p.nanosleep(0.5)
        yield from p.close(fd)
        yield from p.nanosleep(0.5)

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.1)
        fd = yield from p.socket(I4, S)
        yield from p.connect(fd, (LO, 9000))
        out["log"].append("connected")
        yield from p.send(fd, b"hi")
        out["eof"] = yield from p.recv(fd, 10)
        yield from p.nanosleep(0.7)
        out["nosig"] = yield from err(p.send(fd, b"x", c.MSG_NOSIGNAL))
        yield from p.send(fd, b"x")  # SIGPIPE
        return 5

    k, (s, cl) = run((server, {}), (client, {}))
    check_ok(k, s)
    assert killed_by(k.exit_status(cl), c.SIGPIPE)
    assert out["log"][0] == "listening"
    assert sorted(out["log"][1:]) == ["accepted", "connected"]
    assert out["got"] == b"hi" and out["eof"] == b"" and out["nosig"] == c.EPIPE


def test_tcp_reset_on_unread_data_and_send_on_unconnected() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from p.socket(I4, S)
        yield from p.bind(lfd, (LO, 9100))
        yield from p.listen(lfd, 1)
        cfd = yield from p.socket(I4, S)
        yield from p.connect(cfd, (LO, 9100))
        sfd, _ = yield from p.accept(lfd)
        yield from p.send(cfd, b"unread")
        yield from p.close(sfd)
        out["reset"] = yield from err(p.recv(cfd, 10))
        out["then_eof"] = yield from p.recv(cfd, 10)
        u = yield from p.socket(I4, S)
        out["unconn_send"] = yield from err(p.send(u, b"x", c.MSG_NOSIGNAL))
        out["unconn_recv"] = yield from err(p.recv(u, 1))
        out["shutdown_unconn"] = yield from err(p.shutdown(u, c.SHUT_RDWR))

    ok((prog, {}))
    assert out["reset"] == c.ECONNRESET and out["then_eof"] == b""
    assert out["unconn_send"] == c.EPIPE and out["unconn_recv"] == c.ENOTCONN
    assert out["shutdown_unconn"] == c.ENOTCONN


def test_udp_sendto_recvfrom_autobind_connect_and_icmp_refused() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        srv = yield from p.socket(I4, D)
        yield from p.bind(srv, ("0.0.0.0", 5353))
        cli = yield from p.socket(I4, D)
        out["sent"] = yield from p.sendto(cli, b"query", (LO, 5353))
        out["rx"] = yield from p.recvfrom(srv, 100)
        yield from p.sendto(srv, b"answer", out["rx"][1])
        out["reply"] = yield from p.recvfrom(cli, 3)
        out["nodest"] = yield from err(p.send(cli, b"x"))
        out["dontwait"] = yield from err(p.recv(cli, 10, c.MSG_DONTWAIT))
        out["emsgsize"] = yield from err(p.sendto(cli, bytes(65508), (LO, 5353)))
        out["dropped"] = yield from p.sendto(cli, b"nobody", (LO, 5999))
        con = yield from p.socket(I4, D)
        yield from p.connect(con, (LO, 5998))
        out["first"] = yield from p.send(con, b"x")
        out["refused"] = yield from err(p.send(con, b"x"))
        out["third"] = yield from p.send(con, b"x")
        out["recv_refused"] = yield from err(p.recv(con, 1, c.MSG_DONTWAIT))
        yield from p.connect(con, (LO, 5353))
        yield from p.send(con, b"conn")
        out["conn_rx"] = (yield from p.recvfrom(srv, 10))[0]
        yield from p.sendto(srv, b"t" * 10, (yield from p.getsockname(con)))
        out["short"] = yield from p.recvmsg(con, 4)

    ok((prog, {}))
    assert out["sent"] == 5 and out["rx"] == (b"query", (LO, 32768))
    assert out["reply"] == (b"ans", (LO, 5353))  # truncated datagram, rest discarded
    assert out["nodest"] == c.EDESTADDRREQ and out["dontwait"] == c.EAGAIN
    assert out["emsgsize"] == c.EMSGSIZE and out["dropped"] == 6
    assert out["first"] == 1 and out["refused"] == c.ECONNREFUSED and out["third"] == 1
    assert out["recv_refused"] == c.ECONNREFUSED
    assert out["conn_rx"] == b"conn"
    assert out["short"] == (b"tttt", (), c.MSG_TRUNC, (LO, 5353))


def test_inet6_loopback_round_trip() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from p.socket(I6, S)
        yield from p.bind(lfd, ("::1", 8443))
        yield from p.listen(lfd, 1)
        cfd = yield from p.socket(I6, S)
        yield from p.connect(cfd, ("::1", 8443, 0, 0))
        sfd, addr = yield from p.accept(lfd)
        out["addr"] = addr
        yield from p.send(cfd, b"six")
        out["data"] = yield from p.recv(sfd, 10)
        out["v4_to_v6"] = yield from err(p.connect((yield from p.socket(I4, S)), (LO, 8443)))
        u = yield from p.socket(I6, D)
        yield from p.bind(u, ("::", 9999))
        u2 = yield from p.socket(I6, D)
        yield from p.sendto(u2, b"d6", ("::1", 9999))
        out["udp6"] = yield from p.recvfrom(u, 10)

    ok((prog, {}))
    assert out["addr"] == ("::1", 32768, 0, 0) and out["data"] == b"six"
    assert out["v4_to_v6"] == c.ECONNREFUSED  # ::1 listener does not take 127.0.0.1
    assert out["udp6"] == (b"d6", ("::1", 32768, 0, 0))


# --------------------------------------------------------------------------- hooks
_SKIP = {"cred_free", "task_free", "file_free_security", "inode_free_security",
         "inode_permission"}

#: ipc-lsm-reference §1.2 socket table, §3.11 and §7 items 4, 27
EXPECTED_ORDER: dict[str, list[str]] = {
    "socket_tcp": ["socket_create", "inode_alloc_security", "sk_alloc_security",
                   "socket_post_create", "file_alloc_security"],
    "bind_8080": ["socket_bind"],
    # socket_bind before inet_bind's CAP_NET_BIND_SERVICE check (root holds it)
    "bind_80_root": ["socket_bind", "capable"],
    # inet_listen autobinds an unbound socket without any bind hook
    "listen": ["socket_listen"],
    # socket_connect, then the handshake: conn_request on the listener, the child cloned
    # (sk_prot_alloc + sk_clone), inet_csk_clone, and the client's conn_established
    "connect_tcp": ["socket_connect", "inet_conn_request", "sk_alloc_security",
                    "sk_clone_security", "inet_csk_clone", "inet_conn_established"],
    "connect_refused": ["socket_connect"],  # checked although it fails with ECONNREFUSED
    "accept": ["inode_alloc_security", "file_alloc_security", "socket_accept", "sock_graft"],
    "send": ["socket_sendmsg"],
    "recv": ["socket_recvmsg"],
    # implicit autobind on an unbound UDP sendto: no bind hook
    "sendto_udp_unbound": ["socket_sendmsg"],
    "connect_udp": ["socket_connect"],
    "getpeercon_tcp": ["socket_getsockopt", "socket_getpeersec_stream"],
}


def test_inet_hook_order_matches_linux() -> None:
    rec: list[str] = []
    on = {"v": False}
    m = BpfLsm("recorder")
    for spec in HOOKS:
        if spec.name in _SKIP:
            continue

        def hook(*_a: Any, _n: str = spec.name) -> None:
            if on["v"]:
                rec.append(_n)

        m.attach(spec.name, hook)
    got: dict[str, list[str]] = {}

    def step(name: str, gen: Gen) -> Gen:
        rec.clear()
        on["v"] = True
        try:
            value = yield from gen
        finally:
            on["v"] = False
        got[name] = list(rec)
        return value

    def prog(p: Any) -> Gen:
        lfd = yield from step("socket_tcp", p.socket(I4, S))
        yield from step("bind_8080", p.bind(lfd, (LO, 8080)))
        r = yield from p.socket(I4, S)
        yield from step("bind_80_root", p.bind(r, (LO, 80)))
        l2 = yield from p.socket(I4, S)
        yield from step("listen", p.listen(l2, 1))
        yield from p.listen(lfd, 5)
        cfd = yield from p.socket(I4, S)
        yield from step("connect_tcp", p.connect(cfd, (LO, 8080)))
        x = yield from p.socket(I4, S)
        yield from step("connect_refused", err(p.connect(x, (LO, 1))))
        sfd, _ = yield from step("accept", p.accept(lfd))
        yield from step("send", p.send(cfd, b"x"))
        yield from step("recv", p.recv(sfd, 1))
        u = yield from p.socket(I4, D)
        yield from step("sendto_udp_unbound", p.sendto(u, b"x", (LO, 4000)))
        yield from step("connect_udp", p.connect(u, (LO, 4000)))
        yield from step("getpeercon_tcp", err(p.getpeercon(cfd)))

    ok((prog, {}), lsms=[m])
    for name, want in EXPECTED_ORDER.items():
        assert got[name] == want, (name, got[name])


DENY = 129


def test_inet_complete_mediation() -> None:
    state = {"on": False}
    m = BpfLsm("deny-all")
    spawn = {"cred_prepare", "task_alloc", "inode_alloc_security", "sb_alloc_security",
             "task_init_context", "file_alloc_security"}
    for spec in HOOKS:
        if spec.kind == "int" and spec.name not in spawn:
            m.attach(spec.name, lambda *_a, _d=spec.default: -DENY if state["on"] else _d)
    out: dict[str, Any] = {}
    snap: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from p.socket(I4, S)
        yield from p.bind(lfd, (LO, 8000))
        yield from p.listen(lfd, 5)
        cfd = yield from p.socket(I4, S)
        yield from p.connect(cfd, (LO, 8000))
        sfd, _ = yield from p.accept(lfd)
        fresh = yield from p.socket(I4, S)
        u = yield from p.socket(I4, D)
        yield from p.bind(u, (LO, 8001))
        state["on"] = True
        for name, call in {
            "socket": p.socket(I4, S),
            "socket6": p.socket(I6, D),
            "bind": p.bind(fresh, (LO, 8002)),
            "connect": p.connect(fresh, (LO, 8000)),
            "listen": p.listen(fresh, 1),
            "accept": p.accept(lfd),
            "send": p.send(cfd, b"x"),
            "recv": p.recv(sfd, 1),
            "sendto": p.sendto(u, b"x", (LO, 8001)),
            "recvfrom": p.recvfrom(u, 1),
            "getsockopt": p.getsockopt(cfd, c.SOL_SOCKET, c.SO_ERROR),
            "shutdown": p.shutdown(cfd, c.SHUT_RDWR),
        }.items():
            out[name] = yield from err(call)
        state["on"] = False
        snap["fresh"] = yield from p.getsockname(fresh)
        snap["backlog"] = len(p.process.files.get(lfd).private.sk.rcvq)
        snap["recv"] = yield from err(p.recv(sfd, 1, c.MSG_DONTWAIT))
        snap["udp"] = yield from err(p.recv(u, 1, c.MSG_DONTWAIT))

    ok((prog, {}), lsms=[m])
    assert out == dict.fromkeys(out, DENY), out
    assert snap == {"fresh": ("0.0.0.0", 0), "backlog": 0, "recv": c.EAGAIN,
                    "udp": c.EAGAIN}


def test_inet_socketpair_is_eopnotsupp_and_tcp_options() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["pair"] = yield from err(p.socketpair(I4, S))
        fd = yield from p.socket(I4, S)
        out["type"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_TYPE)
        out["proto"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PROTOCOL)
        out["level"] = yield from err(p.getsockopt(fd, c.IPPROTO_TCP, 1))
        yield from p.setsockopt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1)
        out["reuse"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_REUSEADDR)

    ok((prog, {}))
    assert out["pair"] == c.EOPNOTSUPP and out["type"] == S
    assert out["proto"] == c.IPPROTO_TCP and out["level"] == c.ENOPROTOOPT
    assert out["reuse"] == 1
