"""File system calls: open/read/write/close, dup, fcntl, unlink, mkfifo, stat, chmod, pipes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.caps import CAP_CHOWN, CAP_FOWNER, CAP_SYS_ADMIN, CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.syscall import syscall
from kernel_sim.vfs import FMODE_READ, FMODE_WRITE, FileOps, acc_mode

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task
    from kernel_sim.vfs import File, Inode


XATTR_CREATE, XATTR_REPLACE = 1, 2
FIONREAD, FIONBIO, FIONCLEX, FIOCLEX, FIOASYNC = 0x541B, 0x5421, 0x5450, 0x5451, 0x5452
FASYNC = 0o20000
XATTR_NAME_MAX, XATTR_SIZE_MAX = 255, 65536


@frozen
class StatResult:
    """What stat(2) returns, with ``os.stat_result``'s field names."""

    st_mode: int
    st_ino: int
    st_dev: str
    st_nlink: int
    st_uid: int
    st_gid: int
    st_size: int
    st_mtime: float
    st_ctime: float


def _stat(inode: Inode) -> StatResult:
    return StatResult(inode.mode, inode.ino, inode.sb.dev, inode.nlink, inode.uid, inode.gid,
                      inode.size, inode.mtime, inode.ctime)


class RegularOps(FileOps):
    """Regular files: bytes in memory, read and written at the file position."""

    kind = "regular"

    def read(self, task: Task, file: File, n: int) -> Any:
        data = file.inode.data or bytearray()
        out = bytes(data[file.pos:file.pos + max(n, 0)])
        file.pos += len(out)
        return out
        yield

    def write(self, task: Task, file: File, data: bytes) -> Any:
        inode = file.inode
        if inode.data is None:
            inode.data = bytearray()
        buf = inode.data
        if file.flags & c.O_APPEND:
            file.pos = len(buf)
        end = file.pos + len(data)
        if len(buf) < file.pos:
            buf.extend(bytes(file.pos - len(buf)))
        buf[file.pos:end] = data
        file.pos = end
        inode.mtime = task.kernel.env.now
        return len(data)
        yield


REGULAR_OPS = RegularOps()
_S_IFMT, _S_IFDIR, _MAY_READ, _MAY_WRITE = c.S_IFMT, c.S_IFDIR, c.MAY_READ, c.MAY_WRITE
_BUFFERS = (bytes, bytearray, memoryview)
#: flags open(2) acts on but does not keep in f_flags (``do_dentry_open``)
_OPEN_ONLY_FLAGS = c.O_CREAT | c.O_EXCL | c.O_NOCTTY | c.O_TRUNC


