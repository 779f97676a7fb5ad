"""Named FIFOs: mkfifo, blocking open rendezvous, O_NONBLOCK rules, DAC (Linux ``fifo_open``)."""

from __future__ import annotations

import errno
import stat

from kernel_sim import (
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    SA_RESTART,
    SIGUSR1,
    Kernel,
)
from tests.kernel.helpers import check_ok, err, run


def test_mkfifo_mode_is_masked_by_umask() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/f1", 0o666)
        st = yield from p.stat("/tmp/f1")
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
        assert (st.st_uid, st.st_gid) == (1000, 100)
        old = yield from p.umask(0o077)
        assert old == 0o022
        yield from p.mkfifo("/tmp/f2")
        st = yield from p.stat("/tmp/f2")
        assert stat.S_IMODE(st.st_mode) == 0o600
        return 0

    check_ok(*run(prog, uid=1000, gid=100))


def test_mkfifo_errors() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/f")
        assert (yield from err(p.mkfifo("/tmp/f"))) == errno.EEXIST
        assert (yield from err(p.mkfifo("/tmp/nodir/f"))) == errno.ENOENT
        assert (yield from err(p.mkfifo("/etc/f"))) == errno.EACCES  # /etc is 0755 root
        assert (yield from err(p.mkfifo("/tmp/f/x"))) == errno.ENOTDIR
        return 0

    check_ok(*run(prog, uid=1000, gid=1000))


def test_open_rdonly_blocks_until_a_writer_opens() -> None:
    times = {}

    def writer(p):
        yield from p.nanosleep(2.0)
        fd = yield from p.open("/tmp/fifo", O_WRONLY)
        times["writer_open"] = p.kernel.now
        yield from p.write(fd, b"ping")
        return 0

    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        yield from p.fork(writer)
        fd = yield from p.open("/tmp/fifo", O_RDONLY)
        times["reader_open"] = p.kernel.now
        assert (yield from p.read(fd, 10)) == b"ping"
        assert (yield from p.read(fd, 10)) == b""  # writer exited: EOF
        return 0

    check_ok(*run(prog))
    assert times["reader_open"] >= 2.0
    assert times["reader_open"] >= times["writer_open"] - 1e-3


def test_open_wronly_blocks_until_a_reader_opens() -> None:
    times = {}

    def reader(p):
        yield from p.nanosleep(3.0)
        fd = yield from p.open("/tmp/fifo", O_RDONLY)
        times["data"] = yield from p.read(fd, 10)
        return 0

    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        pid = yield from p.fork(reader)
        fd = yield from p.open("/tmp/fifo", O_WRONLY)
        times["writer_open"] = p.kernel.now
        yield from p.write(fd, b"pong")
        yield from p.waitpid(pid, 0)
        return 0

    check_ok(*run(prog))
    assert times["writer_open"] >= 3.0
    assert times["data"] == b"pong"


def test_rdonly_nonblock_opens_at_once_and_reads_eof() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        fd = yield from p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK)
        assert p.kernel.now < 1e-3
        assert (yield from p.read(fd, 10)) == b""  # no writer: EOF, not EAGAIN
        return 0

    check_ok(*run(prog))


def test_wronly_nonblock_without_reader_is_enxio_and_with_reader_succeeds() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        assert (yield from err(p.open("/tmp/fifo", O_WRONLY | O_NONBLOCK))) == errno.ENXIO
        rfd = yield from p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK)
        wfd = yield from p.open("/tmp/fifo", O_WRONLY | O_NONBLOCK)
        yield from p.write(wfd, b"abc")
        assert (yield from p.read(rfd, 10)) == b"abc"
        assert (yield from err(p.read(rfd, 10))) == errno.EAGAIN  # writer open, empty
        yield from p.close(rfd)
        return 0

    check_ok(*run(prog))


def test_rdwr_never_blocks_and_loops_back() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        fd = yield from p.open("/tmp/fifo", O_RDWR)
        assert p.kernel.now < 1e-3
        yield from p.write(fd, b"self")
        assert (yield from p.read(fd, 10)) == b"self"
        return 0

    check_ok(*run(prog))


def test_writer_gets_epipe_after_reader_closes() -> None:
    def prog(p):
        yield from p.sigaction(13, "SIG_IGN")
        yield from p.mkfifo("/tmp/fifo")
        rfd = yield from p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK)
        wfd = yield from p.open("/tmp/fifo", O_WRONLY)
        yield from p.close(rfd)
        assert (yield from err(p.write(wfd, b"x"))) == errno.EPIPE
        return 0

    check_ok(*run(prog))


def test_fifo_buffer_does_not_survive_last_close() -> None:
    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        fd = yield from p.open("/tmp/fifo", O_RDWR)
        yield from p.write(fd, b"lost")
        yield from p.close(fd)
        fd = yield from p.open("/tmp/fifo", O_RDWR | O_NONBLOCK)
        assert (yield from err(p.read(fd, 10))) == errno.EAGAIN
        return 0

    check_ok(*run(prog))


def test_dac_on_open() -> None:
    k = Kernel(seed=0)
    k.mkfifo("/tmp/private", 0o600)  # root's
    k.mkfifo("/tmp/readonly", 0o644)
    k.mkdir("/tmp/closed", 0o700)
    k.mkfifo("/tmp/closed/f", 0o666)

    def prog(p):
        assert (yield from err(p.open("/tmp/private", O_RDONLY | O_NONBLOCK))) == errno.EACCES
        assert (yield from err(p.open("/tmp/readonly", O_WRONLY | O_NONBLOCK))) == errno.EACCES
        assert (yield from err(p.open("/tmp/readonly", O_RDWR))) == errno.EACCES
        yield from p.open("/tmp/readonly", O_RDONLY | O_NONBLOCK)
        # search permission on the directory is needed first
        assert (yield from err(p.open("/tmp/closed/f", O_RDONLY | O_NONBLOCK))) == errno.EACCES
        assert (yield from err(p.stat("/tmp/closed/f"))) == errno.EACCES
        return 0

    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))


def test_root_overrides_fifo_mode_bits() -> None:
    k = Kernel(seed=0)
    k.mkfifo("/tmp/private", 0o000, uid=1000, gid=1000)

    def prog(p):
        fd = yield from p.open("/tmp/private", O_RDWR)
        assert fd == 0
        return 0

    check_ok(*run(prog, kernel=k))


def test_blocked_fifo_open_is_interrupted_by_a_handler() -> None:
    seen = []

    def on_usr1(p, sig):
        seen.append(sig)
        return
        yield

    def opener(p, flags):
        yield from p.sigaction(SIGUSR1, on_usr1, flags)
        rc = yield from err(p.open("/tmp/fifo", O_RDONLY))
        return rc

    def prog(p):
        yield from p.mkfifo("/tmp/fifo")
        pid = yield from p.fork(opener, 0)
        yield from p.nanosleep(1.0)
        yield from p.kill(pid, SIGUSR1)
        _, st = yield from p.waitpid(pid, 0)
        assert st >> 8 == errno.EINTR
        # with SA_RESTART the open is restarted and completes when a writer arrives
        pid = yield from p.fork(opener, SA_RESTART)
        yield from p.nanosleep(1.0)
        yield from p.kill(pid, SIGUSR1)
        yield from p.nanosleep(1.0)
        fd = yield from p.open("/tmp/fifo", O_WRONLY)
        _, st = yield from p.waitpid(pid, 0)
        assert st >> 8 == 0
        yield from p.close(fd)
        return 0

    check_ok(*run(prog))
    assert seen == [SIGUSR1, SIGUSR1]
