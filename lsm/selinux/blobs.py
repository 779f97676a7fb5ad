"""SELinux's parts of the kernel objects' security blobs (``security/selinux/include/objsec.h``).

Created by the LSM framework from the factories :class:`~lsm.selinux.module.SELinux` declares;
SIDs are 0 until labelled.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

from attrs import define, field

from lsm.selinux.audit import AuditContext


@define(slots=True)
class TaskSecurity:
    """``task_security_struct`` (in the cred blob): current, previous and pending SIDs."""

    osid: int = 0
    sid: int = 0
    exec_sid: int = 0
    create_sid: int = 0
    keycreate_sid: int = 0
    sockcreate_sid: int = 0

    def copy(self) -> TaskSecurity:
        return TaskSecurity(self.osid, self.sid, self.exec_sid, self.create_sid,
                            self.keycreate_sid, self.sockcreate_sid)


@define(slots=True)
class TaskAudit:
    """Per-task audit context (Linux keeps it in ``task_struct``, not in an LSM blob)."""

    ctx: AuditContext = field(factory=AuditContext)


@define(slots=True)
class InodeSecurity:
    sid: int = 0
    sclass: int = 0  # policy class value (file, dir, fifo_file, sock_file, ...)
    initialized: bool = False
    #: blobs of files that remembered a check on this inode (cleared if it is relabelled)
    memo_files: WeakSet[Any] | None = None


@define(slots=True, eq=False)  # identity: inode blobs keep weak references to file blobs
class FileSecurity:
    sid: int = 0  # SID of the opener
    fown_sid: int = 0
    isid: int = 0  # inode SID at open (0 for pseudo files: no revalidation shortcut)
    pseqno: int = -1  # policy seqno at open
    ad: Any = None  # audit data (path/dev/ino), built on first use and reused
    #: MAY_* mask -> AVC node of a read/write check granted to the opener
    memo: dict[int, Any] = field(factory=dict)


@define(slots=True)
class SuperblockSecurity:
    sid: int = 0
    def_sid: int = 0
    behavior: int = 0
    initialized: bool = False


@define(slots=True)
class IpcSecurity:
    sclass: int = 0
    sid: int = 0
    ad: Any = None  # IpcAudit(key), built once
    # granted checks by subject SID (see hooks.fast; memos are keyed by small ints only: an
    # int past 2**30 would be allocated on every lookup):
    #: ipcperms flag -> {SID -> AVC node}
    memo_perm: dict[int, dict[int, Any]] = field(factory=dict)
    #: sender SID -> (message label, msgq:write, msg:send, msgq:enqueue nodes)
    memo_snd: dict[int, tuple[Any, ...]] = field(factory=dict)
    #: receiver SID -> (message label, msgq:read, msg:receive nodes)
    memo_rcv: dict[int, tuple[Any, ...]] = field(factory=dict)


@define(slots=True)
class SockSecurity:
    sid: int = 0
    peer_sid: int = 0
    sclass: int = 0
    ad: Any = None  # audit data for per-message checks, built once (addresses are fixed)
    #: [receive, send] -> {SID -> AVC node} of granted per-message checks
    memo: tuple[dict[int, Any], dict[int, Any]] = field(factory=lambda: ({}, {}))
