"""System V IPC hooks (``selinux_msg_queue_*``, ``selinux_shm_*``, ``selinux_sem_*``).

Objects carry the creator's full SID (no type transition, role kept).  Messages are labelled
on their first send with ``transition(sender, queue, msg)`` (default: the queue's type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsm.selinux.audit_fields import IpcAudit
from lsm.selinux.policy.errors import PolicyError

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

S_IRUGO, S_IWUGO = 0o444, 0o222
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
SHM_RDONLY = 0o10000
_KIND_CLASS = {"msg": "msgq", "sem": "sem", "shm": "shm"}
#: a message's SID until its first msgsnd (Linux: SECINITSID_UNLABELED)
MSG_UNLABELED = 0


class IpcHooks:
    def _ipc(self: SELinux, perm: Any) -> Any:
        return perm.security[self.slot]

    def _ad(self: SELinux, perm: Any) -> IpcAudit:
        isec = perm.security[self.slot]
        if isec.ad is None:
            isec.ad = IpcAudit(perm.key)
        return isec.ad

    def _ipc_has_perm(self: SELinux, perm: Any, *names: str) -> int:
        isec = perm.security[self.slot]
        tclass, bits = self.av(_KIND_CLASS[perm.kind], *names)
        return self.has_perm(self.current_sid(), isec.sid, tclass, bits, self._ad(perm))

    def _ipc_alloc(self: SELinux, perm: Any) -> int:
        isec = perm.security[self.slot]
        cname = _KIND_CLASS[perm.kind]
        isec.sclass = self.cls(cname)
        isec.sid = self.current_sid()
        return self.check(isec.sid, isec.sid, cname, "create", ad=IpcAudit(perm.key))

    def _ipc_info(self: SELinux) -> int:
        return self.check(self.current_sid(), self.kernel_sid, "system", "ipc_info")

    def ipc_permission(self: SELinux, ipcp: Any, flag: int) -> int:
        """``selinux_ipc_permission``: read bits -> unix_read, write bits -> unix_write.

        Called by every ipcperms(), so twice per message: a granted check is remembered on
        the object per subject SID and access for :mod:`lsm.selinux.hooks.fast`."""
        isec = ipcp.security[self.slot]
        want = (S_IRUGO if flag & S_IRUGO else 0) | (S_IWUGO if flag & S_IWUGO else 0)
        if not want:
            return 0
        ikey = (ipcp.kind, want)
        av = self._ipcperm.get(ikey)
        if av is None:
            names = [n for bit, n in ((S_IRUGO, "unix_read"), (S_IWUGO, "unix_write"))
                     if want & bit]
            av = self._ipcperm[ikey] = self.av(_KIND_CLASS[ipcp.kind], *names)
        sid = self.current_sid()
        rc = self.has_perm(sid, isec.sid, *av, self._ad(ipcp))
        if not rc:
            node = self.memo_node(sid, isec.sid, *av)
            if node is not None:
                isec.memo_perm.setdefault(flag, {})[sid] = node
        return rc

    # -- message queues ----------------------------------------------------------------------------
    def msg_queue_alloc_security(self: SELinux, perm: Any) -> int:
        return self._ipc_alloc(perm)

    def msg_queue_associate(self: SELinux, perm: Any, msqflg: int) -> int:
        return self._ipc_has_perm(perm, "associate")

    def msg_queue_msgctl(self: SELinux, perm: Any, cmd: int) -> int:
        if cmd in (IPC_INFO, MSG_INFO):
            return self._ipc_info()
        names = {IPC_STAT: ("getattr", "associate"), MSG_STAT: ("getattr", "associate"),
                 MSG_STAT_ANY: ("getattr", "associate"), IPC_SET: ("setattr",),
                 IPC_RMID: ("destroy",)}.get(cmd)
        if names is None or perm is None:
            return 0
        return self._ipc_has_perm(perm, *names)

    # msg_msg_alloc_security: Linux sets the new message's SID to SECINITSID_UNLABELED for
    # msgsnd to replace.  Here a message's blob is its SID and is born 0, which stands for that
    # "not labelled yet" (nothing reads a message's SID before its first msgsnd labels it): no
    # object and no hook call per message.

    def msg_queue_msgsnd(self: SELinux, perm: Any, msg: Any, msqflg: int) -> int:
        """``selinux_msg_queue_msgsnd``: label the message on its first send
        (``transition(sender, queue, msg)``), then msgq:write, msg:send and msgq:enqueue (the
        message's SID on the queue).  Three checks on every message: once granted they are
        remembered on the queue per sender SID, with the label they gave the message, for
        :mod:`lsm.selinux.hooks.fast`."""
        sid = self.current_sid()
        isec = perm.security[self.slot]
        msid = msg.security[self.slot]
        labelled_now = msid == MSG_UNLABELED
        if labelled_now:
            try:
                msid = self.transition_sid(sid, isec.sid, self.p_msg_class)
            except (PolicyError, ValueError):
                return -13
            msg.security[self.slot] = msid
        ad = self._ad(perm)
        checks = ((sid, isec.sid, *self.p_msgq_write), (sid, msid, *self.p_msg_send),
                  (msid, isec.sid, *self.p_msgq_enqueue))
        for ssid, tsid, tclass, bits in checks:
            rc = self.has_perm(ssid, tsid, tclass, bits, ad)
            if rc:
                return rc
        if not labelled_now:  # a retried send: its label is not the memo's to reuse
            return 0
        memo: list[Any] = [msid]
        for ssid, tsid, tclass, bits in checks:
            node = self.memo_node(ssid, tsid, tclass, bits)
            if node is None:
                return 0
            memo.append(node)
        isec.memo_snd[sid] = tuple(memo)
        return 0

    def msg_queue_msgrcv(self: SELinux, perm: Any, msg: Any, target: Any, type: int,
                         mode: int) -> int:
        """``selinux_msg_queue_msgrcv``: the receiver needs msgq:read and msg:receive on
        the message's SID; remembered on the queue per receiver and message SID for
        :mod:`lsm.selinux.hooks.fast`."""
        slot = self.slot
        sid = target.cred.security[slot].sid
        isec = perm.security[slot]
        msid = msg.security[slot]
        ad = self._ad(perm)
        rc = self.has_perm(sid, isec.sid, *self.p_msgq_read, ad)
        if rc:
            return rc
        rc = self.has_perm(sid, msid, *self.p_msg_receive, ad)
        if rc:
            return rc
        n1 = self.memo_node(sid, isec.sid, *self.p_msgq_read)
        n2 = self.memo_node(sid, msid, *self.p_msg_receive)
        if n1 is not None and n2 is not None:
            isec.memo_rcv[sid] = (msid, n1, n2)
        return 0

    # -- shared memory ---------------------------------------------------------------------------
    def shm_alloc_security(self: SELinux, perm: Any) -> int:
        return self._ipc_alloc(perm)

    def shm_associate(self: SELinux, perm: Any, shmflg: int) -> int:
        return self._ipc_has_perm(perm, "associate")

    def shm_shmctl(self: SELinux, perm: Any, cmd: int) -> int:
        if cmd in (IPC_INFO, SHM_INFO):
            return self._ipc_info()
        names = {IPC_STAT: ("getattr", "associate"), SHM_STAT: ("getattr", "associate"),
                 SHM_STAT_ANY: ("getattr", "associate"), IPC_SET: ("setattr",),
                 SHM_LOCK: ("lock",), SHM_UNLOCK: ("lock",), IPC_RMID: ("destroy",)}.get(cmd)
        if names is None or perm is None:
            return 0
        return self._ipc_has_perm(perm, *names)

    def shm_shmat(self: SELinux, perm: Any, shmaddr: int, shmflg: int) -> int:
        if shmflg & SHM_RDONLY:
            return self._ipc_has_perm(perm, "read")
        return self._ipc_has_perm(perm, "read", "write")

    # -- semaphores --------------------------------------------------------------------------------
    def sem_alloc_security(self: SELinux, perm: Any) -> int:
        return self._ipc_alloc(perm)

    def sem_associate(self: SELinux, perm: Any, semflg: int) -> int:
        return self._ipc_has_perm(perm, "associate")

    def sem_semctl(self: SELinux, perm: Any, cmd: int) -> int:
        if cmd in (IPC_INFO, SEM_INFO):
            return self._ipc_info()
        names = {GETPID: ("getattr",), GETNCNT: ("getattr",), GETZCNT: ("getattr",),
                 GETVAL: ("read",), GETALL: ("read",), SETVAL: ("write",), SETALL: ("write",),
                 IPC_RMID: ("destroy",), IPC_SET: ("setattr",),
                 IPC_STAT: ("getattr", "associate"), SEM_STAT: ("getattr", "associate"),
                 SEM_STAT_ANY: ("getattr", "associate")}.get(cmd)
        if names is None or perm is None:
            return 0
        return self._ipc_has_perm(perm, *names)

    def sem_semop(self: SELinux, perm: Any, sops: Any, nsops: int, alter: bool) -> int:
        if alter:
            return self._ipc_has_perm(perm, "read", "write")
        return self._ipc_has_perm(perm, "read")
