"""unix_one_client: only webapp_t may connect to the authentication daemon's socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import AF_UNIX, SO_PEERSEC, SOCK_STREAM, SOL_SOCKET, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

PATH = "/run/authd/sock"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def authd(p: Any, ctx: CaseCtx, n: int) -> Any:
    try:
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.bind(s, PATH)
        yield from p.listen(s, 4)
        ctx.done("listening")
        for _ in range(n):
            c, _ = yield from p.accept(s)
            peer = yield from p.getsockopt(c, SOL_SOCKET, SO_PEERSEC)
            req = yield from p.recv(c, 64)
            yield from p.send(c, b"token-for:" + str(peer).encode() + b":" + req)
            yield from p.close(c)
    except SyscallError as e:
        ctx.fail("authd", e)
    return 0


def client(who: str, legit: bool) -> Callable[..., Any]:
    def prog(p: Any, ctx: CaseCtx, delay: float) -> Any:
        yield from p.nanosleep(delay)
        try:
            s = yield from p.socket(AF_UNIX, SOCK_STREAM)
            yield from p.connect(s, PATH)
            yield from p.send(s, b"login")
            tok = yield from p.recv(s, 128)
        except SyscallError as e:
            if legit:
                ctx.fail(f"{who} connecting", e)
            return 0
        if legit and tok.startswith(b"token-for:") and b"webapp_t" in tok:
            ctx.done("token")
        elif not legit and tok:
            ctx.breach(f"{who} obtained a session token from authd")
        return 0

    return prog


def setup_for(*clients: tuple[str, bool]) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        k.mkdir("/run/authd", 0o755, label="system_u:object_r:authd_run_t:s0")
        k.spawn(authd, ctx, len(clients), comm="authd", context=ctx_of("authd_t"))
        for i, (who, legit) in enumerate(clients):
            k.spawn(client(who, legit), ctx, 0.001 * (i + 1), comm=who.removesuffix("_t"),
                    context=ctx_of(who))

    return setup


CASES = [
    Case("webapp-login", "legit", "webapp_t connects and receives a token",
         setup_for(("webapp_t", True)), goals=("listening", "token"),
         hint="two checks guard a pathname connect: sock_file write and unix_stream_socket "
              "connectto (target: the server's domain)"),
    Case("intruder-login", "attack", "intruder_t connects and asks for a token",
         setup_for(("intruder_t", False)), hint="who is in lab_domain?"),
    Case("backup-login", "attack", "backup_t connects", setup_for(("backup_t", False)),
         visible=False),
    Case("intruder-after-webapp", "attack", "intruder_t connects after a webapp session",
         setup_for(("webapp_t", True), ("intruder_t", False)), visible=False),
]
