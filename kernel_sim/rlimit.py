"""Resource limits (``task->signal->rlim``, ``kernel/sys.c``): defaults, prlimit, checks.

A process's limits are inherited at fork and kept across execve (an SELinux domain
transition without ``process:rlimitinh`` lowers the soft ones, see the SELinux exec hooks).
Enforced here: RLIMIT_NOFILE (the highest descriptor plus one: EMFILE; the fds a user may
have in flight over AF_UNIX), RLIMIT_NPROC (fork fails EAGAIN for a user over it, root
exempt) and RLIMIT_MSGQUEUE (POSIX queue bytes per user).  Stored but not enforced
(deliberately: the simulator has no CPU time, file sizes or address-space accounting):
the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.caps import CAP_SYS_ADMIN, CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError

if TYPE_CHECKING:
    from kernel_sim.process import Process
    from kernel_sim.task import Task

#: the kernel's RLIM_INFINITY (``~0UL``)
RLIM_INF = (1 << 64) - 1
#: ``sysctl fs.nr_open``: the highest RLIMIT_NOFILE hard limit
NR_OPEN = 1048576
#: ``INIT_RLIMITS`` as a freshly booted x86_64 system gives init (NPROC and SIGPENDING are
#: sized from memory at boot; these are an 8 GiB machine's)
INIT_RLIMITS: tuple[tuple[int, int], ...] = (
    (RLIM_INF, RLIM_INF),  # CPU
    (RLIM_INF, RLIM_INF),  # FSIZE
    (RLIM_INF, RLIM_INF),  # DATA
    (8 << 20, RLIM_INF),  # STACK: _STK_LIM
    (0, RLIM_INF),  # CORE
    (RLIM_INF, RLIM_INF),  # RSS
    (31575, 31575),  # NPROC: max_threads / 2
    (1024, 4096),  # NOFILE: INR_OPEN_CUR, INR_OPEN_MAX
    (8 << 20, 8 << 20),  # MEMLOCK: MLOCK_LIMIT
    (RLIM_INF, RLIM_INF),  # AS
    (RLIM_INF, RLIM_INF),  # LOCKS
    (31575, 31575),  # SIGPENDING
    (819200, 819200),  # MSGQUEUE: MQ_BYTES_MAX
    (0, 0),  # NICE
    (0, 0),  # RTPRIO
    (RLIM_INF, RLIM_INF),  # RTTIME
)
#: ``LSM_PRLIMIT_READ`` / ``LSM_PRLIMIT_WRITE``: what prlimit does to another process
LSM_PRLIMIT_READ, LSM_PRLIMIT_WRITE = 1, 2


def to_kernel(value: Any) -> int:
    """A limit as a program passes it (``RLIM_INFINITY`` is -1, as in Python) -> kernel."""
    if type(value) is not int:
        raise SyscallError(c.EFAULT)
    if value == c.RLIM_INFINITY or value >= RLIM_INF:
        return RLIM_INF
    if value < 0:
        raise SyscallError(c.EINVAL)
    return value


def to_user(value: int) -> int:
    return c.RLIM_INFINITY if value >= RLIM_INF else value


def task_rlimit(proc: Process, resource: int) -> int:
    """The soft limit (``task_rlimit``)."""
    return proc.rlimits[resource][0]


def set_rlimits(proc: Process, resource: int, soft: int, hard: int) -> None:
    """Store a new pair and apply what the kernel applies at once (the fd table's size)."""
    proc.rlimits[resource] = (soft, hard)
    if resource == c.RLIMIT_NOFILE:
        proc.files.max_fds = min(soft, NR_OPEN)


def do_prlimit(task: Task, target: Process, resource: int,
               new: tuple[Any, Any] | None) -> tuple[int, int]:
    """``do_prlimit``: validate, CAP_SYS_RESOURCE to raise a hard limit, ``task_setrlimit``,
    then store; returns the old pair (kernel values)."""
    if type(resource) is not int or not 0 <= resource < c.RLIM_NLIMITS:
        raise SyscallError(c.EINVAL)
    old = target.rlimits[resource]
    if new is None:
        return old
    try:
        soft, hard = (to_kernel(v) for v in new)
    except ValueError:
        raise SyscallError(c.EINVAL) from None
    if soft > hard:
        raise SyscallError(c.EINVAL)
    if resource == c.RLIMIT_NOFILE and hard > NR_OPEN:
        raise SyscallError(c.EPERM)
    k = task.kernel
    if hard > old[1] and not k.capable(task, CAP_SYS_RESOURCE):
        raise SyscallError(c.EPERM)
    assert target.task0 is not None
    rc = k.security.task_setrlimit(target.task0, resource, (soft, hard))
    if rc:
        raise SyscallError(-rc)
    set_rlimits(target, resource, soft, hard)
    return old


def check_prlimit_permission(task: Task, target: Process, flags: int) -> None:
    """Another process's limits: same uid and gid all round, or CAP_SYS_RESOURCE; then the
    ``task_prlimit`` hook."""
    if target is task.process:
        return
    assert target.task0 is not None
    cred, tcred = task.cred, target.task0.cred
    same = (cred.uid == tcred.euid == tcred.suid == tcred.uid
            and cred.gid == tcred.egid == tcred.sgid == tcred.gid)
    if not same and not task.kernel.capable(task, CAP_SYS_RESOURCE):
        raise SyscallError(c.EPERM)
    rc = task.kernel.security.task_prlimit(cred, tcred, flags)
    if rc:
        raise SyscallError(-rc)


def nproc_exceeded(task: Task) -> bool:
    """``copy_process``'s RLIMIT_NPROC test: the real user's live tasks (threads count, as
    on Linux) against the caller's soft limit; root, CAP_SYS_RESOURCE and CAP_SYS_ADMIN are
    exempt."""
    uid = task.cred.uid
    if uid == 0:  # INIT_USER: no need to count
        return False
    limit = task_rlimit(task.process, c.RLIMIT_NPROC)
    count = sum(len(p.threads) for p in task.kernel.processes.values()
                if p.exit_status is None and p.task0 is not None and p.task0.cred.uid == uid)
    if count < limit:
        return False
    k = task.kernel
    return not (k.capable(task, CAP_SYS_RESOURCE) or k.capable(task, CAP_SYS_ADMIN))
