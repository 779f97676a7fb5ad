"""AF_UNIX ancillary data (``net/core/scm.c``, ``net/unix/scm.c``).

SCM_CREDENTIALS: what a sender may claim and what a receiver is shown.  SCM_RIGHTS: the
file references a message carries in flight (copied from the sender's table, counted per
user against RLIMIT_NOFILE, installed on receipt after ``file_receive``, dropped with
MSG_CTRUNC).  Used by the data paths (:mod:`.unix_msg`) and the socket layer's
sendmsg/recvmsg (:mod:`.socket`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.caps import CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError
from kernel_sim.net.socket import Skb
from kernel_sim.net.unix_addr import unix_net
from kernel_sim.rlimit import task_rlimit

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File


# --------------------------------------------------------------------------- SCM_CREDENTIALS
def scm_check_creds(task: Task, creds: Any) -> tuple[int, int, int]:
    """``scm_check_creds``: a process may only claim its own pid (else CAP_SYS_ADMIN), one of
    its real/effective/saved uids (else CAP_SETUID) and gids (else CAP_SETGID): EPERM; a pid
    that does not exist: ESRCH; a malformed ucred or uid/gid -1: EINVAL."""
    try:
        pid, uid, gid = (int(x) for x in creds)
    except (TypeError, ValueError):
        raise SyscallError(c.EINVAL) from None
    if uid < 0 or gid < 0:
        raise SyscallError(c.EINVAL)
    k = task.kernel
    cred = task.cred
    if ((pid == task.pid or k.capable(task, CAP_SYS_ADMIN))
            and (uid in (cred.uid, cred.euid, cred.suid) or k.capable(task, CAP_SETUID))
            and (gid in (cred.gid, cred.egid, cred.sgid) or k.capable(task, CAP_SETGID))):
        if pid != task.pid:
            proc = k.processes.get(pid)
            if proc is None or proc.exit_status is not None:
                raise SyscallError(c.ESRCH)
        return (pid, uid, gid)
    raise SyscallError(c.EPERM)


def skb_creds(skb: Skb) -> tuple[int, int, int] | None:
    """The SCM_CREDENTIALS a message carries: the sender's explicit ones, else
    ``scm_set_cred(current)`` at send time (the tgid and the *real* uid/gid)."""
    if skb.cred is not None:
        return skb.cred
    writer = skb.writer
    task0 = getattr(writer, "task0", None)
    if task0 is None:
        return None
    return (writer.pid, task0.cred.uid, task0.cred.gid)


# --------------------------------------------------------------------------- SCM_RIGHTS
def scm_fp_copy(task: Task, fds: Any) -> list[File] | None:
    """``scm_fp_copy``: at most SCM_MAX_FD descriptors, each must be open (EBADF)."""
    if not fds:
        return None
    fds = tuple(fds)
    if len(fds) > c.SCM_MAX_FD:
        raise SyscallError(c.EINVAL)
    table = task.process.files
    files = [table.get(fd) for fd in fds]
    for f in files:
        f.count += 1
    return files


def unix_attach_fds(task: Task, skb: Skb, files: list[File]) -> None:
    """``unix_attach_fds``: ETOOMANYREFS above RLIMIT_NOFILE in flight without a capability."""
    k = task.kernel
    net = unix_net(k)
    uid = task.cred.uid
    if (net.inflight.get(uid, 0) > task_rlimit(task.process, c.RLIMIT_NOFILE)
            and not k.capable(task, CAP_SYS_RESOURCE)
            and not k.capable(task, CAP_SYS_ADMIN)):
        raise SyscallError(c.ETOOMANYREFS)
    net.inflight[uid] = net.inflight.get(uid, 0) + len(files)
    skb.fds = files
    skb.fd_uid = uid


def unix_detach_fds(k: Kernel, skb: Skb) -> list[File]:
    files = skb.fds or []
    skb.fds = None
    if files:
        net = unix_net(k)
        net.inflight[skb.fd_uid] = net.inflight.get(skb.fd_uid, 0) - len(files)
    return files


def scm_destroy(k: Kernel, skb: Skb) -> None:
    for f in unix_detach_fds(k, skb):
        k.fput(f)


def put_files(k: Kernel, files: list[File] | None) -> None:
    if files:
        for f in files:
            k.fput(f)


def scm_detach_fds(task: Task, files: list[File], maxfds: int, flags: int) -> tuple[
        list[int], int]:
    """``scm_detach_fds``: install up to ``maxfds``; ``file_receive`` may stop it early.

    Returns the new fds and MSG_CTRUNC if some were dropped.  Consumes the references.
    """
    k = task.kernel
    table = task.process.files
    out: list[int] = []
    cloexec = bool(flags & c.MSG_CMSG_CLOEXEC)
    n = min(max(maxfds, 0), len(files))
    i = 0
    while i < n:
        f = files[i]
        if k.security.file_receive(f):
            break
        try:
            out.append(table.alloc(f, cloexec))  # the in-flight reference moves to the fd
        except SyscallError:
            break
        i += 1
    for f in files[i:]:
        k.fput(f)
    return out, (c.MSG_CTRUNC if i < len(files) else 0)
