"""booleans: webapp_t may queue mail only when webapp_can_sendmail is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import IPC_CREAT, IPC_NOWAIT, IPC_RMID, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

KEY = 0x504F53


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def postfix(p: Any, ctx: CaseCtx, expect: bool) -> Any:
    try:
        q = yield from p.msgget(KEY, IPC_CREAT | 0o666)
        yield from p.msgsnd(q, 9, b"private mail for alice")
        yield from p.nanosleep(0.01)
        _, data = yield from p.msgrcv(q, 128, 1, IPC_NOWAIT)
    except SyscallError as e:
        if expect:
            ctx.fail("postfix receiving the notification", e)
        return 0
    if expect and data == b"notify: order shipped":
        ctx.done("mail delivered")
    elif not expect:
        ctx.breach("webapp_t queued a mail with webapp_can_sendmail off")
    return 0


def webapp(p: Any, ctx: CaseCtx, op: str) -> Any:
    yield from p.nanosleep(0.001)
    try:
        q = yield from p.msgget(KEY, 0)
        if op == "send":
            yield from p.msgsnd(q, 1, b"notify: order shipped", IPC_NOWAIT)
            ctx.done("mail queued")
        elif op == "read":
            _, data = yield from p.msgrcv(q, 128, 9, IPC_NOWAIT)
            ctx.breach(f"webapp_t read someone's mail: {data!r}")
        elif op == "rmid":
            yield from p.msgctl(q, IPC_RMID)
            ctx.breach("webapp_t removed the mail queue")
    except SyscallError as e:
        if op == "send" and ctx.notes.get("legit"):
            ctx.fail("webapp sending", e)
    return 0


def setup_for(op: str, legit: bool, expect_mail: bool) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        ctx.notes["legit"] = legit
        k.spawn(postfix, ctx, expect_mail, comm="postfix", context=ctx_of("postfix_t"))
        k.spawn(webapp, ctx, op, comm="webapp", context=ctx_of("webapp_t"))

    return setup


ON = (("webapp_can_sendmail", True),)

CASES = [
    Case("mail-on", "legit", "feature on: webapp_t queues a mail, postfix receives it",
         setup_for("send", True, True), goals=("mail queued", "mail delivered"), booleans=ON,
         hint="this case runs with webapp_can_sendmail=1"),
    Case("mail-off", "attack", "feature off: webapp_t tries to queue a mail",
         setup_for("send", False, False),
         hint="rules that only hold when the feature is on belong in if (webapp_can_sendmail)"),
    Case("read-mail-on", "attack", "feature on: webapp_t reads another mail from the queue",
         setup_for("read", False, False), booleans=ON, visible=False),
    Case("remove-queue-on", "attack", "feature on: webapp_t removes the mail queue",
         setup_for("rmid", False, False), booleans=ON, visible=False),
]
