"""first_denial: a logger writes to a FIFO read by the log daemon; an intruder tries too."""

from __future__ import annotations

from typing import Any

from kernel_sim import O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

FIFO = "/run/log/app.fifo"
LINE = b"app: started\n"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def world(k: Kernel) -> None:
    k.mkdir("/run/log", 0o755, label="system_u:object_r:log_dir_t:s0")
    k.mkfifo(FIFO, 0o666, label="system_u:object_r:log_fifo_t:s0")


def logd(p: Any, ctx: CaseCtx, want: bytes) -> Any:
    fd = yield from p.open(FIFO, O_RDWR)
    data = yield from p.read(fd, 256)
    if data == want:
        ctx.done("delivered")
    elif data:
        ctx.breach(f"the log daemon received a forged line: {data!r}")
    return 0


def logger(p: Any, ctx: CaseCtx) -> Any:
    yield from p.nanosleep(0.001)
    con = yield from p.getcon()
    if ":logger_t:" in con:
        ctx.done("context")
    try:
        fd = yield from p.open(FIFO, O_WRONLY | O_NONBLOCK)
        yield from p.write(fd, LINE)
    except SyscallError as e:
        ctx.fail("logger: open/write the FIFO", e)
    return 0


def legit(k: Kernel, ctx: CaseCtx) -> None:
    world(k)
    k.spawn(logd, ctx, LINE, comm="logd", context=ctx_of("logd_t"))
    k.spawn(logger, ctx, comm="logger", context=ctx_of("logger_t"))


def inject(k: Kernel, ctx: CaseCtx) -> None:
    world(k)
    k.spawn(logd, ctx, b"", comm="logd", context=ctx_of("logd_t"))

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            fd = yield from p.open(FIFO, O_WRONLY | O_NONBLOCK)
            yield from p.write(fd, b"app: root password changed\n")
        except SyscallError:
            pass
        return 0

    k.spawn(intruder, comm="intruder", context=ctx_of("intruder_t"))


def steal(k: Kernel, ctx: CaseCtx) -> None:
    world(k)

    def intruder(p: Any) -> Any:
        try:
            fd = yield from p.open(FIFO, O_RDONLY | O_NONBLOCK)
        except SyscallError:
            return 0
        yield from p.nanosleep(0.01)
        try:
            data = yield from p.read(fd, 256)
        except SyscallError:
            return 0
        if data:
            ctx.breach(f"the intruder read the log: {data!r}")
        return 0

    k.spawn(intruder, comm="intruder", context=ctx_of("intruder_t"))
    k.spawn(logger, ctx, comm="logger", context=ctx_of("logger_t"))


CASES = [
    Case("logger-writes", "legit", "the logger (logger_t) writes a line the daemon receives",
         legit, goals=("context", "delivered"),
         hint="read the denial: scontext is logger_t, tcontext log_fifo_t, tclass fifo_file"),
    Case("intruder-injects", "attack", "the intruder (intruder_t) writes a forged log line",
         inject, hint="grant the FIFO to logger_t only, not to an attribute"),
    Case("intruder-reads", "attack", "the intruder opens the FIFO for reading and steals lines",
         steal, visible=False),
]
