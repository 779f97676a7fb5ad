"""msgq_roles: the test suite's msg roles (base, read-only, associate-only, none) on one queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import IPC_CREAT, IPC_NOWAIT, IPC_RMID, IPC_STAT, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

KEY = 0x4D5347


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def owner(p: Any, ctx: CaseCtx, sends: int, own_rcv: bool) -> Any:
    try:
        q = yield from p.msgget(KEY, IPC_CREAT | 0o666)
        for i in range(sends):
            yield from p.msgsnd(q, 1, b"order %d" % i)
        if own_rcv:
            yield from p.msgsnd(q, 2, b"self")
            _, data = yield from p.msgrcv(q, 64, 2)
            if data == b"self":
                ctx.done("owner round trip")
        ctx.done("queue ready")
    except SyscallError as e:
        ctx.fail("owner", e)
    yield from p.nanosleep(0.01)
    return 0


def world(k: Kernel, ctx: CaseCtx, sends: int = 1, own_rcv: bool = False) -> None:
    k.spawn(owner, ctx, sends, own_rcv, comm="orders", context=ctx_of("msgbase_t"))


def later(k: Kernel, t: str, fn: Callable[..., Any], *args: Any) -> None:
    def prog(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        yield from fn(p, *args)
        return 0

    k.spawn(prog, comm=t.removesuffix("_t"), context=ctx_of(t))


def auditor(p: Any, ctx: CaseCtx) -> Any:
    try:
        q = yield from p.msgget(KEY, 0)
        st = yield from p.msgctl(q, IPC_STAT)
        _, data = yield from p.msgrcv(q, 64, 0, IPC_NOWAIT)
        if data == b"order 0" and st is not None:
            ctx.done("audited")
    except SyscallError as e:
        ctx.fail("auditor", e)


def monitor(p: Any, ctx: CaseCtx) -> Any:
    try:
        yield from p.msgget(KEY, 0)
        ctx.done("associated")
    except SyscallError as e:
        ctx.fail("monitor msgget", e)


def attempt(name: str, t: str, op: str) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        world(k, ctx)

        def act(p: Any, ctx: CaseCtx) -> Any:
            try:
                q = yield from p.msgget(KEY, 0)
                if op == "send":
                    yield from p.msgsnd(q, 1, b"forged order", IPC_NOWAIT)
                elif op == "recv":
                    yield from p.msgrcv(q, 64, 0, IPC_NOWAIT)
                elif op == "stat":
                    yield from p.msgctl(q, IPC_STAT)
                elif op == "rmid":
                    yield from p.msgctl(q, IPC_RMID)
                ctx.breach(f"{t} could {op if op != 'get' else 'look up the queue'}")
            except SyscallError:
                pass

        later(k, t, act, ctx)

    setup.__name__ = name
    return setup


def legit_owner(k: Kernel, ctx: CaseCtx) -> None:
    world(k, ctx, 0, True)


def legit_auditor(k: Kernel, ctx: CaseCtx) -> None:
    world(k, ctx)
    later(k, "msgread_t", auditor, ctx)


def legit_monitor(k: Kernel, ctx: CaseCtx) -> None:
    world(k, ctx)
    later(k, "msgassoc_t", monitor, ctx)


CASES = [
    Case("owner", "legit", "the owner creates the queue and receives its own message",
         legit_owner, goals=("queue ready", "owner round trip")),
    Case("auditor-reads", "legit", "the auditor looks up, stats and receives", legit_auditor,
         goals=("audited",), hint="the auditor needs the msg class too (receive)"),
    Case("monitor-associates", "legit", "the monitor looks the queue up", legit_monitor,
         goals=("associated",)),
    Case("auditor-sends", "attack", "the read-only auditor sends a message",
         attempt("auditor_sends", "msgread_t", "send"),
         hint="read-only means no write/enqueue on the queue and no send"),
    Case("monitor-receives", "attack", "the associate-only monitor receives a message",
         attempt("monitor_receives", "msgassoc_t", "recv"),
         hint="associate-only: the monitor needs associate and nothing else"),
    Case("monitor-stats", "attack", "the monitor reads the queue status",
         attempt("monitor_stats", "msgassoc_t", "stat"), visible=False),
    Case("auditor-removes", "attack", "the auditor removes the queue",
         attempt("auditor_removes", "msgread_t", "rmid"), visible=False),
    Case("none-looks-up", "attack", "msgnone_t looks the queue up",
         attempt("none_looks_up", "msgnone_t", "get"), visible=False),
    Case("monitor-sends", "attack", "the monitor sends a message",
         attempt("monitor_sends", "msgassoc_t", "send"), visible=False),
]
