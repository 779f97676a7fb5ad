"""System V shared memory (Linux ``ipc/shm.c``).

* shmget: size < SHMMIN or > SHMMAX -> EINVAL; an existing segment smaller than ``size`` ->
  EINVAL before ``ipcperms``; the id table (shmmni 4096) full -> ENOSPC.
* shmat maps the segment's bytes into the caller's address space (``Mapping`` kind
  "sysv-shm"); SHM_RDONLY maps PROT_READ only, so ``p.mem_write`` faults with SIGSEGV.
  Checks: ``ipcperms`` (read, +write unless SHM_RDONLY, +exec with SHM_EXEC), ``shm_shmat``.
* shmdt is unmediated (no hook); EINVAL unless a segment is attached exactly at ``addr``.
* IPC_RMID with attachments only marks SHM_DEST and makes the key private; the segment dies
  at the last detach.  fork duplicates attachments (nattch++), exec and exit drop them.
* SHM_LOCK/SHM_UNLOCK: no ipcperms; the LSM first, then CAP_IPC_LOCK or owner/creator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from kernel_sim import constants as c
from kernel_sim.caps import CAP_IPC_LOCK
from kernel_sim.errors import SyscallError
from kernel_sim.ipc.util import (
    S_IRUGO,
    S_IWUGO,
    S_IXUGO,
    SHMMIN,
    SHMSEG,
    IpcNamespace,
    IpcPerm,
    KernIpcPerm,
    ipc_ns,
    ipc_update_perm,
    ipcctl_obtain_check,
    ipcget,
    ipcperms,
    new_perm,
    perm_snapshot,
    set_args,
)
from kernel_sim.namei import check
from kernel_sim.process import Mapping
from kernel_sim.vfs import FileOps, Inode

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process
    from kernel_sim.task import Task

#: deliberate limit: the simulator backs segments with real bytes, so it refuses (ENOMEM)
#: segments above this size instead of allocating them
SIM_SHM_BYTES_MAX = 256 << 20
MAPPING_KIND = "sysv-shm"


@define(slots=True, eq=False)
class ShmSegment:
    """``struct shmid_kernel``: the segment, its bytes and its attach bookkeeping."""

    shm_perm: KernIpcPerm
    shm_segsz: int
    shm_ctim: float
    shm_cprid: int
    backing: bytearray
    kernel: Any
    shm_atim: float = 0.0
    shm_dtim: float = 0.0
    shm_lprid: int = 0
    shm_nattch: int = 0
    destroyed: bool = False
    pages: int = 0
    extra: dict[str, Any] = field(factory=dict)
    #: the segment's backing file's inode (``shm_file``): S_PRIVATE, so LSMs skip it
    inode: Inode | None = None


#: the attach's file operations: nothing to do at release
SHM_FILE_OPS = FileOps()


def _attach_mmap(task: Task, seg: ShmSegment, prot: int) -> None:
    """do_shmat's ``alloc_file_clone`` + ``security_mmap_file`` of the segment's file.

    Its inode is S_PRIVATE, so SELinux only checks ``process:execmem`` for SHM_EXEC.
    Deliberate differences: the backing inode is made on first attach without inode hooks
    (Linux makes it at shmget), and the attach's file is released at once instead of at
    shmdt (no module decides anything at its release).
    """
    k = task.kernel
    if seg.inode is None:
        perm = seg.shm_perm
        seg.inode = Inode(0, c.S_IFREG | 0o777, perm.cuid, perm.cgid, k.tmpfs,
                          name=f"SYSV{perm.key & 0xFFFFFFFF:08x}", is_private=True)
    file = k.alloc_file(task, seg.inode, c.O_RDWR, SHM_FILE_OPS)
    try:
        check(k.security.mmap_file(file, prot, prot, c.MAP_SHARED))
    finally:
        k.fput(file)


@frozen
class ShmidDs:
    """``struct shmid64_ds`` as IPC_STAT returns it (``shm_perm.mode`` shows SHM_DEST etc.)."""

    shm_perm: IpcPerm
    shm_segsz: int
    shm_atime: float
    shm_dtime: float
    shm_ctime: float
    shm_cpid: int
    shm_lpid: int
    shm_nattch: int


@frozen
class ShmInfo:
    """``struct shminfo64`` (IPC_INFO): the limits."""

    shmmax: int
    shmmin: int
    shmmni: int
    shmseg: int
    shmall: int


@frozen
class ShmUsage:
    """``struct shm_info`` (SHM_INFO): usage counters (every page counts as resident)."""

    used_ids: int
    shm_tot: int
    shm_rss: int
    shm_swp: int
    swap_attempts: int
    swap_successes: int


def _seg(perm: KernIpcPerm) -> ShmSegment:
    seg: ShmSegment = perm.obj
    return seg


# -- shmget -------------------------------------------------------------------------------------
def do_shmget(task: Task, key: int, size: int, shmflg: int) -> int:
    k = task.kernel
    ns = ipc_ns(k)
    sec = k.security
    if not isinstance(size, int):
        raise SyscallError(c.EINVAL)

    def newseg(key: int) -> int:
        if size < SHMMIN or size > ns.shm_ctlmax:
            raise SyscallError(c.EINVAL)
        pages = (size + c.PAGE_SIZE - 1) // c.PAGE_SIZE
        if ns.shm_tot + pages > ns.shm_ctlall:
            raise SyscallError(c.ENOSPC)
        if size > SIM_SHM_BYTES_MAX:
            raise SyscallError(c.ENOMEM)
        perm = new_perm(task, "shm", key, shmflg)
        rc = sec.shm_alloc_security(perm)
        if rc:  # security_shm_alloc frees the blob on failure
            sec.shm_free_security(perm)
            raise SyscallError(-rc)
        seg = ShmSegment(perm, size, k.env.now, task.pid, bytearray(pages * c.PAGE_SIZE), k,
                         pages=pages)
        perm.obj = seg
        rc = ns.shm_ids.addid(perm, ns.shm_ctlmni)
        if rc < 0:
            sec.shm_free_security(perm)
            raise SyscallError(-rc)
        ns.shm_tot += pages
        return rc

    def more_checks(perm: KernIpcPerm) -> None:
        if _seg(perm).shm_segsz < size:
            raise SyscallError(c.EINVAL)

    return ipcget(task, ns.shm_ids, key, shmflg, newseg, sec.shm_associate, more_checks)


# -- attach / detach ------------------------------------------------------------------------------
def do_shmat(task: Task, shmid: int, shmflg: int) -> int:
    """shmat(shmid, NULL, shmflg): the kernel picks the address."""
    k = task.kernel
    ns = ipc_ns(k)
    if not isinstance(shmid, int) or shmid < 0 or not isinstance(shmflg, int):
        raise SyscallError(c.EINVAL)
    if shmflg & c.SHM_REMAP:
        raise SyscallError(c.EINVAL)  # SHM_REMAP needs an address
    if shmflg & c.SHM_RDONLY:
        prot, acc_mode = c.PROT_READ, S_IRUGO
    else:
        prot, acc_mode = c.PROT_READ | c.PROT_WRITE, S_IRUGO | S_IWUGO
    if shmflg & c.SHM_EXEC:
        prot |= c.PROT_EXEC
        acc_mode |= S_IXUGO
    perm = ns.shm_ids.obtain_check(shmid)
    if ipcperms(task, perm, acc_mode):
        raise SyscallError(c.EACCES)
    check(k.security.shm_shmat(perm, 0, shmflg))
    seg = _seg(perm)
    if perm.deleted or seg.destroyed:
        raise SyscallError(c.EIDRM)
    _attach_mmap(task, seg, prot)
    mm = task.process.mm
    size = seg.pages * c.PAGE_SIZE
    addr = mm.place(size)
    mm.add(Mapping(addr, size, seg.backing, prot, True, MAPPING_KIND, seg))
    _shm_open(seg, task.pid)
    return addr


def _shm_open(seg: ShmSegment, pid: int) -> None:
    seg.shm_nattch += 1
    seg.shm_atim = seg.kernel.env.now
    seg.shm_lprid = pid


def _shm_close(seg: ShmSegment, pid: int) -> None:
    seg.shm_nattch -= 1
    seg.shm_dtim = seg.kernel.env.now
    seg.shm_lprid = pid
    if seg.shm_nattch == 0 and seg.shm_perm.mode & c.SHM_DEST:
        shm_destroy(ipc_ns(seg.kernel), seg)


def shm_destroy(ns: IpcNamespace, seg: ShmSegment) -> None:
    """``shm_destroy``: drop the id, the pages and the label."""
    if seg.destroyed:
        return
    seg.destroyed = True
    ns.shm_tot -= seg.pages
    ns.shm_ids.rmid(seg.shm_perm)
    seg.kernel.security.shm_free_security(seg.shm_perm)


def do_shmdt(task: Task, addr: int) -> int:
    """shmdt(2): unmediated; EINVAL unless a SysV segment is attached exactly at ``addr``."""
    if not isinstance(addr, int) or addr % c.PAGE_SIZE:
        raise SyscallError(c.EINVAL)
    mm = task.process.mm
    m = mm.maps.get(addr)
    if m is None or m.kind != MAPPING_KIND:
        raise SyscallError(c.EINVAL)
    del mm.maps[addr]
    _shm_close(m.obj, task.pid)
    return 0


def shm_fork(parent: Process, child: Process) -> None:
    """fork: the child's copies of the attachments count (``shm_open`` from ``dup_mmap``)."""
    for m in child.mm.maps.values():
        if m.kind == MAPPING_KIND:
            _shm_open(m.obj, parent.pid)


