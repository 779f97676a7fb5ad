"""Common System V IPC machinery (Linux ``ipc/util.c``): ids, ``kern_ipc_perm``, ``ipcperms``.

Every SysV object (message queue, semaphore array, shared memory segment) embeds a
:class:`KernIpcPerm`; that object is what the LSM hooks receive, with its ``security`` blob
and ``kind`` ("msg", "sem" or "shm") so a module can pick the object class.

Ids are Linux's: ``id = seq << 15 | idx`` where ``idx`` is allocated cyclically
(``idr_alloc_cyclic``, 5.x and later) and ``seq`` advances when the index wraps, so a removed
id is not reused at once and a stale id fails with EINVAL.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from typing import TYPE_CHECKING, Any

from attrs import define, field

from kernel_sim import constants as c
from kernel_sim.caps import CAP_IPC_OWNER, CAP_SYS_ADMIN
from kernel_sim.errors import SyscallError

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task

IPCMNI_SHIFT = 15
IPCMNI = 1 << IPCMNI_SHIFT  # 32768 indices per id table
IPCID_SEQ_MAX = (1 << 31) >> IPCMNI_SHIFT  # INT_MAX >> shift, seq wraps below it
S_IRWXUGO = 0o777
S_IRUGO = 0o444
S_IWUGO = 0o222
S_IXUGO = 0o111
INVALID_ID = 0xFFFFFFFF  # (uid_t)-1: rejected by IPC_SET (``uid_valid``)

# -- default limits (ipc-lsm-reference §3.13; ``include/uapi/linux/{msg,sem,shm}.h``) ---------
MSGMAX = 8192
MSGMNB = 16384
MSGMNI = 32000
MSGSSZ = 16
MSGPOOL = MSGMNI * MSGMNB // 1024
MSGTQL = MSGMNB
MSGMAP = MSGMNB
MSGSEG = 0xFFFF
SEMMSL = 32000
SEMMNI = 32000
SEMMNS = SEMMNI * SEMMSL
SEMOPM = 500
SEMVMX = 32767
SEMAEM = SEMVMX
SEMUME = SEMOPM
SEMMNU = SEMMNS
SEMMAP = SEMMNS
SHMMIN = 1
SHMMNI = 4096
SHMMAX = (1 << 64) - 1 - (1 << 24)
SHMALL = SHMMAX
SHMSEG = SHMMNI


@define(slots=True, eq=False)
class KernIpcPerm:
    """``struct kern_ipc_perm``: identity, ownership and mode of one SysV object.

    ``kind`` names the object family ("msg", "sem", "shm") so an LSM can choose its class
    (msgq/sem/shm).  ``deleted`` is Linux's ``!ipc_valid_object``.  ``obj`` points back to the
    queue/array/segment that embeds this header.
    """

    kind: str
    key: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int
    id: int = -1
    seq: int = 0
    security: list[Any] = field(factory=list)
    deleted: bool = False
    obj: Any = None


@define(slots=True, frozen=True)
class IpcPerm:
    """``struct ipc64_perm`` as IPC_STAT copies it out (a snapshot, not the live object)."""

    key: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int
    seq: int


def perm_snapshot(p: KernIpcPerm) -> IpcPerm:
    """``kernel_to_ipc64_perm``."""
    return IpcPerm(p.key, p.uid, p.gid, p.cuid, p.cgid, p.mode, p.seq)


class IpcIds:
    """``struct ipc_ids``: one id table (per object kind) of the IPC namespace."""

    __slots__ = ("by_idx", "by_key", "in_use", "kind", "last_idx", "next_hint", "seq")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_idx: dict[int, KernIpcPerm] = {}
        self.by_key: dict[int, KernIpcPerm] = {}
        self.in_use = 0
        self.seq = 0
        self.last_idx = -1
        self.next_hint = 0  # where idr_alloc_cyclic resumes

    def findkey(self, key: int) -> KernIpcPerm | None:
        return self.by_key.get(key)

    def addid(self, perm: KernIpcPerm, limit: int) -> int:
        """``ipc_addid``: allocate an index (cyclic), set seq and id; ENOSPC when full."""
        limit = min(limit, IPCMNI)
        if self.in_use >= limit:
            return -c.ENOSPC
        idx = -1
        for start, stop in ((self.next_hint, limit), (0, self.next_hint)):
            for i in range(start, stop):
                if i not in self.by_idx:
                    idx = i
                    break
            if idx >= 0:
                break
        if idx < 0:
            return -c.ENOSPC
        if idx <= self.last_idx:
            self.seq += 1
            if self.seq >= IPCID_SEQ_MAX:
                self.seq = 0
        self.last_idx = idx
        self.next_hint = idx + 1 if idx + 1 < limit else 0
        perm.seq = self.seq
        perm.id = (self.seq << IPCMNI_SHIFT) + idx
        self.by_idx[idx] = perm
        if perm.key != c.IPC_PRIVATE:
            self.by_key[perm.key] = perm
        self.in_use += 1
        return perm.id

    def obtain_check(self, ident: int) -> KernIpcPerm:
        """``ipc_obtain_object_check``: EINVAL for an unknown index or a stale sequence."""
        if type(ident) is not int or ident < 0:
            raise SyscallError(c.EINVAL)
        perm = self.by_idx.get(ident & (IPCMNI - 1))
        if perm is None or perm.id != ident:
            raise SyscallError(c.EINVAL)
        return perm

    def obtain_idx(self, idx: int) -> KernIpcPerm:
        """``ipc_obtain_object_idr``: *_STAT commands take an index, not an id."""
        if not isinstance(idx, int) or idx < 0:
            raise SyscallError(c.EINVAL)
        perm = self.by_idx.get(idx)
        if perm is None:
            raise SyscallError(c.EINVAL)
        return perm

    def rmid(self, perm: KernIpcPerm) -> None:
        """``ipc_rmid``: forget the id and key; the object is marked deleted."""
        idx = perm.id & (IPCMNI - 1)
        if self.by_idx.get(idx) is perm:
            del self.by_idx[idx]
            self.in_use -= 1
        self.set_key_private(perm)
        perm.deleted = True

    def set_key_private(self, perm: KernIpcPerm) -> None:
        """``ipc_set_key_private``: the object can no longer be found by key."""
        if perm.key != c.IPC_PRIVATE and self.by_key.get(perm.key) is perm:
            del self.by_key[perm.key]
        perm.key = c.IPC_PRIVATE

    def max_idx(self) -> int:
        """``ipc_get_maxidx``: highest index in use, -1 when the table is empty."""
        return max(self.by_idx) if self.by_idx else -1


@define(slots=True, eq=False)
class IpcNamespace:
    """``struct ipc_namespace``: the id tables, the sysctl limits and the global counters."""

    msg_ids: IpcIds = field(factory=lambda: IpcIds("msg"))
    sem_ids: IpcIds = field(factory=lambda: IpcIds("sem"))
    shm_ids: IpcIds = field(factory=lambda: IpcIds("shm"))
    msg_ctlmax: int = MSGMAX
    msg_ctlmnb: int = MSGMNB
    msg_ctlmni: int = MSGMNI
    msg_bytes: int = 0
    msg_hdrs: int = 0
    sc_semmsl: int = SEMMSL
    sc_semmns: int = SEMMNS
    sc_semopm: int = SEMOPM
    sc_semmni: int = SEMMNI
    used_sems: int = 0
    shm_ctlmax: int = SHMMAX
    shm_ctlall: int = SHMALL
    shm_ctlmni: int = SHMMNI
    shm_tot: int = 0
    #: the constructor of a message's security blob (one per msgsnd: resolved once)
    alloc_msg_blob: Callable[[], list[Any]] = list


def ipc_ns(k: Kernel) -> IpcNamespace:
    """The kernel's (single) IPC namespace, created on first use with the exit/fork hooks."""
    ns = k.subsystems.get("sysv_ipc")
    if ns is None:
        ns = k.subsystems["sysv_ipc"] = IpcNamespace()
        ns.alloc_msg_blob = k.security.blob_allocator("msg_msg")
        from kernel_sim.ipc import sem, shm

        k.fork_handlers.append(shm.shm_fork)
        k.exec_handlers.append(shm.shm_exit_mm)
        k.exit_handlers.append(sem.exit_sem)
        k.exit_handlers.append(shm.shm_exit_mm)
    return ns


