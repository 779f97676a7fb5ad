"""POSIX message queues (Linux ``ipc/mqueue.c``): regular-file inodes on the mqueue fs.

A queue is an S_IFREG inode in the mqueue filesystem (mounted at ``/dev/mqueue``; mq_open
works on its root directly, as Linux uses the IPC namespace's internal mount).  Creation is
the VFS path (``vfs_mkobj``): ``may_create`` DAC on the sticky 1777 root, then
``security_inode_create``, then the inode; opening is ``inode_permission`` (existing queues)
and ``file_open`` as in open(2).  **Sending and receiving call no LSM hook**, as on Linux.

Messages are kept per priority; a receive takes the oldest message of the highest priority.
Like Linux, a sender finding a receiver asleep hands it the message directly
(``pipelined_send``), and a receiver that frees a slot moves the first sleeping sender's
message in (``pipelined_receive``), so no wake-up is lost or stolen.

Limits are the defaults of ``/proc/sys/fs/mqueue`` (queues_max 256, msg_max 10,
msgsize_max 8192); a real uid's queues may hold at most the creating process's
RLIMIT_MSGQUEUE (819200 bytes by default).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping as AbcMapping
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from kernel_sim import constants as c
from kernel_sim import namei
from kernel_sim.caps import CAP_SYS_RESOURCE
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.rlimit import task_rlimit
from kernel_sim.syscall import Interrupted
from kernel_sim.vfs import FMODE_READ, FMODE_WRITE, Dentry, FileOps

if TYPE_CHECKING:
    import simpy

    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Process
    from kernel_sim.task import Task
    from kernel_sim.vfs import File, Inode

MQ_PRIO_MAX = 32768
QUEUES_MAX = 256
MSG_MAX = 10
MSGSIZE_MAX = 8192
MSG_DEFAULT = 10
MSGSIZE_DEFAULT = 8192
HARD_MSGMAX = 65536
HARD_MSGSIZEMAX = 16 * 1024 * 1024
#: x86_64 sizes used in the RLIMIT_MSGQUEUE accounting (``mqueue_get_inode``)
SIZEOF_MSG_MSG = 48
SIZEOF_TREE_NODE = 48
PATH_MAX = 4096
#: ``struct sigevent`` notification kinds
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD = 0, 1, 2


@frozen
class MqAttr:
    """``struct mq_attr``, as mq_getattr returns it."""

    mq_flags: int
    mq_maxmsg: int
    mq_msgsize: int
    mq_curmsgs: int


@define(slots=True, eq=False)
class MqWaiter:
    """``struct ext_wait_queue``: a sleeping sender (with its message) or receiver."""

    task: Task
    event: simpy.Event
    msg: tuple[bytes, int] | None = None
    ready: bool = False


@define(slots=True, eq=False)
class MqInfo:
    """``struct mqueue_inode_info``: the queue behind one mqueue inode."""

    ns: MqNamespace
    maxmsg: int
    msgsize: int
    uid: int  # the user charged for RLIMIT_MSGQUEUE
    mq_bytes: int
    curmsgs: int = 0
    qsize: int = 0
    msgs: dict[int, deque[bytes]] = field(factory=dict)
    senders: deque[MqWaiter] = field(factory=deque)
    receivers: deque[MqWaiter] = field(factory=deque)
    opens: int = 0
    evicted: bool = False
    #: mq_notify registration: the owning process, the kind and the signal
    notify_owner: Process | None = None
    notify_kind: int = SIGEV_NONE
    notify_signo: int = 0

    def insert(self, data: bytes, prio: int) -> None:
        q = self.msgs.get(prio)
        if q is None:
            q = self.msgs[prio] = deque()
        q.append(data)
        self.curmsgs += 1
        self.qsize += len(data)

    def get(self) -> tuple[bytes, int]:
        msgs = self.msgs
        prio = max(msgs) if len(msgs) > 1 else next(iter(msgs))
        q = msgs[prio]
        data = q.popleft()
        if not q:
            del msgs[prio]
        self.curmsgs -= 1
        self.qsize -= len(data)
        return data, prio


@define(slots=True, eq=False)
class MqNamespace:
    """Per-IPC-namespace state: the queue count and the per-user byte accounting."""

    root: Inode
    queues_count: int = 0
    user_bytes: dict[int, int] = field(factory=dict)


def mq_ns(k: Kernel) -> MqNamespace:
    ns = k.subsystems.get("mqueue")
    if ns is None:
        root = k.lookup("/dev/mqueue")
        if root is None or root.sb is not k.mqueuefs:
            raise SyscallError(c.ENOSYS)
        ns = k.subsystems["mqueue"] = MqNamespace(root)
    return ns


def _evict(info: MqInfo) -> None:
    """``mqueue_evict_inode``: the last link and the last open file are gone."""
    if info.evicted:
        return
    info.evicted = True
    ns = info.ns
    ns.queues_count -= 1
    ns.user_bytes[info.uid] -= info.mq_bytes
    info.msgs.clear()


class MqueueOps(FileOps):
    """``mqueue_file_operations``: read() reports the queue state; there is no write/mmap."""

    kind = "mqueue"

    def read(self, task: Task, file: File, n: int) -> Any:
        info: MqInfo = file.inode.private
        owner = info.notify_owner
        kind = info.notify_kind if owner is not None else 0
        signo = info.notify_signo if owner is not None and kind == SIGEV_SIGNAL else 0
        pid = owner.pid if owner is not None else 0
        text = f"QSIZE:{info.qsize:<10} NOTIFY:{kind:<5} SIGNO:{signo:<5} NOTIFY_PID:{pid:<6}\n"
        line = text.encode()
        out = line[file.pos:file.pos + max(n, 0)]
        file.pos += len(out)
        return out
        yield

    def write(self, task: Task, file: File, data: bytes) -> Any:
        raise SyscallError(c.EINVAL)
        yield

    def release(self, file: File) -> None:
        inode = file.inode
        info: MqInfo = inode.private
        info.opens -= 1
        if info.opens == 0 and inode.nlink == 0:
            _evict(info)


MQUEUE_OPS = MqueueOps()


def _attr_field(attr: Any, name: str) -> Any:
    if isinstance(attr, AbcMapping):
        return attr.get(name, 0)
    return getattr(attr, name, 0)


def _getname(name: Any) -> str:
    """glibc's check (a leading '/', stripped) and the kernel's ``getname``."""
    if not isinstance(name, str):
        raise SyscallError(c.EFAULT)
    if not name.startswith("/"):
        raise SyscallError(c.EINVAL)  # glibc: the name must begin with '/'
    kname = name[1:]
    if not kname:
        raise SyscallError(c.ENOENT)  # getname() of ""
    if len(kname) >= PATH_MAX:
        raise SyscallError(c.ENAMETOOLONG)
    return kname


def _lookup_one(task: Task, ns: MqNamespace, kname: str) -> Dentry:
    """``lookup_one_len`` on the mqueue root (search permission, then the name)."""
    if "/" in kname or "\0" in kname or kname in (".", ".."):
        raise SyscallError(c.EACCES)  # lookup_one_common
    root = ns.root
    check(namei.inode_permission(task, root, c.MAY_EXEC))
    if len(kname) > namei.MAX_NAME:
        raise SyscallError(c.ENAMETOOLONG)  # simple_lookup
    assert root.children is not None
    return Dentry(kname, root, root.children.get(kname))


def _create(task: Task, ns: MqNamespace, dentry: Dentry, mode: int, attr: Any) -> Inode:
    """``vfs_mkobj`` + ``mqueue_create_attr`` + ``mqueue_get_inode``.

    Deliberate difference: Linux validates ``attr`` after allocating the inode (so
    ``inode_alloc_security`` precedes the CAP_SYS_RESOURCE check) and labels mqueue inodes at
    ``d_instantiate`` without ``inode_init_security``; here the checks come first and the
    inode is made by ``Kernel.create_inode`` like every other created file, so a labelling
    module sees one creation path.
    """
    k = task.kernel
    namei.may_create(task, dentry)
    fmode = c.S_IFREG | (mode & 0o7777 & ~task.process.umask)  # S_IALLUGO
    check(k.security.inode_create(dentry.parent, dentry, fmode))
    if ns.queues_count >= QUEUES_MAX and not k.capable(task, CAP_SYS_RESOURCE):
        raise SyscallError(c.ENOSPC)
    maxmsg, msgsize = MSG_DEFAULT, MSGSIZE_DEFAULT
    if attr is not None:
        maxmsg = _attr_field(attr, "mq_maxmsg")
        msgsize = _attr_field(attr, "mq_msgsize")
        if not isinstance(maxmsg, int) or not isinstance(msgsize, int):
            raise SyscallError(c.EFAULT)
    if maxmsg <= 0 or msgsize <= 0:
        raise SyscallError(c.EINVAL)
    if k.capable(task, CAP_SYS_RESOURCE):
        if maxmsg > HARD_MSGMAX or msgsize > HARD_MSGSIZEMAX:
            raise SyscallError(c.EINVAL)
    elif maxmsg > MSG_MAX or msgsize > MSGSIZE_MAX:
        raise SyscallError(c.EINVAL)
    mq_bytes = (maxmsg * SIZEOF_MSG_MSG + min(maxmsg, MQ_PRIO_MAX) * SIZEOF_TREE_NODE
                + maxmsg * msgsize)
    uid = task.cred.uid
    used = ns.user_bytes.get(uid, 0)
    if used + mq_bytes > task_rlimit(task.process, c.RLIMIT_MSGQUEUE):
        raise SyscallError(c.EMFILE)
    inode = k.create_inode(task, dentry, fmode)
    ns.queues_count += 1
    ns.user_bytes[uid] = used + mq_bytes
    inode.private = MqInfo(ns, maxmsg, msgsize, uid, mq_bytes)
    return inode


def do_mq_open(task: Task, name: Any, oflag: int, mode: int, attr: Any) -> int:
    kname = _getname(name)
    k = task.kernel
    ns = mq_ns(k)
    files = task.process.files
    if len(files.fds) >= files.max_fds:
        raise SyscallError(c.EMFILE)  # get_unused_fd_flags comes before the lookup
    dentry = _lookup_one(task, ns, kname)
    inode = dentry.inode
    if inode is None:
        if not oflag & c.O_CREAT:
            raise SyscallError(c.ENOENT)
        inode = _create(task, ns, dentry, mode, attr)
    else:
        if oflag & (c.O_CREAT | c.O_EXCL) == c.O_CREAT | c.O_EXCL:
            raise SyscallError(c.EEXIST)
        acc = oflag & c.O_ACCMODE
        if acc == c.O_ACCMODE:
            raise SyscallError(c.EINVAL)
        mask = (c.MAY_READ, c.MAY_WRITE, c.MAY_READ | c.MAY_WRITE)[acc]
        check(namei.inode_permission(task, inode, mask))
    # dentry_open: O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC do not stay in f_flags
    flags = oflag & ~(c.O_CREAT | c.O_EXCL | c.O_NOCTTY | c.O_TRUNC)
    file = k.alloc_file(task, inode, flags, MQUEUE_OPS)
    info: MqInfo = inode.private
    info.opens += 1
    rc = k.security.file_open(file)
    if rc:
        k.fput(file)
        raise SyscallError(-rc)
    try:
        return files.alloc(file, cloexec=True)  # mq descriptors are always O_CLOEXEC
    except SyscallError:
        k.fput(file)
        raise


def mq_file(task: Task, mqd: int, fmode: int) -> tuple[File, MqInfo]:
    """The open queue behind ``mqd``: EBADF unless an mqueue fd open for ``fmode``."""
    file = task.process.files.get(mqd)
    if file.ops is not MQUEUE_OPS or not file.f_mode & fmode:
        raise SyscallError(c.EBADF)
    return file, file.inode.private


def _remaining(task: Task, abs_timeout: float | None) -> float | None:
    """Seconds left until an absolute (simulated-clock) deadline: EINVAL for a negative one,
    ETIMEDOUT once it has passed; checked only when the call would block, as Linux does."""
    if abs_timeout is None:
        return None
    if not isinstance(abs_timeout, int | float) or abs_timeout < 0:
        raise SyscallError(c.EINVAL)
    left = abs_timeout - task.kernel.env.now
    if left <= 0:
        raise SyscallError(c.ETIMEDOUT)
    return left


def do_mq_timedsend(task: Task, mqd: int, data: bytes, prio: int,
                    abs_timeout: float | None = None) -> Any:
    """Generator for mq_send/mq_timedsend: queue ``data`` at ``prio``; blocks while the queue
    is full, until ``abs_timeout`` (simulated seconds) if given."""
    if not isinstance(prio, int) or not 0 <= prio < MQ_PRIO_MAX:
        raise SyscallError(c.EINVAL)
    file, info = mq_file(task, mqd, FMODE_WRITE)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SyscallError(c.EFAULT)
    if len(data) > info.msgsize:
        raise SyscallError(c.EMSGSIZE)
    data = bytes(data)
    if info.curmsgs < info.maxmsg:
        receivers = info.receivers
        if receivers:
            w = receivers.popleft()  # pipelined_send: hand it to the first sleeper
            w.msg = (data, prio)
            w.ready = True
            w.event.succeed()
        else:
            info.insert(data, prio)
            if info.notify_owner is not None and info.curmsgs == 1:
                _do_notify(task, info)
        file.inode.mtime = task.kernel.env.now
        return 0
    if file.flags & c.O_NONBLOCK:
        raise SyscallError(c.EAGAIN)
    left = _remaining(task, abs_timeout)
    w = MqWaiter(task, task.kernel.env.event(), (data, prio))
    info.senders.append(w)
    try:
        yield from task.sleep_for(w.event, left)
    except Interrupted:
        if w.ready:
            return 0
        info.senders.remove(w)
        raise
    if not w.ready:
        info.senders.remove(w)
        raise SyscallError(c.ETIMEDOUT)
    return 0


def do_mq_timedreceive(task: Task, mqd: int, size: int, abs_timeout: float | None = None) -> Any:
    """Generator for mq_receive/mq_timedreceive: -> (data, prio), highest priority first,
    FIFO within one; waits until ``abs_timeout`` (simulated seconds) if given."""
    file, info = mq_file(task, mqd, FMODE_READ)
    if not isinstance(size, int) or size < info.msgsize:
        raise SyscallError(c.EMSGSIZE)
    if info.curmsgs:
        msg = info.get()
        senders = info.senders
        if senders:  # pipelined_receive: the slot just freed goes to the first sleeper
            w = senders.popleft()
            assert w.msg is not None
            info.insert(*w.msg)
            w.ready = True
            w.event.succeed()
        file.inode.mtime = task.kernel.env.now
        return msg
    if file.flags & c.O_NONBLOCK:
        raise SyscallError(c.EAGAIN)
    left = _remaining(task, abs_timeout)
    w = MqWaiter(task, task.kernel.env.event())
    info.receivers.append(w)
    try:
        yield from task.sleep_for(w.event, left)
    except Interrupted:
        if not w.ready:
            info.receivers.remove(w)
            raise
    if not w.ready:
        info.receivers.remove(w)
        raise SyscallError(c.ETIMEDOUT)
    assert w.msg is not None
    return w.msg


def do_mq_unlink(task: Task, name: Any) -> int:
    kname = _getname(name)
    k = task.kernel
    ns = mq_ns(k)
    dentry = _lookup_one(task, ns, kname)
    if dentry.inode is None:
        raise SyscallError(c.ENOENT)
    try:
        namei.may_delete(task, dentry)
    except SyscallError as e:
        if e.errno == c.EPERM:
            # glibc: "While unlink can return either EPERM or EACCES, mq_unlink should
            # return just EACCES."
            raise SyscallError(c.EACCES) from None
        raise
    check(k.security.inode_unlink(dentry.parent, dentry))
    inode = dentry.inode
    k.remove_name(dentry)
    info: MqInfo = inode.private
    if info.opens == 0:
        _evict(info)
    return 0


def mq_getsetattr(task: Task, mqd: int, new: Any) -> MqAttr:
    """``mq_getsetattr``: only O_NONBLOCK may change (EINVAL for any other flag)."""
    if new is not None:
        flags = _attr_field(new, "mq_flags")
        if not isinstance(flags, int):
            raise SyscallError(c.EFAULT)
        if flags & ~c.O_NONBLOCK:
            raise SyscallError(c.EINVAL)
    file = task.process.files.get(mqd)
    if file.ops is not MQUEUE_OPS:
        raise SyscallError(c.EBADF)
    info: MqInfo = file.inode.private
    old = MqAttr(file.flags & c.O_NONBLOCK, info.maxmsg, info.msgsize, info.curmsgs)
    if new is not None:
        file.flags = (file.flags & ~c.O_NONBLOCK) | flags
    return old


def _do_notify(task: Task, info: MqInfo) -> None:
    """``__do_notify``: the queue went from empty to non-empty with no receiver asleep.

    The signal is kernel-generated (si_code SI_MESGQ): no kill permission check, no LSM hook.
    The registration is one-shot.
    """
    owner = info.notify_owner
    info.notify_owner = None
    if owner is not None and info.notify_kind == SIGEV_SIGNAL:
        task.kernel.send_signal(owner, info.notify_signo, kernel=True)


def do_mq_notify(task: Task, mqd: int, sigevent: Any) -> int:
    """``do_mq_notify``: register (EBUSY if another process is registered) or, with
    ``sigevent=None``, drop this process's registration.

    ``sigevent``: a dict or object with ``sigev_notify`` (SIGEV_SIGNAL or SIGEV_NONE) and
    ``sigev_signo``.  Deliberate differences: closing a descriptor does not drop the
    registration (only the owner's exit does); SIGEV_THREAD (a netlink socket and a helper
    thread in glibc) is not modelled: ENOSYS.
    """
    kind = signo = 0
    if sigevent is not None:
        kind = _attr_field(sigevent, "sigev_notify")
        signo = _attr_field(sigevent, "sigev_signo")
        if kind not in (SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD):
            raise SyscallError(c.EINVAL)
        if kind == SIGEV_SIGNAL and not (isinstance(signo, int) and 1 <= signo < c.NSIG):
            raise SyscallError(c.EINVAL)
        if kind == SIGEV_THREAD:
            raise SyscallError(c.ENOSYS)
    file = task.process.files.get(mqd)
    if file.ops is not MQUEUE_OPS:
        raise SyscallError(c.EBADF)
    info: MqInfo = file.inode.private
    proc = task.process
    if sigevent is None:
        if info.notify_owner is proc:
            info.notify_owner = None
        return 0
    owner = info.notify_owner
    # Linux drops the registration when the owner closes its descriptor (flush); close()
    # has no flush step here, so an owner that has exited counts as unregistered.
    if owner is not None and owner.alive:
        raise SyscallError(c.EBUSY)
    info.notify_owner, info.notify_kind, info.notify_signo = proc, kind, signo
    return 0
