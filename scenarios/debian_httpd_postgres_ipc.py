"""On Debian's own policy: can a compromised Apache reach PostgreSQL's SysV IPC?

PostgreSQL (postgresql_t) creates its shared buffers and a semaphore set with mode 0666.  A
compromised Apache worker (httpd_t), running as root, looks both up by key.  DAC has nothing
to say (root, and the mode is 0666).  The Debian reference policy (policy.33, loaded as the
binary the distribution ships) gives httpd_t no rights on postgresql_t's IPC objects: shmget
and semget fail with EACCES, while PostgreSQL itself uses them freely.
"""

from __future__ import annotations

from typing import Any

from kernel_sim import EACCES, IPC_CREAT, Kernel, SyscallError
from scenarios._debian import DEBIAN_POLICY, system
from scenarios.base import Check, Context, Scenario

SHM_KEY, SEM_KEY = 0x5432001, 0x5432002


def postgres(p: Any, ctx: Context) -> Any:
    shmid = yield from p.shmget(SHM_KEY, 8192, IPC_CREAT | 0o666)
    addr = yield from p.shmat(shmid)
    p.mem_write(addr, 0, b"md5:postgres:8f3c...")
    semid = yield from p.semget(SEM_KEY, 4, IPC_CREAT | 0o666)
    yield from p.semop(semid, [(0, 1, 0)])
    ctx.note("ipc ready", who="postgres")
    yield from p.nanosleep(0.01)
    return 0


def apache(p: Any, ctx: Context) -> Any:
    yield from p.nanosleep(0.001)
    for op, key, call in (("shmget", SHM_KEY, p.shmget), ("semget", SEM_KEY, p.semget)):
        try:
            ident = yield from call(key, 0, 0o666)
            ctx.note("allowed", who="httpd", op=op, id=ident)
        except SyscallError as e:
            ctx.note("denied", who="httpd", op=op, errno=e.errno)
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    ctx.pids["postgres"] = k.spawn(postgres, ctx, comm="postgres", uid=0,
                                   context=system("postgresql_t"))
    ctx.pids["httpd"] = k.spawn(apache, ctx, comm="apache2", uid=0, context=system("httpd_t"))


def expect(ctx: Context) -> list[Check]:
    denied = {n["op"]: n["errno"] for n in ctx.find("denied", who="httpd")}
    allowed = {n["op"] for n in ctx.find("allowed", who="httpd")}
    ready = bool(ctx.find("ipc ready"))
    if ctx.mode == "enforcing":
        return [
            Check("postgresql_t creates and uses its own shm and semaphores", ready,
                  str(ready)),
            Check("Debian's policy refuses httpd_t the shared buffers (EACCES)",
                  denied.get("shmget") == EACCES, str(denied.get("shmget"))),
            Check("... and the semaphore set (EACCES)", denied.get("semget") == EACCES,
                  str(denied.get("semget"))),
            Check("both denials are audited against postgresql_t",
                  len(ctx.avc(comm="apache2", tcontext=system("postgresql_t"))) == 2,
                  str(len(ctx.avc(comm="apache2")))),
        ]
    return [Check("without MAC root's Apache reaches both objects",
                  allowed == {"shmget", "semget"}, str(sorted(allowed)))]


SCENARIO = Scenario(
    name="debian-httpd-postgres-ipc",
    summary="Debian's policy.33 keeps a root Apache out of PostgreSQL's SysV IPC",
    primitives=("sysv-shm", "sysv-sem", "debian-policy"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    default_mode="enforcing",
    binary_policy=DEBIAN_POLICY,
)
