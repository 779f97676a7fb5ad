"""commoncap: the capability module, always stacked first (Linux ``security/commoncap.c``).

Because it runs first, a task that lacks a capability is refused here with EPERM and later
modules (SELinux's ``capability`` class checks) are never asked: only tasks that hold the
capability generate MAC capability checks.
"""

from __future__ import annotations

from typing import Any

from kernel_sim import constants as c
from kernel_sim.caps import CAP_FULL_SET, CAP_SETPCAP, CAP_SETUID, CAP_SYS_PTRACE
from lsm.module import LsmModule

LSM_UNSAFE_PTRACE = 1  # bprm->unsafe bits (include/linux/security.h)


class Capability(LsmModule):
    name = "capability"

    def capable(self, cred: Any, ns: Any, cap: int, opts: int) -> int:
        return 0 if cred.cap_effective >> cap & 1 else -c.EPERM

    def _has_cap(self, cred: Any, cap: int) -> bool:
        return self.security.capable(cred, None, cap, 0) == 0

    def ptrace_access_check(self, child: Any, mode: int) -> int:
        """The tracee's permitted set must be a subset of the tracer's, or CAP_SYS_PTRACE."""
        cred = self.security.current.cred
        caller = cred.cap_effective if mode & c.PTRACE_MODE_FSCREDS else cred.cap_permitted
        if child.cred.cap_permitted & ~caller == 0:
            return 0
        if self._has_cap(cred, CAP_SYS_PTRACE):
            return 0
        return -c.EPERM

    def ptrace_traceme(self, parent: Any) -> int:
        child_cred = self.security.current.cred
        if child_cred.cap_permitted & ~parent.cred.cap_permitted == 0:
            return 0
        if self._has_cap(parent.cred, CAP_SYS_PTRACE):
            return 0
        return -c.EPERM

    def task_fix_setuid(self, new: Any, old: Any, flags: int) -> int:
        """cap_emulate_setxuid: leaving uid 0 everywhere drops the capabilities."""
        was_root = 0 in (old.uid, old.euid, old.suid)
        now_root = 0 in (new.uid, new.euid, new.suid)
        if was_root and not now_root:
            new.cap_permitted = new.cap_effective = 0
        if old.euid == 0 and new.euid != 0:
            new.cap_effective = 0
        if old.euid != 0 and new.euid == 0:
            new.cap_effective = new.cap_permitted
        return 0

    def bprm_creds_from_file(self, bprm: Any, file: Any) -> int:
        """cap_bprm_creds_from_file with legacy root semantics: an exec by (or setuid to) root
        gets every capability.  An exec under a tracer without CAP_SYS_PTRACE (or other unsafe
        sharing) gains nothing: set-id bits are ignored unless the caller holds CAP_SETUID."""
        new = bprm.cred
        old = bprm.task.cred
        is_setid = new.euid != old.uid or new.egid != old.gid
        effective = False
        if new.euid == 0 or new.uid == 0:
            new.cap_permitted = CAP_FULL_SET
            effective = new.euid == 0
        else:
            new.cap_permitted = 0
        gained = bool(new.cap_permitted & ~old.cap_permitted)
        if (is_setid or gained) and (bprm.unsafe & ~LSM_UNSAFE_PTRACE
                                     or not self._ptracer_capable(bprm.task)):
            if not self._has_cap(old, CAP_SETUID):
                new.euid, new.egid = new.uid, new.gid
            new.cap_permitted &= old.cap_permitted
        new.suid = new.fsuid = new.euid
        new.sgid = new.fsgid = new.egid
        new.cap_effective = new.cap_permitted if effective else 0
        if is_setid or (new.uid != 0 and effective):
            bprm.secureexec = True
        return 0

    def _ptracer_capable(self, task: Any) -> bool:
        """ptracer_capable: not traced, or traced by a holder of CAP_SYS_PTRACE."""
        tracer = task.process.ptracer
        return tracer is None or self._has_cap(tracer.cred, CAP_SYS_PTRACE)

    def capset(self, new: Any, old: Any, effective: int, inheritable: int,
               permitted: int) -> int:
        if permitted & ~old.cap_permitted or effective & ~permitted:
            return -c.EPERM
        if inheritable & ~(old.cap_inheritable | old.cap_permitted) and not (
            old.cap_effective >> CAP_SETPCAP & 1
        ):
            return -c.EPERM
        return 0
