"""Credentials in System V shared memory between a database and a compromised web server.

The seed's example.  mysqld (uid 27) keeps its replication password in a SysV shared-memory
segment (key 0x4d59) so its backup helper can attach to it.  The segment is mode 0644: any
user may attach read-only.  httpd (uid 48) has been compromised; the attacker looks the
segment up by key, attaches it read-only and reads the password.

DAC allows all of it: the mode bits grant "other" read.  Under the SELinux policy
(scenarios/policies/db.te) the segment carries mysqld_t's context, and httpd_t has no
``shm { associate unix_read read }`` on it: shmget fails with EACCES and the AVC record names
the segment's key.  backup_t, which the policy allows, still attaches.
"""

from __future__ import annotations

import os
from typing import Any

from kernel_sim import EACCES, IPC_CREAT, SHM_RDONLY, Kernel, SyscallError
from scenarios.base import Check, Context, Scenario

KEY = 0x4D59
SECRET = b"repl-password=s3cr3t"


def mysqld(p: Any, ctx: Context) -> Any:
    shmid = yield from p.shmget(KEY, 4096, IPC_CREAT | 0o644)
    addr = yield from p.shmat(shmid)
    p.mem_write(addr, 0, SECRET)  # a plain store: no system call, no hook
    ctx.note("published", by="mysqld", key=hex(KEY))
    yield from p.nanosleep(0.01)
    return 0


def reader(p: Any, ctx: Context, who: str, delay: float) -> Any:
    yield from p.nanosleep(delay)
    try:
        shmid = yield from p.shmget(KEY, 0, 0)
        addr = yield from p.shmat(shmid, SHM_RDONLY)
        data = p.mem_read(addr, 0, len(SECRET))
        ctx.note("read", who=who, data=data)
    except SyscallError as e:
        ctx.note("denied", who=who, op="attach segment", errno=e.errno)
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    ctx.pids["mysqld"] = k.spawn(mysqld, ctx, comm="mysqld", uid=27, gid=27,
                                 context="system_u:system_r:mysqld_t:s0")
    ctx.pids["httpd"] = k.spawn(reader, ctx, "httpd", 0.001, comm="httpd", uid=48, gid=48,
                                context="system_u:system_r:httpd_t:s0")
    ctx.pids["backup"] = k.spawn(reader, ctx, "backup", 0.002, comm="backup", uid=34, gid=34,
                                 context="system_u:system_r:backup_t:s0")


def expect(ctx: Context) -> list[Check]:
    stolen = [n for n in ctx.find("read", who="httpd") if n["data"] == SECRET]
    backup = [n for n in ctx.find("read", who="backup") if n["data"] == SECRET]
    denied = {n["who"]: n["errno"] for n in ctx.find("denied")}
    checks = [Check("the backup helper reads the segment", bool(backup),
                    "read" if backup else f"denied {denied.get('backup')}")]
    if ctx.mode == "enforcing":
        avc = ctx.avc(comm="httpd", tclass="shm")
        checks += [
            Check("SELinux stops httpd_t attaching mysqld_t's segment (EACCES)",
                  not stolen and denied.get("httpd") == EACCES,
                  "stolen" if stolen else str(denied.get("httpd"))),
            Check("the AVC record names the segment key and mysqld_t",
                  bool(avc) and f"ipc_key={KEY}  " in avc[0]
                  and "tcontext=system_u:system_r:mysqld_t:s0" in avc[0],
                  avc[0] if avc else "no record"),
        ]
    elif ctx.mode == "permissive":
        avc = ctx.avc(comm="httpd", tclass="shm")
        checks += [
            Check("permissive: the theft happens", bool(stolen), str(bool(stolen))),
            Check("permissive: every denied permission is logged with permissive=1",
                  bool(avc) and all("permissive=1" in a for a in avc), f"{len(avc)} record(s)"),
        ]
    else:
        checks.append(Check("DAC (mode 0644) lets httpd attach and read the password",
                            bool(stolen), "stolen" if stolen else str(denied.get("httpd"))))
    status = ctx.status("mysqld")
    checks.append(Check("mysqld exits normally", status is not None and os.WIFEXITED(status)
                        and os.WEXITSTATUS(status) == 0, str(status)))
    return checks


SCENARIO = Scenario(
    name="shm-credential-theft",
    summary="a compromised web server attaches the database's shared memory and reads its "
            "password",
    primitives=("sysv-shm",),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    policy=("policies/db.te",),
    secrets={"repl-password": (SECRET, "mysqld")},
)
