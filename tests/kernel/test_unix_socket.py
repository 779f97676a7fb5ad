"""AF_UNIX sockets: addresses, connect/accept, backlog, EPIPE, dgram queues, options, and the
LSM hooks (complete mediation and Linux's call order, ipc-lsm-reference §1.2, §3.9, §7)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err, killed_by, res

Gen = Generator[Any, Any, Any]
S = c.SOCK_STREAM
D = c.SOCK_DGRAM
Q = c.SOCK_SEQPACKET
U = c.AF_UNIX


def listener(p: Any, path: str, backlog: int = 5, type_: int = S) -> Gen:
    fd = yield from p.socket(U, type_)
    yield from p.bind(fd, path)
    yield from p.listen(fd, backlog)
    return fd


def spawn_run(*progs: tuple[Any, dict[str, Any]], lsms: Any = ()) -> tuple[Kernel, list[int]]:
    k = Kernel(lsms=lsms, seed=0)
    pids = [k.spawn(prog, **kw) for prog, kw in progs]
    k.run()
    return k, pids


# --------------------------------------------------------------------------- creation
def test_socket_creation_errors_and_type_flags() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        out["af"] = yield from err(p.socket(40, S))
        out["af_range"] = yield from err(p.socket(99, S))
        out["type"] = yield from err(p.socket(U, 4))  # SOCK_RDM
        out["type_range"] = yield from err(p.socket(U, 12))
        out["flags"] = yield from err(p.socket(U, S | 0o100))
        out["proto"] = yield from err(p.socket(U, S, 6))
        fd = yield from p.socket(U, S | c.SOCK_NONBLOCK | c.SOCK_CLOEXEC)
        out["fl"] = yield from p.fcntl(fd, c.F_GETFL)
        out["fd"] = yield from p.fcntl(fd, c.F_GETFD)
        out["recv"] = yield from err(p.recv(fd, 1))
        raw = yield from p.socket(U, c.SOCK_RAW)
        out["raw_type"] = yield from p.getsockopt(raw, c.SOL_SOCKET, c.SO_TYPE)
        r, _w = yield from p.pipe()
        out["notsock"] = yield from err(p.bind(r, "/tmp/x"))
        out["badf"] = yield from err(p.listen(77, 1))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["af"] == c.EAFNOSUPPORT and out["af_range"] == c.EAFNOSUPPORT
    assert out["type"] == c.ESOCKTNOSUPPORT and out["type_range"] == c.EINVAL
    assert out["flags"] == c.EINVAL and out["proto"] == c.EPROTONOSUPPORT
    assert out["fl"] & c.O_NONBLOCK and out["fl"] & c.O_ACCMODE == c.O_RDWR
    assert out["fd"] == c.FD_CLOEXEC
    assert out["recv"] == c.EINVAL  # an unconnected stream socket
    assert out["raw_type"] == c.SOCK_DGRAM  # SOCK_RAW becomes SOCK_DGRAM
    assert out["notsock"] == c.ENOTSOCK and out["badf"] == c.EBADF


# --------------------------------------------------------------------------- bind
def test_bind_creates_socket_file_with_umask_and_points_at_the_sock() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        fd = yield from p.socket(U, S)
        yield from p.bind(fd, "/tmp/a.sock")
        yield from p.umask(0o077)
        fd2 = yield from p.socket(U, D)
        yield from p.bind(fd2, "/tmp/b.sock")
        out["st"] = yield from p.stat("/tmp/a.sock")
        out["name"] = yield from p.getsockname(fd)
        out["open"] = yield from err(p.open("/tmp/a.sock", c.O_RDWR))
        out["sk"] = p.process.files.get(fd).private.sk
        out["isock"] = p.kernel.lookup("/tmp/a.sock").sock

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=100)
    k.run()
    check_ok(k, pid)
    a, b = k.lookup("/tmp/a.sock"), k.lookup("/tmp/b.sock")
    assert a is not None and b is not None
    assert a.mode == c.S_IFSOCK | 0o755 and b.mode == c.S_IFSOCK | 0o700
    assert (a.uid, a.gid) == (1000, 100)
    assert out["st"].st_mode == c.S_IFSOCK | 0o755
    assert out["name"] == "/tmp/a.sock"
    assert out["open"] == c.ENXIO
    assert out["isock"] is out["sk"]  # the inode points at the bound sock
    assert a.sock is None  # until the socket is closed (at exit); the file stays


def test_bind_errors() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        yield from p.mkdir("/tmp/ro", 0o555)
        fd = yield from p.socket(U, S)
        yield from p.bind(fd, "/tmp/s")
        out["again"] = yield from err(p.bind(fd, "/tmp/s2"))
        fd2 = yield from p.socket(U, S)
        out["inuse"] = yield from err(p.bind(fd2, "/tmp/s"))
        f = yield from p.open("/tmp/file", c.O_CREAT | c.O_WRONLY, 0o644)
        yield from p.close(f)
        out["inuse_file"] = yield from err(p.bind(fd2, "/tmp/file"))
        out["noent"] = yield from err(p.bind(fd2, "/tmp/nodir/s"))
        out["acces"] = yield from err(p.bind(fd2, "/tmp/ro/s"))
        out["long"] = yield from err(p.bind(fd2, "/tmp/" + "x" * 200))
        out["badaddr"] = yield from err(p.bind(fd2, ("127.0.0.1", 80)))
        fd3 = yield from p.socket(U, S)
        yield from p.bind(fd3, "\0abs")
        out["abs_again"] = yield from err(p.bind(fd3, "\0other"))
        out["abs_inuse"] = yield from err(p.bind(fd2, "\0abs"))
        yield from p.unlink("/tmp/s")
        out["rebind"] = yield from err(p.bind(fd2, "/tmp/s"))

    k = Kernel(seed=0)
    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    assert out["again"] == c.EINVAL and k.lookup("/tmp/s2") is None  # the file was undone
    assert out["inuse"] == c.EADDRINUSE and out["inuse_file"] == c.EADDRINUSE
    assert out["noent"] == c.ENOENT and out["acces"] == c.EACCES
    assert out["long"] == c.EINVAL and out["badaddr"] == c.EINVAL
    assert out["abs_again"] == c.EINVAL and out["abs_inuse"] == c.EADDRINUSE
    assert out["rebind"] == 0  # unlinking the name frees it


def test_abstract_names_make_no_file_and_autobind_picks_hex_names() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        fd = yield from p.socket(U, S)
        yield from p.bind(fd, "\0svc")
        a = yield from p.socket(U, D)
        yield from p.bind(a, "")
        b = yield from p.socket(U, D)
        yield from p.bind(b, "")
        names = []
        for x in (fd, a, b):
            names.append((yield from p.getsockname(x)))
        out["names"] = names
        out["autobind_again"] = yield from err(p.bind(a, ""))
        out["still"] = yield from p.getsockname(a)
        out["unbound"] = yield from p.getsockname((yield from p.socket(U, S)))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["names"] == ["\0svc", "\x0000000", "\x0000001"]
    assert out["unbound"] == ""
    assert out["autobind_again"] == 0 and out["still"] == "\x0000000"
    assert all(n.startswith("\0") and len(n) == 6 for n in out["names"][1:])
    assert k.lookup("/svc") is None and k.lookup("/tmp/svc") is None


# --------------------------------------------------------------------------- connect
def test_connect_errno_paths() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        yield from listener(p, "/tmp/srv")
        yield from listener(p, "\0srv")
        d = yield from p.socket(U, D)
        yield from p.bind(d, "/tmp/dg")
        nl = yield from p.socket(U, S)
        yield from p.bind(nl, "/tmp/notlistening")
        gone = yield from p.socket(U, S)
        yield from p.bind(gone, "/tmp/gone")
        yield from p.listen(gone, 1)
        yield from p.close(gone)
        f = yield from p.open("/tmp/reg", c.O_CREAT | c.O_WRONLY, 0o666)
        yield from p.close(f)
        yield from p.mkfifo("/tmp/fifo", 0o666)

        def try_(path: str, type_: int = S) -> Gen:
            fd = yield from p.socket(U, type_)
            return (yield from err(p.connect(fd, path)))

        out["noent"] = yield from try_("/tmp/none")
        out["reg"] = yield from try_("/tmp/reg")
        out["fifo"] = yield from try_("/tmp/fifo")
        out["notlistening"] = yield from try_("/tmp/notlistening")
        out["closed"] = yield from try_("/tmp/gone")
        out["prototype"] = yield from try_("/tmp/dg")
        out["prototype_seq"] = yield from try_("/tmp/srv", Q)
        out["abs_none"] = yield from try_("\0nobody")
        out["abs_ok"] = yield from try_("\0srv")
        out["empty"] = yield from try_("")
        fd = yield from p.socket(U, S)
        yield from p.connect(fd, "/tmp/srv")
        out["isconn"] = yield from err(p.connect(fd, "/tmp/srv"))
        lfd = yield from listener(p, "/tmp/l2")
        out["listener_connect"] = yield from err(p.connect(lfd, "/tmp/srv"))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["noent"] == c.ENOENT
    assert out["reg"] == c.ECONNREFUSED and out["fifo"] == c.ECONNREFUSED
    assert out["notlistening"] == c.ECONNREFUSED and out["closed"] == c.ECONNREFUSED
    assert out["prototype"] == c.EPROTOTYPE and out["prototype_seq"] == c.EPROTOTYPE
    assert out["abs_none"] == c.ECONNREFUSED and out["abs_ok"] == 0
    assert out["empty"] == c.EINVAL
    assert out["isconn"] == c.EISCONN and out["listener_connect"] == c.EINVAL


def test_connect_needs_write_on_the_socket_file_and_search_on_the_path() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        yield from p.mkdir("/tmp/priv", 0o700)
        yield from p.umask(0o022)
        yield from listener(p, "/tmp/srv")  # mode 0755: others may not write
        yield from listener(p, "/tmp/priv/srv")
        yield from listener(p, "\0abs")
        yield from p.chmod("/tmp/srv", 0o755)
        yield from p.nanosleep(1)

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.1)
        for name in ("/tmp/srv", "/tmp/priv/srv", "\0abs"):
            fd = yield from p.socket(U, S)
            out[name] = yield from err(p.connect(fd, name))
        d = yield from p.socket(U, D)
        out["dgram_sendto"] = yield from err(p.sendto(d, b"x", "/tmp/srv"))

    def root_client(p: Any) -> Gen:
        yield from p.nanosleep(0.2)
        fd = yield from p.socket(U, S)
        out["root"] = yield from err(p.connect(fd, "/tmp/srv"))

    k, pids = spawn_run((server, {"uid": 1000, "gid": 1000}),
                        (client, {"uid": 2000, "gid": 2000}), (root_client, {}))
    for pid in pids:
        check_ok(k, pid)
    assert out["/tmp/srv"] == c.EACCES  # DAC write on the socket file
    assert out["/tmp/priv/srv"] == c.EACCES  # search permission on /tmp/priv
    assert out["\0abs"] == 0  # the abstract namespace has no DAC
    assert out["dgram_sendto"] == c.EACCES
    assert out["root"] == 0  # CAP_DAC_OVERRIDE


def test_accept_returns_client_address_and_errors() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        lfd = yield from listener(p, "/tmp/srv")
        out["a1"] = (yield from p.accept(lfd))[1]
        out["a2"] = (yield from p.accept(lfd))[1]
        s = yield from p.socket(U, S)
        out["notlisten"] = yield from err(p.accept(s))
        d = yield from p.socket(U, D)
        out["dgram"] = yield from err(p.accept(d))
        out["dgram_listen"] = yield from err(p.listen(d, 1))
        out["unbound_listen"] = yield from err(p.listen((yield from p.socket(U, S)), 1))
        nb = yield from p.socket(U, S | c.SOCK_NONBLOCK)
        yield from p.bind(nb, "\0nb")
        yield from p.listen(nb, 1)
        out["eagain"] = yield from err(p.accept(nb))

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        fd = yield from p.socket(U, S)
        yield from p.connect(fd, "/tmp/srv")
        fd2 = yield from p.socket(U, S)
        yield from p.bind(fd2, "/tmp/cli")
        yield from p.connect(fd2, "/tmp/srv")
        out["peer"] = yield from p.getpeername(fd2)

    k, pids = spawn_run((server, {}), (client, {}))
    for pid in pids:
        check_ok(k, pid)
    assert out["a1"] == "" and out["a2"] == "/tmp/cli" and out["peer"] == "/tmp/srv"
    assert out["notlisten"] == c.EINVAL
    assert out["dgram"] == c.EOPNOTSUPP and out["dgram_listen"] == c.EOPNOTSUPP
    assert out["unbound_listen"] == c.EINVAL and out["eagain"] == c.EAGAIN


def test_backlog_full_nonblocking_eagain_and_blocking_connect_waits_for_accept() -> None:
    out: dict[str, Any] = {"log": []}

    def server(p: Any) -> Gen:
        lfd = yield from listener(p, "/tmp/srv", backlog=1)
        yield from p.nanosleep(1.0)
        out["log"].append(("accept", p.kernel.now))
        yield from p.accept(lfd)

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        res_ = []
        for _ in range(3):  # backlog 1 admits 2 (Linux tests qlen > backlog)
            fd = yield from p.socket(U, S | c.SOCK_NONBLOCK)
            res_.append((yield from err(p.connect(fd, "/tmp/srv"))))
        out["nb"] = res_
        fd = yield from p.socket(U, S)
        yield from p.connect(fd, "/tmp/srv")  # blocks until the accept makes room
        out["log"].append(("connected", p.kernel.now))

    k, pids = spawn_run((server, {}), (client, {}))
    for pid in pids:
        check_ok(k, pid)
    assert out["nb"] == [0, 0, c.EAGAIN]
    (e1, t1), (e2, t2) = out["log"]
    assert (e1, e2) == ("accept", "connected") and t2 >= t1 >= 1.0


def test_blocking_connect_interrupted_by_signal_is_eintr() -> None:
    out: dict[str, Any] = {}

    def handler(p: Any, sig: int) -> Gen:
        out["sig"] = sig
        yield from p.getpid()

    def prog(p: Any) -> Gen:
        yield from listener(p, "\0full", backlog=0)
        fd = yield from p.socket(U, S)
        yield from p.connect(fd, "\0full")  # fills the queue (qlen 1 > backlog 0 now)
        yield from p.sigaction(c.SIGUSR1, handler)
        pid = p.pid

        def killer(q: Any) -> Gen:
            yield from q.nanosleep(0.5)
            yield from q.kill(pid, c.SIGUSR1)

        yield from p.fork(killer)
        fd2 = yield from p.socket(U, S)
        out["rc"] = yield from err(p.connect(fd2, "\0full"))
        out["state"] = yield from err(p.getpeername(fd2))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["sig"] == c.SIGUSR1 and out["rc"] == c.EINTR
    assert out["state"] == c.ENOTCONN


# --------------------------------------------------------------------------- stream data
def test_stream_data_read_write_peek_and_eof() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        yield from p.write(a, b"hello ")
        yield from p.send(a, b"world")
        out["peek"] = yield from p.recv(b, 100, c.MSG_PEEK)
        out["part"] = yield from p.read(b, 3)
        out["rest"] = yield from p.recv(b, 100)
        out["dontwait"] = yield from err(p.recv(b, 10, c.MSG_DONTWAIT))
        yield from p.send(b, b"back")
        out["back"] = yield from p.recvfrom(a, 10)
        yield from p.send(b, b"unread")
        yield from p.close(a)
        out["after_close"] = yield from res(p.recv(b, 10))
        out["eof"] = yield from p.recv(b, 10)
        c1, c2 = yield from p.socketpair(U, S)
        yield from p.send(c1, b"tail")
        yield from p.close(c1)
        out["tail"] = yield from p.recv(c2, 10)
        out["eof2"] = yield from p.read(c2, 10)

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["peek"] == b"hello world"
    assert out["part"] == b"hel" and out["rest"] == b"lo world"
    assert out["dontwait"] == c.EAGAIN
    assert out["back"] == (b"back", None)
    # a closed with unread data in its queue: the peer sees ECONNRESET once, then EOF
    assert out["after_close"] == ("err", c.ECONNRESET) and out["eof"] == b""
    assert out["tail"] == b"tail" and out["eof2"] == b""


def test_blocking_recv_and_large_send_blocked_by_sndbuf() -> None:
    out: dict[str, Any] = {}
    big = bytes(range(256)) * 4096  # 1 MiB: more than sndbuf

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)

        def reader(q: Any) -> Gen:
            got = bytearray()
            while len(got) < len(big):
                got += yield from q.recv(b, 65536)
            out["got"] = bytes(got)

        yield from p.fork(reader)
        out["sent"] = yield from p.send(a, big)
        nb = yield from p.socket(U, S)
        x, y = yield from p.socketpair(U, S | c.SOCK_NONBLOCK)
        out["partial"] = yield from p.send(x, big)
        out["eagain"] = yield from err(p.send(x, b"more"))
        del nb, y
        yield from p.waitpid(-1, 0)

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["sent"] == len(big) and out["got"] == big
    assert 0 < out["partial"] < len(big) and out["eagain"] == c.EAGAIN


def test_epipe_sigpipe_msg_nosignal_and_shutdown() -> None:
    out: dict[str, Any] = {}

    def victim(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        yield from p.close(b)
        yield from p.send(a, b"x")  # SIGPIPE kills us
        return 3

    def tolerant(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        yield from p.close(b)
        out["nosig"] = yield from err(p.send(a, b"x", c.MSG_NOSIGNAL))
        yield from p.sigaction(c.SIGPIPE, c.SIG_IGN)
        out["ign"] = yield from err(p.write(a, b"x"))
        x, y = yield from p.socketpair(U, S)
        yield from p.shutdown(x, c.SHUT_WR)
        out["eof"] = yield from p.recv(y, 10)
        out["shut_send"] = yield from err(p.send(x, b"z"))
        yield from p.send(y, b"still")
        out["other_way"] = yield from p.recv(x, 10)
        out["badhow"] = yield from err(p.shutdown(x, 7))

    k, (p1, p2) = spawn_run((victim, {}), (tolerant, {}))
    assert killed_by(k.exit_status(p1), c.SIGPIPE)
    check_ok(k, p2)
    assert out["nosig"] == c.EPIPE and out["ign"] == c.EPIPE
    assert out["eof"] == b"" and out["shut_send"] == c.EPIPE
    assert out["other_way"] == b"still" and out["badhow"] == c.EINVAL


def test_unconnected_stream_send_is_enotconn_and_addr_on_stream_send() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        fd = yield from p.socket(U, S)
        out["send"] = yield from err(p.send(fd, b"x"))
        out["sendto"] = yield from err(p.sendto(fd, b"x", "/tmp/x"))
        a, _b = yield from p.socketpair(U, S)
        out["sendto_conn"] = yield from err(p.sendto(a, b"x", "/tmp/x"))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["send"] == c.ENOTCONN and out["sendto"] == c.EOPNOTSUPP
    assert out["sendto_conn"] == c.EISCONN


# --------------------------------------------------------------------------- dgram
def test_dgram_sendto_recvfrom_addresses_truncation_and_emsgsize() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        srv = yield from p.socket(U, D)
        yield from p.bind(srv, "/tmp/dg")
        named = yield from p.socket(U, D)
        yield from p.bind(named, "\0me")
        anon = yield from p.socket(U, D)
        out["n1"] = yield from p.sendto(named, b"one", "/tmp/dg")
        yield from p.sendto(anon, b"two", "/tmp/dg")
        out["peek"] = yield from p.recv(srv, 100, c.MSG_PEEK)
        out["r1"] = yield from p.recvfrom(srv, 100)
        out["r2"] = yield from p.recvmsg(srv, 2)
        out["notconn"] = yield from err(p.send(anon, b"x"))
        out["emsgsize"] = yield from err(p.sendto(anon, bytes(212961), "/tmp/dg"))
        out["maxok"] = yield from p.sendto(anon, bytes(212960), "/tmp/dg")
        out["refused"] = yield from err(p.sendto(anon, b"x", "\0nobody"))
        out["noent"] = yield from err(p.sendto(anon, b"x", "/tmp/nobody"))
        st = yield from p.socket(U, S)
        yield from p.bind(st, "/tmp/stream")
        out["prototype"] = yield from err(p.sendto(anon, b"x", "/tmp/stream"))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["n1"] == 3 and out["peek"] == b"one" and out["r1"] == (b"one", "\0me")
    assert out["r2"] == (b"tw", (), c.MSG_TRUNC, None)
    assert out["notconn"] == c.ENOTCONN
    assert out["emsgsize"] == c.EMSGSIZE and out["maxok"] == 212960
    assert out["refused"] == c.ECONNREFUSED and out["noent"] == c.ENOENT
    assert out["prototype"] == c.EPROTOTYPE


def test_dgram_queue_limit_eagain_then_blocking_sender_waits() -> None:
    out: dict[str, Any] = {"log": []}

    def prog(p: Any) -> Gen:
        srv = yield from p.socket(U, D)
        yield from p.bind(srv, "\0q")
        cli = yield from p.socket(U, D)
        rcs = []
        for i in range(12):  # max_dgram_qlen 10: Linux queues 11 (qlen > 10 is full)
            rcs.append((yield from err(p.sendto(cli, bytes([i]), c.MSG_DONTWAIT, "\0q"))))
        out["rcs"] = rcs

        def drain(q: Any) -> Gen:
            yield from q.nanosleep(1.0)
            out["log"].append(("recv", q.kernel.now))
            out["first"] = yield from q.recv(srv, 10)

        yield from p.fork(drain)
        yield from p.sendto(cli, b"late", "\0q")  # blocks until the child receives
        out["log"].append(("sent", p.kernel.now))
        yield from p.waitpid(-1, 0)

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["rcs"] == [0] * 11 + [c.EAGAIN]
    assert [e for e, _ in out["log"]] == ["recv", "sent"] and out["first"] == b"\x00"


def test_dgram_connect_eperm_econnrefused_and_socketpair() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a = yield from p.socket(U, D)
        yield from p.bind(a, "\0a")
        b = yield from p.socket(U, D)
        yield from p.bind(b, "\0b")
        x = yield from p.socket(U, D)
        yield from p.bind(x, "\0x")
        yield from p.connect(a, "\0b")  # a only talks to b
        out["eperm_connect"] = yield from err(p.connect(x, "\0a"))
        out["eperm_send"] = yield from err(p.sendto(x, b"hi", "\0a"))
        out["peer_ok"] = yield from p.sendto(b, b"to-a", "\0a")
        out["got"] = yield from p.recvfrom(a, 10)
        yield from p.send(a, b"to-b")
        out["peername"] = yield from p.getpeername(a)
        yield from p.close(b)
        out["refused"] = yield from err(p.send(a, b"x"))
        out["then"] = yield from err(p.send(a, b"x"))
        s1, s2 = yield from p.socketpair(U, D)
        yield from p.send(s1, b"p1")
        yield from p.send(s1, b"p2")
        out["pair"] = [(yield from p.recv(s2, 10)), (yield from p.recv(s2, 10))]
        out["dontwait"] = yield from err(p.recv(s2, 10, c.MSG_DONTWAIT))

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["eperm_connect"] == c.EPERM and out["eperm_send"] == c.EPERM
    assert out["peer_ok"] == 4 and out["got"] == (b"to-a", "\0b")
    assert out["peername"] == "\0b"
    assert out["refused"] == c.ECONNREFUSED and out["then"] == c.ENOTCONN
    assert out["pair"] == [b"p1", b"p2"] and out["dontwait"] == c.EAGAIN


def test_seqpacket_keeps_boundaries_and_reports_eof_and_epipe_without_sigpipe() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        lfd = yield from listener(p, "\0seq", type_=Q)
        fd, _ = yield from p.accept(lfd)
        out["m"] = [(yield from p.recv(fd, 100)), (yield from p.recvmsg(fd, 2))]
        yield from p.close(fd)

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        fd = yield from p.socket(U, Q)
        out["unconn"] = yield from err(p.send(fd, b"x"))
        out["unconn_recv"] = yield from err(p.recv(fd, 1))
        yield from p.connect(fd, "\0seq")
        yield from p.send(fd, b"first")
        yield from p.send(fd, b"second")
        yield from p.nanosleep(1)
        out["eof"] = yield from p.recv(fd, 10)
        out["epipe"] = yield from err(p.send(fd, b"x"))

    k, pids = spawn_run((server, {}), (client, {}))
    for pid in pids:
        check_ok(k, pid)  # no SIGPIPE for seqpacket
    assert out["m"] == [b"first", (b"se", (), c.MSG_TRUNC, None)]
    assert out["unconn"] == c.ENOTCONN and out["unconn_recv"] == c.ENOTCONN
    assert out["eof"] == b"" and out["epipe"] == c.EPIPE


# --------------------------------------------------------------------------- options
def test_so_peercred_recorded_at_connect_listen_and_socketpair() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        lfd = yield from listener(p, "\0cred")
        fd, _ = yield from p.accept(lfd)
        out["server_sees"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERCRED)
        out["server_pid"] = p.pid
        out["acceptconn"] = yield from p.getsockopt(lfd, c.SOL_SOCKET, c.SO_ACCEPTCONN)
        yield from p.nanosleep(0.1)

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        fd = yield from p.socket(U, S)
        out["unconnected"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERCRED)
        yield from p.connect(fd, "\0cred")
        out["client_sees"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERCRED)
        out["client_pid"] = p.pid
        a, _b = yield from p.socketpair(U, D)
        out["pair"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_PEERCRED)
        out["type"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_TYPE)
        out["domain"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_DOMAIN)
        out["error"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_ERROR)
        out["noopt"] = yield from err(p.getsockopt(a, c.SOL_SOCKET, 12345))
        out["level"] = yield from err(p.getsockopt(a, c.IPPROTO_TCP, 1))
        out["peersec"] = yield from err(p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERSEC))
        out["getpeercon"] = yield from err(p.getpeercon(fd))
        yield from p.setsockopt(a, c.SOL_SOCKET, c.SO_SNDBUF, 1000)
        out["sndbuf"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_SNDBUF)
        out["setbad"] = yield from err(p.setsockopt(a, c.SOL_SOCKET, 12345, 1))

    k, pids = spawn_run((server, {"uid": 10, "gid": 20}), (client, {"uid": 30, "gid": 40}))
    for pid in pids:
        check_ok(k, pid)
    assert out["server_sees"] == (out["client_pid"], 30, 40)
    assert out["client_sees"] == (out["server_pid"], 10, 20)
    assert out["unconnected"] == (0, -1, -1)
    assert out["pair"] == (out["client_pid"], 30, 40)
    assert out["acceptconn"] == 1
    assert out["type"] == D and out["domain"] == U and out["error"] == 0
    assert out["noopt"] == c.ENOPROTOOPT and out["level"] == c.EOPNOTSUPP
    # with no LSM providing a peer label, the hook's default stands
    assert out["peersec"] == c.ENOPROTOOPT and out["getpeercon"] == c.ENOPROTOOPT
    assert out["sndbuf"] == 4608 and out["setbad"] == c.ENOPROTOOPT


def _labeling_module() -> BpfLsm:
    """A toy LSM labelling socks with the creator's comm, as SELinux labels them with S:
    the embryo takes the listener's label at unix_stream_connect; SO_PEERSEC reports the
    peer sock's label for stream sockets and refuses dgram sockets."""
    m = BpfLsm("label")
    m.blobs = {"sock": lambda: None}

    def sk_alloc(sk: Any, family: int) -> int:
        sk.security[m.slot] = m.security.current.comm
        return 0

    def stream_connect(sock: Any, other: Any, newsk: Any) -> int:
        newsk.security[m.slot] = other.security[m.slot]
        return 0

    def peersec(sock: Any, out: list[str]) -> int:
        if sock.sclass != "unix_stream_socket" or sock.sk.peer is None:
            return -c.ENOPROTOOPT
        out.append(sock.sk.peer.security[m.slot])
        return 0

    m.attach("sk_alloc_security", sk_alloc)
    m.attach("unix_stream_connect", stream_connect)
    m.attach("socket_getpeersec_stream", peersec)
    return m


