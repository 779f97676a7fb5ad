"""Task credentials (``struct cred``): uids, gids, groups, capability sets and LSM blobs."""

from __future__ import annotations

from typing import Any

from attrs import define, field

from kernel_sim.caps import CAP_FULL_SET


@define(slots=True)
class Cred:
    """Credentials of a task.  Copied on fork and exec (Linux's prepare_creds/commit_creds)."""

    uid: int = 0
    gid: int = 0
    euid: int = 0
    egid: int = 0
    suid: int = 0
    sgid: int = 0
    fsuid: int = 0
    fsgid: int = 0
    groups: frozenset[int] = frozenset()
    cap_effective: int = 0
    cap_permitted: int = 0
    cap_inheritable: int = 0
    #: one slot per stacked LSM (``cred->security``)
    security: list[Any] = field(factory=list)

    @classmethod
    def for_user(cls, uid: int, gid: int, groups: frozenset[int] = frozenset()) -> Cred:
        """Credentials as a login would give them: root holds every capability."""
        caps = CAP_FULL_SET if uid == 0 else 0
        return cls(uid, gid, uid, gid, uid, gid, uid, gid, frozenset(groups), caps, caps, 0)

    def copy(self) -> Cred:
        """A copy with an empty security list (the LSMs fill it in ``cred_prepare``)."""
        return Cred(self.uid, self.gid, self.euid, self.egid, self.suid, self.sgid, self.fsuid,
                    self.fsgid, self.groups, self.cap_effective, self.cap_permitted,
                    self.cap_inheritable, [])

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups

    def in_egroup(self, gid: int) -> bool:
        return gid == self.egid or gid in self.groups
