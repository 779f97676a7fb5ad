"""Timed waits: semtimedop (relative timeout, EAGAIN) and mq_timedsend/mq_timedreceive
(absolute deadline, ETIMEDOUT), including that a waiter that gave up is forgotten."""

from __future__ import annotations

from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from tests.kernel.helpers import Gen, check_ok, err


def _run(*progs: Any) -> Kernel:
    k = Kernel()
    pids = [k.spawn(prog) for prog in progs]
    k.run()
    for pid in pids:
        check_ok(k, pid)
    return k


def test_semtimedop_times_out_with_eagain_or_gets_the_semaphore() -> None:
    out: dict[str, Any] = {}

    def waiter(p: Any) -> Gen:
        sem = yield from p.semget(0x5E, 1, c.IPC_CREAT | 0o600)
        out["bad"] = yield from err(p.semtimedop(sem, [(0, -1, 0)], -1))
        out["timeout"] = yield from err(p.semtimedop(sem, [(0, -1, 0)], 0.5))
        out["t1"] = p.kernel.env.now
        out["granted"] = yield from err(p.semtimedop(sem, [(0, -1, 0)], 5))
        out["t2"] = p.kernel.env.now
        out["ncnt"] = yield from p.semctl(sem, 0, c.GETNCNT)

    def poster(p: Any) -> Gen:
        yield from p.nanosleep(1.0)
        sem = yield from p.semget(0x5E, 1, 0)
        yield from p.semop(sem, [(0, 1, 0)])

    _run(waiter, poster)
    assert out["bad"] == c.EINVAL and out["timeout"] == c.EAGAIN and out["granted"] == 0
    assert 0.5 <= out["t1"] < 0.51 and 1.0 <= out["t2"] < 1.01
    assert out["ncnt"] == 0  # the timed-out wait left the queue


def test_mq_timedreceive_and_timedsend_deadlines() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Gen:
        q = yield from p.mq_open("/tq", c.O_CREAT | c.O_RDWR, 0o600,
                                 {"mq_maxmsg": 1, "mq_msgsize": 8})
        now = p.kernel.env.now
        out["negative"] = yield from err(p.mq_timedreceive(q, 8, -1))
        out["past"] = yield from err(p.mq_timedreceive(q, 8, now / 2))
        out["empty"] = yield from err(p.mq_timedreceive(q, 8, now + 0.3))
        out["t_empty"] = p.kernel.env.now - now
        yield from p.mq_timedsend(q, b"a", 0, now + 10)  # room: no wait, no deadline check
        out["full"] = yield from err(p.mq_timedsend(q, b"b", 0, p.kernel.env.now + 0.2))
        out["first"] = yield from p.mq_receive(q, 8)
        out["none_left"] = yield from err(p.mq_timedreceive(q, 8, p.kernel.env.now + 0.1))

    _run(prog)
    assert out["negative"] == c.EINVAL and out["past"] == c.ETIMEDOUT
    assert out["empty"] == c.ETIMEDOUT and 0.3 <= out["t_empty"] < 0.31
    assert out["full"] == c.ETIMEDOUT  # b was never queued
    assert out["first"] == (b"a", 0) and out["none_left"] == c.ETIMEDOUT


def test_a_receiver_that_timed_out_gets_no_later_message() -> None:
    out: dict[str, Any] = {}

    def receiver(p: Any) -> Gen:
        q = yield from p.mq_open("/late", c.O_CREAT | c.O_RDWR, 0o600)
        out["late"] = yield from err(p.mq_timedreceive(q, 8192, 0.1))
        yield from p.nanosleep(0.5)
        out["queued"] = yield from p.mq_receive(q, 8192)

    def sender(p: Any) -> Gen:
        yield from p.nanosleep(0.2)
        q = yield from p.mq_open("/late", c.O_RDWR)
        yield from p.mq_send(q, b"hello", 1)

    _run(receiver, sender)
    assert out == {"late": c.ETIMEDOUT, "queued": (b"hello", 1)}