def shm_exit_mm(proc: Process) -> None:
    """exec and exit: every attachment of the old address space is detached."""
    maps = proc.mm.maps
    for start in [s for s, m in maps.items() if m.kind == MAPPING_KIND]:
        m = maps.pop(start)
        _shm_close(m.obj, proc.pid)


# -- shmctl -------------------------------------------------------------------------------------
def _stat(seg: ShmSegment) -> ShmidDs:
    return ShmidDs(perm_snapshot(seg.shm_perm), seg.shm_segsz, seg.shm_atim, seg.shm_dtim,
                   seg.shm_ctim, seg.shm_cprid, seg.shm_lprid, seg.shm_nattch)


def do_shmctl(task: Task, shmid: int, cmd: int, buf: Any) -> Any:
    """shmctl(2): IPC_STAT -> ShmidDs; SHM_STAT(_ANY) -> (id, ShmidDs); IPC_INFO ->
    (max index, ShmInfo); SHM_INFO -> (max index, ShmUsage); the others -> 0."""
    k: Kernel = task.kernel
    ns = ipc_ns(k)
    sec = k.security
    ids = ns.shm_ids
    if not isinstance(shmid, int) or not isinstance(cmd, int) or cmd < 0 or shmid < 0:
        raise SyscallError(c.EINVAL)
    if cmd == c.IPC_INFO:
        check(sec.shm_shmctl(None, cmd))
        info = ShmInfo(ns.shm_ctlmax, SHMMIN, ns.shm_ctlmni, SHMSEG, ns.shm_ctlall)
        return max(ids.max_idx(), 0), info
    if cmd == c.SHM_INFO:
        check(sec.shm_shmctl(None, cmd))
        return max(ids.max_idx(), 0), ShmUsage(ids.in_use, ns.shm_tot, ns.shm_tot, 0, 0, 0)
    if cmd in (c.IPC_STAT, c.SHM_STAT, c.SHM_STAT_ANY):
        perm = ids.obtain_check(shmid) if cmd == c.IPC_STAT else ids.obtain_idx(shmid)
        if cmd != c.SHM_STAT_ANY and ipcperms(task, perm, S_IRUGO):
            raise SyscallError(c.EACCES)
        check(sec.shm_shmctl(perm, cmd))
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        ds = _stat(_seg(perm))
        return ds if cmd == c.IPC_STAT else (perm.id, ds)
    if cmd in (c.IPC_SET, c.IPC_RMID):
        if cmd == c.IPC_SET and buf is None:
            raise SyscallError(c.EFAULT)
        perm = ipcctl_obtain_check(task, ids, shmid)
        check(sec.shm_shmctl(perm, cmd))
        seg = _seg(perm)
        if cmd == c.IPC_RMID:
            if seg.shm_nattch:
                perm.mode |= c.SHM_DEST
                ids.set_key_private(perm)  # not found by key any more
            else:
                shm_destroy(ns, seg)
            return 0
        uid, gid, mode, _ = set_args(buf, perm, "shm_perm")
        ipc_update_perm(perm, uid, gid, mode)
        seg.shm_ctim = k.env.now
        return 0
    if cmd in (c.SHM_LOCK, c.SHM_UNLOCK):
        perm = ids.obtain_check(shmid)
        check(sec.shm_shmctl(perm, cmd))
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        if not k.capable(task, CAP_IPC_LOCK):
            euid = task.cred.euid
            if euid not in (perm.uid, perm.cuid):
                raise SyscallError(c.EPERM)
            # RLIMIT_MEMLOCK is never 0 here (no rlimits are simulated)
        if cmd == c.SHM_LOCK:
            perm.mode |= c.SHM_LOCKED
        else:
            perm.mode &= ~c.SHM_LOCKED
        return 0
    raise SyscallError(c.EINVAL)
