"""mls_queue: one type at two levels; MLS constraints separate the levels' queues."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from kernel_sim import (
    EACCES,
    ENOENT,
    IPC_CREAT,
    IPC_NOWAIT,
    IPC_STAT,
    Kernel,
    SyscallError,
)
from scenarios.labs.model import Case, CaseCtx

LOW, HIGH, PROBE = 0x4C4F, 0x4849, 0x5052


def ops(level: str) -> str:
    return f"system_u:system_r:ops_t:{level}"


def own_queue(key: int, level: str) -> Callable[..., Any]:
    def prog(p: Any, ctx: CaseCtx, legit: bool) -> Any:
        try:
            q = yield from p.msgget(key, IPC_CREAT | 0o666)
            yield from p.msgsnd(q, 1, b"%s report" % level.encode())
            yield from p.nanosleep(0.01)
            _, data = yield from p.msgrcv(q, 64, 0, IPC_NOWAIT)
            if legit and data == b"%s report" % level.encode():
                ctx.done(f"{level} round trip")
        except SyscallError as e:
            if legit:
                ctx.fail(f"{level} daemon on its queue", e)
        return 0

    return prog


def monitor(p: Any, ctx: CaseCtx) -> Any:
    yield from p.nanosleep(0.001)
    try:
        q = yield from p.msgget(LOW, 0)
        st = yield from p.msgctl(q, IPC_STAT)
        if st is not None:
            ctx.done("low queue status read")
    except SyscallError as e:
        ctx.fail("s1 monitor reading the s0 queue's status", e)
    return 0


def legit_low(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(own_queue(LOW, "s0"), ctx, True, comm="ops", context=ops("s0"))


def legit_high(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(own_queue(HIGH, "s1"), ctx, True, comm="ops", context=ops("s1"))


def legit_monitor(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(own_queue(LOW, "s0"), ctx, True, comm="ops", context=ops("s0"))
    k.spawn(monitor, ctx, comm="monitor", context=ops("s1"))


def cross(owner_level: str, key: int, actor_level: str, op: str,
          ) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        k.spawn(own_queue(key, owner_level), ctx, False, comm="ops", context=ops(owner_level))

        def actor(p: Any) -> Any:
            yield from p.nanosleep(0.001)
            try:
                q = yield from p.msgget(key, 0)
                if op == "recv":
                    _, data = yield from p.msgrcv(q, 64, 0, IPC_NOWAIT)
                    ctx.breach(f"{actor_level} received {data!r} from the {owner_level} queue")
                elif op == "stat":
                    yield from p.msgctl(q, IPC_STAT)
                    ctx.breach(f"{actor_level} read the {owner_level} queue's status")
                else:
                    yield from p.msgsnd(q, 1, b"leak", IPC_NOWAIT)
                    ctx.breach(f"{actor_level} sent to the {owner_level} queue")
            except SyscallError:
                pass
            return 0

        k.spawn(actor, comm="actor", context=ops(actor_level))

    return setup


BITS = (1, 0, 1, 1)


def covert(k: Kernel, ctx: CaseCtx) -> None:
    """The secret side creates (1) or not (0) a queue with key PROBE+i in slot i; the public
    side probes each key with msgget and reads the bit from the errno."""

    def sender(p: Any) -> Any:
        for i, bit in enumerate(BITS):
            if bit:
                with contextlib.suppress(SyscallError):
                    yield from p.msgget(PROBE + i, IPC_CREAT | 0o600)
        return 0

    def receiver(p: Any) -> Any:
        got = []
        yield from p.nanosleep(0.005)
        for i in range(len(BITS)):
            try:
                yield from p.msgget(PROBE + i, 0)
                got.append(1)  # visible: no MLS separation at all
            except SyscallError as e:
                got.append(1 if e.errno == EACCES else 0 if e.errno == ENOENT else -1)
        if tuple(got) == BITS:
            ctx.breach(f"open: the s0 process decoded {got} from msgget errors (ENOENT=0, "
                       "EACCES=1)")
        return 0

    k.spawn(sender, comm="secret", context=ops("s1"))
    k.spawn(receiver, comm="public", context=ops("s0"))


CASES = [
    Case("low-queue", "legit", "the s0 daemon uses its own queue", legit_low,
         goals=("s0 round trip",)),
    Case("high-queue", "legit", "the s1 daemon uses its own queue", legit_high,
         goals=("s1 round trip",)),
    Case("monitor-reads-down", "legit", "the s1 monitor reads the s0 queue's status",
         legit_monitor, goals=("s0 round trip", "low queue status read")),
    Case("read-up", "attack", "an s0 process receives from the s1 queue",
         cross("s1", HIGH, "s0", "recv"),
         hint="mls_exempt switches the MLS constraints off for ops_t"),
    Case("write-down", "attack", "an s1 process sends to the s0 queue",
         cross("s0", LOW, "s1", "send"), visible=False),
    Case("consume-down", "attack", "an s1 process consumes a message of the s0 queue",
         cross("s0", LOW, "s1", "recv"), visible=False),
    Case("stat-up", "attack", "an s0 process reads the s1 queue's status",
         cross("s1", HIGH, "s0", "stat"), visible=False),
    Case("covert-key-probe", "info", "s1 signals bits to s0 through queue existence "
         "(msgget errno)", covert,
         hint="no allow rule closes this: see the lab's last hint"),
]
