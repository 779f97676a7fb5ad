"""System V semaphores (Linux ``ipc/sem.c``).

* semop is all-or-nothing.  Validation order (ipc-lsm-reference §3.6, §7 item 12): nsops < 1
  EINVAL, nsops > SEMOPM E2BIG, undo-list lookup, id lookup (EINVAL), sem_num >= nsems EFBIG,
  ``ipcperms`` (alter ? write : read) EACCES, ``sem_semop`` hook, removed array EIDRM.
* A blocked operation is queued; whoever changes values (semop, SETVAL, SETALL, an exiting
  SEM_UNDO process) re-runs the queue (``update_queue``) and completes the sleeper's
  operation *on its behalf*, as Linux does, so a woken sleeper never loses a race.
  Deliberate simplification: one FIFO queue per array (Linux keeps per-semaphore queues and
  runs wait-for-zero operations first); the results agree for all-or-nothing semantics.
* A signal makes semop fail with EINTR, never restarted (Linux returns -EINTR, not a
  restart code).  IPC_RMID completes every sleeper with EIDRM.
* SEM_UNDO adjustments live in a per-process undo list (``Process.ipc["sem_undo"]``), are
  not inherited by fork and are applied at exit, clamped to [0, SEMVMX].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.ipc.util import (
    S_IRUGO,
    S_IWUGO,
    SEMAEM,
    SEMMAP,
    SEMMNU,
    SEMUME,
    SEMVMX,
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
from kernel_sim.syscall import Interrupted

if TYPE_CHECKING:
    from kernel_sim.process import Process
    from kernel_sim.task import Task

Sop = tuple[int, int, int]
SEMUSZ = 20  # sizeof(struct sem_undo) as IPC_INFO reports it


@define(slots=True, eq=False)
class SemUndo:
    """``struct sem_undo``: one process's adjustments for one array."""

    semid: int
    semadj: list[int]
    sma: SemArray | None
    ulp: dict[int, SemUndo] | None


@define(slots=True, eq=False)
class SemQueue:
    """``struct sem_queue``: a sleeping semop; ``status`` is None until it is completed."""

    pid: int
    sops: tuple[Sop, ...]
    undo: SemUndo | None
    alter: bool
    event: Any
    blocking: Sop
    status: int | None = None


@define(slots=True, eq=False)
class SemArray:
    """``struct sem_array``: values and last-pid per semaphore, queue, undo structures."""

    sem_perm: KernIpcPerm
    sem_nsems: int
    sem_ctime: float
    semval: list[int]
    sempid: list[int]
    sem_otime: float = 0.0
    pending: list[SemQueue] = field(factory=list)
    list_id: list[SemUndo] = field(factory=list)


@frozen
class SemidDs:
    """``struct semid64_ds`` as IPC_STAT returns it."""

    sem_perm: IpcPerm
    sem_otime: float
    sem_ctime: float
    sem_nsems: int


@frozen
class SemInfo:
    """``struct seminfo`` (SEM_INFO: semusz = arrays in use, semaem = semaphores in use)."""

    semmap: int
    semmni: int
    semmns: int
    semmnu: int
    semmsl: int
    semopm: int
    semume: int
    semusz: int
    semvmx: int
    semaem: int


def _array(perm: KernIpcPerm) -> SemArray:
    sma: SemArray = perm.obj
    return sma


# -- semget -------------------------------------------------------------------------------------
def do_semget(task: Task, key: int, nsems: int, semflg: int) -> int:
    k = task.kernel
    ns = ipc_ns(k)
    sec = k.security
    if not isinstance(nsems, int) or nsems < 0 or nsems > ns.sc_semmsl:
        raise SyscallError(c.EINVAL)

    def newary(key: int) -> int:
        if not nsems:
            raise SyscallError(c.EINVAL)
        if ns.used_sems + nsems > ns.sc_semmns:
            raise SyscallError(c.ENOSPC)
        perm = new_perm(task, "sem", key, semflg)
        rc = sec.sem_alloc_security(perm)
        if rc:  # security_sem_alloc frees the blob on failure
            sec.sem_free_security(perm)
            raise SyscallError(-rc)
        sma = SemArray(perm, nsems, k.env.now, [0] * nsems, [0] * nsems)
        perm.obj = sma
        rc = ns.sem_ids.addid(perm, ns.sc_semmni)
        if rc < 0:
            sec.sem_free_security(perm)
            raise SyscallError(-rc)
        ns.used_sems += nsems
        return rc

    def more_checks(perm: KernIpcPerm) -> None:
        if nsems > _array(perm).sem_nsems:
            raise SyscallError(c.EINVAL)

    return ipcget(task, ns.sem_ids, key, semflg, newary, sec.sem_associate, more_checks)


