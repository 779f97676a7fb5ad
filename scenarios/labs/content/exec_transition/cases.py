"""exec_transition: exec of backupd_exec_t must land in backupd_t, and only that way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import O_RDONLY, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

DATA = b"backup-key=8c1f\n"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def backupd_prog(ctx: CaseCtx, legit: bool) -> Callable[..., Any]:
    def backupd(p: Any, *argv: Any) -> Any:
        con = yield from p.getcon()
        if legit and ":backupd_t:" in con:
            ctx.done("runs as backupd_t")
        elif legit:
            ctx.fail(f"backupd runs in {con.split(':')[2]}, not backupd_t (no transition)")
        try:
            fd = yield from p.open("/var/backup/data", O_RDONLY)
            data = yield from p.read(fd, 64)
        except SyscallError as e:
            if legit:
                ctx.fail(f"backupd ({con.split(':')[2]}) reading the data", e)
            return 0
        if legit and data == DATA and ":backupd_t:" in con:
            ctx.done("data backed up")
        elif ":backupd_t:" in con and not legit:
            ctx.breach(f"a forged program ran in backupd_t and read {data!r}")
        elif not legit:
            ctx.breach(f"backupd ran in {con.split(':')[2]} and read the data")
        return 0

    return backupd


def world(k: Kernel, ctx: CaseCtx, legit: bool) -> None:
    k.mkdir("/var/backup", 0o755)
    k.install("/var/backup/data", DATA, label="system_u:object_r:backup_data_t:s0",
              mode=0o600)
    k.install("/usr/sbin/backupd", backupd_prog(ctx, legit),
              label="system_u:object_r:backupd_exec_t:s0")
    k.install("/tmp/evil", backupd_prog(ctx, False), label="system_u:object_r:tmp_t:s0")


def launch(path: str, execcon: str | None, legit: bool) -> Callable[..., Any]:
    def launcher(p: Any, ctx: CaseCtx) -> Any:
        try:
            if execcon:
                yield from p.setexeccon(execcon)
            yield from p.execve(path, [path], {})
        except SyscallError as e:
            if legit:
                ctx.fail(f"exec {path}", e)
        return 0

    return launcher


def legit(k: Kernel, ctx: CaseCtx) -> None:
    world(k, ctx, True)
    k.spawn(launch("/usr/sbin/backupd", None, True), ctx, comm="launcher",
            context=ctx_of("launcher_t"))


def direct_read(k: Kernel, ctx: CaseCtx) -> None:
    world(k, ctx, False)

    def launcher(p: Any) -> Any:
        try:
            fd = yield from p.open("/var/backup/data", O_RDONLY)
            data = yield from p.read(fd, 64)
            ctx.breach(f"launcher_t read the backup data itself: {data!r}")
        except SyscallError:
            pass
        return 0

    k.spawn(launcher, comm="launcher", context=ctx_of("launcher_t"))


def exec_as(t: str, path: str, execcon: str | None) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        world(k, ctx, False)
        k.spawn(launch(path, execcon, False), ctx, comm=t.removesuffix("_t"),
                context=ctx_of(t))

    return setup


CASES = [
    Case("backup-runs", "legit", "launcher_t runs backupd, which runs in backupd_t and reads "
         "the data", legit, goals=("runs as backupd_t", "data backed up"),
         hint="getcon() in backupd shows the domain it runs in: look for a type_transition"),
    Case("launcher-reads", "attack", "launcher_t reads the backup data directly", direct_read,
         hint="the data belongs to backupd_t alone"),
    Case("forged-entrypoint", "attack", "launcher_t runs /tmp/evil (tmp_t) with setexeccon "
         "backupd_t", exec_as("launcher_t", "/tmp/evil", ctx_of("backupd_t")), visible=False),
    Case("intruder-runs-backupd", "attack", "intruder_t executes backupd",
         exec_as("intruder_t", "/usr/sbin/backupd", None), visible=False),
    Case("intruder-execcon", "attack", "intruder_t executes backupd with setexeccon backupd_t",
         exec_as("intruder_t", "/usr/sbin/backupd", ctx_of("backupd_t")), visible=False),
]
