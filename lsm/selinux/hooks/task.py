"""Task, credential, exec, signal, ptrace, capability and procattr hooks.

Mirrors ``security/selinux/hooks.c``: ``selinux_cred_prepare``, ``selinux_task_alloc``,
``selinux_bprm_creds_for_exec`` (domain transitions), ``selinux_bprm_committing_creds``
(inherited fds the new domain may not use are replaced with the null device),
``selinux_task_kill``, ``selinux_ptrace_*``, ``cred_has_capability``, ``selinux_*procattr``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim.rlimit import LSM_PRLIMIT_READ, LSM_PRLIMIT_WRITE, set_rlimits
from lsm.selinux.audit_fields import CapAudit, PathAudit
from lsm.selinux.policy.errors import PolicyError

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

EPERM, EACCES, EINVAL = 1, 13, 22
SIGCHLD, SIGKILL, SIGSTOP = 17, 9, 19
PTRACE_MODE_READ = 0x01
CAP_OPT_NOAUDIT = 1 << 1


def signal_to_av(sig: int) -> str:
    if sig == 0:
        return "signull"
    if sig == SIGKILL:
        return "sigkill"
    if sig == SIGSTOP:
        return "sigstop"
    if sig == SIGCHLD:
        return "sigchld"
    return "signal"


class TaskHooks:
    # -- credentials -------------------------------------------------------------------------
    def cred_prepare(self: SELinux, new: Any, old: Any) -> int:
        new.security[self.slot] = old.security[self.slot].copy()
        return 0

    def task_init_context(self: SELinux, task: Any, context: str | None) -> int:
        tsec = task.cred.security[self.slot]
        if context is None:
            sid = self.server.initial_sid("init") if task.pid == 1 else self.kernel_sid
        else:
            try:
                sid = self.server.context_to_sid(context)
            except (PolicyError, ValueError):
                return -EINVAL
        tsec.sid = tsec.osid = sid
        return 0

    def task_alloc(self: SELinux, task: Any, clone_flags: int) -> int:
        sid = self.current_sid()
        return self.check(sid, sid, "process", "fork")

    def task_setnice(self: SELinux, p: Any, nice: int) -> int:
        return self.check(self.current_sid(), self.task_sid(p), "process", "setsched")

    # -- capability sets ---------------------------------------------------------------------
    def capget(self: SELinux, target: Any, effective: int, inheritable: int,
               permitted: int) -> int:
        return self.check(self.current_sid(), self.task_sid(target), "process", "getcap")

    def capset(self: SELinux, new: Any, old: Any, effective: int, inheritable: int,
               permitted: int) -> int:
        sid = self.cred_sid(old)
        return self.check(sid, sid, "process", "setcap")

    # -- resource limits -----------------------------------------------------------------------
    def task_setrlimit(self: SELinux, p: Any, resource: int, new_rlim: Any) -> int:
        """Changing a hard limit needs ``process:setrlimit`` (soft ones are the owner's)."""
        if p.process.rlimits[resource][1] == new_rlim[1]:
            return 0
        return self.check(self.current_sid(), self.task_sid(p), "process", "setrlimit")

    def task_prlimit(self: SELinux, cred: Any, tcred: Any, flags: int) -> int:
        """Another process's limits: ``process { getrlimit setrlimit }`` as read/written."""
        perms = [name for bit, name in ((LSM_PRLIMIT_READ, "getrlimit"),
                                        (LSM_PRLIMIT_WRITE, "setrlimit")) if flags & bit]
        if not perms:
            return 0
        return self.check(self.cred_sid(cred), self.cred_sid(tcred), "process", *perms)

    # -- process groups and sessions ----------------------------------------------------------
    def task_setpgid(self: SELinux, p: Any, pgid: int) -> int:
        return self.check(self.current_sid(), self.task_sid(p), "process", "setpgid")

    def task_getpgid(self: SELinux, p: Any) -> int:
        return self.check(self.current_sid(), self.task_sid(p), "process", "getpgid")

    def task_getsid(self: SELinux, p: Any) -> int:
        return self.check(self.current_sid(), self.task_sid(p), "process", "getsession")

    # -- signals and ptrace ------------------------------------------------------------------
    def task_kill(self: SELinux, p: Any, info: Any, sig: int, cred: Any) -> int:
        ssid = self.cred_sid(cred) if cred is not None else self.current_sid()
        return self.check(ssid, self.task_sid(p), "process", signal_to_av(sig))

    def ptrace_access_check(self: SELinux, child: Any, mode: int) -> int:
        sid = self.current_sid()
        csid = self.task_sid(child)
        if mode & PTRACE_MODE_READ:
            return self.check(sid, csid, "file", "read")
        return self.check(sid, csid, "process", "ptrace")

    def ptrace_traceme(self: SELinux, parent: Any) -> int:
        return self.check(self.task_sid(parent), self.current_sid(), "process", "ptrace")

    # -- capabilities --------------------------------------------------------------------------
    def capable(self: SELinux, cred: Any, ns: Any, cap: int, opts: int) -> int:
        from kernel_sim.caps import CAP_NAMES

        sid = self.cred_sid(cred)
        cname = "capability" if cap < 32 else "capability2"
        tclass, bits = self.av(cname, CAP_NAMES.get(cap, str(cap)))
        if opts & CAP_OPT_NOAUDIT:
            if not tclass or not bits:
                return 0
            rc, _ = self.avc.has_perm_noaudit(sid, sid, tclass, bits)
            return rc
        return self.has_perm(sid, sid, tclass, bits, CapAudit(cap))

    # -- exec ----------------------------------------------------------------------------------
    def bprm_creds_for_exec(self: SELinux, bprm: Any) -> int:
        old = bprm.task.cred.security[self.slot]
        new = bprm.cred.security[self.slot]
        inode = bprm.file.inode
        isid = self.inode_sid(inode)
        new.sid = old.sid
        new.osid = old.sid
        new.create_sid = new.keycreate_sid = new.sockcreate_sid = 0
        if old.exec_sid:
            new.sid = old.exec_sid
            new.exec_sid = 0
        else:
            try:
                new.sid = self.server.transition_sid(old.sid, isid, self.cls("process"))
            except (PolicyError, ValueError):
                return -EACCES if self.avc.enforcing else 0
        ad = PathAudit(inode.path(), inode.sb.dev, inode.ino)
        if new.sid == old.sid:
            return self.check(old.sid, isid, "file", "execute_no_trans", ad=ad)
        rc = self.check(old.sid, new.sid, "process", "transition", ad=ad)
        if rc:
            return rc
        rc = self.check(new.sid, isid, "file", "entrypoint", ad=ad)
        if rc:
            return rc
        tracer = bprm.task.process.ptracer
        if tracer is not None:
            if self.check(self.task_sid(tracer), new.sid, "process", "ptrace"):
                return -EPERM
        if len(bprm.task.process.threads) > 1:
            if self.check(old.sid, new.sid, "process", "share"):
                return -EPERM
        if self.check(old.sid, new.sid, "process", "noatsecure"):
            bprm.secureexec = True
        return 0

    def bprm_committing_creds(self: SELinux, bprm: Any) -> None:
        """The SID changes: inherited fds the new domain may not use become /dev/null, and
        without ``rlimitinh`` the soft limits drop to init's (capped by the hard ones)."""
        new = bprm.cred.security[self.slot]
        if new.sid == new.osid:
            return
        task = bprm.task
        files = task.process.files
        for fd in sorted(files.fds):
            file = files.fds[fd]
            if self.file_has_perm_sid(new.sid, file, self.file_to_av(file)):
                files.install(fd, self.null_file(task, new.sid), fd in files.cloexec)
        if self.check(new.osid, new.sid, "process", "rlimitinh"):
            proc = task.process
            init_limits = self.kernel.init.rlimits
            for resource, (_soft, hard) in enumerate(proc.rlimits):
                set_rlimits(proc, resource, min(hard, init_limits[resource][0]), hard)

    def bprm_committed_creds(self: SELinux, bprm: Any) -> None:
        new = bprm.cred.security[self.slot]
        if new.sid == new.osid:
            return
        if self.check(new.osid, new.sid, "process", "siginh"):
            proc = bprm.task.process
            proc.shared_pending.clear()
            for t in proc.threads:
                t.pending.clear()
                t.blocked.clear()
            proc.sighand.clear()

    def null_file(self: SELinux, task: Any, sid: int) -> Any:
        """An O_RDWR open of the SELinux null device (``selinux_null``), labelled devnull.

        Opened with the *new* credentials (``dentry_open(&selinux_null, O_RDWR, bprm->cred)``),
        so the file's SID is the new domain's and using it needs no ``fd:use``.
        """
        from kernel_sim import constants as c
        from kernel_sim.syscalls.fs import REGULAR_OPS

        k = self.kernel
        inode = getattr(self, "_null_inode", None)
        if inode is None:
            inode = k.new_inode(k.rootfs, c.S_IFCHR | 0o666, 0, 0)
            inode.name = "null"
            isec = inode.security[self.slot]
            isec.sid, isec.sclass, isec.initialized = self.devnull_sid, self.cls("chr_file"), True
            self._null_inode = inode
        file = k.alloc_file(task, inode, c.O_RDWR, REGULAR_OPS, "/sys/fs/selinux/null")
        fsec = file.security[self.slot]
        fsec.sid = fsec.fown_sid = sid
        return file

    # -- /proc/PID/attr --------------------------------------------------------------------------
    def getprocattr(self: SELinux, p: Any, name: str) -> Any:
        sid = self.current_sid()
        psid = self.task_sid(p)
        if p is not self.security.current:
            rc = self.check(sid, psid, "process", "getattr")
            if rc:
                return rc
        tsec = p.cred.security[self.slot]
        value = {"current": tsec.sid, "prev": tsec.osid, "exec": tsec.exec_sid,
                 "fscreate": tsec.create_sid, "sockcreate": tsec.sockcreate_sid,
                 "keycreate": tsec.keycreate_sid}.get(name)
        if value is None:
            return -EINVAL
        return self.context(value) if value else ""

    def setprocattr(self: SELinux, name: str, value: str | None) -> int:
        task = self.security.current
        sid = self.current_sid()
        perm = {"exec": "setexec", "fscreate": "setfscreate", "sockcreate": "setsockcreate",
                "keycreate": "setkeycreate", "current": "setcurrent"}.get(name)
        if perm is None:
            return -EINVAL
        rc = self.check(sid, sid, "process", perm)
        if rc:
            return rc
        newsid = 0
        if value:
            try:
                newsid = self.server.context_to_sid(value)
            except (PolicyError, ValueError):
                if name == "fscreate":
                    self.audit.log_invalid_user_context("fscreate", value)
                return -EINVAL
        new = self.kernel.prepare_creds(task)
        tsec = new.security[self.slot]
        if name == "exec":
            tsec.exec_sid = newsid
        elif name == "fscreate":
            tsec.create_sid = newsid
        elif name == "sockcreate":
            tsec.sockcreate_sid = newsid
        elif name == "keycreate":
            tsec.keycreate_sid = newsid
        else:
            if not newsid:
                return -EINVAL
            if len(task.process.threads) > 1 and not self.server.bounded_transition(sid, newsid):
                self.audit.log_bounded_transition(self.context(sid), self.context(newsid))
                return -EPERM
            rc = self.check(sid, newsid, "process", "dyntransition")
            if rc:
                return rc
            tracer = task.process.ptracer
            if tracer is not None and self.check(self.task_sid(tracer), newsid, "process",
                                                 "ptrace"):
                return -EPERM
            tsec.sid = newsid
        self.kernel.commit_creds(task, new)
        return 0
