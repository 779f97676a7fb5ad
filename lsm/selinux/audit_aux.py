"""Auxiliary records of an audited system call: IPC, SOCKADDR, OBJ_PID, CWD, PATH, PROCTITLE.

Linux collects them during the syscall (``audit_ipc_obj`` in ipcperms, ``audit_sockaddr`` when
an address is copied in, ``audit_signal_info`` on kill, ``audit_inode`` for the names path
lookup resolves, the process's cmdline) and ``audit_log_exit`` prints them after the SYSCALL
record, in that order, only for a syscall that is logged.  The path walk notes its names on
the task (``kernel_sim.namei.audit_name``); the rest is derived at the exit of a logged
syscall from its name and arguments, so nothing is built for the (usual) syscall that logs
nothing.

Deliberate differences: an IPC object removed by the syscall itself (IPC_RMID) has no IPC
record (Linux recorded it before the removal); a kill of a process group records no target;
an exec has no second PATH for an ELF interpreter (programs have none here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel_sim.errors import SyscallError
from lsm.selinux.audit import (
    AUDIT_CWD,
    AUDIT_IPC,
    AUDIT_OBJ_PID,
    AUDIT_PATH,
    AUDIT_PROCTITLE,
    AUDIT_SOCKADDR,
)
from lsm.selinux.audit_fields import hex_encode, untrusted

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

#: ``MAX_PROCTITLE_AUDIT_LEN``: how much of the command line PROCTITLE shows
MAX_PROCTITLE_AUDIT_LEN = 128
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10

#: syscall -> (IPC kind, whether the first argument is a key rather than an id)
_IPC_SYSCALLS: dict[str, tuple[str, bool]] = {
    "msgget": ("msg", True), "msgsnd": ("msg", False), "msgrcv": ("msg", False),
    "msgctl": ("msg", False), "semget": ("sem", True), "semop": ("sem", False),
    "semtimedop": ("sem", False), "semctl": ("sem", False), "shmget": ("shm", True),
    "shmat": ("shm", False), "shmctl": ("shm", False),
}
_CAPS = " cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"  # no file capabilities here
#: syscall -> index of the address argument (sendto also takes Python's 4-argument form)
_SOCKADDR_SYSCALLS = {"bind": 1, "connect": 1, "sendto": 2, "sendmsg": 4}


def aux_records(sel: SELinux, task: Any, name: str, args: tuple[Any, ...],
                entry_time: float = 0.0) -> list[tuple[int, str]]:
    """The auxiliary records of ``task``'s logged syscall ``name(*args)``, in Linux's order
    (``entry_time``: the syscall's entry stamp, which tags the names it noted)."""
    out: list[tuple[int, str]] = []
    ipc = _IPC_SYSCALLS.get(name)
    if ipc is not None:
        body = _ipc_record(sel, task, ipc[0], ipc[1], args)
        if body is not None:
            out.append((AUDIT_IPC, body))
    if name in _SOCKADDR_SYSCALLS:
        body = _sockaddr_record(task, name, args)
        if body is not None:
            out.append((AUDIT_SOCKADDR, body))
    if name in ("kill", "tkill", "tgkill"):
        body = _obj_pid_record(sel, task, name, args)
        if body is not None:
            out.append((AUDIT_OBJ_PID, body))
    out.extend(_path_records(sel, task, entry_time))
    out.append((AUDIT_PROCTITLE, proctitle(task.process.cmdline, task.comm)))
    return out


def proctitle(cmdline: tuple[str, ...], comm: str) -> str:
    """``audit_log_proctitle``: the NUL-separated command line, cut to 128 bytes, trailing
    NULs trimmed; quoted when clean, hex otherwise (any NUL between arguments makes it hex)."""
    raw = b"\0".join(a.encode("utf-8", "surrogateescape") for a in cmdline)
    raw = raw[:MAX_PROCTITLE_AUDIT_LEN].rstrip(b"\0")
    if not raw:
        return "proctitle=" + untrusted(comm)
    if b"\0" in raw:
        return "proctitle=" + hex_encode(raw)
    return "proctitle=" + untrusted(raw)


def _ipc_record(sel: SELinux, task: Any, kind: str, by_key: bool,
                args: tuple[Any, ...]) -> str | None:
    """``show_special(AUDIT_IPC)``: the owner, mode and label of the object ipcperms saw."""
    ns = task.kernel.subsystems.get("sysv_ipc")
    if ns is None or not args or type(args[0]) is not int:
        return None
    ids = getattr(ns, f"{kind}_ids")
    if by_key:
        perm = ids.findkey(args[0])
    else:
        try:
            perm = ids.obtain_check(args[0])
        except SyscallError:
            perm = None
    if perm is None or perm.deleted:
        return None
    mode = f"0{perm.mode:o}" if perm.mode else "0"  # C's %#o
    body = f"ouid={perm.uid} ogid={perm.gid} mode={mode}"
    isec = perm.security[sel.slot]
    if isec is not None and isec.sid:
        body += f" obj={sel.context(isec.sid)}"
    return body


def _obj_pid_record(sel: SELinux, task: Any, name: str, args: tuple[Any, ...]) -> str | None:
    """``audit_log_pid_context``: the signal's target (a single process or thread)."""
    if not args or type(args[0]) is not int:
        return None
    k = task.kernel
    if name == "tgkill":
        target = k.tasks.get(args[1]) if len(args) > 1 and type(args[1]) is int else None
    elif name == "tkill":
        target = k.tasks.get(args[0])
    else:
        proc = k.processes.get(args[0]) if args[0] > 0 else None
        target = proc.task0 if proc is not None else None
    if target is None:
        return None
    cred = target.cred
    body = (f"opid={target.process.pid} oauid=-1 ouid={cred.uid} oses=-1"
            f" obj={sel.context(sel.cred_sid(cred))} ocomm=")
    return body + untrusted(target.comm)


def _path_records(sel: SELinux, task: Any, entry_time: float) -> list[tuple[int, str]]:
    """CWD, then a PATH per name the syscall noted (``audit_log_name``), if it noted any:
    a name resolved to an object is NORMAL; creating or removing one notes the PARENT
    directory (printed as the name's directory part), then the name as CREATE or DELETE."""
    names = task.audit_names
    if names is None or names[0] != entry_time or len(names) < 2:
        return []
    cwd = task.process.cwd
    cwd_path = cwd.path() if cwd is not None else "/"
    out = [(AUDIT_CWD, "cwd=" + untrusted(cwd_path))]
    for i, (path, noted, nametype, dentry) in enumerate(names[1:]):
        if nametype == "PARENT":
            head = path[:path.rstrip("/").rfind("/") + 1]  # the directory part, with its "/"
            name = untrusted(head) if head else untrusted(cwd_path)
        else:
            name = untrusted(path)
        inode = noted
        if inode is None and dentry is not None and dentry.parent.children is not None:
            inode = dentry.parent.children.get(dentry.name)  # created by this syscall
        body = f"item={i} name={name}"
        if inode is not None:
            major, minor = inode.sb.devno
            body += (f" inode={inode.ino} dev={major:02x}:{minor:02x} mode=0{inode.mode:o}"
                     f" ouid={inode.uid} ogid={inode.gid} rdev=00:00")
            sid = sel.inode_sid(inode)
            if sid:
                body += f" obj={sel.context(sid)}"
        out.append((AUDIT_PATH, f"{body} nametype={nametype}{_CAPS}"))
    return out


def _sockaddr_record(task: Any, name: str, args: tuple[Any, ...]) -> str | None:
    """``audit_sockaddr``: the address the syscall copied in, as the C structure's bytes."""
    if not args or type(args[0]) is not int:
        return None
    file = task.process.files.fds.get(args[0])
    sock = getattr(file, "private", None) if file is not None else None
    family = getattr(sock, "family", None)
    if name == "sendto":
        addr = args[3] if len(args) > 3 else (args[2] if len(args) > 2 else None)
    else:
        index = _SOCKADDR_SYSCALLS[name]
        addr = args[index] if len(args) > index else None
    if addr is None or family is None:
        return None
    encode = _ENCODERS.get(family)
    raw = encode(addr) if encode is not None else None
    return None if raw is None else "saddr=" + hex_encode(raw)


def _sockaddr_un(addr: Any) -> bytes | None:
    if isinstance(addr, str):
        addr = addr.encode("utf-8", "surrogateescape")
    if not isinstance(addr, bytes):
        return None
    # what SUN_LEN-style callers pass: a pathname with its NUL, an abstract name without
    path = addr if addr.startswith(b"\0") else addr + b"\0"
    return AF_UNIX.to_bytes(2, "little") + path


def _sockaddr_in(addr: Any) -> bytes | None:
    try:
        host, port = addr[0], int(addr[1])
        packed = ipaddress.IPv4Address(host or "0.0.0.0").packed
    except (TypeError, ValueError, IndexError):
        return None
    return AF_INET.to_bytes(2, "little") + port.to_bytes(2, "big") + packed + bytes(8)


def _sockaddr_in6(addr: Any) -> bytes | None:
    try:
        host, port = addr[0], int(addr[1])
        flow = int(addr[2]) if len(addr) > 2 else 0
        scope = int(addr[3]) if len(addr) > 3 else 0
        packed = ipaddress.IPv6Address(host or "::").packed
    except (TypeError, ValueError, IndexError):
        return None
    return (AF_INET6.to_bytes(2, "little") + port.to_bytes(2, "big") + flow.to_bytes(4, "big")
            + packed + scope.to_bytes(4, "little"))


_ENCODERS: dict[int, Callable[[Any], bytes | None]] = {
    AF_UNIX: _sockaddr_un, AF_INET: _sockaddr_in, AF_INET6: _sockaddr_in6,
}
