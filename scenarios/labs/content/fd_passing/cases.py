"""fd_passing: a naive broker passes open descriptors to whoever asks; policy must filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import (
    AF_UNIX,
    O_APPEND,
    O_RDONLY,
    O_WRONLY,
    SOCK_STREAM,
    Kernel,
    SyscallError,
)
from scenarios.labs.model import Case, CaseCtx

PATH = "/run/broker/sock"
REPORT = b"Q3 revenue: 4.2M\n"
FILES = {b"report": ("/var/lib/reports/q3", O_RDONLY), b"log": ("/var/log/broker.log",
                                                               O_WRONLY | O_APPEND)}


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def broker(p: Any, ctx: CaseCtx, n: int) -> Any:
    try:
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.bind(s, PATH)
        yield from p.listen(s, 4)
        for _ in range(n):
            c, _ = yield from p.accept(s)
            req = yield from p.recv(c, 16)
            path, flags = FILES[req]
            fd = yield from p.open(path, flags)
            yield from p.sendmsg(c, b"here", [fd])
            yield from p.close(fd)
            yield from p.close(c)
    except SyscallError as e:
        ctx.fail("broker", e)
    return 0


def client(who: str, want: bytes, legit: bool) -> Callable[..., Any]:
    def prog(p: Any, ctx: CaseCtx) -> Any:
        yield from p.nanosleep(0.001)
        try:
            s = yield from p.socket(AF_UNIX, SOCK_STREAM)
            yield from p.connect(s, PATH)
            yield from p.send(s, want)
            _, fds, _, _ = yield from p.recvmsg(s, 16, 4)
            if not fds:
                if legit:
                    ctx.fail(f"{who}: the descriptor was dropped on receipt")
                return 0
            if want == b"report":
                data = yield from p.read(fds[0], 64)
                if legit and data == REPORT:
                    ctx.done("report read")
                elif not legit and data:
                    ctx.breach(f"{who} read the report through a passed descriptor")
            else:
                yield from p.write(fds[0], b"forged entry\n")
                ctx.breach(f"{who} wrote into the broker's log through a passed descriptor")
        except SyscallError as e:
            if legit:
                ctx.fail(who, e)
        return 0

    return prog


def setup_for(who: str, want: bytes, legit: bool) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        k.mkdir("/run/broker", 0o755, label="system_u:object_r:broker_run_t:s0")
        k.mkdir("/var/lib/reports", 0o755)
        k.install("/var/lib/reports/q3", REPORT, label="system_u:object_r:report_t:s0",
                  mode=0o644)
        k.install("/var/log/broker.log", b"", label="system_u:object_r:brokerlog_t:s0",
                  mode=0o666)
        k.spawn(broker, ctx, 1, comm="broker", context=ctx_of("broker_t"))
        k.spawn(client(who, want, legit), ctx, comm=who.removesuffix("_t"),
                context=ctx_of(who))

    return setup


CASES = [
    Case("worker-report", "legit", "worker_t receives the report descriptor and reads it",
         setup_for("worker_t", b"report", True), goals=("report read",),
         hint="a received descriptor needs fd use on the sender and the file's read "
              "permission"),
    Case("spy-report", "attack", "spy_t receives the report descriptor",
         setup_for("spy_t", b"report", False),
         hint="only the worker should use the broker's descriptors"),
    Case("worker-log", "attack", "worker_t receives a write descriptor to the broker's log",
         setup_for("worker_t", b"log", False), visible=False),
    Case("spy-log", "attack", "spy_t receives a write descriptor to the broker's log",
         setup_for("spy_t", b"log", False), visible=False),
]