class FileSyscalls:
    __slots__ = ()
    kernel: Kernel

    # -- open / close --------------------------------------------------------------------------
    @syscall
    def open(self: Task, path: str, flags: int = c.O_RDONLY, mode: int = 0o777) -> Any:
        k = self.kernel
        files = self.process.files
        if len(files.fds) >= files.max_fds:
            raise SyscallError(c.EMFILE)  # get_unused_fd_flags precedes do_filp_open
        # path_openat: the struct file (and its LSM blob) exists before the path walk starts;
        # do_dentry_open drops the open-only flags from f_flags
        file = k.alloc_file(self, None, flags & ~_OPEN_ONLY_FLAGS, REGULAR_OPS)  # type: ignore[arg-type]
        try:
            created = False
            if flags & c.O_CREAT:
                dentry = namei.lookup_parent(self, path)
                inode = dentry.inode
                if inode is None and path.endswith("/"):
                    raise SyscallError(c.EISDIR)  # open_last_lookups: O_CREAT of "name/"
                if inode is None:
                    namei.may_create(self, dentry)
                    fmode = c.S_IFREG | (mode & 0o7777 & ~self.process.umask)
                    check(k.security.inode_create(dentry.parent, dentry, fmode))
                    inode = k.create_inode(self, dentry, fmode)
                    inode.data = bytearray()
                    created = True
                else:  # do_open's audit_inode: the existing file
                    namei.audit_name(self, path, inode, "NORMAL")
                if not created and flags & c.O_EXCL:
                    raise SyscallError(c.EEXIST)
                if not created and inode.is_dir():
                    raise SyscallError(c.EISDIR)
            else:
                inode = namei.lookup(self, path)
            if inode.is_dir() and flags & c.O_ACCMODE != c.O_RDONLY:
                raise SyscallError(c.EISDIR)
            if flags & c.O_DIRECTORY and not inode.is_dir():
                raise SyscallError(c.ENOTDIR)
            if inode.is_sock():
                raise SyscallError(c.ENXIO)
            # may_open: a file this open created is checked for MAY_OPEN only (no access bits)
            mask = c.MAY_OPEN if created else acc_mode(flags) | c.MAY_OPEN
            check(namei.inode_permission(self, inode, mask))
            file.inode = inode
            if inode.fops is not None:
                file.ops = inode.fops
            check(k.security.file_open(file))
            if inode.is_fifo():
                from kernel_sim.pipe import PIPE_OPS, fifo_open

                yield from fifo_open(self, file)  # undoes its half-open state on failure
                file.ops = PIPE_OPS
            if inode.is_reg() and flags & c.O_TRUNC and not created:
                # handle_truncate, after the open itself (Linux truncates even O_RDONLY)
                check(k.security.file_truncate(file))
                check(k.security.inode_setattr(k.dentry_of(inode), {"size": 0}))
                if inode.data is not None:
                    inode.data.clear()
                inode.mtime = inode.ctime = k.env.now
            return files.alloc(file, bool(flags & c.O_CLOEXEC))
        except BaseException:
            k.fput(file)
            raise

    @syscall
    def close(self: Task, fd: int) -> Any:
        self.process.files.close(fd)
        return 0
        yield

    # -- read / write --------------------------------------------------------------------------
    @syscall
    def read(self: Task, fd: int, n: int) -> Any:
        # hot path: FdTable.get, Inode.is_dir and check() inlined
        try:
            file = self.process.files.fds[fd]
        except (KeyError, TypeError):
            raise SyscallError(c.EBADF) from None
        if not file.f_mode & FMODE_READ:
            raise SyscallError(c.EBADF)
        if file.inode.mode & _S_IFMT == _S_IFDIR:
            raise SyscallError(c.EISDIR)
        rc = self.kernel.security.file_permission(file, _MAY_READ)
        if rc:
            raise SyscallError(-rc)
        return (yield from file.ops.read(self, file, n))

    @syscall
    def write(self: Task, fd: int, data: bytes) -> Any:
        try:
            file = self.process.files.fds[fd]
        except (KeyError, TypeError):
            raise SyscallError(c.EBADF) from None
        if not file.f_mode & FMODE_WRITE:
            raise SyscallError(c.EBADF)
        if not isinstance(data, _BUFFERS):
            raise SyscallError(c.EFAULT)
        rc = self.kernel.security.file_permission(file, _MAY_WRITE)
        if rc:
            raise SyscallError(-rc)
        return (yield from file.ops.write(self, file, data))

    # -- descriptors ---------------------------------------------------------------------------
    @syscall
    def dup(self: Task, fd: int) -> Any:
        files = self.process.files
        file = files.get(fd)
        file.count += 1
        try:
            return files.alloc(file)
        except SyscallError:
            file.count -= 1
            raise
        yield

    @syscall
    def dup2(self: Task, oldfd: int, newfd: int) -> Any:
        files = self.process.files
        file = files.get(oldfd)
        if not 0 <= newfd < files.max_fds:
            raise SyscallError(c.EBADF)
        if oldfd == newfd:
            return newfd
        file.count += 1
        files.install(newfd, file)
        return newfd
        yield

    @syscall
    def ioctl(self: Task, fd: int, cmd: int, arg: Any = 0) -> Any:
        """ioctl(2): the ``file_ioctl`` hook, then the generic commands (``do_vfs_ioctl``):
        FIOCLEX/FIONCLEX, FIONBIO, FIOASYNC, FIONREAD (bytes readable on a pipe, a socket or
        a regular file); any other command is ENOTTY (no device is modelled)."""
        files = self.process.files
        file = files.get(fd)
        if type(cmd) is not int:
            raise SyscallError(c.EINVAL)
        check(self.kernel.security.file_ioctl(file, cmd, arg))
        if cmd == FIOCLEX:
            files.cloexec.add(fd)
        elif cmd == FIONCLEX:
            files.cloexec.discard(fd)
        elif cmd in (FIONBIO, FIOASYNC):
            bit = c.O_NONBLOCK if cmd == FIONBIO else FASYNC
            file.flags = file.flags | bit if arg else file.flags & ~bit
        elif cmd == FIONREAD:
            return _readable(file)
        else:
            raise SyscallError(c.ENOTTY)
        return 0
        yield

    @syscall
    def fcntl(self: Task, fd: int, cmd: int, arg: int = 0) -> Any:
        files = self.process.files
        file = files.get(fd)
        check(self.kernel.security.file_fcntl(file, cmd, arg))
        if cmd in (c.F_DUPFD, c.F_DUPFD_CLOEXEC):
            if not 0 <= arg < files.max_fds:
                raise SyscallError(c.EINVAL)  # f_dupfd: from >= RLIMIT_NOFILE
            file.count += 1
            try:
                return files.alloc(file, cmd == c.F_DUPFD_CLOEXEC, lowest=arg)
            except SyscallError:
                file.count -= 1
                raise
        if cmd == c.F_GETFD:
            return c.FD_CLOEXEC if fd in files.cloexec else 0
        if cmd == c.F_SETFD:
            if arg & c.FD_CLOEXEC:
                files.cloexec.add(fd)
            else:
                files.cloexec.discard(fd)
            return 0
        if cmd == c.F_GETFL:
            return file.flags
        if cmd == c.F_SETFL:
            changeable = c.O_APPEND | c.O_NONBLOCK | c.O_DIRECT
            file.flags = (file.flags & ~changeable) | (arg & changeable)
            return 0
        if cmd in (c.F_GETPIPE_SZ, c.F_SETPIPE_SZ):
            pipe = file.private if file.ops.kind == "pipe" else None
            if pipe is None:
                raise SyscallError(c.EBADF)
            if cmd == c.F_GETPIPE_SZ:
                return pipe.capacity
            size = max(int(arg), c.PAGE_SIZE)
            pages = 1
            while pages * c.PAGE_SIZE < size:
                pages *= 2
            size = pages * c.PAGE_SIZE
            if size > 1048576 and not self.kernel.capable(self, CAP_SYS_RESOURCE):
                raise SyscallError(c.EPERM)
            if size < len(pipe.buf):
                raise SyscallError(c.EBUSY)
            pipe.capacity = size
            pipe.wr_wait.wake_all()
            return size
        raise SyscallError(c.EINVAL)
        yield

    # -- pipes --------------------------------------------------------------------------------
    @syscall
    def pipe(self: Task) -> Any:
        return self.kernel.do_pipe(self, 0)
        yield

    @syscall
    def pipe2(self: Task, flags: int) -> Any:
        return self.kernel.do_pipe(self, flags)
        yield

    # -- names --------------------------------------------------------------------------------
    @syscall
    def mkfifo(self: Task, path: str, mode: int = 0o666) -> Any:
        k = self.kernel
        dentry = namei.lookup_parent(self, path)
        if dentry.inode is None and path.endswith("/"):
            raise SyscallError(c.ENOENT)  # filename_create: a trailing slash asks for a dir
        namei.may_create(self, dentry)
        fmode = c.S_IFIFO | (mode & 0o7777 & ~self.process.umask)
        check(k.security.inode_mknod(dentry.parent, dentry, fmode, 0))
        k.create_inode(self, dentry, fmode)
        return 0
        yield

    @syscall
    def mkdir(self: Task, path: str, mode: int = 0o777) -> Any:
        k = self.kernel
        dentry = namei.lookup_parent(self, path)
        namei.may_create(self, dentry)
        # vfs_prepare_mode for mkdir keeps only S_IRWXUGO | S_ISVTX of the requested mode
        fmode = c.S_IFDIR | (mode & 0o1777 & ~self.process.umask)
        check(k.security.inode_mkdir(dentry.parent, dentry, fmode))
        k.create_inode(self, dentry, fmode)
        return 0
        yield

    @syscall
    def unlink(self: Task, path: str) -> Any:
        k = self.kernel
        dentry = namei.lookup_parent(self, path)
        namei.may_delete(self, dentry)
        assert dentry.inode is not None
        if dentry.inode.is_dir():
            raise SyscallError(c.EISDIR)  # may_delete's last test, after the DAC checks
        check(k.security.inode_unlink(dentry.parent, dentry))
        k.remove_name(dentry)
        return 0
        yield

    @syscall
    def stat(self: Task, path: str) -> Any:
        inode = namei.lookup(self, path)
        check(self.kernel.security.inode_getattr(self.kernel.dentry_of(inode)))
        return _stat(inode)
        yield

    @syscall
    def fstat(self: Task, fd: int) -> Any:
        file = self.process.files.get(fd)
        check(self.kernel.security.inode_getattr(self.kernel.dentry_of(file.inode)))
        return _stat(file.inode)
        yield

    @syscall
    def chmod(self: Task, path: str, mode: int) -> Any:
        k = self.kernel
        inode = namei.lookup(self, path)
        # notify_change calls security_inode_setattr before the filesystem's setattr_prepare
        # makes the owner test, so an LSM is asked even when the caller is not the owner
        check(k.security.inode_setattr(k.dentry_of(inode), {"mode": mode & 0o7777}))
        if self.cred.fsuid != inode.uid and not k.capable(self, CAP_FOWNER):
            raise SyscallError(c.EPERM)
        inode.mode = (inode.mode & c.S_IFMT) | (mode & 0o7777)
        inode.ctime = k.env.now
        return 0
        yield

    @syscall
    def chown(self: Task, path: str, uid: int, gid: int) -> Any:
        k = self.kernel
        inode = namei.lookup(self, path)
        cred = self.cred
        new_uid = inode.uid if uid == -1 else uid
        new_gid = inode.gid if gid == -1 else gid
        # as for chmod: security_inode_setattr (notify_change) precedes chown_ok/chgrp_ok
        check(k.security.inode_setattr(k.dentry_of(inode), {"uid": new_uid, "gid": new_gid}))
        if new_uid != inode.uid and not k.capable(self, CAP_CHOWN):
            raise SyscallError(c.EPERM)
        if new_gid != inode.gid and not (
            (cred.fsuid == inode.uid and cred.in_group(new_gid)) or k.capable(self, CAP_CHOWN)
        ):
            raise SyscallError(c.EPERM)
        inode.uid, inode.gid = new_uid, new_gid
        inode.mode &= ~(c.S_ISUID | c.S_ISGID) if inode.is_reg() else ~0
        inode.ctime = k.env.now
        return 0
        yield

    @syscall
    def umask(self: Task, mask: int) -> Any:
        old = self.process.umask
        self.process.umask = mask & 0o777
        return old
        yield

    @syscall
    def chdir(self: Task, path: str) -> Any:
        inode = namei.lookup(self, path)
        if not inode.is_dir():
            raise SyscallError(c.ENOTDIR)
        check(namei.inode_permission(self, inode, c.MAY_EXEC | c.MAY_CHDIR))
        self.process.cwd = inode
        return 0
        yield

    @syscall
    def setxattr(self: Task, path: str, name: str, value: Any, flags: int = 0) -> Any:
        """setxattr(2) (``path_setxattr`` + ``vfs_setxattr``): the namespace rules, the
        ``inode_setxattr`` hook (or, if no module handles it, ``cap_inode_setxattr``: a
        ``security.*`` name needs CAP_SYS_ADMIN), the store, ``inode_post_setxattr``."""
        return _setxattr(self, path, name, value, flags)
        yield

    @syscall
    def setfilecon(self: Task, path: str, context: str) -> Any:
        """libselinux ``setfilecon``: ``setxattr(path, "security.selinux", context + NUL)``."""
        if not isinstance(context, str):
            raise SyscallError(c.EFAULT)
        return _setxattr(self, path, "security.selinux", context.encode() + b"\0", 0)
        yield

    @syscall
    def getfilecon(self: Task, path: str) -> Any:
        inode = namei.lookup(self, path)
        rc = self.kernel.security.inode_getsecurity(inode, "selinux")
        if isinstance(rc, str):
            return rc
        raw = inode.xattrs.get("security.selinux")
        if raw is None:
            raise SyscallError(c.ENODATA)
        return raw.decode()
        yield


