"""Programs of the POSIX IPC scenarios (message queues, shared memory, named semaphores)."""

from __future__ import annotations

from typing import Any

from kernel_sim import (
    MAP_SHARED,
    O_CREAT,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PROT_READ,
    PROT_WRITE,
    SyscallError,
)


def mq_server(p: Any, ctx: Any, name: str, mode: int, maxmsg: int, serve_at: list[float]) -> Any:
    """A print spooler: its request queue ``name`` (``mode``), drained at ``serve_at``."""
    yield from p.umask(0)
    mqd = yield from p.mq_open(name, O_RDONLY | O_CREAT | O_NONBLOCK, mode,
                               {"mq_maxmsg": maxmsg, "mq_msgsize": 64})
    for when in serve_at:
        yield from p.nanosleep(max(0.0, when - p.kernel.now))
        try:
            data, _prio = yield from p.mq_receive(mqd, 64)
            ctx.note("served", who=p.comm, request=data.decode())
        except SyscallError as e:
            ctx.note("idle", who=p.comm, errno=e.errno)
    return 0


def mq_flooder(p: Any, ctx: Any, name: str, delay: float) -> Any:
    """Fills the queue with junk so legitimate clients get EAGAIN."""
    yield from p.nanosleep(delay)
    try:
        mqd = yield from p.mq_open(name, O_WRONLY | O_NONBLOCK)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="open queue", errno=e.errno)
        return 0
    sent = 0
    while True:
        try:
            yield from p.mq_send(mqd, b"junk")
            sent += 1
        except SyscallError:
            break
    ctx.note("flooded", who=p.comm, messages=sent)
    return 0


def mq_client(p: Any, ctx: Any, name: str, request: str, delay: float) -> Any:
    yield from p.nanosleep(delay)
    try:
        mqd = yield from p.mq_open(name, O_WRONLY | O_NONBLOCK)
        yield from p.mq_send(mqd, request.encode())
        ctx.note("queued", who=p.comm, request=request)
    except SyscallError as e:
        ctx.note("rejected", who=p.comm, errno=e.errno)
    return 0


def shm_container(p: Any, ctx: Any, name: str, secret: bytes) -> Any:
    """A container's app publishing state in /dev/shm (mode 0666: "it's our own tmpfs")."""
    yield from p.umask(0)
    fd = yield from p.shm_open(name, O_RDWR | O_CREAT, 0o666)
    yield from p.ftruncate(fd, 4096)
    addr = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd)
    p.mem_write(addr, 0, secret)
    ctx.note("published", who=p.comm, name=name)
    yield from p.nanosleep(0.01)
    return 0


def shm_peeker(p: Any, ctx: Any, name: str, delay: float) -> Any:
    """Another container sharing the host's /dev/shm opens the neighbour's object."""
    yield from p.nanosleep(delay)
    try:
        fd = yield from p.shm_open(name, O_RDONLY, 0)
        addr = yield from p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="open neighbour's shm", errno=e.errno)
        return 0
    ctx.note("read", who=p.comm, data=p.mem_read(addr, 0, 32).rstrip(b"\0"))
    return 0


def sem_holder(p: Any, ctx: Any, name: str, rounds: int) -> Any:
    """A daemon guarding its work with a named semaphore created 0666."""
    yield from p.umask(0)
    sem = yield from p.sem_open(name, O_CREAT, 0o666, 1)
    done = 0
    for _ in range(rounds):
        yield from p.nanosleep(0.002)
        try:
            yield from p.sem_trywait(sem)
        except SyscallError as e:
            ctx.note("starved", who=p.comm, errno=e.errno)
            continue
        done += 1
        yield from p.sem_post(sem)
    ctx.note("served", who=p.comm, rounds=done)
    return 0


def sem_thief(p: Any, ctx: Any, name: str, delay: float) -> Any:
    yield from p.nanosleep(delay)
    try:
        sem = yield from p.sem_open(name, 0)
        yield from p.sem_wait(sem)
        ctx.note("holds lock", who=p.comm)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="open semaphore", errno=e.errno)
    return 0
