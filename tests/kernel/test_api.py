"""The public surface of docs/architecture.md: exports, boot state, set-up API, syscall names."""

from __future__ import annotations

import errno
import inspect
import os
import stat

import pytest

import kernel_sim
from kernel_sim import ConfigError, Kernel, ProgramError, SyscallError
from tests.kernel.helpers import check_ok, run

DOCUMENTED_CONSTANTS = (
    "O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND", "O_NONBLOCK",
    "O_CLOEXEC", "IPC_CREAT", "IPC_EXCL", "IPC_NOWAIT", "IPC_RMID", "IPC_SET", "IPC_STAT",
    "SEM_UNDO", "SHM_RDONLY", "SCM_RIGHTS", "SO_PEERSEC", "SO_PEERCRED", "SIG_IGN", "SIG_DFL",
    "SIGKILL", "SIGTERM", "SIGCHLD", "SIGPIPE", "SA_RESTART", "WNOHANG", "WUNTRACED",
    "F_GETPIPE_SZ", "F_SETPIPE_SZ", "PIPE_BUF", "AF_UNIX", "SOCK_STREAM", "PTRACE_ATTACH",
)

LINUX_VALUES = {"O_NONBLOCK": 0o4000, "O_CREAT": 0o100, "O_CLOEXEC": 0o2000000,
                "IPC_CREAT": 0o1000, "IPC_NOWAIT": 0o4000, "SEM_UNDO": 0x1000,
                "SHM_RDONLY": 0o10000, "SCM_RIGHTS": 1, "SO_PEERSEC": 31, "SIGKILL": 9,
                "SIGCHLD": 17, "SIGPIPE": 13, "F_SETPIPE_SZ": 1031, "PIPE_BUF": 4096,
                "EAGAIN": 11, "EACCES": 13, "EPERM": 1, "ENXIO": 6, "EPIPE": 32}

SYSCALLS = (
    "getpid", "getppid", "gettid", "fork", "execve", "exit", "waitpid", "kill", "sigaction",
    "pause", "nanosleep", "ptrace", "clone_thread", "setuid", "setgid", "getuid",
    "open", "read", "write", "close", "dup", "dup2", "fcntl", "unlink", "mkfifo", "stat",
    "chmod", "chown", "pipe", "pipe2",
)


def test_exports_and_all() -> None:
    for name in ("Kernel", "SyscallError", *DOCUMENTED_CONSTANTS):
        assert name in kernel_sim.__all__, name
        assert hasattr(kernel_sim, name), name
    assert len(set(kernel_sim.__all__)) == len(kernel_sim.__all__)
    for name in kernel_sim.__all__:
        assert hasattr(kernel_sim, name), name
    for name, value in LINUX_VALUES.items():
        assert getattr(kernel_sim, name) == value, name
    ns: dict[str, object] = {}
    exec("from kernel_sim import *", ns)  # the documented star import works
    assert ns["Kernel"] is Kernel and ns["O_NONBLOCK"] == 0o4000


def test_syscall_error_is_an_oserror_with_linux_errno() -> None:
    e = SyscallError(errno.EAGAIN, "read")
    assert isinstance(e, OSError)
    assert e.errno == errno.EAGAIN == 11 and e.strerror == os.strerror(errno.EAGAIN)
    assert e.syscall == "read" and "EAGAIN" in str(e)
    with pytest.raises(OSError) as info:
        raise SyscallError(errno.ENOENT)
    assert info.value.errno == errno.ENOENT


def test_errors_reach_programs_as_syscall_error() -> None:
    seen = []

    def prog(p):
        try:
            yield from p.open("/nonexistent", 0)
        except OSError as e:  # a program can catch it as a plain OSError
            seen.append((type(e).__name__, e.errno, e.syscall))
        return 0

    check_ok(*run(prog))
    assert seen == [("SyscallError", errno.ENOENT, "open")]


def test_boot_state() -> None:
    k = Kernel(seed=0)
    assert k.init.pid == 1 and k.processes[1].comm == "init"
    expected = {"/": 0o755, "/tmp": 0o1777, "/dev/shm": 0o1777, "/dev/mqueue": 0o1777,
                "/etc": 0o755, "/home": 0o755, "/run": 0o755, "/usr/bin": 0o755,
                "/usr/sbin": 0o755, "/var": 0o755}
    for path, mode in expected.items():
        inode = k.lookup(path)
        assert inode is not None and stat.S_ISDIR(inode.mode), path
        assert stat.S_IMODE(inode.mode) == mode, path
        assert (inode.uid, inode.gid) == (0, 0)
    seen = {}

    def prog(p):
        seen["umask"] = yield from p.umask(0o022)
        seen["cwd"] = p.process.cwd
        seen["ppid"] = yield from p.getppid()
        seen["ids"] = ((yield from p.getuid()), (yield from p.getgid()))
        return 0

    pid = k.spawn(prog, uid=33, gid=34, comm="httpd")
    assert pid == 2 and k.exit_status(pid) is None  # None while it runs
    k.run()
    assert seen == {"umask": 0o022, "cwd": k.root, "ppid": 1, "ids": (33, 34)}
    assert os.WIFEXITED(k.exit_status(pid))


