"""Type-specific AVC audit data and the audit subsystem's string encodings.

Linux passes a ``struct common_audit_data`` to ``avc_has_perm``; ``security/lsm_audit.c``
prints its type-specific fields between ``comm=`` and ``scontext=``.  Here each type is a small
frozen class whose :meth:`render` returns that fragment *with the kernel's spacing*: a leading
space, and for IPC and capabilities the trailing space that yields the double space before
``scontext=``.  The objects are only rendered when a record is actually written, so the hook
glue may keep one per kernel object (e.g. on an IPC blob) and pass it on every check.

Also here: ``audit_log_untrustedstring`` (:func:`untrusted`) and the x86_64 syscall table used by
SYSCALL records.
"""

from __future__ import annotations

from attrs import frozen

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "SYSCALL_NR",
    "AnonInodeAudit",
    "AuditData",
    "CapAudit",
    "DentryAudit",
    "InodeAudit",
    "IoctlAudit",
    "IpcAudit",
    "KmodAudit",
    "NetAudit",
    "PathAudit",
    "TaskAudit",
    "hex_encode",
    "syscall_nr",
    "untrusted",
]

AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def hex_encode(value: str | bytes) -> str:
    """``audit_log_n_hex``: every byte as two *uppercase* hex digits, no quotes."""
    return _as_bytes(value).hex().upper()


def untrusted(value: str | bytes) -> str:
    """``audit_log_untrustedstring``: ``"clean"`` or HEX when a byte could break parsing.

    A byte is unsafe when it is a double quote, below 0x21 (so spaces and control characters)
    or above 0x7e.  Like the kernel (which uses ``strlen``), the string ends at the first NUL.
    """
    raw = _as_bytes(value)
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    for b in raw:
        if b == 0x22 or b < 0x21 or b > 0x7E:
            return raw.hex().upper()
    return '"' + raw.decode("ascii") + '"'


def _dev_ino(dev: str | None, ino: int | None) -> str:
    if dev is None:
        return ""
    return f" dev={untrusted(dev)} ino={ino if ino is not None else 0}"


class AuditData:
    """Base of the ``common_audit_data`` variants; ``LSM_AUDIT_DATA_NONE`` renders nothing."""

    __slots__ = ()

    def render(self) -> str:
        """The type-specific fields, with the kernel's leading (and trailing) spaces."""
        return ""


@frozen
class IpcAudit(AuditData):
    """``LSM_AUDIT_DATA_IPC``: SysV key as signed decimal; the trailing space is the kernel's."""

    key: int

    def render(self) -> str:
        return f" ipc_key={self.key} "


@frozen
class CapAudit(AuditData):
    """``LSM_AUDIT_DATA_CAP``: capability number, with the kernel's trailing space."""

    cap: int

    def render(self) -> str:
        return f" capability={self.cap} "


@frozen
class PathAudit(AuditData):
    """``LSM_AUDIT_DATA_PATH``/``FILE``: ``d_path`` text (``pipe:[12]``, ``/x (deleted)``)."""

    path: str | bytes
    dev: str | None = None
    ino: int | None = None

    def render(self) -> str:
        return " path=" + untrusted(self.path) + _dev_ino(self.dev, self.ino)


@frozen
class IoctlAudit(AuditData):
    """``LSM_AUDIT_DATA_IOCTL_OP``: the file fields plus the ioctl command (``%hx``)."""

    path: str | bytes
    dev: str | None
    ino: int | None
    cmd: int

    def render(self) -> str:
        return (
            " path=" + untrusted(self.path) + _dev_ino(self.dev, self.ino)
            + f" ioctlcmd=0x{self.cmd & 0xFFFF:x}"
        )


@frozen
class DentryAudit(AuditData):
    """``LSM_AUDIT_DATA_DENTRY``: last path component, dev, ino (create, lookup, unlink...)."""

    name: str | bytes
    dev: str | None = None
    ino: int | None = None

    def render(self) -> str:
        return " name=" + untrusted(self.name) + _dev_ino(self.dev, self.ino)


@frozen
class InodeAudit(AuditData):
    """``LSM_AUDIT_DATA_INODE``: ``name=`` only if a dentry alias exists; dev, ino always."""

    dev: str
    ino: int
    name: str | bytes | None = None

    def render(self) -> str:
        head = "" if self.name is None else " name=" + untrusted(self.name)
        return head + f" dev={untrusted(self.dev)} ino={self.ino}"


@frozen
class TaskAudit(AuditData):
    """``LSM_AUDIT_DATA_TASK``: the *other* task (tgid and comm); nothing when its pid is 0."""

    pid: int
    comm: str | bytes

    def render(self) -> str:
        if not self.pid:
            return ""
        return f" opid={self.pid} ocomm={untrusted(self.comm)}"


@frozen
class KmodAudit(AuditData):
    """``LSM_AUDIT_DATA_KMOD``: module name requested."""

    name: str

    def render(self) -> str:
        return " kmod=" + untrusted(self.name)


@frozen
class AnonInodeAudit(AuditData):
    """``LSM_AUDIT_DATA_ANONINODE``: e.g. ``[io_uring]`` (printed raw, as the kernel does)."""

    anonclass: str

    def render(self) -> str:
        return f" anonclass={self.anonclass}"


def _addr_any(addr: str | None) -> bool:
    return addr is None or addr in ("", "0.0.0.0", "::")


def _addr_port(addr: str | None, port: int | None, name1: str, name2: str) -> str:
    out = "" if _addr_any(addr) else f" {name1}={addr}"
    if port:
        out += f" {name2}={port}"
    return out