# -- semop --------------------------------------------------------------------------------------
def _perform_atomic_semop(sma: SemArray, q: SemQueue) -> tuple[int, Sop | None]:
    """Try every operation; 0 = done (applied), 1 = would block, else -EAGAIN/-ERANGE."""
    semval = sma.semval
    tmp: dict[int, int] = {}
    adj: dict[int, int] = {}
    un = q.undo
    for sop in q.sops:
        num, op, flg = sop
        cur = tmp.get(num, semval[num])
        if (op == 0 and cur) or cur + op < 0:
            return (-c.EAGAIN if flg & c.IPC_NOWAIT else 1), sop
        result = cur + op
        if result > SEMVMX:
            return -c.ERANGE, None
        if flg & c.SEM_UNDO:
            assert un is not None
            undo = adj.get(num, un.semadj[num]) - op
            if undo < -SEMAEM - 1 or undo > SEMAEM:
                return -c.ERANGE, None
            adj[num] = undo
        tmp[num] = result
    pid = q.pid
    for num, val in tmp.items():
        semval[num] = val
    for num, _op, _flg in q.sops:
        sma.sempid[num] = pid
    if un is not None:
        for num, val in adj.items():
            un.semadj[num] = val
    return 0, None


def update_queue(sma: SemArray) -> None:
    """Complete every queued operation that can now proceed (and rescan after an alter)."""
    again = True
    while again and sma.pending:
        again = False
        for q in list(sma.pending):
            rc, blocking = _perform_atomic_semop(sma, q)
            if rc == 1:
                assert blocking is not None
                q.blocking = blocking
                continue
            sma.pending.remove(q)
            q.status = rc
            if not q.event.triggered:
                q.event.succeed()
            if rc == 0 and q.alter:
                again = True
                break


def _normalize_sops(sops: Any) -> tuple[Sop, ...]:
    if not isinstance(sops, Sequence) or isinstance(sops, str | bytes):
        raise SyscallError(c.EFAULT)
    out = []
    for sop in sops:
        try:
            num, op, flg = sop
        except (TypeError, ValueError):
            raise SyscallError(c.EFAULT) from None
        if not all(isinstance(v, int) for v in (num, op, flg)):
            raise SyscallError(c.EFAULT)
        out.append((num & 0xFFFF, op, flg))  # sem_num is an unsigned short
    return tuple(out)


def find_alloc_undo(task: Task, ns: IpcNamespace, semid: int) -> SemUndo:
    """``find_alloc_undo``: this process's undo structure for ``semid`` (created on demand)."""
    proc = task.process
    ulp: dict[int, SemUndo] | None = proc.ipc.get("sem_undo")
    if ulp is None:
        ulp = proc.ipc["sem_undo"] = {}
    un = ulp.get(semid)
    if un is not None:
        return un
    sma = _array(ns.sem_ids.obtain_check(semid))
    un = SemUndo(semid, [0] * sma.sem_nsems, sma, ulp)
    ulp[semid] = un
    sma.list_id.append(un)
    return un


def do_semop(task: Task, semid: int, sops_in: Any) -> Any:
    """Generator for semop(2)."""
    return (yield from do_semtimedop(task, semid, sops_in, None))