def test_setup_api_signatures_and_effects() -> None:
    sig = inspect.signature(Kernel.install)
    assert list(sig.parameters)[1:] == ["path", "prog", "label", "mode", "uid", "gid"]
    assert sig.parameters["mode"].default == 0o755
    assert inspect.signature(Kernel.mkfifo).parameters["mode"].default == 0o666
    assert list(inspect.signature(Kernel).parameters)[:2] == ["lsms", "seed"]

    def tool(p):
        return 0
        yield

    k = Kernel(seed=0)
    inode = k.install("/opt/app/bin/tool", tool, mode=0o750, uid=5, gid=6)
    assert k.lookup("/opt/app/bin").mode & 0o777 == 0o755  # parents created
    assert (inode.mode & 0o7777, inode.uid, inode.gid) == (0o750, 5, 6)
    data = k.install("/etc/conf", b"key=value\n", mode=0o640)
    assert bytes(data.data) == b"key=value\n" and stat.S_ISREG(data.mode)
    assert stat.S_ISDIR(k.mkdir("/srv/www", 0o2775).mode)
    assert stat.S_ISFIFO(k.mkfifo("/run/ctl").mode)
    with pytest.raises(ConfigError):
        k.install("relative/path", tool)
    with pytest.raises(ConfigError):
        k.install("/etc/conf", b"twice")
    with pytest.raises(ConfigError):
        k.install("/usr/bin/bad", print)  # not a generator function
    with pytest.raises(ConfigError):
        k.spawn(print)


def test_documented_syscalls_exist_with_documented_argument_order() -> None:
    from kernel_sim import Task

    for name in SYSCALLS:
        assert getattr(getattr(Task, name), "__syscall__", None) == name, name
    params = {n: list(inspect.signature(getattr(Task, n)).parameters)[1:]
              for n in ("open", "read", "write", "mkfifo", "waitpid", "kill", "execve",
                        "ptrace", "sigaction", "nanosleep", "fcntl", "dup2", "chown")}
    assert params["open"] == ["path", "flags", "mode"]
    assert params["read"] == ["fd", "n"]
    assert params["write"] == ["fd", "data"]
    assert params["mkfifo"] == ["path", "mode"]
    assert params["waitpid"] == ["pid", "options"]
    assert params["kill"] == ["pid", "sig"]
    assert params["execve"] == ["path", "argv", "envp"]
    assert params["ptrace"] == ["request", "pid", "addr", "data"]
    assert params["sigaction"][:2] == ["sig", "handler"]
    assert params["nanosleep"] == ["seconds"]
    assert params["fcntl"] == ["fd", "cmd", "arg"]
    assert params["dup2"] == ["oldfd", "newfd"]
    assert params["chown"] == ["path", "uid", "gid"]
    assert inspect.signature(Task.open).parameters["mode"].default == 0o777


def test_return_shapes() -> None:
    def prog(p):
        fds = yield from p.pipe()
        assert isinstance(fds, tuple) and len(fds) == 2
        assert (yield from p.write(fds[1], b"ab")) == 2
        data = yield from p.read(fds[0], 10)
        assert isinstance(data, bytes) and data == b"ab"
        child = yield from p.fork(_child)
        got = yield from p.waitpid(child, 0)
        assert isinstance(got, tuple) and got[0] == child and os.WEXITSTATUS(got[1]) == 9
        return 0

    check_ok(*run(prog))


def _child(p):
    return 9
    yield


def test_program_bug_stops_the_run_with_program_error() -> None:
    def buggy(p):
        yield from p.getpid()
        return {}["missing"]

    k = Kernel(seed=0)
    k.spawn(buggy, comm="buggy")
    with pytest.raises(ProgramError, match="buggy"):
        k.run()


def test_run_until_stops_at_simulated_time() -> None:
    def sleeper(p):
        yield from p.nanosleep(100.0)
        return 0

    k = Kernel(seed=0)
    pid = k.spawn(sleeper)
    k.run(until=10.0)
    assert k.now == 10.0 and k.exit_status(pid) is None
    k.run()
    assert os.WIFEXITED(k.exit_status(pid)) and k.now >= 100.0


def test_a_wrongly_typed_argument_is_named_like_pythons_os_does() -> None:
    """A TypeError inside a syscall becomes one naming the argument against its annotation
    (a program bug, reported as the program's error), as os.open("x", "r") would."""
    def prog(p):  # type: ignore[no-untyped-def]
        yield from p.open("/tmp/x", "r")

    k = Kernel()
    k.spawn(prog)
    with pytest.raises(ProgramError, match=r"open\(\) argument 'flags' must be int, not str"):
        k.run()
