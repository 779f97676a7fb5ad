"""Superblock, inode and file hooks: FIFOs, pipes, sock_files, regular files, directories.

Labels follow ipc-lsm-reference §2.1: xattr filesystems read ``security.selinux``; pipefs and
sockfs (``fs_use_task``) take the creating task's SID; tmpfs/mqueue (``fs_use_trans``) and
new files compute ``security_transition_sid(creator, parent, class, name)`` unless the task
set an fscreate context.  Files installed by a scenario without a label inherit their
directory's SID (as a restorecon with a matching parent rule would label them); Linux would
give such an unlabeled file the ``file`` initial SID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakSet

from lsm.selinux.audit_fields import DentryAudit, InodeAudit, IoctlAudit, PathAudit
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.ss.policydb import (
    SECURITY_FS_USE_GENFS,
    SECURITY_FS_USE_TASK,
    SECURITY_FS_USE_TRANS,
    SECURITY_FS_USE_XATTR,
)

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

S_IFMT = 0o170000
_MODE_CLASS = {0o140000: "sock_file", 0o120000: "lnk_file", 0o100000: "file",
               0o060000: "blk_file", 0o040000: "dir", 0o020000: "chr_file",
               0o010000: "fifo_file"}
MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND = 1, 2, 4, 8
FMODE_READ, FMODE_WRITE = 1, 2
O_APPEND = 0o2000
F_SETFL, F_GETFL, F_SETOWN, F_GETOWN = 4, 3, 8, 9
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_TYPE = 0x01, 0x0F
EOPNOTSUPP, EINVAL, EPERM, EACCES = 95, 22, 1, 13
FIONREAD, FIONBIO, FIONCLEX, FIOCLEX, FIOASYNC = 0x541B, 0x5421, 0x5450, 0x5451, 0x5452
#: commands checked as getattr / setattr rather than ioctl (FIBMAP, FIGETBSZ, FS_IOC_*)
_IOCTL_GETATTR = (FIONREAD, 1, 2, 0x80086601, 0x80087601)
_IOCTL_SETATTR = (0x40086602, 0x40087602)
CAP_FOWNER = 3
XATTR_NAME_SELINUX = "security.selinux"
#: labelling behaviours whose filesystems store labels (SBLABEL_MNT)
_SBLABEL_BEHAVIORS = (SECURITY_FS_USE_XATTR, SECURITY_FS_USE_TRANS, SECURITY_FS_USE_TASK)

#: labels a freshly booted tree gets (as restorecon with a tiny file_contexts would)
BOOT_LABELS = (("/", "root_t"), ("/etc", "etc_t"), ("/usr", "bin_t"), ("/usr/bin", "bin_t"),
               ("/usr/sbin", "bin_t"), ("/tmp", "tmp_t"), ("/home", "home_t"),
               ("/var", "var_t"), ("/var/run", "var_t"), ("/run", "var_t"),
               ("/dev", "device_t"))


class FileHooks:
    # -- helpers ------------------------------------------------------------------------------
    def inode_class(self: SELinux, mode: int) -> int:
        cname = _MODE_CLASS.get(mode & S_IFMT, "file")
        return self.cls(cname)

    def inode_sid(self: SELinux, inode: Any) -> int:
        isec = inode.security[self.slot]
        if not isec.initialized:
            self._inode_doinit(inode)
        return isec.sid

    def _sbsec(self: SELinux, sb: Any) -> Any:
        sbsec = sb.security[self.slot]
        if not sbsec.initialized:
            behavior, sid = self.server.fs_use(sb.fstype)
            sbsec.behavior, sbsec.sid, sbsec.def_sid = behavior, sid, self.file_sid
            sbsec.initialized = True
        return sbsec

    def _inode_doinit(self: SELinux, inode: Any, dentry: Any = None) -> None:
        """``inode_doinit_with_dentry``: label an inode on first use."""
        isec = inode.security[self.slot]
        isec.sclass = isec.sclass or self.inode_class(inode.mode)
        sbsec = self._sbsec(inode.sb)
        raw = inode.xattrs.get("security.selinux")
        sid = 0
        if raw is not None:
            try:
                sid = self.server.context_to_sid(raw.decode().rstrip("\0"))
            except (PolicyError, ValueError, UnicodeDecodeError):
                sid = self.unlabeled_sid  # an invalid label reads as unlabeled
        elif sbsec.behavior == SECURITY_FS_USE_TASK:
            sid = self.current_sid()
        elif inode.parent is not None and inode.parent.sb is inode.sb:
            sid = self.inode_sid(inode.parent)
        elif sbsec.behavior in (SECURITY_FS_USE_TRANS, SECURITY_FS_USE_GENFS):
            sid = sbsec.sid
        else:
            sid = self._boot_label(inode) or sbsec.def_sid
        isec.sid = sid
        isec.initialized = True
        if isec.memo_files:  # a relabel: checks remembered on open files are void
            for fsec in isec.memo_files:
                fsec.memo.clear()

    def _boot_label(self: SELinux, inode: Any) -> int:
        path = inode.path()
        for p, type_ in BOOT_LABELS:
            if p == path:
                try:
                    return self.server.context_to_sid(self._object_context(type_))
                except (PolicyError, ValueError):
                    return 0
        return 0

    def _object_context(self: SELinux, type_: str) -> str:
        ctx = f"system_u:object_r:{type_}"
        return ctx + ":s0" if self.policy.policydb.mls else ctx

    def _new_inode_sid(self: SELinux, dir_inode: Any, name: str, sclass: int) -> int:
        """``selinux_determine_inode_label``: fscreate, else a type transition from the dir."""
        tsec = self.security.current.cred.security[self.slot] if self.security.current else None
        if tsec is not None and tsec.create_sid:
            return tsec.create_sid
        ssid = tsec.sid if tsec is not None else self.kernel_sid
        dsid = self.inode_sid(dir_inode)
        return self.transition_sid(ssid, dsid, sclass, name)

    def kernel_booted_files(self: SELinux, kernel: Any) -> None:
        for path, _type in BOOT_LABELS:
            inode = kernel.lookup(path)
            if inode is not None and "security.selinux" not in inode.xattrs:
                isec = inode.security[self.slot]
                sid = self._boot_label(inode)
                if sid:
                    isec.sid, isec.sclass, isec.initialized = sid, self.cls("dir"), True

    def _inode_audit(self: SELinux, inode: Any) -> InodeAudit:
        return InodeAudit(inode.sb.dev, inode.ino, inode.name or None)

    def _file_audit(self: SELinux, file: Any) -> PathAudit:
        inode = file.inode
        return PathAudit(file.path(), inode.sb.dev, inode.ino)

    def _mask_bits(self: SELinux, sclass: int, mask: int, is_dir: bool) -> int:
        key = (sclass, mask)
        bits = self._mask_cache.get(key)
        if bits is None:
            names = []
            if mask & MAY_EXEC:
                names.append("search" if is_dir else "execute")
            if mask & MAY_READ:
                names.append("read")
            if mask & MAY_APPEND:
                names.append("append")
            elif mask & MAY_WRITE:
                names.append("write")
            bits = self._mask_cache[key] = self._perm_bits(sclass, *names)
        return bits

    def _perm_bits(self: SELinux, sclass: int, *perms: str) -> int:
        """The bits of permission names in an inode's class (``file`` if it has none)."""
        cname = self.policy.policydb.class_by_value(sclass).name if sclass else "file"
        return self.av(cname, *perms)[1]

    def inode_has_perm(self: SELinux, sid: int, inode: Any, names: tuple[str, ...],
                       ad: Any) -> int:
        if inode.is_private:  # kernel-internal (IS_PRIVATE): never checked
            return 0
        isid = self.inode_sid(inode)
        sclass = inode.security[self.slot].sclass
        if not sclass:
            return 0
        return self.has_perm(sid, isid, sclass, self._perm_bits(sclass, *names), ad)

    def file_to_av(self: SELinux, file: Any) -> tuple[str, ...]:
        names: list[str] = []
        if file.f_mode & FMODE_READ:
            names.append("read")
        if file.f_mode & FMODE_WRITE:
            names.append("append" if file.flags & O_APPEND else "write")
        if not names:
            names.append("ioctl")
        return tuple(names)

    def _fd_use(self: SELinux, sid: int, file: Any, fsec: Any) -> tuple[int, Any]:
        """The ``fd:use`` half of ``file_has_perm`` (skipped when we opened the file), and the
        file's audit data, built once and kept on its blob."""
        ad = fsec.ad
        if ad is None:
            ad = fsec.ad = self._file_audit(file)
        if sid != fsec.sid:
            return self.has_perm(sid, fsec.sid, *self.fd_use, ad), ad
        return 0, ad

    def file_has_perm_sid(self: SELinux, sid: int, file: Any, names: tuple[str, ...]) -> int:
        """``file_has_perm``: ``fd:use`` unless we opened it, then the inode permissions."""
        rc, ad = self._fd_use(sid, file, file.security[self.slot])
        if rc or not names:
            return rc
        return self.inode_has_perm(sid, file.inode, names, ad)

    # -- superblocks and inodes ------------------------------------------------------------------
    def sb_alloc_security(self: SELinux, sb: Any) -> int:
        self._sbsec(sb)
        return 0

    def inode_alloc_security(self: SELinux, inode: Any) -> int:
        isec = inode.security[self.slot]
        isec.sid = self.unlabeled_sid
        isec.sclass = self.inode_class(inode.mode)
        if self._sbsec(inode.sb).behavior == SECURITY_FS_USE_TASK:
            isec.sid = self.current_sid()
            isec.initialized = True
        return 0

    def inode_init_security(self: SELinux, inode: Any, dir: Any, name: str) -> int:
        isec = inode.security[self.slot]
        try:
            sid = self._new_inode_sid(dir, name, isec.sclass)
        except (PolicyError, ValueError):
            return -EACCES if self.avc.enforcing else -EOPNOTSUPP
        isec.sid, isec.initialized = sid, True
        inode.xattrs["security.selinux"] = self.context(sid).encode()
        return 0

    def d_instantiate(self: SELinux, dentry: Any, inode: Any) -> None:
        isec = inode.security[self.slot]
        if "security.selinux" in inode.xattrs or not isec.initialized:
            isec.initialized = False
            self._inode_doinit(inode, dentry)

    def _may_create(self: SELinux, dir: Any, dentry: Any, cname: str) -> int:
        sid = self.current_sid()
        ad = DentryAudit(dentry.name, dir.sb.dev, dir.ino)
        rc = self.check(sid, self.inode_sid(dir), "dir", "add_name", "search", ad=ad)
        if rc:
            return rc
        sclass = self.cls(cname)
        try:
            newsid = self._new_inode_sid(dir, dentry.name, sclass)
        except (PolicyError, ValueError):
            return -EACCES
        rc = self.check(sid, newsid, cname, "create", ad=ad)
        if rc:
            return rc
        sbsid = self._sbsec(dir.sb).sid
        return self.check(newsid, sbsid, "filesystem", "associate", ad=ad)

    def inode_create(self: SELinux, dir: Any, dentry: Any, mode: int) -> int:
        return self._may_create(dir, dentry, "file")

    def inode_mknod(self: SELinux, dir: Any, dentry: Any, mode: int, dev: int) -> int:
        return self._may_create(dir, dentry, _MODE_CLASS.get(mode & S_IFMT, "file"))

    def inode_mkdir(self: SELinux, dir: Any, dentry: Any, mode: int) -> int:
        return self._may_create(dir, dentry, "dir")

    def inode_unlink(self: SELinux, dir: Any, dentry: Any) -> int:
        sid = self.current_sid()
        ad = DentryAudit(dentry.name, dir.sb.dev, dir.ino)
        rc = self.check(sid, self.inode_sid(dir), "dir", "search", "remove_name", ad=ad)
        if rc:
            return rc
        return self.inode_has_perm(sid, dentry.inode, ("unlink",), ad)

    def inode_permission(self: SELinux, inode: Any, mask: int) -> int:
        mask &= MAY_EXEC | MAY_WRITE | MAY_READ | MAY_APPEND
        if not mask:
            return 0
        isid = self.inode_sid(inode)
        sclass = inode.security[self.slot].sclass
        bits = self._mask_bits(sclass, mask, inode.mode & S_IFMT == 0o040000)
        return self.has_perm(self.current_sid(), isid, sclass, bits,
                             lambda: self._inode_audit(inode))

    def inode_getattr(self: SELinux, dentry: Any) -> int:
        return self.inode_has_perm(self.current_sid(), dentry.inode, ("getattr",),
                                   self._inode_audit(dentry.inode))

    def inode_setattr(self: SELinux, dentry: Any, attr: dict[str, Any]) -> int:
        perm = ("write",) if set(attr) == {"size"} else ("setattr",)
        return self.inode_has_perm(self.current_sid(), dentry.inode, perm,
                                   self._inode_audit(dentry.inode))

    def inode_setxattr(self: SELinux, dentry: Any, name: str, value: bytes, flags: int) -> int:
        """``selinux_inode_setxattr``: another attribute needs ``setattr``; a relabel needs
        ownership (or CAP_FOWNER), ``relabelfrom`` the old label, a valid context,
        ``relabelto`` it, the validatetrans rules and ``filesystem:associate``."""
        inode = dentry.inode
        sid = self.current_sid()
        if name != XATTR_NAME_SELINUX:
            return self.inode_has_perm(sid, inode, ("setattr",), self._inode_audit(inode))
        if self._sbsec(inode.sb).behavior not in _SBLABEL_BEHAVIORS:
            return -EOPNOTSUPP
        task = self.security.current
        if task.cred.fsuid != inode.uid and not self.kernel.capable(task, CAP_FOWNER):
            return -EPERM
        ad = DentryAudit(dentry.name, inode.sb.dev, inode.ino)
        old = self.inode_sid(inode)
        sclass = inode.security[self.slot].sclass
        rc = self.has_perm(sid, old, sclass, self._perm_bits(sclass, "relabelfrom"), ad)
        if rc:
            return rc
        text = value.rstrip(b"\0").decode("utf-8", "surrogateescape")
        try:
            newsid = self.server.context_to_sid(text)
        except (PolicyError, ValueError):
            self.audit.log_invalid_user_context("setxattr", text)
            return -EINVAL
        rc = self.has_perm(sid, newsid, sclass, self._perm_bits(sclass, "relabelto"), ad)
        if rc:
            return rc
        if not self.server.validate_transition(old, newsid, sid, sclass) and self.enforcing:
            return -EPERM
        return self.check(newsid, self._sbsec(inode.sb).sid, "filesystem", "associate", ad=ad)

    def inode_post_setxattr(self: SELinux, dentry: Any, name: str, value: bytes,
                            flags: int) -> None:
        """The new label takes effect (and what was remembered under the old one is void)."""
        if name == XATTR_NAME_SELINUX:
            isec = dentry.inode.security[self.slot]
            isec.initialized = False
            self._inode_doinit(dentry.inode, dentry)

    def inode_getsecurity(self: SELinux, inode: Any, name: str) -> Any:
        if name != "selinux":
            return -EOPNOTSUPP
        return self.context(self.inode_sid(inode))

    # -- files -----------------------------------------------------------------------------------
    def file_alloc_security(self: SELinux, file: Any) -> int:
        fsec = file.security[self.slot]
        fsec.sid = fsec.fown_sid = self.cred_sid(file.cred)
        return 0

    def file_open(self: SELinux, file: Any) -> int:
        fsec = file.security[self.slot]
        inode = file.inode
        fsec.isid = self.inode_sid(inode)
        fsec.pseqno = self.server.seqno
        names = self.file_to_av(file)
        if self.policy.policydb.has_policycap("open_perms"):
            names = (*names, "open")
        return self.inode_has_perm(self.cred_sid(file.cred), inode, names,
                                   self._file_audit(file))

    def file_permission(self: SELinux, file: Any, mask: int) -> int:
        """``selinux_file_permission``: the open-time shortcut, else fd:use + class perms.

        Pipes and sockets never went through file_open, so Linux re-checks them on every
        read and write.  A check granted to the file's opener is remembered on the file
        for the fast path of :mod:`lsm.selinux.hooks.fast`; it is taken only after the
        shortcut failed, which it then always will (the file's open seqno and SID are fixed,
        the policy seqno only grows, a relabel of the inode clears the memo), and
        fcntl(F_SETFL) clears it too (O_APPEND changes the permission).
        """
        if not mask:
            return 0
        slot = self.slot
        fsec = file.security[slot]
        sid = self.security.current.cred.security[slot].sid
        isec = file.inode.security[slot]
        if sid == fsec.sid and fsec.isid == isec.sid and fsec.pseqno == self.server.seqno:
            return 0  # nothing changed since file_open checked it
        want = mask | MAY_APPEND if file.flags & O_APPEND else mask
        rc, ad = self._fd_use(sid, file, fsec)
        if rc:
            return rc
        if not isec.initialized:
            self._inode_doinit(file.inode)
        bits = self._mask_bits(isec.sclass, want & (MAY_READ | MAY_WRITE | MAY_APPEND), False)
        rc = self.has_perm(sid, isec.sid, isec.sclass, bits, ad)
        if not rc and sid == fsec.sid:
            node = self.memo_node(sid, isec.sid, isec.sclass, bits)
            if node is not None:
                fsec.memo[mask] = node
                if isec.memo_files is None:
                    isec.memo_files = WeakSet()
                isec.memo_files.add(fsec)
        return rc

    def file_ioctl(self: SELinux, file: Any, cmd: int, arg: Any) -> int:
        """``selinux_file_ioctl``: a few generic commands map to getattr/setattr or to fd
        use alone; every other command is an ``ioctl`` check with its extended permission
        (driver = high byte, function = low byte)."""
        sid = self.current_sid()
        if cmd in _IOCTL_GETATTR:
            return self.file_has_perm_sid(sid, file, ("getattr",))
        if cmd in _IOCTL_SETATTR:
            return self.file_has_perm_sid(sid, file, ("setattr",))
        if cmd in (FIONBIO, FIOASYNC):
            return self.file_has_perm_sid(sid, file, ())
        if cmd in (FIOCLEX, FIONCLEX) and self.policy.policydb.has_policycap(
                "ioctl_skip_cloexec"):
            return 0
        return self._ioctl_has_perm(sid, file, cmd & 0xFFFF)

    def _ioctl_has_perm(self: SELinux, sid: int, file: Any, cmd: int) -> int:
        inode = file.inode
        ad = IoctlAudit(file.path(), inode.sb.dev, inode.ino, cmd)
        fsec = file.security[self.slot]
        if sid != fsec.sid:
            rc = self.has_perm(sid, fsec.sid, *self.fd_use, ad)
            if rc:
                return rc
        if inode.is_private:
            return 0
        isid = self.inode_sid(inode)
        sclass = inode.security[self.slot].sclass
        bits = self._perm_bits(sclass, "ioctl")
        if not sclass or not bits:
            return 0 if self.allow_unknown or not sclass else -EACCES
        rc = self.avc.has_extended_perms(sid, isid, sclass, bits, cmd >> 8, cmd & 0xFF, ad)
        if self.coverage is not None:
            self.coverage(sid, isid, sclass, bits, rc)
        return rc

    def file_receive(self: SELinux, file: Any) -> int:
        return self.file_has_perm_sid(self.current_sid(), file, self.file_to_av(file))

    def file_fcntl(self: SELinux, file: Any, cmd: int, arg: int) -> int:
        sid = self.current_sid()
        if cmd == F_SETFL:  # O_APPEND may change: read/write checks are recomputed
            file.security[self.slot].memo.clear()
        if cmd == F_SETFL and file.flags & O_APPEND and not arg & O_APPEND:
            return self.file_has_perm_sid(sid, file, ("write",))
        if cmd in (F_SETFL, F_GETFL, F_SETOWN, F_GETOWN, 10, 11):
            return self.file_has_perm_sid(sid, file, ())
        if cmd in (F_GETLK, F_SETLK, F_SETLKW):
            return self.file_has_perm_sid(sid, file, ("lock",))
        return 0

    def mmap_file(self: SELinux, file: Any, reqprot: int, prot: int, flags: int) -> int:
        """``selinux_mmap_file``: ``file:map``, then ``file_map_prot_check``."""
        sid = self.current_sid()
        if file is not None and not file.inode.is_private:
            rc = self.inode_has_perm(sid, file.inode, ("map",), self._file_audit(file))
            if rc:
                return rc
        return self._file_map_prot_check(sid, file, prot, flags & MAP_TYPE == MAP_SHARED)

    def file_mprotect(self: SELinux, vma: Any, reqprot: int, prot: int) -> int:
        """``selinux_file_mprotect``: making pages executable that were not may need
        ``process:execheap`` (the malloc heap) or ``file:execmod`` (a private file mapping
        that was written); then ``file_map_prot_check``.  (No stacks are modelled, so
        ``execstack`` never comes up.)"""
        sid = self.current_sid()
        if prot & PROT_EXEC and not vma.prot & PROT_EXEC:
            rc = 0
            if vma.kind == "heap":
                rc = self.check(sid, sid, "process", "execheap")
            elif vma.file is not None and vma.cow:
                rc = self.file_has_perm_sid(sid, vma.file, ("execmod",))
            if rc:
                return rc
        return self._file_map_prot_check(sid, vma.file, prot, vma.shared)

    def _file_map_prot_check(self: SELinux, sid: int, file: Any, prot: int,
                             shared: bool) -> int:
        # an executable mapping of anonymous or private memory, or a writable private copy
        # of a file, is memory the task could write code into: process:execmem
        if prot & PROT_EXEC and (file is None or file.inode.is_private
                                 or (not shared and prot & PROT_WRITE)):
            rc = self.check(sid, sid, "process", "execmem")
            if rc:
                return rc
        if file is None:
            return 0
        names = ["read"]  # a mapping can always be read
        if shared and prot & PROT_WRITE:
            names.append("write")
        if prot & PROT_EXEC:
            names.append("execute")
        return self.file_has_perm_sid(sid, file, tuple(names))
