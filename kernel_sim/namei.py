"""Path lookup and permission checks (Linux ``fs/namei.c``): DAC first, then the LSM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_sim import constants as c
from kernel_sim.caps import CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
from kernel_sim.errors import SyscallError
from kernel_sim.vfs import Dentry, Inode, split_path

if TYPE_CHECKING:
    from kernel_sim.task import Task

MAX_NAME = 255
MAX_PATH = 4096


def audit_name(task: Task, path: str, inode: Inode | None, nametype: str,
               dentry: Dentry | None = None) -> None:
    """``audit_inode``/``audit_inode_child``: note a name this syscall resolved (NORMAL),
    the directory of a name it creates or removes (PARENT), or that name (CREATE, DELETE),
    for the PATH records of a syscall the audit subsystem logs.  Kept only while one runs;
    the list is tagged with the syscall's entry stamp, so a new syscall starts a new one."""
    if task.kernel.audit is None:
        return
    names = task.audit_names
    if names is None or names[0] != task.sc_entry:
        names = task.audit_names = [task.sc_entry]
    names.append((path, inode, nametype, dentry))


def _audit_resolved(task: Task, inode: Inode, nametype: str) -> None:
    """The walk of the name noted last (``getname``: UNKNOWN until resolved) reached
    ``inode``: NORMAL for the object, PARENT for the directory of a name to create/remove."""
    names = task.audit_names
    if names is not None and names[0] == task.sc_entry and len(names) > 1:
        path, _inode, noted, _dentry = names[-1]
        if noted == "UNKNOWN":
            names[-1] = (path, inode, nametype, None)


def _parent_path(task: Task) -> str | None:
    """The full name whose PARENT was the last one noted in this syscall, if any."""
    names = task.audit_names
    if names is None or names[0] != task.sc_entry or len(names) < 2:
        return None
    path, _inode, nametype, _dentry = names[-1]
    return path if nametype == "PARENT" else None


def generic_permission(task: Task, inode: Inode, mask: int) -> int:
    """Mode bits, then CAP_DAC_READ_SEARCH / CAP_DAC_OVERRIDE as Linux orders them."""
    cred = task.cred
    mode = inode.mode
    if cred.fsuid == inode.uid:
        bits = (mode >> 6) & 7
    elif cred.in_group(inode.gid):
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    want = mask & (c.MAY_READ | c.MAY_WRITE | c.MAY_EXEC)
    if want & ~bits == 0:
        return 0
    k = task.kernel
    if inode.is_dir():
        if not mask & c.MAY_WRITE and k.capable(task, CAP_DAC_READ_SEARCH):
            return 0
        if k.capable(task, CAP_DAC_OVERRIDE):
            return 0
        return -c.EACCES
    if want == c.MAY_READ and k.capable(task, CAP_DAC_READ_SEARCH):
        return 0
    if (not want & c.MAY_EXEC or mode & 0o111) and k.capable(task, CAP_DAC_OVERRIDE):
        return 0
    return -c.EACCES


def inode_permission(task: Task, inode: Inode, mask: int) -> int:
    """``inode_permission``: DAC, and only if it passes, ``security_inode_permission``."""
    rc = generic_permission(task, inode, mask)
    if rc:
        return rc
    return task.kernel.security.inode_permission(inode, mask)


def check(rc: int) -> None:
    if rc:
        raise SyscallError(-rc)


def _start(task: Task, path: str) -> Inode:
    if not isinstance(path, str):
        raise SyscallError(c.EFAULT)
    if path == "":
        raise SyscallError(c.ENOENT)
    if len(path) >= MAX_PATH:
        raise SyscallError(c.ENAMETOOLONG)
    return task.kernel.root if path.startswith("/") else task.process.cwd


def _step(task: Task, node: Inode, name: str) -> Inode:
    if not node.is_dir():
        raise SyscallError(c.ENOTDIR)
    check(inode_permission(task, node, c.MAY_EXEC))
    if name == "..":
        return node.parent or node
    if len(name) > MAX_NAME:
        raise SyscallError(c.ENAMETOOLONG)
    assert node.children is not None
    child = node.children.get(name)
    if child is None:
        raise SyscallError(c.ENOENT)
    return child


def lookup(task: Task, path: str) -> Inode:
    """Resolve ``path`` to an inode, checking search permission on every directory."""
    node = _start(task, path)
    audit_name(task, path, None, "UNKNOWN")
    for name in split_path(path):
        node = _step(task, node, name)
    if path.endswith("/") and not node.is_dir():
        raise SyscallError(c.ENOTDIR)
    _audit_resolved(task, node, "NORMAL")
    return node


def lookup_parent(task: Task, path: str) -> Dentry:
    """Resolve all but the last component; the result's ``inode`` is None if it is absent."""
    node = _start(task, path)
    audit_name(task, path, None, "UNKNOWN")
    parts = split_path(path)
    if not parts:
        raise SyscallError(c.EEXIST)  # "/" itself
    for name in parts[:-1]:
        node = _step(task, node, name)
    if not node.is_dir():
        raise SyscallError(c.ENOTDIR)
    _audit_resolved(task, node, "PARENT")
    # link_path_walk's may_lookup: search permission on the directory holding the last name
    check(inode_permission(task, node, c.MAY_EXEC))
    last = parts[-1]
    if last == "..":
        raise SyscallError(c.EEXIST)
    if len(last) > MAX_NAME:
        raise SyscallError(c.ENAMETOOLONG)
    assert node.children is not None
    return Dentry(last, node, node.children.get(last))


def may_create(task: Task, dentry: Dentry) -> None:
    """Write and search permission on the parent (``may_create``)."""
    if dentry.inode is not None:
        raise SyscallError(c.EEXIST)
    audit_name(task, _parent_path(task) or dentry.name, None, "CREATE", dentry)
    check(inode_permission(task, dentry.parent, c.MAY_WRITE | c.MAY_EXEC))


def may_delete(task: Task, dentry: Dentry) -> None:
    """Permission to remove ``dentry``: parent write+search, then the sticky-directory rule."""
    victim = dentry.inode
    if victim is None:
        raise SyscallError(c.ENOENT)
    audit_name(task, _parent_path(task) or dentry.name, victim, "DELETE", dentry)
    parent = dentry.parent
    check(inode_permission(task, parent, c.MAY_WRITE | c.MAY_EXEC))
    fsuid = task.cred.fsuid
    if (parent.mode & c.S_ISVTX and fsuid not in (victim.uid, parent.uid)
            and not task.kernel.capable(task, CAP_FOWNER)):
        raise SyscallError(c.EPERM)
