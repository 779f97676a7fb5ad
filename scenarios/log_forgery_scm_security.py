"""A compromised web application forges sshd's entries in the system log.

Run it as ``kernel-sim run log-forgery-scm-security`` (DAC only) and ``--mode enforcing``.

Setting: logd collects log lines on the datagram socket /run/logd.sock (like /dev/log) and
an auditing job trusts lines that say they come from ``sshd``: an "Accepted publickey for
root" there means a root login happened.  Both sshd and the web application run as root, as
many daemons do before (or instead of) dropping privileges.

Attack: the compromised web application writes ``sshd[812]: Accepted publickey for root``
into the log, to cover a break-in or to frame an administrator.  With only DAC, logd can
ask the kernel who sent a datagram (SO_PASSCRED: pid, uid, gid), and both senders are uid
0: the forged line is indistinguishable from sshd's own.

Defense: with SELinux, logd also sets SO_PASSSEC and receives each datagram's SCM_SECURITY
label, the label of the socket it came from (``socket_getpeersec_dgram``), which a process
cannot choose.  The forged line arrives labelled webapp_t and is rejected; sshd's real
lines arrive as sshd_t.  Nothing is denied: the policy lets every daemon log, and the
defense is the authentication the labels give, as journald does with ``_SELINUX_CONTEXT``.
"""

from __future__ import annotations

from typing import Any

from kernel_sim import (
    AF_UNIX,
    SO_PASSCRED,
    SO_PASSSEC,
    SOCK_DGRAM,
    SOL_SOCKET,
    Kernel,
)
from scenarios.base import Check, Context, Scenario

LOG = "/run/logd.sock"
FORGED = b"sshd[812]: Accepted publickey for root from 203.0.113.9"


def logd(p: Any, ctx: Context, lines: int) -> Any:
    s = yield from p.socket(AF_UNIX, SOCK_DGRAM)
    yield from p.bind(s, LOG)
    yield from p.setsockopt(s, SOL_SOCKET, SO_PASSCRED, 1)
    yield from p.setsockopt(s, SOL_SOCKET, SO_PASSSEC, 1)
    for _ in range(lines):
        data, _fds, _flags, _addr, creds, label = yield from p.recvmsg(
            s, 512, creds=True, security=True)
        claims_sshd = data.startswith(b"sshd[")
        if label is not None:  # authenticated by the sender's label
            trusted = claims_sshd and label.split(":")[2] == "sshd_t"
        else:  # only the uid to go on: root may say it is sshd
            trusted = claims_sshd and creds is not None and creds[1] == 0
        ctx.note("logged", line=data, uid=creds[1] if creds else None, label=label,
                 trusted_as_sshd=trusted)
    return 0


def sshd(p: Any, ctx: Context) -> Any:
    yield from p.nanosleep(0.001)
    s = yield from p.socket(AF_UNIX, SOCK_DGRAM)
    yield from p.sendto(s, f"sshd[{p.pid}]: Accepted publickey for alice".encode(), LOG)
    return 0


def webapp(p: Any, ctx: Context) -> Any:
    yield from p.nanosleep(0.002)
    s = yield from p.socket(AF_UNIX, SOCK_DGRAM)
    yield from p.sendto(s, FORGED, LOG)
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    ctx.pids["logd"] = k.spawn(logd, ctx, 2, comm="logd", context="system_u:system_r:logd_t:s0")
    ctx.pids["sshd"] = k.spawn(sshd, ctx, comm="sshd", context="system_u:system_r:sshd_t:s0")
    ctx.pids["webapp"] = k.spawn(webapp, ctx, comm="webapp",
                                 context="system_u:system_r:webapp_t:s0")


def expect(ctx: Context) -> list[Check]:
    lines = {n["line"]: n for n in ctx.find("logged")}
    forged = lines.get(FORGED, {})
    real = next((n for line, n in lines.items() if line != FORGED), {})
    checks = [
        Check("both lines reach the log (logging is never denied)", len(lines) == 2,
              f"{len(lines)} line(s)"),
        Check("both senders are root: SCM_CREDENTIALS cannot tell them apart",
              forged.get("uid") == 0 and real.get("uid") == 0,
              f"uids {forged.get('uid')}, {real.get('uid')}"),
        Check("sshd's own line is trusted", bool(real.get("trusted_as_sshd")),
              str(real.get("label"))),
    ]
    if ctx.mac:
        checks += [
            Check("the forged line arrives labelled webapp_t and is rejected",
                  forged.get("label") == "system_u:system_r:webapp_t:s0"
                  and not forged.get("trusted_as_sshd"), str(forged.get("label"))),
            Check("no AVC denial: the defense is authentication, not a block",
                  not ctx.avc(), f"{len(ctx.avc())} denial(s)"),
        ]
    else:
        checks.append(Check("without labels the forged line is trusted as sshd's",
                            bool(forged.get("trusted_as_sshd")), str(forged.get("label"))))
    return checks


SCENARIO = Scenario(
    name="log-forgery-scm-security",
    summary="a compromised web app forges sshd log lines unless the log daemon reads labels",
    primitives=("unix-socket", "scm-security"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    policy=("policies/common.te", "policies/logd.te"),
)