def test_so_peersec_asks_the_lsm_about_the_peer_sock() -> None:
    out: dict[str, Any] = {}

    def server(p: Any) -> Gen:
        lfd = yield from listener(p, "\0sec")
        fd, _ = yield from p.accept(lfd)
        out["server_sees"] = yield from p.getpeercon(fd)
        out["accepted_class"] = p.process.files.get(fd).private.sclass

    def client(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        fd = yield from p.socket(U, S)
        yield from p.connect(fd, "\0sec")
        out["client_sees"] = yield from p.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERSEC)
        a, _b = yield from p.socketpair(U, S)
        out["pair"] = yield from p.getpeercon(a)
        d1, _d2 = yield from p.socketpair(U, D)
        out["dgram"] = yield from err(p.getpeercon(d1))

    k, pids = spawn_run((server, {"comm": "srv"}), (client, {"comm": "cli"}),
                        lsms=[_labeling_module()])
    for pid in pids:
        check_ok(k, pid)
    assert out["server_sees"] == "cli" and out["client_sees"] == "srv"
    assert out["pair"] == "cli" and out["dgram"] == c.ENOPROTOOPT
    assert out["accepted_class"] == "unix_stream_socket"


def test_socket_objects_carry_what_an_lsm_needs() -> None:
    seen: dict[str, Any] = {}
    m = BpfLsm("inspect")
    def post_create(sock: Any, fam: int, typ: int, proto: int, kern: int) -> None:
        seen.setdefault(sock.sclass, (sock, fam, typ))

    def may_send(sock: Any, other: Any) -> None:
        seen.setdefault("may_send", (sock, other))

    def file_alloc(f: Any) -> None:
        seen.setdefault("files", []).append(f.path())

    m.attach("socket_post_create", post_create)
    m.attach("unix_may_send", may_send)
    m.attach("file_alloc_security", file_alloc)

    def prog(p: Any) -> Gen:
        s = yield from p.socket(U, S)
        yield from p.socket(U, Q)
        d = yield from p.socket(U, D)
        yield from p.bind(d, "\0d")
        yield from p.sendto(d, b"x", "\0d")
        sock = p.process.files.get(s).private
        seen["fd_sock"] = sock
        seen["sk"] = sock.sk
        seen["sk_socket"] = sock.sk.socket
        seen["dg_addr"] = p.process.files.get(d).private.sk.addr

    k = Kernel(lsms=[m], seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    sock, fam, typ = seen["unix_stream_socket"]
    assert (fam, typ, sock.family, sock.type) == (U, S, U, S)
    assert sock is seen["fd_sock"] and sock.inode.sb is k.sockfs
    assert sock.inode.private is sock and seen["sk_socket"] is sock
    assert seen["sk"].sclass == "unix_stream_socket" and isinstance(seen["sk"].security, list)
    assert seen["sk"].family == U and seen["sk"].type == S
    assert seen["dg_addr"] == "\0d"
    snd, other = seen["may_send"]
    assert snd.sclass == other.sclass == "unix_dgram_socket" and snd is other
    assert seen["files"][0] == f"socket:[{sock.inode.ino}]"


# --------------------------------------------------------------------------- mediation
#: hooks a spawned program needs before it can make any system call
SPAWN_HOOKS = {"cred_prepare", "task_alloc", "inode_alloc_security", "sb_alloc_security",
               "task_init_context", "file_alloc_security"}
DENY = 129  # EKEYREJECTED: an errno nothing else in these paths returns


def test_complete_mediation_every_socket_call_fails_with_the_lsm_errno() -> None:
    state = {"on": False}
    m = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind != "int" or spec.name in SPAWN_HOOKS:
            continue
        m.attach(spec.name, lambda *_a, _d=spec.default: -DENY if state["on"] else _d)
    out: dict[str, Any] = {}
    snap: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from listener(p, "/tmp/srv")
        a, b = yield from p.socketpair(U, S)
        d1, d2 = yield from p.socketpair(U, D)
        dg = yield from p.socket(U, D)
        yield from p.bind(dg, "\0dg")
        fresh = yield from p.socket(U, S)
        fresh_d = yield from p.socket(U, D)
        state["on"] = True
        calls = {
            "socket": p.socket(U, S),
            "socketpair": p.socketpair(U, S),
            "bind_path": p.bind(fresh, "/tmp/new"),
            "bind_abstract": p.bind(fresh, "\0new"),
            "listen": p.listen(fresh, 1),
            "connect": p.connect(fresh, "/tmp/srv"),
            "connect_dgram": p.connect(fresh_d, "\0dg"),
            "accept": p.accept(lfd),
            "accept4": p.accept4(lfd, c.SOCK_CLOEXEC),
            "send": p.send(a, b"x"),
            "write": p.write(a, b"x"),
            "sendto": p.sendto(fresh_d, b"x", "\0dg"),
            "sendmsg": p.sendmsg(a, b"x", [b]),
            "recv": p.recv(b, 1),
            "read": p.read(b, 1),
            "recvfrom": p.recvfrom(d2, 1),
            "recvmsg": p.recvmsg(b, 1, 1),
            "getsockopt": p.getsockopt(a, c.SOL_SOCKET, c.SO_TYPE),
            "setsockopt": p.setsockopt(a, c.SOL_SOCKET, c.SO_SNDBUF, 8192),
            "getpeercon": p.getpeercon(a),
            "shutdown": p.shutdown(a, c.SHUT_RDWR),
            "getsockname": p.getsockname(a),
            "getpeername": p.getpeername(a),
        }
        for name, call in calls.items():
            out[name] = yield from err(call)
        state["on"] = False
        snap["pending"] = yield from err(p.recv(b, 1, c.MSG_DONTWAIT))
        snap["dpending"] = yield from err(p.recv(d2, 1, c.MSG_DONTWAIT))
        snap["dgpending"] = yield from err(p.recv(dg, 1, c.MSG_DONTWAIT))
        snap["backlog"] = len(p.process.files.get(lfd).private.sk.rcvq)
        snap["fresh_name"] = yield from p.getsockname(fresh)
        snap["sndbuf"] = yield from p.getsockopt(a, c.SOL_SOCKET, c.SO_SNDBUF)
        yield from p.send(a, b"ok")  # not shut down
        snap["works"] = yield from p.recv(b, 2)
        snap["fds"] = sorted(p.process.files.fds)
        del d1

    k = Kernel(lsms=[m], seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out == dict.fromkeys(out, DENY), out
    assert len(out) == 23
    assert k.lookup("/tmp/new") is None
    assert snap["pending"] == snap["dpending"] == snap["dgpending"] == c.EAGAIN
    assert snap["backlog"] == 0 and snap["fresh_name"] == ""
    assert snap["sndbuf"] == 212992 and snap["works"] == b"ok"
    assert snap["fds"] == list(range(8))  # no fd was created by a denied call


# --------------------------------------------------------------------------- hook order
#: hook sequences from ipc-lsm-reference §1.2 (socket table), §3.9, §7 items 4, 24, 25.
#: Directory search checks of the path walk are left out (they depend on the path depth);
#: inode_permission entries keep the object they are on.
EXPECTED_ORDER: dict[str, list[str]] = {
    # __sock_create: socket_create before the protocol; sock_alloc's sockfs inode; sk_alloc;
    # socket_post_create; then sock_alloc_file
    "socket": ["socket_create", "inode_alloc_security", "sk_alloc_security",
               "socket_post_create", "file_alloc_security"],
    # __sys_bind: socket_bind first; then vfs_mknod: may_create, inode_mknod, new inode
    "bind_path": ["socket_bind", "inode_permission:dir:WX", "inode_mknod",
                  "inode_alloc_security", "inode_init_security", "d_instantiate"],
    "bind_abstract": ["socket_bind"],
    "listen": ["socket_listen"],
    # __sys_connect: socket_connect; unix_stream_connect: newsk (sk_alloc), unix_find_other
    # (write on the socket file), then the unix_stream_connect hook
    "connect_stream_path": ["socket_connect", "sk_alloc_security",
                            "inode_permission:sock:W", "unix_stream_connect"],
    # do_accept: sock_alloc, sock_alloc_file, socket_accept, then unix_accept's sock_graft
    "accept": ["inode_alloc_security", "file_alloc_security", "socket_accept", "sock_graft"],
    "send_stream": ["socket_sendmsg"],
    "recv_stream": ["socket_recvmsg"],
    "write_stream": ["file_permission", "socket_sendmsg"],
    "read_stream": ["file_permission", "socket_recvmsg"],
    # unix_dgram_sendmsg: the path lookup each time an address is given, then unix_may_send
    "sendto_dgram_path": ["socket_sendmsg", "inode_permission:sock:W", "unix_may_send"],
    "sendto_dgram_abstract": ["socket_sendmsg", "unix_may_send"],
    "connect_dgram": ["socket_connect", "inode_permission:sock:W", "unix_may_send"],
    "send_dgram_connected": ["socket_sendmsg", "unix_may_send"],  # every datagram
    "recvfrom_dgram": ["socket_recvmsg"],
    "socketpair": ["socket_create", "inode_alloc_security", "sk_alloc_security",
                   "socket_post_create"] * 2 + ["socket_socketpair", "file_alloc_security",
                                                "file_alloc_security"],
    "getpeercon": ["socket_getsockopt", "socket_getpeersec_stream"],
    "setsockopt": ["socket_setsockopt"],
    "shutdown": ["socket_shutdown"],
    "getsockname": ["socket_getsockname"],
    "getpeername": ["socket_getpeername"],
    # SCM_RIGHTS: no check on the passed file at send; file_receive per fd on receipt
    "sendmsg_rights": ["socket_sendmsg"],
    "recvmsg_rights": ["socket_recvmsg", "file_receive", "file_receive"],
    "close_connected": ["sk_free_security"],
}

_SKIP = {"capable", "cred_free", "task_free", "file_free_security", "inode_free_security"}


def _recorder() -> tuple[BpfLsm, list[str], dict[str, bool]]:
    rec: list[str] = []
    on = {"v": False}
    m = BpfLsm("recorder")
    for spec in HOOKS:
        if spec.name in _SKIP:
            continue
        if spec.name == "inode_permission":
            def perm(inode: Any, mask: int) -> None:
                if not on["v"]:
                    return
                if inode.is_dir():
                    if mask == c.MAY_EXEC:
                        return  # path walk
                    rec.append("inode_permission:dir:" + _mask(mask))
                else:
                    rec.append(f"inode_permission:{'sock' if inode.is_sock() else 'file'}:"
                               + _mask(mask))

            m.attach("inode_permission", perm)
            continue

        def hook(*_a: Any, _n: str = spec.name) -> None:
            if on["v"]:
                rec.append(_n)

        m.attach(spec.name, hook)
    return m, rec, on


def _mask(mask: int) -> str:
    return ("R" if mask & c.MAY_READ else "") + ("W" if mask & c.MAY_WRITE else "") + (
        "X" if mask & c.MAY_EXEC else "")


def test_hook_order_matches_linux() -> None:
    m, rec, on = _recorder()
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
        lfd = yield from step("socket", p.socket(U, S))
        yield from step("bind_path", p.bind(lfd, "/tmp/srv"))
        yield from step("listen", p.listen(lfd, 5))
        ab = yield from p.socket(U, S)
        yield from step("bind_abstract", p.bind(ab, "\0ab"))
        cfd = yield from p.socket(U, S)
        yield from step("connect_stream_path", p.connect(cfd, "/tmp/srv"))
        sfd, _ = yield from step("accept", p.accept(lfd))
        yield from step("send_stream", p.send(cfd, b"x"))
        yield from step("recv_stream", p.recv(sfd, 1))
        yield from step("write_stream", p.write(cfd, b"x"))
        yield from step("read_stream", p.read(sfd, 1))
        d = yield from p.socket(U, D)
        yield from p.bind(d, "/tmp/dg")
        d2 = yield from p.socket(U, D)
        yield from p.bind(d2, "\0dg2")
        snd = yield from p.socket(U, D)
        yield from step("sendto_dgram_path", p.sendto(snd, b"x", "/tmp/dg"))
        yield from step("sendto_dgram_abstract", p.sendto(snd, b"x", "\0dg2"))
        yield from step("recvfrom_dgram", p.recvfrom(d, 1))
        yield from step("connect_dgram", p.connect(snd, "/tmp/dg"))
        yield from step("send_dgram_connected", p.send(snd, b"x"))
        a, b = yield from step("socketpair", p.socketpair(U, S))
        yield from step("getpeercon", err(p.getpeercon(a)))
        yield from step("setsockopt", p.setsockopt(a, c.SOL_SOCKET, c.SO_SNDBUF, 9000))
        yield from step("getsockname", p.getsockname(a))
        yield from step("getpeername", p.getpeername(a))
        r, w = yield from p.pipe()
        yield from step("sendmsg_rights", p.sendmsg(a, b"x", [r, w]))
        yield from step("recvmsg_rights", p.recvmsg(b, 1, 2))
        yield from step("shutdown", p.shutdown(a, c.SHUT_WR))
        x, _y = yield from p.socketpair(U, S)
        yield from step("close_connected", p.close(x))

    k = Kernel(lsms=[m], seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    for name, want in EXPECTED_ORDER.items():
        assert got[name] == want, (name, got[name])


def test_socket_connect_hook_runs_even_when_connect_is_refused() -> None:
    """§7 item 4: socket_connect precedes the protocol, so a refused connect is checked."""
    calls: list[str] = []
    m = BpfLsm("seen")
    m.attach("socket_connect", lambda sock, addr: calls.append(addr) and None)
    m.attach("socket_bind", lambda sock, addr: -c.EPERM if addr == "/tmp/deny" else 0)

    def prog(p: Any) -> Gen:
        fd = yield from p.socket(U, S)
        out = yield from err(p.connect(fd, "\0nobody"))
        assert out == c.ECONNREFUSED
        assert (yield from err(p.bind(fd, "/tmp/deny"))) == c.EPERM

    k = Kernel(lsms=[m], seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert calls == ["\0nobody"] and k.lookup("/tmp/deny") is None



def test_data_sent_before_accept_and_listener_close_resets_pending_clients() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        lfd = yield from listener(p, "\0early")
        c1 = yield from p.socket(U, S)
        yield from p.connect(c1, "\0early")
        yield from p.send(c1, b"before accept")  # queued on the embryo sock
        sfd, _ = yield from p.accept(lfd)
        out["early"] = yield from p.recv(sfd, 100)
        c2 = yield from p.socket(U, S)
        yield from p.connect(c2, "\0early")  # never accepted
        yield from p.close(lfd)
        out["pending_recv"] = yield from err(p.recv(c2, 1))
        out["pending_send"] = yield from err(p.send(c2, b"x", c.MSG_NOSIGNAL))
        c3 = yield from p.socket(U, S)
        out["gone"] = yield from err(p.connect(c3, "\0early"))  # the name went with it

    k = Kernel(seed=0)
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out["early"] == b"before accept"
    assert out["pending_recv"] == c.ECONNRESET and out["pending_send"] == c.EPIPE
    assert out["gone"] == c.ECONNREFUSED


def test_blocking_recv_restarts_with_sa_restart_and_fails_eintr_without() -> None:
    out: dict[str, Any] = {"handled": 0}

    def handler(p: Any, sig: int) -> Gen:
        out["handled"] += 1
        yield from p.getpid()

    def prog(p: Any, restart: bool) -> Gen:
        a, b = yield from p.socketpair(U, S)
        yield from p.sigaction(c.SIGUSR1, handler, c.SA_RESTART if restart else 0)
        pid = p.pid

        def child(q: Any) -> Gen:
            yield from q.nanosleep(0.5)
            yield from q.kill(pid, c.SIGUSR1)
            yield from q.nanosleep(0.5)
            yield from q.send(a, b"late")

        yield from p.fork(child)
        out[restart] = yield from res(p.recv(b, 10))
        yield from p.waitpid(-1, 0)

    for restart in (True, False):
        k = Kernel(seed=0)
        pid = k.spawn(prog, restart)
        k.run()
        check_ok(k, pid)
    assert out[True] == ("ok", b"late") and out[False] == ("err", c.EINTR)
    assert out["handled"] == 2


def test_stream_recv_glues_writers_unless_passcred() -> None:
    """Linux merges the data of different writers into one stream read; only under
    SO_PASSCRED does a read stop at a writer boundary (each read then carries one writer's
    credentials).  MSG_WAITALL returns at that boundary instead of waiting forever."""
    out: dict[str, Any] = {}

    def writer(p: Any, fd: int) -> Gen:
        yield from p.send(fd, b"cd")

    def reader(p: Any, passcred: int = 0) -> Gen:
        a, b = yield from p.socketpair(U, S)
        if passcred:
            yield from p.setsockopt(b, c.SOL_SOCKET, c.SO_PASSCRED, 1)
        yield from p.send(a, b"ab")
        yield from p.fork(writer, a)
        yield from p.nanosleep(0.01)
        out[passcred] = [(yield from p.recv(b, 4, c.MSG_WAITALL))]
        if passcred:
            out[passcred].append((yield from p.recv(b, 4, c.MSG_DONTWAIT)))

    def passcred_reader(p: Any) -> Gen:
        yield from reader(p, 1)

    k, pids = spawn_run((reader, {}), (passcred_reader, {}))
    for pid in pids:
        check_ok(k, pid)
    assert out == {0: [b"abcd"], 1: [b"ab", b"cd"]}


def test_bytes_and_str_addresses_name_the_same_socket() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        srv = yield from p.socket(U, S)
        yield from p.bind(srv, "\0caf\u00e9")
        yield from p.listen(srv, 1)
        cli = yield from p.socket(U, S)
        out["connect"] = yield from err(p.connect(cli, "\0caf\u00e9".encode()))
        big = yield from p.socket(U, S)
        # 108 bytes (UNIX_PATH_MAX), four of them in two 2-byte UTF-8 characters
        out["max"] = yield from err(p.bind(big, b"\0" + b"x" * 103 + "\u00e9\u00e9".encode()))

    k, pids = spawn_run((prog, {}))
    check_ok(k, pids[0])
    assert out == {"connect": 0, "max": 0}
