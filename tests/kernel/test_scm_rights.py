"""SCM_RIGHTS descriptor passing over AF_UNIX (net/core/scm.c, ipc-lsm-reference §3.10, §7
item 26): references, limits, MSG_CTRUNC, and ``file_receive`` on the receiving side."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err

Gen = Generator[Any, Any, Any]
U, S, D = c.AF_UNIX, c.SOCK_STREAM, c.SOCK_DGRAM


def run(*progs: tuple[Any, dict[str, Any]], lsms: Any = ()) -> Kernel:
    k = Kernel(lsms=lsms, seed=0)
    pids = [k.spawn(prog, **kw) for prog, kw in progs]
    k.run()
    for pid in pids:
        check_ok(k, pid)
    return k


def test_fd_smuggled_between_unrelated_processes_is_usable() -> None:
    """The owner of a private file passes its open fd; the receiver reads it although it could
    never open the path itself (the classic SCM_RIGHTS capability transfer)."""
    out: dict[str, Any] = {}

    def owner(p: Any) -> Gen:
        f = yield from p.open("/tmp/secret", c.O_CREAT | c.O_RDWR, 0o600)
        yield from p.write(f, b"top secret")
        lfd = yield from p.socket(U, S)
        yield from p.bind(lfd, "\0broker")
        yield from p.listen(lfd, 1)
        conn, _ = yield from p.accept(lfd)
        file = p.process.files.get(f)
        out["count_before"] = file.count
        out["sent"] = yield from p.sendmsg(conn, b"here", [f])
        out["count_in_flight"] = file.count
        yield from p.close(f)
        yield from p.recv(conn, 1)  # wait for the receiver to finish
        out["count_after"] = file.count

    def receiver(p: Any) -> Gen:
        yield from p.nanosleep(0.01)
        out["open"] = yield from err(p.open("/tmp/secret", c.O_RDONLY))
        s = yield from p.socket(U, S)
        yield from p.connect(s, "\0broker")
        data, fds, flags, _ = yield from p.recvmsg(s, 100, 4)
        out["msg"] = (data, len(fds), flags)
        fd = fds[0]
        out["fd"] = fd
        yield from p.fcntl(fd, c.F_DUPFD, 0)
        f = p.process.files.get(fd)
        f.pos = 0
        out["read"] = yield from p.read(fd, 100)
        out["same_file"] = f is p.process.files.get(fd)
        yield from p.send(s, b"!")
        yield from p.nanosleep(0.01)

    run((owner, {"uid": 1000, "gid": 1000}), (receiver, {"uid": 2000, "gid": 2000}))
    assert out["open"] == c.EACCES
    assert out["sent"] == 4 and out["msg"] == (b"here", 1, 0)
    assert out["count_before"] == 1 and out["count_in_flight"] == 2
    assert out["count_after"] == 2  # the receiver's fd and its dup share one reference each
    assert out["read"] == b"top secret" and out["fd"] == 1  # lowest free fd (0 is the socket)


def test_passed_pipe_and_socket_ends_work_and_cloexec_flag() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, D)
        r, w = yield from p.pipe()
        x, y = yield from p.socketpair(U, S)
        yield from p.sendmsg(a, b"fds", [w, y])
        yield from p.close(w)
        yield from p.close(y)
        data, fds, flags, _ = yield from p.recvmsg(b, 10, 2, c.MSG_CMSG_CLOEXEC)
        out["rx"] = (data, flags)
        w2, y2 = fds
        out["cloexec"] = yield from p.fcntl(w2, c.F_GETFD)
        yield from p.write(w2, b"via pipe")
        out["pipe"] = yield from p.read(r, 20)
        yield from p.send(y2, b"via socket")
        out["sock"] = yield from p.recv(x, 20)
        yield from p.close(w2)
        out["eof"] = yield from p.read(r, 20)  # the last writer (the passed one) is gone

    run((prog, {}))
    assert out["rx"] == (b"fds", 0) and out["cloexec"] == c.FD_CLOEXEC
    assert out["pipe"] == b"via pipe" and out["sock"] == b"via socket" and out["eof"] == b""


def test_send_side_limits_einval_ebadf_and_no_fds_over_inet() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, D)
        r, _w = yield from p.pipe()
        out["too_many"] = yield from err(p.sendmsg(a, b"x", [r] * (c.SCM_MAX_FD + 1)))
        out["max_ok"] = yield from p.sendmsg(a, b"x", [r] * c.SCM_MAX_FD)
        file = p.process.files.get(r)
        out["refs"] = file.count
        _d, fds, flags, _ = yield from p.recvmsg(b, 1, 300)
        out["got"] = (len(fds), flags, len(set(fds)))
        for fd in fds:
            yield from p.close(fd)
        out["refs_after"] = file.count
        out["badf"] = yield from err(p.sendmsg(a, b"x", [r, 99]))
        out["refs_badf"] = file.count
        out["queue_after_badf"] = yield from err(p.recv(b, 1, c.MSG_DONTWAIT))
        t = yield from p.socket(c.AF_INET, S)
        out["inet"] = yield from err(p.sendmsg(t, b"x", [r]))

    run((prog, {}))
    assert out["too_many"] == c.EINVAL and out["max_ok"] == 1
    assert out["refs"] == 1 + c.SCM_MAX_FD
    assert out["got"] == (c.SCM_MAX_FD, 0, c.SCM_MAX_FD)
    assert out["refs_after"] == 1
    assert out["badf"] == c.EBADF and out["refs_badf"] == 1
    assert out["queue_after_badf"] == c.EAGAIN  # nothing was sent
    assert out["inet"] == c.EINVAL


def test_small_control_buffer_truncates_with_msg_ctrunc() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        r, w = yield from p.pipe()
        yield from p.sendmsg(a, b"abc", [r, w, r])
        yield from p.close(w)
        data, fds, flags, _ = yield from p.recvmsg(b, 10, 1)
        out["first"] = (data, len(fds), flags)
        out["r_refs"] = p.process.files.get(r).count
        yield from p.sendmsg(a, b"z", [r])
        out["none"] = yield from p.recvmsg(b, 10)  # maxfds 0: no room at all
        out["eof"] = yield from p.read(r, 1)  # the dropped write end was released

    run((prog, {}))
    assert out["first"] == (b"abc", 1, c.MSG_CTRUNC)
    assert out["r_refs"] == 2  # ours + the one installed; the dropped one was put
    assert out["none"] == (b"z", (), c.MSG_CTRUNC, None)
    assert out["eof"] == b""


def test_file_receive_denial_drops_that_fd_and_the_rest_but_recvmsg_succeeds() -> None:
    m = BpfLsm("no-secret")
    checked: list[str] = []

    def file_receive(f: Any) -> int:
        checked.append(f.path())
        return -c.EACCES if f.path() == "/tmp/secret" else 0

    m.attach("file_receive", file_receive)
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        ok = yield from p.open("/tmp/ok", c.O_CREAT | c.O_RDWR, 0o644)
        sec = yield from p.open("/tmp/secret", c.O_CREAT | c.O_RDWR, 0o600)
        other = yield from p.open("/tmp/other", c.O_CREAT | c.O_RDWR, 0o644)
        a, b = yield from p.socketpair(U, D)
        yield from p.sendmsg(a, b"payload", [ok, sec, other])
        nfds = len(p.process.files.fds)
        data, fds, flags, _ = yield from p.recvmsg(b, 100, 3)
        out["rx"] = (data, flags)
        out["installed"] = [p.process.files.get(fd).path() for fd in fds]
        out["new_fds"] = len(p.process.files.fds) - nfds
        out["refs"] = [p.process.files.get(x).count for x in (ok, sec, other)]

    run((prog, {}), lsms=[m])
    assert out["rx"] == (b"payload", c.MSG_CTRUNC)
    assert out["installed"] == ["/tmp/ok"] and out["new_fds"] == 1
    assert checked == ["/tmp/ok", "/tmp/secret"]  # the first denial stops installation
    assert out["refs"] == [2, 1, 1]  # dropped files' in-flight references were released


def test_peek_installs_duplicates_and_unread_fds_are_released_with_the_socket() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        r, w = yield from p.pipe()
        yield from p.sendmsg(a, b"m", [w])
        _d, fds, _f, _ = yield from p.recvmsg(b, 1, 1, c.MSG_PEEK)
        out["peek_fds"] = len(fds)
        out["refs_after_peek"] = p.process.files.get(w).count
        _d, fds2, _f, _ = yield from p.recvmsg(b, 1, 1)
        out["second"] = len(fds2)
        for fd in (*fds, *fds2, w):
            yield from p.close(fd)
        out["eof"] = yield from p.read(r, 1)
        # in flight when the receiving socket is closed: the reference is dropped
        r2, w2 = yield from p.pipe()
        x, y = yield from p.socketpair(U, D)
        yield from p.sendmsg(x, b"lost", [w2])
        yield from p.close(w2)
        yield from p.close(y)
        out["eof2"] = yield from p.read(r2, 1)

    run((prog, {}))
    assert out["peek_fds"] == 1 and out["refs_after_peek"] == 3 and out["second"] == 1
    assert out["eof"] == b"" and out["eof2"] == b""


def test_stream_read_stops_at_the_skb_carrying_fds() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        r, _w = yield from p.pipe()
        yield from p.send(a, b"plain-")
        yield from p.sendmsg(a, b"withfd", [r])
        yield from p.send(a, b"-after")
        out["r1"] = yield from p.recvmsg(b, 100, 1)
        out["r2"] = yield from p.recvmsg(b, 100, 1)

    run((prog, {}))
    data1, fds1, fl1, _ = out["r1"]
    data2, fds2, _fl2, _ = out["r2"]
    assert data1 == b"plain-withfd" and len(fds1) == 1 and fl1 == 0
    assert data2 == b"-after" and fds2 == ()


def test_passing_a_socket_over_itself_and_emfile_drops_with_ctrunc() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, D)
        yield from p.sendmsg(a, b"self", [b])
        _d, fds, _f, _ = yield from p.recvmsg(b, 10, 1)
        out["same"] = p.process.files.get(fds[0]) is p.process.files.get(b)
        r, _w = yield from p.pipe()
        yield from p.sendmsg(a, b"x", [r, r])
        p.process.files.max_fds = len(p.process.files.fds) + 1
        _d, fds, flags, _ = yield from p.recvmsg(b, 10, 2)
        out["emfile"] = (len(fds), flags)

    run((prog, {}))
    assert out["same"] and out["emfile"] == (1, c.MSG_CTRUNC)


# --------------------------------------------------------------------------- SCM_CREDENTIALS
def test_scm_credentials_forging_rules_and_so_passcred() -> None:
    out: dict[str, Any] = {}

    def user(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, D)
        me = p.pid
        out["own"] = yield from err(p.sendmsg(a, b"own", creds=(me, 1000, 1000)))
        out["no_passcred"] = (yield from p.recvmsg(b, 10, creds=True))[4]
        yield from p.setsockopt(b, c.SOL_SOCKET, c.SO_PASSCRED, 1)
        yield from p.sendmsg(a, b"own", creds=(me, 1000, 1000))
        out["passcred"] = (yield from p.recvmsg(b, 10, creds=True))[4]
        yield from p.send(a, b"implicit")
        out["implicit"] = (yield from p.recvmsg(b, 10, creds=True))[4]
        out["pid"] = yield from err(p.sendmsg(a, b"x", creds=(1, 1000, 1000)))
        out["uid"] = yield from err(p.sendmsg(a, b"x", creds=(me, 0, 1000)))
        out["gid"] = yield from err(p.sendmsg(a, b"x", creds=(me, 1000, 0)))
        out["bad"] = yield from err(p.sendmsg(a, b"x", creds=(me, -1, 1000)))
        out["queue"] = yield from err(p.recv(b, 10, c.MSG_DONTWAIT))  # nothing was sent
        t = yield from p.socket(c.AF_INET, D)
        out["inet"] = yield from err(p.sendmsg(t, b"x", creds=(me, 1000, 1000),
                                               addr=("127.0.0.1", 9)))
        out["me"] = me

    def root(p: Any) -> Gen:
        a, b = yield from p.socketpair(U, S)
        yield from p.setsockopt(b, c.SOL_SOCKET, c.SO_PASSCRED, 1)
        yield from p.sendmsg(a, b"forged", creds=(1, 4242, 4343))
        yield from p.sendmsg(a, b"mine")
        first = yield from p.recvmsg(b, 100, creds=True)
        second = yield from p.recvmsg(b, 100, creds=True)
        out["root"] = (first[0], first[4], second[0], second[4][1:])
        out["esrch"] = yield from err(p.sendmsg(a, b"x", creds=(99999, 0, 0)))

    k = Kernel(seed=0)
    pids = [k.spawn(user, uid=1000, gid=1000), k.spawn(root)]
    k.run()
    for pid in pids:
        check_ok(k, pid)
    me = out["me"]
    assert out["own"] == 0 and out["no_passcred"] is None
    assert out["passcred"] == (me, 1000, 1000) and out["implicit"] == (me, 1000, 1000)
    assert out["pid"] == c.EPERM and out["uid"] == c.EPERM and out["gid"] == c.EPERM
    assert out["bad"] == c.EINVAL and out["queue"] == c.EAGAIN and out["inet"] == c.EINVAL
    # root may claim anything (CAP_SYS_ADMIN/SETUID/SETGID); a stream read does not glue
    # messages carrying different credentials
    assert out["root"] == (b"forged", (1, 4242, 4343), b"mine", (0, 0))
    assert out["esrch"] == c.ESRCH
