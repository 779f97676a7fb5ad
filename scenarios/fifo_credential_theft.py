"""A database hands its credentials to its backup client; the web server is compromised.

Run it three ways: ``kernel-sim run fifo-credential-theft`` (DAC only),
``--mode enforcing`` (SELinux with scenarios/policies/db.te) and ``--mode permissive``.

Attack: mysqld (uid 27) publishes the database password through a FIFO in /tmp that it
created world-writable by mistake (mode 0666).  The backup job (uid 27) is meant to read
it.  httpd (uid 48) has been compromised: it opens the FIFO first and reads the secret.

What DAC does and does not stop: the permission bits *allow* the FIFO theft (the mode says
anyone may read), while they do stop httpd from reading mysqld's 0600 config file, from
signalling mysqld and from ptrace-attaching to it (different uid, no capability).

The defense: under the SELinux policy the FIFO mysqld creates in /tmp is labelled
mysqld_tmp_t by a type transition, and only backup_t may read it: httpd_t's open fails with
EACCES and the denial is audited.  In permissive mode the theft succeeds but is logged.
"""

from __future__ import annotations

import os
from typing import Any

from kernel_sim import (
    EACCES,
    EPERM,
    O_RDONLY,
    O_WRONLY,
    PTRACE_ATTACH,
    SIGTERM,
    Kernel,
    SyscallError,
)
from scenarios.base import Check, Context, Scenario

SECRET = b"db-password=hunter2"
FIFO = "/tmp/db-creds"


def mysqld(p: Any, ctx: Context) -> Any:
    yield from p.umask(0)
    yield from p.mkfifo(FIFO, 0o666)  # the mistake: world-readable and -writable
    for _ in range(2):  # serves the first two readers that come, whoever they are
        fd = yield from p.open(FIFO, O_WRONLY)  # blocks until a reader comes
        yield from p.write(fd, SECRET)
        yield from p.close(fd)
        ctx.note("published", by="mysqld")
    return 0


def backup(p: Any, ctx: Context) -> Any:
    yield from p.nanosleep(0.002)  # the backup job comes a little late
    try:
        fd = yield from p.open(FIFO, O_RDONLY)
        data = yield from p.read(fd, 100)
        ctx.note("read", who="backup", data=data)
    except SyscallError as e:
        ctx.note("denied", who="backup", op="open fifo", errno=e.errno)
    return 0


def httpd(p: Any, ctx: Context, mysqld_pid: int) -> Any:
    yield from p.nanosleep(0.001)
    attempts: list[tuple[str, Any]] = [
        ("read fifo", lambda: _read_fifo(p)),
        ("read my.cnf", lambda: _read_file(p, "/etc/mysql/my.cnf")),
        ("kill mysqld", lambda: p.kill(mysqld_pid, SIGTERM)),
        ("ptrace mysqld", lambda: p.ptrace(PTRACE_ATTACH, mysqld_pid)),
    ]
    for op, attempt in attempts:
        try:
            result = yield from attempt()
            ctx.note("allowed", who="httpd", op=op, data=result)
        except SyscallError as e:
            ctx.note("denied", who="httpd", op=op, errno=e.errno)
    return 0


def _read_fifo(p: Any) -> Any:
    fd = yield from p.open(FIFO, O_RDONLY)
    data = yield from p.read(fd, 100)
    yield from p.close(fd)
    return data


def _read_file(p: Any, path: str) -> Any:
    fd = yield from p.open(path, O_RDONLY)
    data = yield from p.read(fd, 100)
    yield from p.close(fd)
    return data


def setup(k: Kernel, ctx: Context) -> None:
    k.mkdir("/etc/mysql", 0o755, uid=27, gid=27, label="system_u:object_r:mysqld_etc_t:s0")
    k.install("/etc/mysql/my.cnf", b"[client]\npassword=hunter2\n", mode=0o600, uid=27, gid=27,
              label="system_u:object_r:mysqld_etc_t:s0")
    ctx.pids["mysqld"] = k.spawn(mysqld, ctx, comm="mysqld", uid=27, gid=27,
                                 context="system_u:system_r:mysqld_t:s0")
    ctx.pids["backup"] = k.spawn(backup, ctx, comm="backup", uid=27, gid=27,
                                 context="system_u:system_r:backup_t:s0")
    ctx.pids["httpd"] = k.spawn(httpd, ctx, ctx.pids["mysqld"], comm="httpd", uid=48, gid=48,
                                context="system_u:system_r:httpd_t:s0")


def expect(ctx: Context) -> list[Check]:
    leaked = [n for n in ctx.find("allowed", who="httpd", op="read fifo")
              if n.get("data") == SECRET]
    denied = {n["op"]: n["errno"] for n in ctx.find("denied", who="httpd")}
    status = ctx.status("mysqld")
    backup_read = [n for n in ctx.find("read", who="backup") if n.get("data") == SECRET]
    checks = []
    if ctx.mode == "enforcing":
        avc = ctx.avc(comm="httpd", tclass="fifo_file")
        checks += [
            Check("SELinux stops httpd_t reading the mysqld_tmp_t FIFO (EACCES)",
                  not leaked and denied.get("read fifo") == EACCES,
                  "leaked" if leaked else str(denied.get("read fifo"))),
            Check("the denial is audited as an AVC record (permissive=0)",
                  bool(avc) and "permissive=0" in avc[0], avc[0] if avc else "no record"),
            Check("the legitimate backup_t client still gets the secret", bool(backup_read),
                  "read" if backup_read else "not read"),
        ]
    elif ctx.mode == "permissive":
        avc = ctx.avc(comm="httpd", tclass="fifo_file")
        checks += [
            Check("permissive mode lets the theft happen", bool(leaked),
                  "leaked" if leaked else "not leaked"),
            Check("... but logs it (permissive=1)", bool(avc) and "permissive=1" in avc[0],
                  avc[0] if avc else "no record"),
        ]
    else:
        checks.append(Check("DAC lets httpd read the secret from the world-readable FIFO",
                            bool(leaked), "leaked" if leaked else "not leaked"))
    return [
        *checks,
        Check("DAC stops httpd reading mysqld's 0600 my.cnf (EACCES)",
              denied.get("read my.cnf") == EACCES, str(denied.get("read my.cnf"))),
        Check("DAC stops httpd signalling mysqld (EPERM)",
              denied.get("kill mysqld") == EPERM, str(denied.get("kill mysqld"))),
        Check("DAC stops httpd ptrace-attaching to mysqld (EPERM)",
              denied.get("ptrace mysqld") == EPERM, str(denied.get("ptrace mysqld"))),
        Check("mysqld is not killed (it serves readers or waits for its next one)",
              status is None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0),
              "running" if status is None else str(status)),
    ]


SCENARIO = Scenario(
    name="fifo-credential-theft",
    summary="a compromised web server steals the database password from a careless FIFO",
    primitives=("fifo", "signals", "ptrace", "files"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    policy=("policies/db.te",),
    secrets={"db-password": (SECRET, "mysqld")},
)
