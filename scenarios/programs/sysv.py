"""Programs of the System V IPC scenarios (message queues, semaphores, shared memory).

Each program is ``prog(p, ctx, *args)``; it reports what happened with ``ctx.note``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kernel_sim import (
    GETZCNT,
    IPC_CREAT,
    IPC_NOWAIT,
    IPC_RMID,
    SETVAL,
    SHM_RDONLY,
    SIGKILL,
    SyscallError,
)


# -- message queues: a privileged daemon that obeys whatever lands in its queue ---------------
def job_daemon(p: Any, ctx: Any, key: int, mode: int, serve_for: float) -> Any:
    """admind: creates its job queue (``mode``) and runs each job with its own privileges."""
    qid = yield from p.msgget(key, IPC_CREAT | mode)
    ctx.note("listening", who=p.comm, key=hex(key))
    end = p.kernel.now + serve_for
    while p.kernel.now < end:
        try:
            _mtype, job = yield from p.msgrcv(qid, 256, 0, IPC_NOWAIT)
        except SyscallError:
            yield from p.nanosleep(0.001)
            continue
        ctx.note("executed", who=p.comm, job=job.decode())
    yield from p.msgctl(qid, IPC_RMID)
    return 0


def job_client(p: Any, ctx: Any, key: int, job: str | bytes, delay: float) -> Any:
    """Submits one job to the daemon's queue."""
    data = job if isinstance(job, bytes) else job.encode()
    yield from p.nanosleep(delay)
    try:
        qid = yield from p.msgget(key, 0)
        yield from p.msgsnd(qid, 1, data)
        ctx.note("submitted", who=p.comm, job=data.decode())
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="submit job", errno=e.errno)
    return 0


# -- key squatting: the attacker creates the well-known key first ------------------------------
def shm_squatter(p: Any, ctx: Any, key: int, wait: float) -> Any:
    """Creates the victim's well-known segment key first (mode 0666), then reads it later."""
    try:
        shmid = yield from p.shmget(key, 4096, IPC_CREAT | 0o666)
        addr = yield from p.shmat(shmid)
        ctx.note("squatted", who=p.comm, key=hex(key))
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="create segment", errno=e.errno)
        return 1
    yield from p.nanosleep(wait)
    data = p.mem_read(addr, 0, 64).rstrip(b"\0")
    ctx.note("harvested", who=p.comm, data=data)
    return 0


def shm_publisher(p: Any, ctx: Any, key: int, secret: bytes, delay: float) -> Any:
    """The victim: ``shmget(key, IPC_CREAT)`` without IPC_EXCL reuses whatever is there."""
    yield from p.nanosleep(delay)
    try:
        shmid = yield from p.shmget(key, 4096, IPC_CREAT | 0o600)
        addr = yield from p.shmat(shmid)
    except SyscallError as e:
        ctx.note("refused", who=p.comm, op="open segment", errno=e.errno)
        return 0
    p.mem_write(addr, 0, secret)
    ctx.note("published", who=p.comm, key=hex(key))
    return 0


# -- semaphore denial of service ----------------------------------------------------------------
def sem_worker(p: Any, ctx: Any, key: int, rounds: int) -> Any:
    """A daemon serialising its work with a 0666 semaphore it creates (value 1)."""
    semid = yield from p.semget(key, 1, IPC_CREAT | 0o666)
    yield from p.semctl(semid, 0, SETVAL, 1)
    done = 0
    for _ in range(rounds):
        yield from p.nanosleep(0.002)
        try:
            yield from p.semop(semid, [(0, -1, IPC_NOWAIT)])
        except SyscallError as e:
            ctx.note("starved", who=p.comm, errno=e.errno)
            continue
        done += 1
        yield from p.semop(semid, [(0, 1, 0)])
    ctx.note("served", who=p.comm, rounds=done)
    return 0


def sem_hog(p: Any, ctx: Any, key: int, delay: float) -> Any:
    """The attacker takes the daemon's lock and never gives it back."""
    yield from p.nanosleep(delay)
    try:
        semid = yield from p.semget(key, 0, 0)
        yield from p.semop(semid, [(0, -1, 0)])
        ctx.note("holds lock", who=p.comm)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="take lock", errno=e.errno)
    return 0


