"""On Debian's own policy: a root Apache tries to take over sshd; init may still stop it.

Everything runs as root, so DAC and capabilities allow the attacker to ptrace-attach to sshd
(to inject code) and to SIGKILL it.  Debian's policy gives httpd_t neither ``process
ptrace`` nor ``process sigkill`` on sshd_t: both fail with EACCES.  init_t, which the policy
does allow to signal daemons, stops sshd as a service manager would.
"""

from __future__ import annotations

import os
from typing import Any

from kernel_sim import EACCES, PTRACE_ATTACH, SIGKILL, Kernel, SyscallError
from scenarios._debian import DEBIAN_POLICY, system
from scenarios.base import Check, Context, Scenario


def sshd(p: Any) -> Any:
    yield from p.nanosleep(0.05)
    return 0


def attacker(p: Any, ctx: Context, target: int) -> Any:
    yield from p.nanosleep(0.001)
    for op, call in (("ptrace attach", lambda: p.ptrace(PTRACE_ATTACH, target)),
                     ("kill -9", lambda: p.kill(target, SIGKILL))):
        try:
            yield from call()
            ctx.note("allowed", who="httpd", op=op)
        except SyscallError as e:
            ctx.note("denied", who="httpd", op=op, errno=e.errno)
    return 0


def service_manager(p: Any, ctx: Context, target: int) -> Any:
    yield from p.nanosleep(0.01)
    yield from p.kill(target, SIGKILL)
    ctx.note("stopped", who="init", target="sshd")
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    ctx.pids["sshd"] = k.spawn(sshd, comm="sshd", uid=0, context=system("sshd_t"))
    ctx.pids["httpd"] = k.spawn(attacker, ctx, ctx.pids["sshd"], comm="apache2", uid=0,
                                context=system("httpd_t"))
    ctx.pids["init"] = k.spawn(service_manager, ctx, ctx.pids["sshd"], comm="systemd",
                               uid=0, context=system("init_t"))


def expect(ctx: Context) -> list[Check]:
    denied = {n["op"]: n["errno"] for n in ctx.find("denied", who="httpd")}
    status = ctx.status("sshd")
    killed = status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == SIGKILL
    if ctx.mode == "enforcing":
        return [
            Check("httpd_t may not ptrace sshd_t (EACCES)",
                  denied.get("ptrace attach") == EACCES, str(denied.get("ptrace attach"))),
            Check("httpd_t may not SIGKILL sshd_t (EACCES)",
                  denied.get("kill -9") == EACCES, str(denied.get("kill -9"))),
            Check("the signal denial is audited as { sigkill } on class process",
                  bool(ctx.avc(comm="apache2", tclass="process")) and any(
                      "{ sigkill }" in a for a in ctx.avc(comm="apache2")), "see audit"),
            Check("init_t stops sshd with SIGKILL", killed, str(status)),
        ]
    return [Check("as root, DAC lets httpd attach to sshd", "ptrace attach" not in denied,
                  str(denied))]


SCENARIO = Scenario(
    name="debian-httpd-ptrace-sshd",
    summary="Debian's policy.33 stops a root Apache from ptracing or killing sshd",
    primitives=("ptrace", "signals", "debian-policy"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    default_mode="enforcing",
    binary_policy=DEBIAN_POLICY,
)