@frozen
class NetAudit(AuditData):
    """``LSM_AUDIT_DATA_NET``: the socket's own addresses, then the hook's, then ``netif``.

    ``sk_family`` selects what the socket part prints: AF_INET/AF_INET6 its bound and connected
    endpoints (``laddr lport faddr fport``, zero values omitted); AF_UNIX its bound name
    (``unix_path``: a filesystem path is a quoted/hex untrusted string; an abstract name, which
    starts with NUL, is always hex of the whole name, so it starts ``00``).  ``family`` selects
    the hook-supplied part: ``saddr src daddr dest`` (``name_bind`` gives ``src``,
    ``name_connect`` gives ``dest``).  Addresses are text (``"127.0.0.1"``, ``"::1"``).
    """

    sk_family: int | None = None
    laddr: str | None = None
    lport: int | None = None
    faddr: str | None = None
    fport: int | None = None
    unix_path: str | bytes | None = None
    family: int | None = None
    saddr: str | None = None
    sport: int | None = None
    daddr: str | None = None
    dport: int | None = None
    netif: str | None = None

    def render(self) -> str:
        out = ""
        if self.sk_family in (AF_INET, AF_INET6):
            out += _addr_port(self.laddr, self.lport, "laddr", "lport")
            out += _addr_port(self.faddr, self.fport, "faddr", "fport")
        elif self.sk_family == AF_UNIX and self.unix_path is not None:
            raw = _as_bytes(self.unix_path)
            if raw[:1] == b"\0":
                out += " path=" + raw.hex().upper()
            else:
                out += " path=" + untrusted(raw)
        if self.family in (AF_INET, AF_INET6):
            out += _addr_port(self.saddr, self.sport, "saddr", "src")
            out += _addr_port(self.daddr, self.dport, "daddr", "dest")
        if self.netif:
            out += f" netif={self.netif}"
        return out


#: x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) for what kernel-sim models.
SYSCALL_NR: dict[str, int] = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6,
    "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "rt_sigaction": 13, "ioctl": 16,
    "access": 21,
    "pipe": 22, "dup": 32, "dup2": 33, "pause": 34, "nanosleep": 35, "getpid": 39,
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
    "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51,
    "getpeername": 52, "socketpair": 53, "setsockopt": 54, "getsockopt": 55, "clone": 56,
    "fork": 57, "vfork": 58, "execve": 59, "exit": 60, "wait4": 61, "kill": 62,
    "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67, "msgget": 68, "msgsnd": 69,
    "msgrcv": 70, "msgctl": 71, "fcntl": 72, "ftruncate": 77, "rename": 82, "mkdir": 83,
    "rmdir": 84, "link": 86, "unlink": 87, "symlink": 88, "readlink": 89, "chmod": 90,
    "fchmod": 91, "chown": 92, "fchown": 93, "ptrace": 101, "getuid": 102, "getgid": 104,
    "setuid": 105, "setgid": 106, "geteuid": 107, "getegid": 108, "setpgid": 109,
    "capget": 125, "capset": 126, "getpriority": 140, "setpriority": 141,
    "getppid": 110, "getpgrp": 111, "setsid": 112, "getpgid": 121, "getsid": 124,
    "mknod": 133, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "getxattr": 191,
    "lgetxattr": 192, "fgetxattr": 193, "gettid": 186, "tkill": 200, "futex": 202,
    "semtimedop": 220, "exit_group": 231, "tgkill": 234, "mq_open": 240, "mq_unlink": 241,
    "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "openat": 257, "mknodat": 259, "newfstatat": 262, "unlinkat": 263, "faccessat": 269,
    "accept4": 288, "pipe2": 293, "prlimit64": 302, "memfd_create": 319, "execveat": 322,
    "shmget": 29, "shmat": 30, "shmctl": 31,
}

#: kernel-sim calls that are libc wrappers: the system call glibc really makes for them.
SYSCALL_ALIASES: dict[str, str] = {
    "waitpid": "wait4",
    "setfilecon": "setxattr",  # libselinux
    "getrlimit": "prlimit64",  # glibc implements both with prlimit64(0, ...)
    "setrlimit": "prlimit64",
    "prlimit": "prlimit64",
    "sigaction": "rt_sigaction",
    "clone_thread": "clone",
    "send": "sendto",
    "recv": "recvfrom",
    "mkfifo": "mknodat",
    "mq_send": "mq_timedsend",
    "mq_receive": "mq_timedreceive",
    "mq_close": "close",
    "shm_open": "openat",
    "shm_unlink": "unlink",
    "sem_open": "openat",
    "sem_unlink": "unlink",
    "sem_wait": "futex",
    "sem_trywait": "futex",
    "sem_post": "futex",
    "futex_wait": "futex",
    "futex_wake": "futex",
    "getcon": "read",
    "getexeccon": "read",
    "getpidcon": "read",
    "setcon": "write",
    "setexeccon": "write",
    "setfscreatecon": "write",
    "setsockcreatecon": "write",
    "getpeercon": "getsockopt",
    "getfilecon": "getxattr",
}


def syscall_nr(name: str | int) -> int:
    """x86_64 number for a syscall name (or a libc wrapper's underlying syscall); ints pass."""
    if isinstance(name, int):
        return name
    try:
        return SYSCALL_NR[SYSCALL_ALIASES.get(name, name)]
    except KeyError:
        raise KeyError(f"no x86_64 syscall number for {name!r}; add it to SYSCALL_NR") from None