def do_semtimedop(task: Task, semid: int, sops_in: Any, timeout: float | None) -> Any:
    """Generator for semtimedop(2): semop that gives up with EAGAIN after ``timeout``
    seconds (relative; None waits as long as it takes)."""
    k = task.kernel
    ns = ipc_ns(k)
    sops = _normalize_sops(sops_in)
    nsops = len(sops)
    if nsops < 1 or not isinstance(semid, int) or semid < 0:
        raise SyscallError(c.EINVAL)
    if nsops > ns.sc_semopm:
        raise SyscallError(c.E2BIG)
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise SyscallError(c.EINVAL)
    maxnum = max(s[0] for s in sops)
    undos = any(s[2] & c.SEM_UNDO for s in sops)
    alter = any(s[1] != 0 for s in sops)
    un = find_alloc_undo(task, ns, semid) if undos else None
    perm = ns.sem_ids.obtain_check(semid)
    sma = _array(perm)
    if maxnum >= sma.sem_nsems:
        raise SyscallError(c.EFBIG)
    if ipcperms(task, perm, S_IWUGO if alter else S_IRUGO):
        raise SyscallError(c.EACCES)
    check(k.security.sem_semop(perm, sops, nsops, alter))
    if perm.deleted or (un is not None and un.semid == -1):
        raise SyscallError(c.EIDRM)
    q = SemQueue(task.pid, sops, un, alter, None, sops[0])
    rc, blocking = _perform_atomic_semop(sma, q)
    if rc == 0:
        sma.sem_otime = k.env.now
        if alter:
            update_queue(sma)
        return 0
    if rc < 0:
        raise SyscallError(-rc)
    assert blocking is not None
    q.blocking = blocking
    q.event = k.env.event()
    sma.pending.append(q)
    try:
        yield from task.sleep_for(q.event, timeout)
    except Interrupted:
        if q.status is None:
            if q in sma.pending:
                sma.pending.remove(q)
            raise
    if q.status is None:  # the timeout came first
        if q in sma.pending:
            sma.pending.remove(q)
        raise SyscallError(c.EAGAIN)
    status = q.status
    if status:
        raise SyscallError(-status)
    sma.sem_otime = k.env.now
    return 0


# -- semctl -------------------------------------------------------------------------------------
def _count_semcnt(sma: SemArray, semnum: int, count_zero: bool) -> int:
    n = 0
    for q in sma.pending:
        num, op, _flg = q.blocking
        if num == semnum and ((count_zero and op == 0) or (not count_zero and op < 0)):
            n += 1
    return n


def freeary(task: Task, ns: IpcNamespace, sma: SemArray) -> None:
    """``freeary``: invalidate undo structures, EIDRM to sleepers, drop the id and label."""
    for un in sma.list_id:
        un.semid = -1
        un.sma = None
        if un.ulp is not None:
            for key, val in list(un.ulp.items()):
                if val is un:
                    del un.ulp[key]
    sma.list_id = []
    pending, sma.pending = sma.pending, []
    for q in pending:
        q.status = -c.EIDRM
        if not q.event.triggered:
            q.event.succeed()
    ns.sem_ids.rmid(sma.sem_perm)
    ns.used_sems -= sma.sem_nsems
    task.kernel.security.sem_free_security(sma.sem_perm)


def _seminfo(ns: IpcNamespace, cmd: int) -> SemInfo:
    if cmd == c.SEM_INFO:
        usz, aem = ns.sem_ids.in_use, ns.used_sems
    else:
        usz, aem = SEMUSZ, SEMAEM
    return SemInfo(SEMMAP, ns.sc_semmni, ns.sc_semmns, SEMMNU, ns.sc_semmsl, ns.sc_semopm,
                   SEMUME, usz, SEMVMX, aem)


