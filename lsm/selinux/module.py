"""The SELinux security module: state, helpers shared by the hook glue, runtime controls.

``SELinux(policy, enforcing=True)`` is stacked into a kernel with ``Kernel(lsms=[...])``.  It
owns the security server of the loaded policy, the AVC and the audit log, and translates
kernel objects into ``(ssid, tsid, tclass, perms)`` queries in the hook mixins of
:mod:`lsm.selinux.hooks`.  Permission names are mapped to the policy's bits once per policy
load (Linux's ``selinux_set_mapping``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsm.module import LsmModule
from lsm.selinux import classmap
from lsm.selinux.audit import AuditContext, AuditLog, AuditTaskInfo
from lsm.selinux.audit_aux import aux_records
from lsm.selinux.audit_fields import AuditData
from lsm.selinux.avc import AccessVectorCache, ClassInfo
from lsm.selinux.blobs import (
    FileSecurity,
    InodeSecurity,
    IpcSecurity,
    SockSecurity,
    SuperblockSecurity,
    TaskAudit,
    TaskSecurity,
)
from lsm.selinux.hooks.fast import fast_hooks
from lsm.selinux.hooks.file import FileHooks
from lsm.selinux.hooks.ipc import IpcHooks
from lsm.selinux.hooks.net import NetHooks
from lsm.selinux.hooks.task import TaskHooks
from lsm.selinux.policy.loader import Policy, load_policy
from lsm.selinux.selinuxfs import SelinuxfsMixin
from lsm.selinux.ss.policydb import HANDLE_UNKNOWN_ALLOW
from lsm.selinux.ss.services import SecurityServer

if TYPE_CHECKING:
    pass

EACCES = 13


class SELinux(TaskHooks, FileHooks, IpcHooks, NetHooks, SelinuxfsMixin, LsmModule):
    """The SELinux-like module.  ``mode``: "enforcing", "permissive" or "disabled"."""

    name = "selinux"
    exclusive = True
    blobs = {  # noqa: RUF012 - the framework reads it once at boot
        "cred": TaskSecurity,
        "task": TaskAudit,
        "inode": InodeSecurity,
        "file": FileSecurity,
        "superblock": SuperblockSecurity,
        "ipc": IpcSecurity,
        # the message's SID itself (msg_security_struct holds nothing else); 0 until its first
        # msgsnd labels it (see hooks.ipc)
        "msg_msg": int,
        "sock": SockSecurity,
    }

    def __init__(self, policy: Policy | str | Path | Iterable[str | Path],
                 enforcing: bool = True, mode: str | None = None) -> None:
        if isinstance(policy, Policy):
            self.policy = policy
        elif isinstance(policy, str | Path):
            self.policy = load_policy(policy)
        else:
            self.policy = load_policy(*policy)
        if mode is not None:
            if mode not in ("enforcing", "permissive", "disabled"):
                raise ValueError(f"SELinux mode must be enforcing, permissive or disabled: {mode}")
            enforcing = mode == "enforcing"
        self.disabled = mode == "disabled"
        self.kernel: Any = None
        self._coverage: Callable[[int, int, int, int, int], None] | None = None
        self.audit = AuditLog()
        self.audit.refresh = self._refresh_audit
        self._no_task_ctx = AuditContext()
        # each kernel gets its own server: booleans and seqno are per running system
        self.server = SecurityServer(self.policy.policydb, audit=self._selinux_err)
        self.avc = AccessVectorCache(self.server, self.audit, enforcing=enforcing)
        self.avc_nodes = self.avc.nodes  # for the inlined hit test of the hottest hooks
        self._set_mapping()

    # -- boot --------------------------------------------------------------------------------
    def hook_table(self) -> dict[str, Any]:
        if self.disabled:
            return {}
        table = super().hook_table()
        table.update(fast_hooks(self))
        return table

    def kernel_booted(self, kernel: Any) -> None:
        """Called by the kernel once booted: audit clock, audit sink."""
        self.kernel = kernel
        env = kernel.env
        self.audit.clock = lambda: env.now
        if not self.disabled:
            kernel.register_audit(self)
            self.kernel_booted_files(kernel)
            self.mount_selinuxfs(kernel)

    def _set_mapping(self) -> None:
        """Map class and permission names onto the loaded policy (``selinux_set_mapping``)."""
        srv = self.server
        p = self.policy.policydb
        self.allow_unknown = p.handle_unknown == HANDLE_UNKNOWN_ALLOW
        self._classes: dict[str, int] = {}
        self._bits: dict[tuple[str, tuple[str, ...]], tuple[int, int]] = {}
        infos: dict[int, ClassInfo] = {}
        for cls in p.classes:
            name = cls.name
            self._classes[name] = cls.value
            kperms = classmap.SECCLASS_MAP.get(name) or tuple(
                cls.perm_names[b] for b in sorted(cls.perm_names))
            policy_bits = {n: 1 << b for b, n in cls.perm_names.items()}
            infos[cls.value] = ClassInfo.from_policy(name, kperms, policy_bits)
        self.avc.set_classmap(infos)
        self.kernel_sid = srv.initial_sid("kernel")
        self.unlabeled_sid = srv.initial_sid("unlabeled")
        self.file_sid = srv.initial_sid("file")
        try:
            self.devnull_sid = srv.initial_sid("devnull")
        except Exception:
            self.devnull_sid = self.unlabeled_sid
        self._mask_cache: dict[tuple[int, int], int] = {}
        self.fd_use = self.av("fd", "use")
        # the permissions checked on every message: resolved once per policy load
        self.p_msgq_write = self.av("msgq", "write")
        self.p_msg_send = self.av("msg", "send")
        self.p_msgq_enqueue = self.av("msgq", "enqueue")
        self.p_msgq_read = self.av("msgq", "read")
        self.p_msg_receive = self.av("msg", "receive")
        self.p_msg_class = self.cls("msg")
        self._ipcperm: dict[tuple[str, int], tuple[int, int]] = {}
        self._tcache: dict[tuple[int, int, int, str | None], int] = {}

    # -- name mapping ------------------------------------------------------------------------
    def cls(self, name: str) -> int:
        """Policy class value for a class name; 0 if the policy lacks it."""
        return self._classes.get(name, 0)

    def av(self, cname: str, *perms: str) -> tuple[int, int]:
        """``(tclass, bits)`` for permission names of a class, cached per policy load."""
        key = (cname, perms)
        hit = self._bits.get(key)
        if hit is not None:
            return hit
        tclass = self._classes.get(cname, 0)
        bits = 0
        if tclass:
            cls = self.policy.policydb.class_by_value(tclass)
            for perm in perms:
                v = cls.all_perms.get(perm)
                if v:
                    bits |= 1 << (v - 1)
        self._bits[key] = (tclass, bits)
        return tclass, bits

    # -- the check ---------------------------------------------------------------------------
    @property
    def coverage(self) -> Callable[[int, int, int, int, int], None] | None:
        """Called as ``(ssid, tsid, tclass, requested_bits, rc)`` after every check when set
        (policy-coverage tools record which permissions a run exercised).  While set, every
        check takes the AVC's slow path so none escapes it."""
        return self._coverage

    @coverage.setter
    def coverage(self, fn: Callable[[int, int, int, int, int], None] | None) -> None:
        self._coverage = fn
        self.avc.set_fast_path(fn is None)

    def has_perm(self, ssid: int, tsid: int, tclass: int, bits: int,
                 ad: AuditData | Any = None) -> int:
        """``avc_has_perm``, with its hit test inlined (the statistics are kept exactly)."""
        node = self.avc_nodes.get((ssid, tsid, tclass))
        if node is not None and bits and not bits & node.slow_bits:
            self.avc.lookups += 1
            return 0
        if not tclass or not bits:
            # a class or permission this policy does not define: handle_unknown decides
            return 0 if self.allow_unknown or not tclass else -EACCES
        rc = self.avc.has_perm(ssid, tsid, tclass, bits, ad)
        if self._coverage is not None:
            self._coverage(ssid, tsid, tclass, bits, rc)
        return rc

    def memo_node(self, ssid: int, tsid: int, tclass: int, bits: int) -> Any:
        """The AVC node a per-object memo may keep after a granted check, or None.

        The hottest hooks remember, on the object's blob, the node that granted a check; the
        next identical check then only tests that the node is still ``live``.  Only a node
        whose hit for these bits takes the fast path qualifies, so a memo hit is exactly an
        AVC hit (counted in ``lookups``, no audit) and anything else falls back to the full
        check.
        """
        node = self.avc_nodes.get((ssid, tsid, tclass))
        if node is None or not node.live or not bits or bits & node.slow_bits:
            return None
        return node

    def check(self, ssid: int, tsid: int, cname: str, *perms: str, ad: Any = None) -> int:
        tclass, bits = self.av(cname, *perms)
        return self.has_perm(ssid, tsid, tclass, bits, ad)

    def transition_sid(self, ssid: int, tsid: int, tclass: int, name: str | None = None) -> int:
        """``security_transition_sid``, memoised until the policy state changes.

        Linux recomputes it on every call; the result is a pure function of the policy and
        its booleans, so the memo is dropped on policy load and boolean commits.  Messages
        are labelled on every msgsnd, which makes this the hot part of SysV messaging.
        """
        key = (ssid, tsid, tclass, name)
        sid = self._tcache.get(key)
        if sid is None:
            sid = self._tcache[key] = self.server.transition_sid(ssid, tsid, tclass, name)
        return sid

    def current_sid(self) -> int:
        cur = self.security.current
        if cur is None:
            return self.kernel_sid
        return cur.cred.security[self.slot].sid

    def cred_sid(self, cred: Any) -> int:
        return cred.security[self.slot].sid

    def task_sid(self, task: Any) -> int:
        return task.cred.security[self.slot].sid

    def tsec(self, cred: Any) -> TaskSecurity:
        return cred.security[self.slot]

    def context(self, sid: int) -> str:
        return self.server.sid_to_context(sid)

    # -- audit sink (kernel syscall entry/exit) ------------------------------------------------
    def _refresh_audit(self) -> None:
        """Point the audit log at the running task's context, preparing it on first use in
        this syscall (what Linux's ``audit_syscall_entry`` does eagerly on every syscall)."""
        task = self.security.current
        if task is None:
            self.audit.current = self._no_task_ctx
            return
        ctx = task.security[self.slot].ctx
        if not task.audit_pending:  # the first record of this syscall, or one outside any
            ctx.in_syscall = task.in_syscall is not None
            ctx.serial = 0
            ctx.dirty = False
            ctx.entry_time = task.sc_entry
            ctx.pid = task.process.pid
            ctx.comm = task.comm
            # the kernel calls syscall_exit, and clears the flag, at this syscall's end
            task.audit_pending = ctx.in_syscall
        self.audit.current = ctx

    def syscall_exit(self, task: Any, name: str, args: tuple[Any, ...], result: Any) -> None:
        ctx = task.security[self.slot].ctx
        if not ctx.dirty:
            ctx.in_syscall = False
            return
        rc = result if isinstance(result, int) and not isinstance(result, bool) else 0
        self.audit.end_syscall(name, rc, lambda: _int_args(args),
                               lambda: self._task_info(task), ctx=ctx,
                               aux=lambda: aux_records(self, task, name, args, ctx.entry_time))

    def _task_info(self, task: Any) -> AuditTaskInfo:
        cred = task.cred
        parent = task.process.parent
        return AuditTaskInfo(
            pid=task.pid, ppid=parent.pid if parent is not None else 0, comm=task.comm,
            exe=task.process.exe or None, subj=self.context(self.cred_sid(cred)),
            uid=cred.uid, gid=cred.gid, euid=cred.euid, suid=cred.suid, fsuid=cred.fsuid,
            egid=cred.egid, sgid=cred.sgid, fsgid=cred.fsgid)

    def _selinux_err(self, body: str) -> None:
        self.audit.log_selinux_err(body)

    # -- public views ------------------------------------------------------------------------
    def audit_log(self) -> list[str]:
        return list(self.audit.lines)

    def avc_stats(self) -> dict[str, int]:
        return self.avc.stats()

    @property
    def enforcing(self) -> bool:
        return self.avc.enforcing

    # -- runtime controls (selinuxfs writes) -----------------------------------------------------
    def _admin_context(self) -> None:
        """Records of an administrator's action are not part of any task's system call:
        no task is running while it happens."""
        self.security.current = None

    def setenforce(self, value: bool | int) -> bool:
        """``echo 0|1 > /sys/fs/selinux/enforce``: MAC_STATUS record, AVC flush on enforce."""
        self._admin_context()
        return self.avc.setenforce(value)

    def getenforce(self) -> str:
        return "Enforcing" if self.avc.enforcing else "Permissive"

    def setsebool(self, settings: dict[str, bool] | str, value: bool | None = None) -> None:
        """Change and commit booleans: one MAC_CONFIG_CHANGE each, re-evaluated rules, AVC
        reset with the new seqno."""
        if isinstance(settings, str):
            settings = {settings: bool(value)}
        self._admin_context()
        changes = self.server.set_bools(settings)
        self._tcache.clear()
        self.avc.bools_committed(changes, self.server.seqno)

    def getsebool(self, name: str) -> bool:
        return self.server.get_bool(name)

    def load_policy(self, policy: Policy | str | Path) -> None:
        """Replace the policy (``security_load_policy``): SIDs keep their numbers and are
        converted by name, booleans keep their values by name, seqno + 1, the AVC is reset
        and a MAC_POLICY_LOAD record written.

        Deliberate limit: object blobs hold *policy* class values, so a new policy must number
        the classes the same way (any policy built on the shipped base does); otherwise the
        load is refused with a PolicyError instead of silently mislabelling classes.
        """
        from lsm.selinux.policy.errors import PolicyError

        new = policy if isinstance(policy, Policy) else load_policy(policy)
        old_classes = dict(self._classes)
        for cls in new.policydb.classes:
            if cls.name in old_classes and old_classes[cls.name] != cls.value:
                raise PolicyError(
                    f"the new policy numbers class {cls.name!r} {cls.value}, the running one "
                    f"{old_classes[cls.name]}: kernel-sim cannot renumber live objects")
        self._admin_context()
        self.server.load_policy(new.policydb)
        self.policy = new
        self._set_mapping()
        self.avc.policy_loaded(self.server.seqno)

def _int_args(args: tuple[Any, ...]) -> list[int]:
    out = []
    for a in args[:4]:
        out.append(a if isinstance(a, int) and not isinstance(a, bool) else 0)
    return out
