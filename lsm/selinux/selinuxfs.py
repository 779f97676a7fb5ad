"""selinuxfs, mounted at /sys/fs/selinux: the administrator's interface, with its checks.

As on Linux, programs change SELinux's state by writing files, and each write is mediated
by a ``security`` class permission on the security server's SID (``security_t``):

* ``enforce`` (0644): read ``0``/``1``; writing needs ``security:setenforce``;
* ``booleans/NAME`` (0644): read ``"cur pending"``; writing sets the pending value and needs
  ``security:setbool``; ``commit_pending_bools`` (0200) commits them (``setbool`` again);
* ``load`` (0600): writing policy source or a binary policy needs ``security:load_policy``;
* ``avc/cache_stats``, ``avc/hash_stats`` (0444): the AVC's statistics;
* ``policyvers`` (0444).

DAC applies first (the files are owned by root), so an unprivileged user gets EACCES from
the mode bits before SELinux is asked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.vfs import File, FileOps

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

MOUNT = "/sys/fs/selinux"


class SelFileOps(FileOps):
    """One selinuxfs file: ``show()`` renders it, ``store(data)`` handles a write."""

    kind = "selinuxfs"

    def __init__(self, module: SELinux, name: str) -> None:
        self.module = module
        self.name = name

    def read(self, task: Any, file: File, n: int) -> Any:
        text = self.module.selinuxfs_show(self.name).encode()
        out = text[file.pos:file.pos + max(n, 0)]
        file.pos += len(out)
        return out
        yield

    def write(self, task: Any, file: File, data: bytes) -> Any:
        rc = self.module.selinuxfs_store(self.name, bytes(data))
        if rc < 0:
            raise SyscallError(-rc)
        return len(data)
        yield


class SelinuxfsMixin:
    def mount_selinuxfs(self: SELinux, kernel: Any) -> None:
        sb = kernel.new_sb("selinuxfs")
        kernel.mkdir("/sys", 0o555)
        kernel.mkdir("/sys/fs", 0o755)
        kernel.mkdir(MOUNT, 0o755, sb=sb)
        kernel.mkdir(MOUNT + "/booleans", 0o755)
        kernel.mkdir(MOUNT + "/avc", 0o555)
        self._pending_bools: dict[str, bool] = {}
        files = [("enforce", 0o644), ("commit_pending_bools", 0o200), ("load", 0o600),
                 ("policyvers", 0o444), ("avc/cache_stats", 0o444), ("avc/hash_stats", 0o444),
                 ("avc/cache_threshold", 0o644)]
        files += [(f"booleans/{b}", 0o644) for b in self.server.bool_names()]
        for name, mode in files:
            inode = kernel.install(f"{MOUNT}/{name}", b"", mode=mode)
            inode.fops = SelFileOps(self, name)

    def _security_check(self: SELinux, perm: str) -> int:
        sid = self.current_sid()
        return self.check(sid, self.server.initial_sid("security"), "security", perm)

    def selinuxfs_show(self: SELinux, name: str) -> str:
        if name == "enforce":
            return "1" if self.avc.enforcing else "0"
        if name == "policyvers":
            return str(self.policy.policydb.version)
        if name == "avc/cache_stats":
            return self.avc.cache_stats()
        if name == "avc/hash_stats":
            return self.avc.hash_stats()
        if name == "avc/cache_threshold":
            return f"{self.avc.cache_threshold}\n"
        if name.startswith("booleans/"):
            b = name.split("/", 1)[1]
            cur = int(self.server.get_bool(b))
            return f"{cur} {int(self._pending_bools.get(b, cur))}"
        return ""

    def selinuxfs_store(self: SELinux, name: str, data: bytes) -> int:
        text = data.decode("ascii", "replace").strip()
        if name == "enforce":
            if text not in ("0", "1"):
                return -c.EINVAL
            rc = self._security_check("setenforce")
            if rc:
                return rc
            self.avc.setenforce(int(text))
            return 0
        if name.startswith("booleans/"):
            if text not in ("0", "1"):
                return -c.EINVAL
            rc = self._security_check("setbool")
            if rc:
                return rc
            self._pending_bools[name.split("/", 1)[1]] = text == "1"
            return 0
        if name == "commit_pending_bools":
            rc = self._security_check("setbool")
            if rc:
                return rc
            pending, self._pending_bools = self._pending_bools, {}
            if pending:
                changes = self.server.set_bools(pending)
                self._tcache.clear()
                self.avc.bools_committed(changes, self.server.seqno)
            return 0
        if name == "avc/cache_threshold":
            rc = self._security_check("setsecparam")
            if rc:
                return rc
            try:
                self.avc.cache_threshold = int(text)
            except ValueError:
                return -c.EINVAL
            return 0
        if name == "load":
            rc = self._security_check("load_policy")
            if rc:
                return rc
            return self._load_from_bytes(data)
        return -c.EINVAL

    def _load_from_bytes(self: SELinux, data: bytes) -> int:
        from lsm.selinux.policy.errors import PolicyError

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "policy"
            path.write_bytes(data)
            try:
                self.load_policy(path)
            except (PolicyError, ValueError, OSError):
                return -c.EINVAL
        return 0
