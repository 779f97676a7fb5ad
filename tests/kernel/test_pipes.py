"""Anonymous pipes: capacity, PIPE_BUF atomicity, blocking, O_NONBLOCK, EOF, EPIPE/SIGPIPE.

Linux ``fs/pipe.c`` and pipe(7): 65536-byte default capacity, writes <= PIPE_BUF (4096) are
all-or-nothing, larger ones may be split, EOF once every writer is gone, EPIPE plus a
(kernel-generated) SIGPIPE once every reader is gone.
"""

from __future__ import annotations

import errno
import os

from kernel_sim import (
    F_GETPIPE_SZ,
    F_SETPIPE_SZ,
    O_CLOEXEC,
    O_NONBLOCK,
    O_RDONLY,
    PIPE_BUF,
    SIG_IGN,
    SIGPIPE,
)
from tests.kernel.helpers import check_ok, err, killed_by, res, run


def test_pipe_returns_two_lowest_fds_and_data_flows() -> None:
    def prog(p):
        r, w = yield from p.pipe()
        assert (r, w) == (0, 1)  # spawned processes start with no fds
        assert (yield from p.write(w, b"hello")) == 5
        assert (yield from p.read(r, 3)) == b"hel"
        assert (yield from p.read(r, 100)) == b"lo"
        return 0

    check_ok(*run(prog))


def test_capacity_is_65536_and_nonblocking_write_is_partial_then_eagain() -> None:
    def prog(p):
        r, w = yield from p.pipe2(O_NONBLOCK)
        assert (yield from p.fcntl(w, F_GETPIPE_SZ)) == 65536
        assert (yield from p.write(w, b"x" * 70000)) == 65536  # partial write
        assert (yield from err(p.write(w, b"y"))) == errno.EAGAIN
        data = yield from p.read(r, 100000)
        assert len(data) == 65536
        assert (yield from err(p.read(r, 1))) == errno.EAGAIN  # empty, writer present
        return 0

    check_ok(*run(prog))


def test_write_up_to_pipe_buf_is_atomic_larger_may_be_partial() -> None:
    def prog(p):
        r, w = yield from p.pipe2(O_NONBLOCK)
        yield from p.write(w, b"a" * (65536 - 100))  # 100 bytes free
        # <= PIPE_BUF: all or nothing
        assert (yield from err(p.write(w, b"b" * 200))) == errno.EAGAIN
        assert (yield from err(p.write(w, b"b" * PIPE_BUF))) == errno.EAGAIN
        # > PIPE_BUF: what fits is written
        assert (yield from p.write(w, b"c" * (PIPE_BUF + 1))) == 100
        data = yield from p.read(r, 70000)
        assert data == b"a" * (65536 - 100) + b"c" * 100
        return 0

    check_ok(*run(prog))


def test_blocking_write_larger_than_capacity_completes_as_reader_drains() -> None:
    got = []

    def reader(p, r, w):
        yield from p.close(w)
        yield from p.nanosleep(1.0)
        total = b""
        while True:
            chunk = yield from p.read(r, 10000)
            if not chunk:
                break
            total += chunk
        got.append(total)
        return 0

    def prog(p):
        r, w = yield from p.pipe()
        pid = yield from p.fork(reader, r, w)
        yield from p.close(r)
        t0 = p.kernel.now
        n = yield from p.write(w, bytes(range(256)) * 800)  # 204800 bytes
        assert n == 204800
        assert p.kernel.now - t0 > 0.99  # it had to wait for the reader
        yield from p.close(w)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
        return 0

    check_ok(*run(prog))
    assert got == [bytes(range(256)) * 800]


def test_atomic_writes_never_interleave_between_writers() -> None:
    """Two writers of PIPE_BUF-sized records into a full pipe: each record stays whole."""
    got = []

    def writer(p, w, ch):
        for _ in range(40):
            yield from p.write(w, ch * PIPE_BUF)
        return 0

    def prog(p):
        r, w = yield from p.pipe()
        a = yield from p.fork(writer, w, b"A")
        b = yield from p.fork(writer, w, b"B")
        yield from p.close(w)
        yield from p.nanosleep(0.01)  # let both fill the pipe and block
        data = b""
        while True:
            chunk = yield from p.read(r, 3000)  # reads not aligned with the records
            if not chunk:
                break
            data += chunk
        for pid in (a, b):
            yield from p.waitpid(pid, 0)
        got.append(data)
        return 0

    check_ok(*run(prog))
    data = got[0]
    assert len(data) == 2 * 40 * PIPE_BUF
    records = [data[i:i + PIPE_BUF] for i in range(0, len(data), PIPE_BUF)]
    assert all(rec in (b"A" * PIPE_BUF, b"B" * PIPE_BUF) for rec in records)
    assert records.count(b"A" * PIPE_BUF) == 40


