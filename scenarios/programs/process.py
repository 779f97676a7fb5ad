"""Programs of the process scenarios: signals, ptrace, exec and domain transitions, inherited
fds, threads with their own contexts, and file access decided by booleans."""

from __future__ import annotations

from typing import Any

from kernel_sim import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    PROT_READ,
    PROT_WRITE,
    PTRACE_ATTACH,
    PTRACE_DETACH,
    PTRACE_POKEDATA,
    SIGKILL,
    SyscallError,
)


# -- signals ------------------------------------------------------------------------------------
def sleeper(p: Any, ctx: Any, seconds: float) -> Any:
    """A daemon that just has to stay alive for ``seconds`` (the intrusion monitor)."""
    ctx.note("watching", who=p.comm)
    yield from p.nanosleep(seconds)
    ctx.note("finished", who=p.comm)
    return 0


def killer(p: Any, ctx: Any, target: int, delay: float) -> Any:
    """Kills ``target`` (same uid) with SIGKILL."""
    yield from p.nanosleep(delay)
    try:
        yield from p.kill(target, SIGKILL)
        ctx.note("killed", who=p.comm, target=target)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="kill", errno=e.errno)
    return 0


# -- ptrace injection ---------------------------------------------------------------------------
def gatekeeper(p: Any, ctx: Any, checks: list[float]) -> Any:
    """Keeps an ``allow=0`` flag in its memory and grants a root shell when it reads 1."""
    addr = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.mem_write(addr, 0, b"allow=0\0")
    ctx.note("mapped", who=p.comm, addr=addr)
    for when in checks:
        yield from p.nanosleep(max(0.0, when - p.kernel.now))
        if p.mem_read(addr, 0, 7) == b"allow=1":
            ctx.note("granted", who=p.comm, what="root shell")
        else:
            ctx.note("checked", who=p.comm, flag="allow=0")
    return 0


def injector(p: Any, ctx: Any, target: int, delay: float) -> Any:
    """Attaches to the gatekeeper, pokes ``allow=1`` into its flag, detaches."""
    yield from p.nanosleep(delay)
    addr = ctx.find("mapped")[0]["addr"]  # as read from /proc/PID/maps
    try:
        yield from p.ptrace(PTRACE_ATTACH, target)
    except SyscallError as e:
        ctx.note("denied", who=p.comm, op="ptrace attach", errno=e.errno)
        return 0
    yield from p.waitpid(target, 0)
    yield from p.ptrace(PTRACE_POKEDATA, target, addr, int.from_bytes(b"allow=1\0", "little"))
    yield from p.ptrace(PTRACE_DETACH, target, 0, 0)
    ctx.note("injected", who=p.comm, target=target)
    return 0


# -- exec: a shell without transition vs a CGI script with one ----------------------------------
def web_worker(p: Any, ctx: Any, shell: str, cgi: str) -> Any:
    """A compromised web worker: spawns a shell, then (legitimately) runs a CGI script."""
    for path in (shell, cgi):
        child = yield from p.fork(_exec, ctx, path)
        yield from p.waitpid(child, 0)
    return 0


def _exec(p: Any, ctx: Any, path: str) -> Any:
    try:
        yield from p.execve(path, [path, ctx])
    except SyscallError as e:
        ctx.note("exec denied", who=p.comm, path=path, errno=e.errno)
    return 127


def shell(p: Any, ctx: Any) -> Any:
    """The attacker's shell: reports the domain it runs in, then reads the site's secrets."""
    con = yield from _context(p)
    ctx.note("shell", domain=con)
    try:
        fd = yield from p.open("/etc/site.key", O_RDONLY)
        ctx.note("read", who="shell", data=(yield from p.read(fd, 64)))
    except SyscallError as e:
        ctx.note("denied", who="shell", op="read site.key", errno=e.errno)
    return 0


def cgi_script(p: Any, ctx: Any) -> Any:
    ctx.note("cgi", domain=(yield from _context(p)))
    return 0


def _context(p: Any) -> Any:
    try:
        con = yield from p.getcon()
        return con.split(":")[2]
    except SyscallError:
        return "(no MAC label)"


# -- inherited descriptors across a domain transition -------------------------------------------
def session_daemon(p: Any, ctx: Any, key_path: str, secret: bytes, shell_path: str) -> Any:
    """sshd-like: holds its host key open and a pipe to a helper, then starts a user's
    shell -- forgetting O_CLOEXEC, so both descriptors are inherited."""
    kfd = yield from p.open(key_path, O_RDONLY)
    rfd, wfd = yield from p.pipe()
    yield from p.write(wfd, secret)
    ctx.note("session", who=p.comm, key_fd=kfd, pipe_fd=rfd)
    child = yield from p.fork(_exec_shell, ctx, shell_path, kfd, rfd)
    yield from p.waitpid(child, 0)
    return 0


def _exec_shell(p: Any, ctx: Any, path: str, kfd: int, rfd: int) -> Any:
    yield from p.execve(path, [path, ctx, kfd, rfd])
    return 127


def user_shell(p: Any, ctx: Any, kfd: int, rfd: int) -> Any:
    """The user's shell tries the descriptors it inherited."""
    con = yield from _context(p)
    ctx.note("shell", domain=con)
    for what, fd in (("host key", kfd), ("helper pipe", rfd)):
        try:
            data = yield from p.read(fd, 64)
            ctx.note("inherited", who="usershell", fd=what, data=data)
        except SyscallError as e:
            ctx.note("inherited", who="usershell", fd=what, errno=e.errno)
    return 0


# -- threads with their own contexts ------------------------------------------------------------
def plugin_host(p: Any, ctx: Any, secret_path: str, plugin_con: str) -> Any:
    """A server that runs a plugin in a thread it confines with setcon (a bounded type).
    The main thread loads the secret into memory both threads share."""
    buf = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS)
    fd = yield from p.open(secret_path, O_RDONLY)
    p.mem_write(buf, 0, (yield from p.read(fd, 64)))
    yield from p.close(fd)
    tid = yield from p.clone_thread(_plugin, ctx, secret_path, plugin_con, buf)
    ctx.note("started plugin", who=p.comm, tid=tid)
    yield from p.nanosleep(0.01)
    return 0


def _plugin(p: Any, ctx: Any, secret_path: str, con: str, buf: int) -> Any:
    p.comm = "plugin"  # prctl(PR_SET_NAME): the thread's own name
    try:
        yield from p.setcon(con)
        ctx.note("confined", who="plugin", domain=con.split(":")[2])
    except SyscallError as e:
        ctx.note("setcon failed", who="plugin", errno=e.errno)
    try:
        fd = yield from p.open(secret_path, O_RDONLY)
        ctx.note("read file", who="plugin", data=(yield from p.read(fd, 64)))
    except SyscallError as e:
        ctx.note("denied", who="plugin", op="open secret", errno=e.errno)
    data = p.mem_read(buf, 0, 32).rstrip(b"\0")  # plain load: no hook, as on Linux
    ctx.note("read memory", who="plugin", data=data)
    return 0


# -- files decided by a boolean -----------------------------------------------------------------
def file_reader(p: Any, ctx: Any, path: str, times: list[float]) -> Any:
    for when in times:
        yield from p.nanosleep(max(0.0, when - p.kernel.now))
        try:
            fd = yield from p.open(path, O_RDONLY)
            data = yield from p.read(fd, 64)
            yield from p.close(fd)
            ctx.note("read", who=p.comm, data=data)
        except SyscallError as e:
            ctx.note("denied", who=p.comm, op=f"read {path}", errno=e.errno)
    return 0
