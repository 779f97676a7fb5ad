"""thread_bounds: worker threads setcon() to a bounded type; the key stays with the parent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import O_RDONLY, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

PAGE, KEY = b"<h1>hello</h1>", b"-----BEGIN PRIVATE KEY-----"
WORKER = "system_u:system_r:websrv_worker_t:s0"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def read_file(p: Any, path: str) -> Any:
    fd = yield from p.open(path, O_RDONLY)
    data = yield from p.read(fd, 64)
    yield from p.close(fd)
    return data


def serve(p: Any, ctx: CaseCtx, i: int) -> Any:
    try:
        yield from p.setcon(WORKER)
        page = yield from read_file(p, "/srv/www/index.html")
        if page == PAGE:
            ctx.done(f"worker {i} served")
    except SyscallError as e:
        ctx.fail(f"worker {i}", e)
    return 0


def compromised(action: str) -> Callable[..., Any]:
    def worker(p: Any, ctx: CaseCtx, i: int) -> Any:
        try:
            yield from p.setcon(WORKER)
        except SyscallError:
            return 0  # a worker that cannot drop privileges refuses to serve
        try:
            if action == "key":
                key = yield from read_file(p, "/srv/keys/tls.key")
                ctx.breach(f"a worker thread read the TLS key: {key[:16]!r}...")
            elif action == "keyfd":
                # the main thread left its key descriptor open (fd tables are shared)
                key = yield from p.read(ctx.notes["keyfd"], 64)
                ctx.breach(f"a worker thread read the key through the parent's fd: {key[:16]!r}")
            else:
                yield from p.setcon(ctx_of(action))
                ctx.breach(f"a worker thread switched to {action}")
        except SyscallError:
            pass
        return 0

    return worker


def server(worker: Callable[..., Any], n: int) -> Callable[..., Any]:
    def main(p: Any, ctx: CaseCtx) -> Any:
        try:
            key = yield from read_file(p, "/srv/keys/tls.key")
            page = yield from read_file(p, "/srv/www/index.html")
            if key == KEY and page == PAGE:
                ctx.done("loaded")
        except SyscallError as e:
            ctx.fail("server start-up", e)
            return 0
        ctx.notes["keyfd"] = yield from p.open("/srv/keys/tls.key", O_RDONLY)
        for i in range(n):
            yield from p.clone_thread(worker, ctx, i)
        yield from p.nanosleep(0.05)
        return 0

    return main


def world(k: Kernel) -> None:
    k.mkdir("/srv", 0o755, label="system_u:object_r:var_t:s0")
    k.mkdir("/srv/www", 0o755, label="system_u:object_r:var_t:s0")
    k.mkdir("/srv/keys", 0o700, label="system_u:object_r:var_t:s0")
    k.install("/srv/www/index.html", PAGE, label="system_u:object_r:web_content_t:s0",
              mode=0o644)
    k.install("/srv/keys/tls.key", KEY, label="system_u:object_r:web_keys_t:s0", mode=0o600)


def setup_for(worker: Callable[..., Any], n: int) -> Callable[[Kernel, CaseCtx], None]:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        world(k)
        k.spawn(server(worker, n), ctx, comm="websrv", context=ctx_of("websrv_t"))

    return setup


CASES = [
    Case("workers-serve", "legit", "two worker threads setcon to websrv_worker_t and serve",
         setup_for(serve, 2), goals=("loaded", "worker 0 served", "worker 1 served"),
         hint="EPERM from setcon in a threaded process: look for the SELINUX_ERR "
              "security_bounded_transition record; typebounds"),
    Case("worker-reads-key", "attack", "a compromised worker thread reads the TLS key",
         setup_for(compromised("key"), 2), hint="the worker type needs no web_keys_t access"),
    Case("worker-back-to-parent", "attack", "a worker thread setcon()s back to websrv_t",
         setup_for(compromised("websrv_t"), 2), visible=False),
    Case("worker-to-admin", "attack", "a worker thread setcon()s to websrv_admin_t",
         setup_for(compromised("websrv_admin_t"), 2), visible=False),
    Case("worker-reads-key-fd", "attack", "a worker thread reads the key through the "
         "descriptor the main thread left open", setup_for(compromised("keyfd"), 1),
         visible=False),
]