def new_perm(task: Task, kind: str, key: int, flg: int) -> KernIpcPerm:
    """A fresh header for a new object: mode from the flags, owner and creator = euid/egid."""
    cred = task.cred
    perm = KernIpcPerm(kind, key, cred.euid, cred.egid, cred.euid, cred.egid, flg & S_IRWXUGO)
    perm.security = task.kernel.security.alloc_blob("ipc")
    return perm


def ipcperms(task: Task, perm: KernIpcPerm, flag: int) -> int:
    """``ipcperms``: owner/creator, then group (cgid/gid), then other; CAP_IPC_OWNER overrides.

    Returns 0, -EACCES for a DAC refusal, or the ``ipc_permission`` hook's result (called only
    when DAC passed).  Callers turn any non-zero result into EACCES, as Linux's do.
    """
    requested = ((flag >> 6) | (flag >> 3) | flag) & 0o7
    granted = perm.mode
    cred = task.cred
    euid = cred.euid
    if euid == perm.cuid or euid == perm.uid:  # noqa: PLR1714 - hot path, no tuple
        granted >>= 6
    elif cred.in_group(perm.cgid) or cred.in_group(perm.gid):
        granted >>= 3
    if requested & ~granted & 0o7 and not task.kernel.capable(task, CAP_IPC_OWNER):
        return -c.EACCES
    return task.kernel.security.ipc_permission(perm, flag)