def test_large_blocking_write_is_split_into_capacity_sized_pieces() -> None:
    """A write above PIPE_BUF has no atomicity: what fits goes in, the rest waits."""
    got = []

    def writer(p, w, ch):
        yield from p.write(w, ch * 100000)
        return 0

    def prog(p):
        r, w = yield from p.pipe()
        for ch in (b"A", b"B"):
            yield from p.fork(writer, w, ch)
        yield from p.close(w)
        yield from p.nanosleep(0.01)
        chunks = []
        while chunk := (yield from p.read(r, 1 << 20)):
            chunks.append(chunk)
        got.append(chunks)
        return 0

    check_ok(*run(prog))
    chunks = got[0]
    assert chunks[0] == b"A" * 65536  # the first 65536 bytes of A's write, then it blocked
    assert max(len(ch) for ch in chunks) <= 65536
    data = b"".join(chunks)
    assert sorted(data) == sorted(b"A" * 100000 + b"B" * 100000)


def test_blocking_read_waits_for_a_writer() -> None:
    def writer(p, w):
        yield from p.nanosleep(2.5)
        yield from p.write(w, b"late")
        return 0

    def prog(p):
        r, w = yield from p.pipe()
        yield from p.fork(writer, w)
        assert (yield from p.read(r, 10)) == b"late"
        assert p.kernel.now >= 2.5
        return 0

    check_ok(*run(prog))


def test_eof_only_when_every_writer_is_closed() -> None:
    def prog(p):
        r, w = yield from p.pipe()
        w2 = yield from p.dup(w)
        yield from p.write(w, b"xy")
        yield from p.close(w)
        assert (yield from p.read(r, 10)) == b"xy"
        yield from p.fcntl(r, 4, O_NONBLOCK)  # F_SETFL
        assert (yield from err(p.read(r, 10))) == errno.EAGAIN  # w2 still open
        yield from p.close(w2)
        assert (yield from p.read(r, 10)) == b""
        assert (yield from p.read(r, 10)) == b""
        return 0

    check_ok(*run(prog))


def test_eof_wakes_a_blocked_reader_when_child_closes_its_copy() -> None:
    def child(p, r, w):
        yield from p.close(r)
        yield from p.nanosleep(1.0)
        return 0  # exit closes w

    def prog(p):
        r, w = yield from p.pipe()
        pid = yield from p.fork(child, r, w)
        yield from p.close(w)
        assert (yield from p.read(r, 10)) == b""
        assert p.kernel.now >= 1.0
        yield from p.waitpid(pid, 0)
        return 0

    check_ok(*run(prog))


def test_epipe_and_sigpipe_kills_by_default() -> None:
    def child(p):
        r, w = yield from p.pipe()
        yield from p.close(r)
        yield from p.write(w, b"x")
        return 0  # not reached: SIGPIPE's default action terminates

    def prog(p):
        pid = yield from p.fork(child)
        _, st = yield from p.waitpid(pid, 0)
        assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == SIGPIPE
        assert not os.WCOREDUMP(st)
        return 0

    check_ok(*run(prog))


def test_epipe_without_death_when_sigpipe_ignored() -> None:
    def prog(p):
        yield from p.sigaction(SIGPIPE, SIG_IGN)
        r, w = yield from p.pipe()
        yield from p.close(r)
        assert (yield from err(p.write(w, b"x"))) == errno.EPIPE
        assert (yield from err(p.write(w, b"x" * 100000))) == errno.EPIPE
        return 0

    check_ok(*run(prog))


def test_sigpipe_handler_runs_and_write_fails_with_epipe() -> None:
    seen = []

    def on_pipe(p, sig):
        seen.append(sig)
        return
        yield

    def prog(p):
        yield from p.sigaction(SIGPIPE, on_pipe)
        r, w = yield from p.pipe()
        yield from p.close(r)
        assert (yield from err(p.write(w, b"x"))) == errno.EPIPE
        return 0

    check_ok(*run(prog))
    assert seen == [SIGPIPE]


def test_sigpipe_directly_kills_the_whole_process_status() -> None:
    def prog(p):
        r, w = yield from p.pipe()
        yield from p.close(r)
        yield from p.write(w, b"x")
        return 0

    k, pid = run(prog)
    assert killed_by(k.exit_status(pid), SIGPIPE)


def test_read_on_write_end_and_write_on_read_end_are_ebadf() -> None:
    def prog(p):
        r, w = yield from p.pipe()
        assert (yield from err(p.read(w, 1))) == errno.EBADF
        assert (yield from err(p.write(r, b"x"))) == errno.EBADF
        yield from p.close(r)
        assert (yield from err(p.close(r))) == errno.EBADF
        assert (yield from err(p.read(99, 1))) == errno.EBADF
        return 0

    check_ok(*run(prog))


