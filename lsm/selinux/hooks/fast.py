"""Fast paths of the hooks every message or read/write goes through.

Linux checks a pipe on every read and write, a socket on every send and receive, and a System
V queue five to seven times per message; each check is an AVC lookup.  In Python the lookup is
cheap but the glue around it (finding the SIDs, the class and the permission bits) is not, so
the full hook methods (:mod:`.file`, :mod:`.net`, :mod:`.ipc`) remember a granted check on the
object's blob: the AVC node that granted it.  These closures, installed in the hook table at
boot, answer a repeated check from that memo with one dict lookup and a test that the node is
still ``live``, and otherwise call the full method.

Why a memo hit is exactly an AVC hit:

* the memo is keyed by everything the full method derives the query from (subject SID,
  operation; the object's SID and class are fixed or compared);
* only a live node whose hit for the check's bits takes the AVC's fast path is remembered; a
  node's decision never changes in place, and a node leaving the cache (reclaim, replacement
  by a permissive grant, flush on policy load, boolean commit or ``setenforce 1``) stops
  being ``live``, so the memo then misses;
* a hit bumps ``lookups`` as ``avc_has_perm`` does, once per check it stands for, and like an
  AVC hit it writes no audit record; a policy-coverage observer turns every node's fast path
  off (:meth:`lsm.selinux.avc.AccessVectorCache.set_fast_path`).

Closures rather than methods: the slot, AVC and current-task holder are cell variables, which
the interpreter reads faster than instance attributes on these hottest of paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsm.selinux.hooks.ipc import MSG_UNLABELED
from lsm.selinux.hooks.net import SOCK_MEMO_RECV, SOCK_MEMO_SEND

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux


def fast_hooks(sel: SELinux) -> dict[str, Callable[..., Any]]:
    """The memo fast paths of ``sel``, by hook name (built once the module has its slot)."""
    slot = sel.slot
    security = sel.security
    avc = sel.avc
    full_file_permission = sel.file_permission
    sock_rw = sel._sock_rw
    full_ipc_permission = sel.ipc_permission
    full_msgsnd = sel.msg_queue_msgsnd
    full_msgrcv = sel.msg_queue_msgrcv

    # Memos are read with [] (a hit costs no method call); a KeyError is the rare first check.

    def file_permission(file: Any, mask: int) -> int:
        fsec = file.security[slot]
        try:
            node = fsec.memo[mask]
        except KeyError:
            return full_file_permission(file, mask)
        if node.live and fsec.sid == security.current.cred.security[slot].sid:
            avc.lookups += 1
            return 0
        return full_file_permission(file, mask)

    def sock_memo_hook(op: int) -> Callable[..., int]:
        """socket_sendmsg (op SOCK_MEMO_SEND) or socket_recvmsg (SOCK_MEMO_RECV)."""

        def hook(sock: Any, msg: Any, size: int, flags: int = 0) -> int:
            sk = sock.sk
            sksec = sk.security[slot]
            try:
                node = sksec.memo[op][security.current.cred.security[slot].sid]
            except KeyError:
                return sock_rw(sk, op)
            if node.live and node.tsid == sksec.sid:
                avc.lookups += 1
                return 0
            return sock_rw(sk, op)

        return hook

    def ipc_permission(ipcp: Any, flag: int) -> int:
        try:
            node = ipcp.security[slot].memo_perm[flag][security.current.cred.security[slot].sid]
        except KeyError:
            return full_ipc_permission(ipcp, flag)
        if node.live:
            avc.lookups += 1
            return 0
        return full_ipc_permission(ipcp, flag)

    def msg_queue_msgsnd(perm: Any, msg: Any, msqflg: int) -> int:
        try:
            msid, n1, n2, n3 = perm.security[slot].memo_snd[
                security.current.cred.security[slot].sid]
        except KeyError:
            return full_msgsnd(perm, msg, msqflg)
        blob = msg.security
        # a new message is unlabelled: the memo holds the label the transition gives it (a
        # retried send's message already carries it)
        if ((blob[slot] == MSG_UNLABELED or blob[slot] == msid)
                and n1.live and n2.live and n3.live):
            blob[slot] = msid
            avc.lookups += 3
            return 0
        return full_msgsnd(perm, msg, msqflg)

    def msg_queue_msgrcv(perm: Any, msg: Any, target: Any, type: int, mode: int) -> int:
        try:
            msid, n1, n2 = perm.security[slot].memo_rcv[target.cred.security[slot].sid]
        except KeyError:
            return full_msgrcv(perm, msg, target, type, mode)
        if msg.security[slot] == msid and n1.live and n2.live:
            avc.lookups += 2
            return 0
        return full_msgrcv(perm, msg, target, type, mode)

    return {
        "file_permission": file_permission,
        "socket_sendmsg": sock_memo_hook(SOCK_MEMO_SEND),
        "socket_recvmsg": sock_memo_hook(SOCK_MEMO_RECV),
        "ipc_permission": ipc_permission,
        "msg_queue_msgsnd": msg_queue_msgsnd,
        "msg_queue_msgrcv": msg_queue_msgrcv,
    }