def ipcctl_obtain_check(task: Task, ids: IpcIds, ident: int) -> KernIpcPerm:
    """``ipcctl_obtain_check`` for IPC_SET/IPC_RMID: owner or creator, else CAP_SYS_ADMIN."""
    perm = ids.obtain_check(ident)
    euid = task.cred.euid
    if euid in (perm.cuid, perm.uid) or task.kernel.capable(task, CAP_SYS_ADMIN):
        return perm
    raise SyscallError(c.EPERM)


def ipcget(task: Task, ids: IpcIds, key: int, flg: int, getnew: Any, associate: Any,
           more_checks: Any = None) -> int:
    """``ipcget``: IPC_PRIVATE creates; else find by key (ENOENT/EEXIST), checks, associate."""
    if not isinstance(key, int) or not isinstance(flg, int):
        raise SyscallError(c.EINVAL)
    key = key32(key)
    if key == c.IPC_PRIVATE:
        return getnew(key)
    perm = ids.findkey(key)
    if perm is None:
        if not flg & c.IPC_CREAT:
            raise SyscallError(c.ENOENT)
        return getnew(key)
    if flg & c.IPC_CREAT and flg & c.IPC_EXCL:
        raise SyscallError(c.EEXIST)
    if more_checks is not None:
        more_checks(perm)
    # ipc_check_perms: any ipcperms failure (DAC or ipc_permission) is EACCES
    if ipcperms(task, perm, flg):
        raise SyscallError(c.EACCES)
    rc = associate(perm, flg)
    if rc:
        raise SyscallError(-rc)
    return perm.id


def key32(key: int) -> int:
    """key_t is a signed 32-bit int: ``msgget(0xdeadbeef, ...)`` names key -559038737."""
    key &= 0xFFFFFFFF
    return key - (1 << 32) if key & 0x80000000 else key


def ipc_update_perm(perm: KernIpcPerm, uid: int, gid: int, mode: int) -> None:
    """``ipc_update_perm``: new uid/gid (EINVAL if invalid) and the low nine mode bits."""
    for v in (uid, gid):
        if not isinstance(v, int) or v < 0 or v >= INVALID_ID:
            raise SyscallError(c.EINVAL)
    perm.uid = uid
    perm.gid = gid
    perm.mode = (perm.mode & ~S_IRWXUGO) | (mode & S_IRWXUGO)


def set_args(buf: Any, perm: KernIpcPerm, perm_field: str,
             extra: tuple[str, ...] = ()) -> tuple[int, int, int, dict[str, Any]]:
    """Read IPC_SET input: a ``*_ds`` object or a dict.

    A dict may be flat (``{"uid": 1, "mode": 0o600, "msg_qbytes": 100}``) or nest the perm
    under ``perm_field``; fields left out keep their current value (deliberate convenience:
    C copies a whole struct from user memory).
    """
    if buf is None:
        raise SyscallError(c.EFAULT)
    if isinstance(buf, AbcMapping):
        get = buf.get
        nested = buf.get(perm_field)
    else:
        def get(name: str, default: Any = None) -> Any:
            return getattr(buf, name, default)

        nested = getattr(buf, perm_field, None)
    src: Any = nested if nested is not None else buf

    def pget(name: str, cur: int) -> Any:
        if isinstance(src, AbcMapping):
            return src.get(name, cur)
        return getattr(src, name, cur)

    uid = pget("uid", perm.uid)
    gid = pget("gid", perm.gid)
    mode = pget("mode", perm.mode)
    if not isinstance(mode, int):
        raise SyscallError(c.EINVAL)
    more = {name: get(name, None) for name in extra}
    return uid, gid, mode, more