def test_pipe2_flags() -> None:
    def prog(p):
        assert (yield from err(p.pipe2(O_RDONLY | 0o1))) == errno.EINVAL  # O_WRONLY
        r, w = yield from p.pipe2(O_CLOEXEC | O_NONBLOCK)
        assert (yield from p.fcntl(r, 1)) == 1  # F_GETFD -> FD_CLOEXEC
        assert (yield from p.fcntl(w, 3)) & O_NONBLOCK  # F_GETFL
        r2, _w2 = yield from p.pipe()
        assert (yield from p.fcntl(r2, 1)) == 0
        assert not (yield from p.fcntl(r2, 3)) & O_NONBLOCK
        return 0

    check_ok(*run(prog))


def test_zero_length_read_and_write() -> None:
    def prog(p):
        r, w = yield from p.pipe()
        assert (yield from p.write(w, b"")) == 0
        assert (yield from p.read(r, 0)) == b""  # does not block on an empty pipe
        return 0

    check_ok(*run(prog))


def test_f_setpipe_sz_rounding_limits_and_ebusy() -> None:
    def prog(p):
        r, w = yield from p.pipe2(O_NONBLOCK)
        assert (yield from p.fcntl(w, F_SETPIPE_SZ, 1)) == 4096  # at least one page
        assert (yield from p.fcntl(r, F_GETPIPE_SZ)) == 4096
        assert (yield from p.write(w, b"x" * 5000)) == 4096
        assert (yield from p.fcntl(w, F_SETPIPE_SZ, 5000)) == 8192  # power-of-two pages
        assert (yield from p.write(w, b"y" * 5000)) == 4096
        assert (yield from err(p.fcntl(w, F_SETPIPE_SZ, 4096))) == errno.EBUSY
        assert (yield from p.fcntl(w, F_SETPIPE_SZ, 1 << 20)) == 1 << 20  # pipe-max-size
        assert (yield from err(p.fcntl(w, F_SETPIPE_SZ, (1 << 20) + 1))) == errno.EPERM
        return 0

    check_ok(*run(prog, uid=1000, gid=1000))


def test_f_setpipe_sz_above_max_with_cap_sys_resource() -> None:
    def prog(p):
        _r, w = yield from p.pipe()
        assert (yield from p.fcntl(w, F_SETPIPE_SZ, 3 << 20)) == 4 << 20
        return 0

    check_ok(*run(prog))  # root


def test_f_getpipe_sz_on_a_regular_file_is_ebadf() -> None:
    def prog(p):
        fd = yield from p.open("/etc/passwd", O_RDONLY)
        assert (yield from res(p.fcntl(fd, F_GETPIPE_SZ))) == ("err", errno.EBADF)
        return 0

    k = __import__("kernel_sim").Kernel(seed=0)
    k.install("/etc/passwd", b"root:x:0:0\n", mode=0o644)
    check_ok(*run(prog, kernel=k))


def test_fork_inherits_pipe_fds() -> None:
    def child(p, w):
        yield from p.write(w, b"from child")
        return 0

    def prog(p):
        r, w = yield from p.pipe()
        yield from p.fork(child, w)
        assert (yield from p.read(r, 100)) == b"from child"
        return 0

    check_ok(*run(prog))


def test_blocked_writer_gets_epipe_when_the_last_reader_goes() -> None:
    def reader(p, r, w):
        yield from p.close(w)
        yield from p.nanosleep(1.0)
        return 0  # exits without reading: the last read end closes

    def prog(p):
        yield from p.sigaction(SIGPIPE, SIG_IGN)
        r, w = yield from p.pipe()
        yield from p.fork(reader, r, w)
        yield from p.close(r)
        yield from p.write(w, b"f" * 65536)  # fills the pipe
        assert (yield from err(p.write(w, b"more"))) == errno.EPIPE  # woken by the close
        assert p.kernel.now >= 1.0
        return 0

    check_ok(*run(prog))


def test_blocked_sigpipe_stays_pending_and_write_fails_with_epipe() -> None:
    def prog(p):
        yield from p.sigprocmask(0, {SIGPIPE})
        r, w = yield from p.pipe()
        yield from p.close(r)
        assert (yield from err(p.write(w, b"x"))) == errno.EPIPE
        assert SIGPIPE in p.pending  # queued, not delivered
        yield from p.sigprocmask(1, {SIGPIPE})  # unblocking delivers it: default kills
        return 0

    k, pid = run(prog)
    assert killed_by(k.exit_status(pid), SIGPIPE)