def _setxattr(task: Task, path: str, name: str, value: Any, flags: int) -> int:
    """The body of setxattr(2) and libselinux's setfilecon."""
    k = task.kernel
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes | bytearray) or not isinstance(name, str):
        raise SyscallError(c.EFAULT)
    value = bytes(value)  # copied in once, as setxattr's kvmalloc copy
    if flags & ~(XATTR_CREATE | XATTR_REPLACE):
        raise SyscallError(c.EINVAL)
    if not name or len(name) > XATTR_NAME_MAX:
        raise SyscallError(c.ERANGE)
    if len(value) > XATTR_SIZE_MAX:
        raise SyscallError(c.E2BIG)
    inode = namei.lookup(task, path)
    prefix = name.split(".", 1)[0] + "."
    if prefix not in ("security.", "system.", "trusted.", "user."):
        raise SyscallError(c.EOPNOTSUPP)  # no handler for the namespace
    if prefix == "trusted." and not k.capable(task, CAP_SYS_ADMIN):
        raise SyscallError(c.EPERM)
    if prefix == "user." and not (inode.is_reg() or inode.is_dir()):
        raise SyscallError(c.EPERM)
    if prefix in ("trusted.", "user."):
        check(namei.inode_permission(task, inode, c.MAY_WRITE))
    dentry = k.dentry_of(inode)
    rc = k.security.inode_setxattr(dentry, name, value, flags)
    if rc == 1:  # cap_inode_setxattr
        rc = 0 if (prefix != "security." or name == "security.capability"
                   or k.capable(task, CAP_SYS_ADMIN)) else -c.EPERM
    check(rc)
    if flags & XATTR_CREATE and name in inode.xattrs:
        raise SyscallError(c.EEXIST)
    if flags & XATTR_REPLACE and name not in inode.xattrs:
        raise SyscallError(c.ENODATA)
    inode.xattrs[name] = value
    inode.ctime = k.env.now
    k.security.inode_post_setxattr(dentry, name, value, flags)
    return 0


def _readable(file: Any) -> int:
    """FIONREAD: bytes a read would find now."""
    inode = file.inode
    if inode.pipe is not None:
        return len(inode.pipe.buf)
    sock = getattr(file.private, "sk", None)
    if sock is not None:
        return sum(len(skb.data) - skb.off for skb in sock.rcvq)
    if inode.data is not None:
        return max(0, len(inode.data) - file.pos)
    raise SyscallError(c.ENOTTY)