# -- MLS: no write-down on a queue, and the semaphore covert channel ---------------------------
def low_listener(p: Any, ctx: Any, qkey: int, skey: int, bits: int) -> Any:
    """An unclassified (s0) process: owns a queue and a semaphore (both 0666), then reads what
    comes through the queue and decodes bits from the semaphore's waiter count (GETZCNT)."""
    qid = yield from p.msgget(qkey, IPC_CREAT | 0o666)
    semid = yield from p.semget(skey, 1, IPC_CREAT | 0o666)
    yield from p.semctl(semid, 0, SETVAL, 1)
    yield from p.nanosleep(0.003)
    try:
        _t, data = yield from p.msgrcv(qid, 256, 0, IPC_NOWAIT)
        ctx.note("received", who=p.comm, data=data)
    except SyscallError as e:
        ctx.note("queue empty", who=p.comm, errno=e.errno)
    decoded = []
    for i in range(bits):  # the high process signals bit i during [4+2i, 6+2i) ms
        yield from p.nanosleep(0.005 + 0.002 * i - p.kernel.now)
        waiting = yield from p.semctl(semid, 0, GETZCNT)
        decoded.append("1" if waiting else "0")
    ctx.note("decoded", who=p.comm, bits="".join(decoded))
    yield from p.semctl(semid, 0, SETVAL, 0)  # release any waiter
    return 0


def high_leaker(p: Any, ctx: Any, qkey: int, skey: int, bits: str) -> Any:
    """A secret (s2) process trying to pass ``bits`` down: first openly, through the queue
    (write-down), then through the semaphore: waiting for zero needs only *read* access
    (read-down is allowed), but the wait is visible to the low process as semzcnt."""
    yield from p.nanosleep(0.001)
    try:
        qid = yield from p.msgget(qkey, 0)
        yield from p.msgsnd(qid, 1, b"bits=" + bits.encode())
        ctx.note("sent", who=p.comm, via="message queue")
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="msgsnd down", errno=e.errno)
    try:
        semid = yield from p.semget(skey, 0, 0)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="semget", errno=e.errno)
        return 0
    for i, bit in enumerate(bits):
        if bit != "1":
            continue
        # a child blocks in wait-for-zero through bit i's slot, then is killed
        yield from p.nanosleep(0.004 + 0.002 * i - p.kernel.now)
        child = yield from p.fork(_zero_waiter, semid)
        yield from p.nanosleep(0.0058 + 0.002 * i - p.kernel.now)
        yield from p.kill(child, SIGKILL)
        yield from p.waitpid(child, 0)
    ctx.note("signalled", who=p.comm, bits=bits)
    return 0


def _zero_waiter(p: Any, semid: int) -> Any:
    with contextlib.suppress(SyscallError):
        yield from p.semop(semid, [(0, 0, 0)])
    return 0


# -- policy reload ------------------------------------------------------------------------------
def segment_owner(p: Any, ctx: Any, key: int, secret: bytes, hold: float) -> Any:
    shmid = yield from p.shmget(key, 4096, IPC_CREAT | 0o644)
    addr = yield from p.shmat(shmid)
    p.mem_write(addr, 0, secret)
    ctx.note("published", who=p.comm, key=hex(key))
    yield from p.nanosleep(hold)
    return 0


def segment_reader(p: Any, ctx: Any, key: int, times: list[float]) -> Any:
    """Tries to attach and read the segment at each of ``times``."""
    for when in times:
        yield from p.nanosleep(max(0.0, when - p.kernel.now))
        try:
            shmid = yield from p.shmget(key, 0, 0)
            addr = yield from p.shmat(shmid, SHM_RDONLY)
            data = p.mem_read(addr, 0, 32).rstrip(b"\0")
            yield from p.shmdt(addr)
            ctx.note("read", who=p.comm, data=data)
        except SyscallError as e:
            ctx.note("denied", who=p.comm, op="attach", errno=e.errno)
    return 0
