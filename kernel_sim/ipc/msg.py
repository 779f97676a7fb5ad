"""System V message queues (Linux ``ipc/msg.c``).

* msgsnd: EINVAL checks, ``load_msg`` (``msg_msg_alloc_security``), id lookup, then a loop of
  ``ipcperms(write)`` -> ``msg_queue_msgsnd`` -> fits? -> IPC_NOWAIT ? EAGAIN : sleep,
  re-checking everything after each wake-up.  "Full" is ``cbytes + sz > qbytes`` or
  ``qnum + 1 > qbytes``.  A fitting message is first offered to sleeping receivers
  (``pipelined_send``, the hook's subject is the receiver); otherwise it is queued.
* msgrcv: ``ipcperms(read)`` then a scan calling ``msg_queue_msgrcv`` for each candidate; a
  denied message is invisible (skipped), so the caller gets ENOMSG or sleeps, never EACCES.
* IPC_RMID wakes every sleeper with EIDRM; IPC_SET wakes receivers to re-check (EAGAIN inside).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from kernel_sim import constants as c
from kernel_sim.caps import CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError
from kernel_sim.ipc.util import (
    MSGMAP,
    MSGPOOL,
    MSGSEG,
    MSGSSZ,
    MSGTQL,
    S_IRUGO,
    S_IWUGO,
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
from kernel_sim.waitq import WaitQueue

if TYPE_CHECKING:
    import simpy

    from kernel_sim.task import Task

# msgrcv search modes (``ipc/msg.c``), passed to the msg_queue_msgrcv hook as ``mode``
SEARCH_ANY, SEARCH_EQUAL, SEARCH_NOTEQUAL, SEARCH_LESSEQUAL, SEARCH_NUMBER = 1, 2, 3, 4, 5
_INT_MAX = (1 << 31) - 1
# flag values bound once: the hot path avoids a module attribute lookup per use
_IPC_NOWAIT, _MSG_COPY, _MSG_EXCEPT, _MSG_NOERROR = (
    c.IPC_NOWAIT, c.MSG_COPY, c.MSG_EXCEPT, c.MSG_NOERROR)
_COPY_OR_EXCEPT = _MSG_COPY | _MSG_EXCEPT


@define(slots=True, eq=False)
class MsgMsg:
    """``struct msg_msg``: one message, with its own security blob."""

    m_type: int
    m_ts: int
    data: bytes
    security: list[Any] = field(factory=list)


@define(slots=True, eq=False)
class MsgReceiver:
    """``struct msg_receiver``: a sleeping msgrcv; ``r_msg`` is None until it is answered."""

    r_tsk: Any
    r_msgtype: int
    r_mode: int
    r_maxsize: int
    event: Any
    r_msg: MsgMsg | int | None = None  # a message, or a negative errno


@define(slots=True, eq=False)
class MsgQueue:
    """``struct msg_queue``."""

    q_perm: KernIpcPerm
    q_qbytes: int
    q_ctime: float
    q_stime: float = 0.0
    q_rtime: float = 0.0
    q_cbytes: int = 0
    q_qnum: int = 0
    q_lspid: int = 0
    q_lrpid: int = 0
    q_messages: list[MsgMsg] = field(factory=list)
    q_receivers: list[MsgReceiver] = field(factory=list)
    q_senders: WaitQueue | None = None


@frozen
class MsqidDs:
    """``struct msqid64_ds`` as IPC_STAT returns it (Linux's field names; times are sim s)."""

    msg_perm: IpcPerm
    msg_stime: float
    msg_rtime: float
    msg_ctime: float
    msg_cbytes: int
    msg_qnum: int
    msg_qbytes: int
    msg_lspid: int
    msg_lrpid: int


@frozen
class MsgInfo:
    """``struct msginfo`` (IPC_INFO: limits; MSG_INFO: msgpool/msgmap/msgtql are usage)."""

    msgpool: int
    msgmap: int
    msgmax: int
    msgmnb: int
    msgmni: int
    msgssz: int
    msgtql: int
    msgseg: int


def _queue(perm: KernIpcPerm) -> MsgQueue:
    q: MsgQueue = perm.obj
    return q


# -- msgget -------------------------------------------------------------------------------------
def do_msgget(task: Task, key: int, msgflg: int) -> int:
    k = task.kernel
    ns = ipc_ns(k)
    sec = k.security

    def newque(key: int) -> int:
        perm = new_perm(task, "msg", key, msgflg)
        rc = sec.msg_queue_alloc_security(perm)
        if rc:  # security_msg_queue_alloc frees the blob on failure
            sec.msg_queue_free_security(perm)
            raise SyscallError(-rc)
        msq = MsgQueue(perm, ns.msg_ctlmnb, k.env.now, q_senders=WaitQueue(k.env))
        perm.obj = msq
        rc = ns.msg_ids.addid(perm, ns.msg_ctlmni)
        if rc < 0:
            sec.msg_queue_free_security(perm)
            raise SyscallError(-rc)
        return rc

    return ipcget(task, ns.msg_ids, key, msgflg, newque, sec.msg_queue_associate)


# -- msgsnd -------------------------------------------------------------------------------------
def _free_msg(task: Task, msg: MsgMsg) -> None:
    task.kernel.security.msg_msg_free_security(msg)


def _testmsg(msg: MsgMsg, mtype: int, mode: int) -> bool:
    if mode == SEARCH_EQUAL:
        return msg.m_type == mtype
    if mode in (SEARCH_ANY, SEARCH_NUMBER):
        return True
    if mode == SEARCH_LESSEQUAL:
        return msg.m_type <= mtype
    return msg.m_type != mtype  # SEARCH_NOTEQUAL


def _pipelined_send(task: Task, msq: MsgQueue, msg: MsgMsg) -> bool:
    """Hand ``msg`` straight to a sleeping receiver (checked with the receiver as subject)."""
    hook = task.kernel.security.msg_queue_msgrcv
    receivers = msq.q_receivers
    i = 0
    while i < len(receivers):
        msr = receivers[i]
        if _testmsg(msg, msr.r_msgtype, msr.r_mode) and not hook(
                msq.q_perm, msg, msr.r_tsk, msr.r_msgtype, msr.r_mode):
            del receivers[i]
            if msr.r_maxsize < msg.m_ts:
                msr.r_msg = -c.E2BIG
                msr.event.succeed()
                continue
            msq.q_lrpid = msr.r_tsk.process.pid
            msq.q_rtime = task.kernel.env.now
            msr.r_msg = msg
            msr.event.succeed()
            return True
        i += 1
    return False


def do_msgsnd(task: Task, msqid: int, mtype: int, data: bytes, msgflg: int = 0) -> Any:
    """Generator for msgsnd(2) (the syscall body itself)."""
    k = task.kernel
    ns = k.subsystems.get("sysv_ipc") or ipc_ns(k)
    sec = k.security
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SyscallError(c.EFAULT)
        data = bytes(data)
    msgsz = len(data)
    if msgsz > ns.msg_ctlmax or type(msqid) is not int or msqid < 0:
        raise SyscallError(c.EINVAL)
    if type(mtype) is not int or mtype < 1:
        raise SyscallError(c.EINVAL)
    # load_msg: the message and its label exist before the queue is even looked up
    msg: MsgMsg | None = MsgMsg(mtype, msgsz, data, ns.alloc_msg_blob())
    rc = sec.msg_msg_alloc_security(msg)
    if rc:
        _free_msg(task, msg)  # type: ignore[arg-type]
        raise SyscallError(-rc)
    try:
        perm = ns.msg_ids.obtain_check(msqid)
        msq: MsgQueue = perm.obj
        while True:
            if ipcperms(task, perm, S_IWUGO):
                raise SyscallError(c.EACCES)
            if perm.deleted:
                raise SyscallError(c.EIDRM)
            rc = sec.msg_queue_msgsnd(perm, msg, msgflg)
            if rc:
                raise SyscallError(-rc)
            if msgsz + msq.q_cbytes <= msq.q_qbytes and 1 + msq.q_qnum <= msq.q_qbytes:
                break
            if msgflg & _IPC_NOWAIT:
                raise SyscallError(c.EAGAIN)
            assert msq.q_senders is not None
            try:
                yield from task.sleep(msq.q_senders.prepare())
            except Interrupted:
                if perm.deleted:
                    raise SyscallError(c.EIDRM) from None
                raise
            if perm.deleted:
                raise SyscallError(c.EIDRM)
        msq.q_lspid = task.process.pid
        msq.q_stime = k.env.now
        assert msg is not None
        if not (msq.q_receivers and _pipelined_send(task, msq, msg)):
            msq.q_messages.append(msg)
            msq.q_cbytes += msgsz
            msq.q_qnum += 1
            ns.msg_bytes += msgsz
            ns.msg_hdrs += 1
        msg = None
        return 0
    finally:
        if msg is not None:
            _free_msg(task, msg)


# -- msgrcv -------------------------------------------------------------------------------------
def _convert_mode(msgtyp: int, msgflg: int) -> tuple[int, int]:
    if msgflg & c.MSG_COPY:
        return msgtyp, SEARCH_NUMBER
    if msgtyp == 0:
        return msgtyp, SEARCH_ANY
    if msgtyp < 0:
        return (-msgtyp if msgtyp != -(1 << 63) else (1 << 63) - 1), SEARCH_LESSEQUAL
    if msgflg & c.MSG_EXCEPT:
        return msgtyp, SEARCH_NOTEQUAL
    return msgtyp, SEARCH_EQUAL


def _find_msg(task: Task, msq: MsgQueue, msgtyp: int, mode: int) -> MsgMsg | None:
    """``find_msg``: the hook runs for every candidate; a denied message is skipped."""
    hook = task.kernel.security.msg_queue_msgrcv
    perm = msq.q_perm
    found = None
    count = 0
    for msg in msq.q_messages:
        if _testmsg(msg, msgtyp, mode) and not hook(perm, msg, task, msgtyp, mode):
            if mode == SEARCH_LESSEQUAL and msg.m_type != 1:
                msgtyp = msg.m_type - 1
                found = msg
            elif mode == SEARCH_NUMBER:
                if msgtyp == count:
                    return msg
            else:
                return msg
            count += 1
    return found


def do_msgrcv(task: Task, msqid: int, bufsz: int, msgtyp: int = 0, msgflg: int = 0) -> Any:
    """Generator for msgrcv(2) (the syscall body itself); returns ``(mtype, data)``."""
    k = task.kernel
    ns = k.subsystems.get("sysv_ipc") or ipc_ns(k)
    if type(msqid) is not int or msqid < 0 or type(bufsz) is not int or bufsz < 0:
        raise SyscallError(c.EINVAL)
    if type(msgtyp) is not int:
        raise SyscallError(c.EINVAL)
    copy_max = -1
    if msgflg & _MSG_COPY:
        if msgflg & _MSG_EXCEPT or not msgflg & _IPC_NOWAIT:
            raise SyscallError(c.EINVAL)
        copy_max = min(bufsz, ns.msg_ctlmax)
    if msgflg & _COPY_OR_EXCEPT or msgtyp <= 0:
        msgtyp, mode = _convert_mode(msgtyp, msgflg)
    else:
        mode = SEARCH_EQUAL
    perm = ns.msg_ids.obtain_check(msqid)
    msq: MsgQueue = perm.obj
    while True:
        if ipcperms(task, perm, S_IRUGO):
            raise SyscallError(c.EACCES)
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        msg = _find_msg(task, msq, msgtyp, mode) if msq.q_messages else None
        if msg is not None:
            if bufsz < msg.m_ts and not msgflg & _MSG_NOERROR:
                raise SyscallError(c.E2BIG)
            if copy_max >= 0:
                if msg.m_ts > copy_max:
                    raise SyscallError(c.EINVAL)  # copy_msg: destination too small
                return msg.m_type, msg.data
            msq.q_messages.remove(msg)
            msq.q_qnum -= 1
            msq.q_rtime = k.env.now
            msq.q_lrpid = task.process.pid
            msq.q_cbytes -= msg.m_ts
            ns.msg_bytes -= msg.m_ts
            ns.msg_hdrs -= 1
            senders = msq.q_senders
            if senders:
                senders.wake_all()
            return _deliver(task, msg, bufsz)
        if msgflg & _IPC_NOWAIT:
            raise SyscallError(c.ENOMSG)
        ev: simpy.Event = k.env.event()
        msr = MsgReceiver(task, msgtyp, mode,
                          _INT_MAX if msgflg & _MSG_NOERROR else bufsz, ev)
        msq.q_receivers.append(msr)
        try:
            yield from task.sleep(ev)
        except Interrupted:
            # lockless receive: a message or error delivered before the signal wins
            if msr.r_msg is None:
                if msr in msq.q_receivers:
                    msq.q_receivers.remove(msr)
                raise
        got = msr.r_msg
        if isinstance(got, MsgMsg):
            return _deliver(task, got, bufsz)
        if got is not None and got != -c.EAGAIN:
            raise SyscallError(-got)
        if msr in msq.q_receivers:
            msq.q_receivers.remove(msr)


def _deliver(task: Task, msg: MsgMsg, bufsz: int) -> tuple[int, bytes]:
    data = msg.data if bufsz >= msg.m_ts else msg.data[:bufsz]
    task.kernel.security.msg_msg_free_security(msg)
    return msg.m_type, data


# -- msgctl -------------------------------------------------------------------------------------
def _expunge_all(msq: MsgQueue, res: int) -> None:
    receivers, msq.q_receivers = msq.q_receivers, []
    for msr in receivers:
        msr.r_msg = res
        if not msr.event.triggered:
            msr.event.succeed()


def freeque(task: Task, ns: IpcNamespace, msq: MsgQueue) -> None:
    """``freeque``: EIDRM to every sleeper, drop the id, the messages and the labels."""
    sec = task.kernel.security
    _expunge_all(msq, -c.EIDRM)
    ns.msg_ids.rmid(msq.q_perm)
    assert msq.q_senders is not None
    msq.q_senders.wake_all()
    for msg in msq.q_messages:
        ns.msg_hdrs -= 1
        sec.msg_msg_free_security(msg)
    ns.msg_bytes -= msq.q_cbytes
    msq.q_messages = []
    msq.q_qnum = msq.q_cbytes = 0
    sec.msg_queue_free_security(msq.q_perm)


def _stat(msq: MsgQueue) -> MsqidDs:
    return MsqidDs(perm_snapshot(msq.q_perm), msq.q_stime, msq.q_rtime, msq.q_ctime,
                   msq.q_cbytes, msq.q_qnum, msq.q_qbytes, msq.q_lspid, msq.q_lrpid)


def do_msgctl(task: Task, msqid: int, cmd: int, buf: Any) -> Any:
    """msgctl(2).  IPC_STAT -> MsqidDs; MSG_STAT(_ANY) -> (id, MsqidDs);
    IPC_INFO/MSG_INFO -> (max index, MsgInfo); IPC_SET/IPC_RMID -> 0."""
    k = task.kernel
    ns = ipc_ns(k)
    sec = k.security
    if not isinstance(msqid, int) or not isinstance(cmd, int) or msqid < 0 or cmd < 0:
        raise SyscallError(c.EINVAL)
    ids = ns.msg_ids
    if cmd in (c.IPC_INFO, c.MSG_INFO):
        check(sec.msg_queue_msgctl(None, cmd))
        if cmd == c.MSG_INFO:
            info = MsgInfo(ids.in_use, ns.msg_hdrs, ns.msg_ctlmax, ns.msg_ctlmnb,
                           ns.msg_ctlmni, MSGSSZ, ns.msg_bytes, MSGSEG)
        else:
            info = MsgInfo(MSGPOOL, MSGMAP, ns.msg_ctlmax, ns.msg_ctlmnb, ns.msg_ctlmni,
                           MSGSSZ, MSGTQL, MSGSEG)
        return max(ids.max_idx(), 0), info
    if cmd in (c.IPC_STAT, c.MSG_STAT, c.MSG_STAT_ANY):
        perm = ids.obtain_check(msqid) if cmd == c.IPC_STAT else ids.obtain_idx(msqid)
        if cmd != c.MSG_STAT_ANY and ipcperms(task, perm, S_IRUGO):
            raise SyscallError(c.EACCES)
        check(sec.msg_queue_msgctl(perm, cmd))
        if perm.deleted:
            raise SyscallError(c.EIDRM)
        ds = _stat(_queue(perm))
        return ds if cmd == c.IPC_STAT else (perm.id, ds)
    if cmd in (c.IPC_SET, c.IPC_RMID):
        if cmd == c.IPC_SET:
            if buf is None:
                raise SyscallError(c.EFAULT)
        perm = ipcctl_obtain_check(task, ids, msqid)
        check(sec.msg_queue_msgctl(perm, cmd))
        msq = _queue(perm)
        if cmd == c.IPC_RMID:
            freeque(task, ns, msq)
            return 0
        uid, gid, mode, more = set_args(buf, perm, "msg_perm", ("msg_qbytes",))
        qbytes = more["msg_qbytes"]
        if qbytes is None:
            qbytes = msq.q_qbytes
        if not isinstance(qbytes, int) or qbytes < 0:
            raise SyscallError(c.EINVAL)
        if qbytes > ns.msg_ctlmnb and not k.capable(task, CAP_SYS_RESOURCE):
            raise SyscallError(c.EPERM)
        ipc_update_perm(perm, uid, gid, mode)
        msq.q_qbytes = qbytes
        msq.q_ctime = k.env.now
        # sleeping receivers may be excluded by stricter permissions, senders may now fit
        _expunge_all(msq, -c.EAGAIN)
        assert msq.q_senders is not None
        msq.q_senders.wake_all()
        return 0
    raise SyscallError(c.EINVAL)
