"""shm_split: the web server shares the cache's segment and must not reach the database's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import IPC_CREAT, IPC_STAT, SHM_RDONLY, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

CACHE, DB = 0x43414348, 0x4D59
SECRET = b"repl-password=s3cr3t"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def cache(p: Any, ctx: CaseCtx) -> Any:
    try:
        sid = yield from p.shmget(CACHE, 4096, IPC_CREAT | 0o600)
        addr = yield from p.shmat(sid)
        p.mem_write(addr, 0, b"page:/index")
        ctx.done("cache ready")
        yield from p.nanosleep(0.01)
        if p.mem_read(addr, 100, 7) == b"visited":
            ctx.done("cache updated")
    except SyscallError as e:
        ctx.fail("cache", e)
    return 0


def mysqld(p: Any, ctx: CaseCtx) -> Any:
    try:
        sid = yield from p.shmget(DB, 4096, IPC_CREAT | 0o600)
        addr = yield from p.shmat(sid)
        p.mem_write(addr, 0, SECRET)
        yield from p.nanosleep(0.01)
        if p.mem_read(addr, 0, len(SECRET)) == SECRET:
            ctx.done("db intact")
        else:
            ctx.breach("the database's segment was overwritten")
    except SyscallError as e:
        ctx.fail("mysqld", e)
    return 0


def httpd_cache(p: Any, ctx: CaseCtx) -> Any:
    yield from p.nanosleep(0.001)
    try:
        sid = yield from p.shmget(CACHE, 0, 0)
        addr = yield from p.shmat(sid)
        if p.mem_read(addr, 0, 11) == b"page:/index":
            ctx.done("page read")
        p.mem_write(addr, 100, b"visited")
    except SyscallError as e:
        ctx.fail("httpd attaching the cache", e)
    return 0


def legit_share(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(cache, ctx, comm="cache", context=ctx_of("cache_t"))
    k.spawn(httpd_cache, ctx, comm="httpd", context=ctx_of("httpd_t"))


def legit_db(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(mysqld, ctx, comm="mysqld", context=ctx_of("mysqld_t"))


def attack(who: str, how: str) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        k.spawn(mysqld, ctx, comm="mysqld", context=ctx_of("mysqld_t"))

        def thief(p: Any) -> Any:
            yield from p.nanosleep(0.001)
            try:
                sid = yield from p.shmget(DB, 0, 0)
                if how == "stat":
                    st = yield from p.shmctl(sid, IPC_STAT)
                    ctx.breach(f"{who} read the database segment's status: {st}")
                elif how == "read":
                    addr = yield from p.shmat(sid, SHM_RDONLY)
                    data = p.mem_read(addr, 0, len(SECRET))
                    if data == SECRET:
                        ctx.breach(f"{who} read the password: {data!r}")
                else:
                    addr = yield from p.shmat(sid)
                    p.mem_write(addr, 0, b"X" * len(SECRET))
            except SyscallError:
                pass
            return 0

        k.spawn(thief, comm=who.removesuffix("_t"), context=ctx_of(who))

    return setup


CASES = [
    Case("share-cache", "legit", "httpd reads and updates the cache's segment", legit_share,
         goals=("cache ready", "page read", "cache updated")),
    Case("database-own", "legit", "mysqld uses its own segment", legit_db, goals=("db intact",)),
    Case("httpd-reads-db", "attack", "httpd attaches the database's segment read-only",
         attack("httpd_t", "read"),
         hint="who is in shm_owner?  A rule on an attribute covers all its members"),
    Case("httpd-writes-db", "attack", "httpd attaches the database's segment and writes",
         attack("httpd_t", "write"), visible=False),
    Case("httpd-stats-db", "attack", "httpd reads the database segment's status",
         attack("httpd_t", "stat"), visible=False),
    Case("cache-reads-db", "attack", "the cache attaches the database's segment",
         attack("cache_t", "read"), visible=False),
]