def do_semctl(task: Task, semid: int, semnum: int, cmd: int, arg: Any) -> Any:
    """semctl(2): values for GET*, SemidDs for IPC_STAT, (id, SemidDs) for SEM_STAT(_ANY),
    (max index, SemInfo) for IPC_INFO/SEM_INFO, 0 for the others."""
    k = task.kernel
    ns = ipc_ns(k)
    sec = k.security
    ids = ns.sem_ids
    if not isinstance(semid, int) or not isinstance(cmd, int) or semid < 0:
        raise SyscallError(c.EINVAL)
    if not isinstance(semnum, int):
        raise SyscallError(c.EINVAL)
    now = k.env.now
    if cmd in (c.IPC_INFO, c.SEM_INFO):
        check(sec.sem_semctl(None, cmd))
        return max(ids.max_idx(), 0), _seminfo(ns, cmd)
    if cmd in (c.IPC_STAT, c.SEM_STAT, c.SEM_STAT_ANY):
        perm = ids.obtain_check(semid) if cmd == c.IPC_STAT else ids.obtain_idx(semid)
        if cmd != c.SEM_STAT_ANY and ipcperms(task, perm, S_IRUGO):
            raise SyscallError(c.EACCES)
        check(sec.sem_semctl(perm, cmd))
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        sma = _array(perm)
        ds = SemidDs(perm_snapshot(perm), sma.sem_otime, sma.sem_ctime, sma.sem_nsems)
        return ds if cmd == c.IPC_STAT else (perm.id, ds)
    if cmd == c.SETVAL:
        if not isinstance(arg, int):
            raise SyscallError(c.EINVAL)
        if arg > SEMVMX or arg < 0:
            raise SyscallError(c.ERANGE)
        perm = ids.obtain_check(semid)
        sma = _array(perm)
        if semnum < 0 or semnum >= sma.sem_nsems:
            raise SyscallError(c.EINVAL)
        if ipcperms(task, perm, S_IWUGO):
            raise SyscallError(c.EACCES)
        if sec.sem_semctl(perm, c.SETVAL):
            raise SyscallError(c.EACCES)  # semctl_setval reports any LSM error as EACCES
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        for un in sma.list_id:
            un.semadj[semnum] = 0
        sma.semval[semnum] = arg
        sma.sempid[semnum] = task.pid
        sma.sem_ctime = now
        update_queue(sma)
        return 0
    if cmd in (c.GETALL, c.GETVAL, c.GETPID, c.GETNCNT, c.GETZCNT, c.SETALL):
        perm = ids.obtain_check(semid)
        sma = _array(perm)
        nsems = sma.sem_nsems
        if ipcperms(task, perm, S_IWUGO if cmd == c.SETALL else S_IRUGO):
            raise SyscallError(c.EACCES)
        check(sec.sem_semctl(perm, cmd))
        if cmd == c.GETALL:
            if perm.deleted:
                raise SyscallError(c.EIDRM)
            return list(sma.semval)
        if cmd == c.SETALL:
            if not isinstance(arg, Sequence) or len(arg) != nsems:
                raise SyscallError(c.EFAULT)  # C would read nsems values from user memory
            vals = list(arg)
            for v in vals:
                if not isinstance(v, int):
                    raise SyscallError(c.EFAULT)
                if v > SEMVMX or v < 0:  # sem_io is unsigned short: -1 reads as 65535
                    raise SyscallError(c.ERANGE)
            if perm.deleted:
                raise SyscallError(c.EIDRM)
            for un in sma.list_id:
                un.semadj[:] = [0] * nsems
            sma.semval[:] = vals
            sma.sempid[:] = [task.pid] * nsems
            sma.sem_ctime = now
            update_queue(sma)
            return 0
        if semnum < 0 or semnum >= nsems:
            raise SyscallError(c.EINVAL)
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        if cmd == c.GETVAL:
            return sma.semval[semnum]
        if cmd == c.GETPID:
            return sma.sempid[semnum]
        return _count_semcnt(sma, semnum, cmd == c.GETZCNT)
    if cmd in (c.IPC_SET, c.IPC_RMID):
        if cmd == c.IPC_SET and arg is None:
            raise SyscallError(c.EFAULT)
        perm = ipcctl_obtain_check(task, ids, semid)
        check(sec.sem_semctl(perm, cmd))
        sma = _array(perm)
        if cmd == c.IPC_RMID:
            freeary(task, ns, sma)
            return 0
        uid, gid, mode, _ = set_args(arg, perm, "sem_perm")
        ipc_update_perm(perm, uid, gid, mode)
        sma.sem_ctime = now
        return 0
    raise SyscallError(c.EINVAL)


# -- exit ---------------------------------------------------------------------------------------
def exit_sem(proc: Process) -> None:
    """``exit_sem``: apply this process's SEM_UNDO adjustments, clamped to [0, SEMVMX]."""
    ulp: dict[int, SemUndo] | None = proc.ipc.pop("sem_undo", None)
    if not ulp:
        return
    for un in list(ulp.values()):
        sma = un.sma
        if un.semid == -1 or sma is None or sma.sem_perm.deleted:
            continue
        if un in sma.list_id:
            sma.list_id.remove(un)
        un.ulp = None
        changed = False
        for i, adj in enumerate(un.semadj):
            if adj:
                val = sma.semval[i] + adj
                sma.semval[i] = 0 if val < 0 else min(val, SEMVMX)
                sma.sempid[i] = proc.pid
                changed = True
        if changed:
            update_queue(sma)
    ulp.clear()
