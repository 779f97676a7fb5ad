"""Pipes and FIFOs (Linux ``fs/pipe.c``): a 64 KiB ring, atomic writes up to PIPE_BUF.

* read: returns what is there (up to ``n``); empty with writers -> block (EAGAIN with
  O_NONBLOCK); empty with no writer -> EOF (``b""``).
* write: no reader -> SIGPIPE (kernel-generated, unmediated) + EPIPE; ``len <= PIPE_BUF`` is
  all-or-nothing; larger writes may be split and interleaved; O_NONBLOCK -> partial or EAGAIN.
* FIFO open: O_RDONLY waits for a writer, O_WRONLY for a reader (O_NONBLOCK without a reader
  -> ENXIO), O_RDWR never waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.syscall import Interrupted
from kernel_sim.vfs import File, FileOps
from kernel_sim.waitq import WaitQueue

if TYPE_CHECKING:
    from kernel_sim.task import Task


_PIPE_BUF = c.PIPE_BUF


class Pipe:
    """``struct pipe_inode_info``."""

    __slots__ = ("buf", "capacity", "open_wait", "r_counter", "rd_wait", "readers",
                 "w_counter", "wr_wait", "writers")

    def __init__(self, env: Any) -> None:
        self.buf = bytearray()
        self.capacity = c.PIPE_CAPACITY
        self.readers = 0
        self.writers = 0
        self.r_counter = 0
        self.w_counter = 0
        self.rd_wait = WaitQueue(env)
        self.wr_wait = WaitQueue(env)
        self.open_wait = WaitQueue(env)


class PipeOps(FileOps):
    kind = "pipe"

    def read(self, task: Task, file: File, n: int) -> Any:
        pipe: Pipe = file.private
        if n < 0:
            raise SyscallError(c.EINVAL)
        while True:
            buf = pipe.buf
            if buf:
                if n >= len(buf):
                    data = bytes(buf)
                    buf.clear()
                else:
                    data = bytes(buf[:n])
                    del buf[:n]
                pipe.wr_wait.wake_all()
                return data
            if pipe.writers == 0 or n == 0:
                return b""
            if file.flags & c.O_NONBLOCK:
                raise SyscallError(c.EAGAIN)
            yield from task.sleep(pipe.rd_wait.prepare())

    def write(self, task: Task, file: File, data: bytes) -> Any:
        pipe: Pipe = file.private
        total = len(data)
        if total == 0:
            return 0
        if pipe.readers and total <= _PIPE_BUF and pipe.capacity - len(pipe.buf) >= total:
            pipe.buf += data  # the common case: an atomic write that fits
            pipe.rd_wait.wake_all()
            return total
        written = 0
        view = memoryview(bytes(data))
        while True:
            if pipe.readers == 0:
                task.kernel.force_sig(task, c.SIGPIPE)
                if written:
                    return written
                raise SyscallError(c.EPIPE)
            free = pipe.capacity - len(pipe.buf)
            if total <= c.PIPE_BUF:
                if free >= total:
                    pipe.buf += view
                    pipe.rd_wait.wake_all()
                    return total
            elif free > 0:
                chunk = min(free, total - written)
                pipe.buf += view[written:written + chunk]
                written += chunk
                pipe.rd_wait.wake_all()
                if written == total:
                    return total
            if file.flags & c.O_NONBLOCK:
                if written:
                    return written
                raise SyscallError(c.EAGAIN)
            try:
                yield from task.sleep(pipe.wr_wait.prepare())
            except Interrupted:
                if written:
                    return written  # a signal after a partial write: report what was written
                raise

    def release(self, file: File) -> None:
        pipe: Pipe = file.private
        if file.f_mode & 0x1:
            pipe.readers -= 1
        if file.f_mode & 0x2:
            pipe.writers -= 1
        pipe.rd_wait.wake_all()
        pipe.wr_wait.wake_all()
        pipe.open_wait.wake_all()
        inode = file.inode
        if pipe.readers == 0 and pipe.writers == 0 and inode.is_fifo() and inode.pipe is pipe:
            inode.pipe = None  # a FIFO's buffer lives only while someone has it open


PIPE_OPS = PipeOps()


def fifo_open(task: Task, file: File) -> Any:
    """Open semantics of a named FIFO (``fifo_open``); a generator because it may block."""
    inode = file.inode
    pipe = inode.pipe
    if pipe is None:
        pipe = inode.pipe = Pipe(task.kernel.env)
    file.private = pipe
    acc = file.flags & c.O_ACCMODE
    nonblock = file.flags & c.O_NONBLOCK
    if acc == c.O_RDONLY:
        pipe.r_counter += 1
        pipe.readers += 1
        pipe.open_wait.wake_all()
        if pipe.writers == 0 and not nonblock:
            yield from _wait_for_partner(task, pipe, "w_counter", file)
    elif acc == c.O_WRONLY:
        if nonblock and pipe.readers == 0:
            _drop_if_unused(inode, pipe)
            raise SyscallError(c.ENXIO)
        pipe.w_counter += 1
        pipe.writers += 1
        pipe.open_wait.wake_all()
        if pipe.readers == 0:
            yield from _wait_for_partner(task, pipe, "r_counter", file)
    else:
        pipe.readers += 1
        pipe.writers += 1
        pipe.r_counter += 1
        pipe.w_counter += 1
        pipe.open_wait.wake_all()
    return None


def _wait_for_partner(task: Task, pipe: Pipe, counter: str, file: File) -> Any:
    start = getattr(pipe, counter)
    try:
        while getattr(pipe, counter) == start:
            yield from task.sleep(pipe.open_wait.prepare())
    except BaseException:
        # interrupted: undo our half of the open
        if file.f_mode & 0x1:
            pipe.readers -= 1
        if file.f_mode & 0x2:
            pipe.writers -= 1
        _drop_if_unused(file.inode, pipe)
        raise


def _drop_if_unused(inode: Any, pipe: Pipe) -> None:
    if pipe.readers == 0 and pipe.writers == 0 and inode.pipe is pipe:
        inode.pipe = None
