"""The seed's boolean: a web application may send mail only while httpd_can_sendmail is on.

httpd (httpd_t) submits a notification to postfix's pickup queue, a System V message queue
that postfix (postfix_t) created with mode 0666.  DAC lets anyone send.  Under the policy,
httpd_t's rights on the queue are inside ``if (httpd_can_sendmail) { ... }``: the first
attempt fails with EACCES; at t=5 ms the administrator runs ``setsebool httpd_can_sendmail
on`` (a MAC_CONFIG_CHANGE record, conditional rules re-evaluated, the AVC flushed) and the
retry at t=10 ms goes through.  postfix receives exactly one message.
"""

from __future__ import annotations

from typing import Any

from kernel_sim import EACCES, IPC_CREAT, IPC_NOWAIT, Kernel, SyscallError
from scenarios.base import Check, Context, Scenario

KEY = 0x6D61  # "ma"
MAIL = b"To: admin\n\nnew order #42"


def postfix(p: Any, ctx: Context) -> Any:
    qid = yield from p.msgget(KEY, IPC_CREAT | 0o666)
    yield from p.nanosleep(0.02)
    got = []
    while True:
        try:
            _mtype, data = yield from p.msgrcv(qid, 8192, 0, IPC_NOWAIT)
            got.append(data)
        except SyscallError:
            break
    ctx.note("delivered", count=len(got))
    return 0


def httpd(p: Any, ctx: Context) -> Any:
    for when in (0.001, 0.010):
        yield from p.nanosleep(when - p.kernel.now)
        try:
            qid = yield from p.msgget(KEY, 0o200)
            yield from p.msgsnd(qid, 1, MAIL)
            ctx.note("sent", who="httpd")
        except SyscallError as e:
            ctx.note("denied", who="httpd", op="send mail", errno=e.errno)
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    ctx.pids["postfix"] = k.spawn(postfix, ctx, comm="postfix", uid=89, gid=89,
                                  context="system_u:system_r:postfix_t:s0")
    ctx.pids["httpd"] = k.spawn(httpd, ctx, comm="httpd", uid=48, gid=48,
                                context="system_u:system_r:httpd_t:s0")
    se = ctx.selinux
    if se is not None:
        ctx.at(0.005, lambda: se.setsebool("httpd_can_sendmail", True),
               "setsebool httpd_can_sendmail on")


def expect(ctx: Context) -> list[Check]:
    attempts = [n for n in ctx.notes if n.get("who") == "httpd"]
    outcomes = ["sent" if n["event"] == "sent" else n.get("errno") for n in attempts]
    delivered = ctx.find("delivered")
    count = delivered[0]["count"] if delivered else None
    if ctx.mode == "enforcing":
        change = [line for line in ctx.kernel.audit_log() if "MAC_CONFIG_CHANGE" in line]
        return [
            Check("first attempt denied (EACCES), retry after setsebool succeeds",
                  outcomes == [EACCES, "sent"], str(outcomes)),
            Check("the boolean change is audited (MAC_CONFIG_CHANGE)",
                  bool(change) and "bool=httpd_can_sendmail val=1 old_val=0" in change[0],
                  change[0] if change else "no record"),
            Check("postfix receives exactly one message", count == 1, str(count)),
        ]
    return [
        Check("without MAC both attempts go through", outcomes == ["sent", "sent"],
              str(outcomes)),
        Check("postfix receives both messages", count == 2, str(count)),
    ]


SCENARIO = Scenario(
    name="httpd-sendmail-boolean",
    summary="httpd_can_sendmail flipped at run time decides whether the web server may mail",
    primitives=("sysv-msg", "booleans"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    policy=("policies/db.te",),
    default_mode="enforcing",
)
