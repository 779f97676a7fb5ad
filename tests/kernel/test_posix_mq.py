"""POSIX message queues (Linux ``ipc/mqueue.c``, glibc ``mq_open``/``mq_unlink``, mq_overview(7)).

Queues are S_IFREG inodes on the mqueue fs (``/dev/mqueue``, sticky 1777).  Errno values are
Linux's; limits are the fs.mqueue defaults (queues_max 256, msg_max 10, msgsize_max 8192) and
RLIMIT_MSGQUEUE 819200.  Sending and receiving call no LSM hook.
"""

from __future__ import annotations

import errno
import stat

from kernel_sim import (
    F_GETFD,
    FD_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    SA_RESTART,
    SIGUSR1,
    Kernel,
)
from kernel_sim.caps import CAP_FULL_SET
from kernel_sim.posix.mqueue import QUEUES_MAX, MqAttr
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err, exited, run

SMALL = {"mq_maxmsg": 1, "mq_msgsize": 1}


class Recorder(BpfLsm):
    """Records every hook call (name, args) while ``on``; decides nothing."""

    def __init__(self) -> None:
        super().__init__("recorder")
        self.on = False
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        for spec in HOOKS:
            self.attach(spec.name, self._make(spec.name))

    def _make(self, name: str):
        def hook(*args: object) -> None:
            if self.on:
                self.calls.append((name, args))

        return hook

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


# ---------------------------------------------------------------- basic semantics
def test_priority_order_and_fifo_within_a_priority() -> None:
    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600,
                                 {"mq_maxmsg": 8, "mq_msgsize": 16})
        for data, prio in ((b"a1", 1), (b"c7", 7), (b"a2", 1), (b"b3", 3), (b"c7b", 7),
                           (b"z0", 0)):
            yield from p.mq_send(q, data, prio)
        assert (yield from p.mq_getattr(q)) == MqAttr(0, 8, 16, 6)
        got = []
        for _ in range(6):
            got.append((yield from p.mq_receive(q, 16)))
        assert got == [(b"c7", 7), (b"c7b", 7), (b"b3", 3), (b"a1", 1), (b"a2", 1), (b"z0", 0)]
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_queue_is_a_regular_file_on_the_mqueue_fs_with_umask_applied() -> None:
    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_WRONLY, 0o666)
        assert (yield from p.fcntl(q, F_GETFD)) == FD_CLOEXEC  # always close-on-exec
        return 0

    k, pid = run(prog, uid=1000, gid=100)
    check_ok(k, pid)
    inode = k.lookup("/dev/mqueue/q")
    assert inode is not None and inode.sb is k.mqueuefs
    assert stat.S_ISREG(inode.mode) and inode.mode & 0o7777 == 0o644
    assert (inode.uid, inode.gid) == (1000, 100)


def test_name_and_open_errors() -> None:
    def prog(p):
        assert (yield from err(p.mq_open("q", O_CREAT | O_RDWR))) == errno.EINVAL  # glibc
        assert (yield from err(p.mq_open("/", O_CREAT | O_RDWR))) == errno.ENOENT  # getname("")
        assert (yield from err(p.mq_open("/a/b", O_CREAT | O_RDWR))) == errno.EACCES
        assert (yield from err(p.mq_open("/..", O_CREAT | O_RDWR))) == errno.EACCES
        assert (yield from err(p.mq_open("/" + "x" * 256, O_CREAT | O_RDWR))) == \
            errno.ENAMETOOLONG
        assert (yield from err(p.mq_open("/" + "x" * 255, O_CREAT | O_RDWR, 0o600,
                                         SMALL))) == 0
        assert (yield from err(p.mq_open("/missing", O_RDWR))) == errno.ENOENT
        yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600, SMALL)
        assert (yield from err(p.mq_open("/q", O_CREAT | O_EXCL | O_RDWR))) == errno.EEXIST
        assert (yield from err(p.mq_open("/q", O_RDWR | O_WRONLY | O_RDONLY | 3))) == \
            errno.EINVAL
        assert (yield from err(p.mq_open("/q", O_CREAT | O_RDWR))) == 0  # existing: fine
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_dac_on_an_existing_queue() -> None:
    k = Kernel(seed=0)

    def owner(p):
        yield from p.umask(0)
        yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o604, SMALL)
        return 0

    def other(p):
        assert (yield from err(p.mq_open("/q", O_RDONLY))) == 0  # 0604: others may read
        assert (yield from err(p.mq_open("/q", O_WRONLY))) == errno.EACCES
        assert (yield from err(p.mq_open("/q", O_RDWR))) == errno.EACCES
        return 0

    def root(p):  # CAP_DAC_OVERRIDE
        assert (yield from err(p.mq_open("/q", O_RDWR))) == 0
        return 0

    for prog, uid in ((owner, 1000), (other, 2000), (root, 0)):
        pid = k.spawn(prog, uid=uid, gid=uid)
        k.run()
        check_ok(k, pid)


def test_attr_limits() -> None:
    def user(p):
        for maxmsg, msgsize in ((0, 1), (1, 0), (-1, 1), (11, 1), (1, 8193)):
            assert (yield from err(p.mq_open(f"/u{maxmsg}_{msgsize}", O_CREAT | O_RDWR, 0o600,
                                             {"mq_maxmsg": maxmsg, "mq_msgsize": msgsize}))) \
                == errno.EINVAL, (maxmsg, msgsize)
        assert (yield from err(p.mq_open("/ok", O_CREAT | O_RDWR, 0o600,
                                         {"mq_maxmsg": 10, "mq_msgsize": 8192}))) == 0
        return 0

    k, pid = run(user, uid=1000, gid=1000)
    check_ok(k, pid)
    assert k.lookup("/dev/mqueue/u11_1") is None  # nothing created on failure

    def root(p):  # CAP_SYS_RESOURCE: up to the hard caps 65536 / 16 MiB
        q = yield from p.mq_open("/big", O_CREAT | O_RDWR, 0o600,
                                 {"mq_maxmsg": 11, "mq_msgsize": 16})
        assert (yield from p.mq_getattr(q)).mq_maxmsg == 11
        assert (yield from err(p.mq_open("/huge", O_CREAT | O_RDWR, 0o600,
                                         {"mq_maxmsg": 65537, "mq_msgsize": 1}))) == errno.EINVAL
        assert (yield from err(p.mq_open("/huge", O_CREAT | O_RDWR, 0o600,
                                         {"mq_maxmsg": 1, "mq_msgsize": 16 * 2**20 + 1}))) \
            == errno.EINVAL
        return 0

    k, pid = run(root)
    check_ok(k, pid)


def test_default_attrs_and_rlimit_msgqueue() -> None:
    """Default queues are 10 x 8192; RLIMIT_MSGQUEUE (819200 bytes, counting the msg_msg and
    tree-node overhead) fits nine of them: the tenth is EMFILE."""

    def prog(p):
        for i in range(9):
            q = yield from p.mq_open(f"/d{i}", O_CREAT | O_RDWR)
        assert (yield from p.mq_getattr(q)) == MqAttr(0, 10, 8192, 0)
        assert (yield from err(p.mq_open("/d9", O_CREAT | O_RDWR))) == errno.EMFILE
        yield from p.mq_unlink("/d0")  # the queue lives on while d0's descriptor is open
        assert (yield from err(p.mq_open("/d9", O_CREAT | O_RDWR))) == errno.EMFILE
        yield from p.mq_close(0)
        assert (yield from err(p.mq_open("/d9", O_CREAT | O_RDWR))) == 0
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_queues_max() -> None:
    def user(p):
        for i in range(QUEUES_MAX):
            q = yield from p.mq_open(f"/q{i}", O_CREAT | O_RDWR, 0o600, SMALL)
            yield from p.mq_close(q)
        assert (yield from err(p.mq_open("/one-more", O_CREAT | O_RDWR, 0o600, SMALL))) == \
            errno.ENOSPC
        assert (yield from err(p.mq_open("/q0", O_RDWR))) == 0  # opening existing is fine
        return 0

    k, pid = run(user, uid=1000, gid=1000)
    check_ok(k, pid)
    assert k.lookup("/dev/mqueue/one-more") is None

    def root(p):
        assert (yield from err(p.mq_open("/root-q", O_CREAT | O_RDWR, 0o600, SMALL))) == 0
        return 0

    pid = k.spawn(root)
    k.run()
    check_ok(k, pid)

    def user_again(p):
        assert (yield from err(p.mq_open("/again", O_CREAT | O_RDWR, 0o600, SMALL))) == \
            errno.ENOSPC
        yield from p.mq_unlink("/q5")  # no open descriptor: the slot is freed at once
        yield from p.mq_unlink("/q6")
        assert (yield from err(p.mq_open("/again", O_CREAT | O_RDWR, 0o600, SMALL))) == 0
        # 255 user queues + root's one
        assert (yield from err(p.mq_open("/again2", O_CREAT | O_RDWR, 0o600, SMALL))) == \
            errno.ENOSPC
        return 0

    pid = k.spawn(user_again, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)


# ---------------------------------------------------------------- send / receive rules
def test_send_and_receive_errors() -> None:
    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR | O_NONBLOCK, 0o600,
                                 {"mq_maxmsg": 2, "mq_msgsize": 4})
        assert (yield from err(p.mq_send(q, b"12345"))) == errno.EMSGSIZE
        assert (yield from err(p.mq_send(q, b"x", 32768))) == errno.EINVAL
        assert (yield from err(p.mq_send(q, b"x", -1))) == errno.EINVAL
        assert (yield from err(p.mq_send(q, b"x", 32767))) == 0
        assert (yield from err(p.mq_receive(q, 3))) == errno.EMSGSIZE  # buffer < mq_msgsize
        assert (yield from p.mq_receive(q, 4)) == (b"x", 32767)
        assert (yield from err(p.mq_receive(q, 4))) == errno.EAGAIN  # empty, O_NONBLOCK
        yield from p.mq_send(q, b"a")
        yield from p.mq_send(q, b"b")
        assert (yield from err(p.mq_send(q, b"c"))) == errno.EAGAIN  # full, O_NONBLOCK
        ro = yield from p.mq_open("/q", O_RDONLY)
        wo = yield from p.mq_open("/q", O_WRONLY)
        assert (yield from err(p.mq_send(ro, b"x"))) == errno.EBADF
        assert (yield from err(p.mq_receive(wo, 4))) == errno.EBADF
        r, _w = yield from p.pipe()
        assert (yield from err(p.mq_send(r, b"x"))) == errno.EBADF  # not an mqueue fd
        assert (yield from err(p.mq_receive(99, 4))) == errno.EBADF
        assert (yield from err(p.mq_getattr(r))) == errno.EBADF
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_setattr_changes_only_o_nonblock() -> None:
    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600, SMALL)
        old = yield from p.mq_setattr(q, {"mq_flags": O_NONBLOCK})
        assert old == MqAttr(0, 1, 1, 0)
        assert (yield from p.mq_getattr(q)).mq_flags == O_NONBLOCK
        assert (yield from err(p.mq_receive(q, 1))) == errno.EAGAIN
        assert (yield from err(p.mq_setattr(q, {"mq_flags": O_NONBLOCK | O_CREAT}))) == \
            errno.EINVAL
        yield from p.mq_setattr(q, MqAttr(0, 99, 99, 0))  # maxmsg/msgsize are ignored
        assert (yield from p.mq_getattr(q)) == MqAttr(0, 1, 1, 0)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_receiver_blocks_until_another_process_sends() -> None:
    seen = {}

    def child(p):
        q = yield from p.mq_open("/q", O_RDONLY)
        seen["msg"] = yield from p.mq_receive(q, 8192)
        seen["t"] = p.kernel.now
        return 0

    def parent(p):
        q = yield from p.mq_open("/q", O_CREAT | O_WRONLY, 0o600)
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.01)
        assert "msg" not in seen  # still blocked
        yield from p.mq_send(q, b"ping", 3)
        _, status = yield from p.waitpid(pid, 0)
        assert exited(status)
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)
    assert seen["msg"] == (b"ping", 3) and seen["t"] >= 0.01


def test_sender_blocks_while_full_and_messages_keep_their_order() -> None:
    log = []

    def child(p):
        q = yield from p.mq_open("/q", O_WRONLY)
        for i in range(4):
            yield from p.mq_send(q, b"m%d" % i, 1)
            log.append(("sent", i, p.kernel.now))
        return 0

    def parent(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDONLY, 0o600,
                                 {"mq_maxmsg": 2, "mq_msgsize": 8})
        pid = yield from p.fork(child)
        yield from p.nanosleep(0.01)
        assert [e[1] for e in log] == [0, 1]  # the third send blocks on a full queue
        got = []
        for _ in range(4):
            got.append((yield from p.mq_receive(q, 8))[0])
        yield from p.waitpid(pid, 0)
        assert got == [b"m0", b"m1", b"m2", b"m3"]
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)
    assert log[2][2] >= 0.01


def test_blocked_receive_and_signals() -> None:
    """Without SA_RESTART a handled signal ends the wait with EINTR; with it the call restarts
    (signal(7) lists mq_receive among the restartable calls)."""
    out = {}

    def handler(p, sig):
        out.setdefault("handled", 0)
        out["handled"] += 1
        return
        yield

    def waiter(p, flags):
        yield from p.sigaction(SIGUSR1, handler, flags)
        q = yield from p.mq_open("/q", O_RDONLY)
        out[flags] = yield from err(p.mq_receive(q, 8192))
        return 0

    def parent(p):
        q = yield from p.mq_open("/q", O_CREAT | O_WRONLY, 0o600)
        a = yield from p.fork(waiter, 0)
        b = yield from p.fork(waiter, SA_RESTART)
        yield from p.nanosleep(0.01)
        yield from p.kill(a, SIGUSR1)
        yield from p.kill(b, SIGUSR1)
        yield from p.nanosleep(0.01)
        assert out == {0: errno.EINTR, "handled": 2}  # b is still waiting
        yield from p.mq_send(q, b"x")
        yield from p.waitpid(a, 0)
        yield from p.waitpid(b, 0)
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)
    assert out[SA_RESTART] == 0


# ---------------------------------------------------------------- unlink
def test_unlink_rules() -> None:
    k = Kernel(seed=0)

    def owner(p):
        yield from p.mq_open("/mine", O_CREAT | O_RDWR, 0o666, SMALL)
        return 0

    pid = k.spawn(owner, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)

    def other(p):
        assert (yield from err(p.mq_unlink("mine"))) == errno.EINVAL  # glibc: needs '/'
        assert (yield from err(p.mq_unlink("/nope"))) == errno.ENOENT
        # sticky root: not the owner -> the VFS says EPERM, glibc's mq_unlink says EACCES
        assert (yield from err(p.mq_unlink("/mine"))) == errno.EACCES
        return 0

    pid = k.spawn(other, uid=2000, gid=2000)
    k.run()
    check_ok(k, pid)
    assert k.lookup("/dev/mqueue/mine") is not None

    def owner2(p):
        q = yield from p.mq_open("/mine", O_RDWR)
        yield from p.mq_unlink("/mine")
        yield from p.mq_send(q, b"x")  # an unlinked queue works through open descriptors
        assert (yield from p.mq_receive(q, 1)) == (b"x", 0)
        assert (yield from err(p.mq_open("/mine", O_RDWR))) == errno.ENOENT
        yield from p.mq_open("/mine", O_CREAT | O_EXCL | O_RDWR, 0o600, SMALL)  # name reused
        return 0

    pid = k.spawn(owner2, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)

    def root(p):  # CAP_FOWNER overrides the sticky bit
        yield from p.mq_unlink("/mine")
        return 0

    pid = k.spawn(root, caps=CAP_FULL_SET)
    k.run()
    check_ok(k, pid)
    assert k.lookup("/dev/mqueue/mine") is None


# ---------------------------------------------------------------- hooks
#: Linux's hook sequence for mq_open(O_CREAT) of a new queue (do_mq_open -> lookup_one_len ->
#: prepare_open -> vfs_mkobj -> mqueue_create_attr -> dentry_open), unprivileged caller (so
#: the CAP_SYS_RESOURCE capable() in mqueue_get_inode stops in the capability module).
MQ_OPEN_CREATE_LINUX = [
    ("inode_permission", "/dev/mqueue", 1),  # lookup_one_len: MAY_EXEC on the root
    ("inode_permission", "/dev/mqueue", 3),  # may_create: MAY_WRITE | MAY_EXEC
    ("inode_create", "/dev/mqueue", None),
    ("inode_alloc_security", None, None),  # new_inode
    ("d_instantiate", None, None),
    ("file_alloc_security", None, None),
    ("file_open", None, None),
]
#: the one deliberate difference (kernel_sim.posix.mqueue._create): the inode is made by
#: Kernel.create_inode, which also calls inode_init_security before d_instantiate
MQ_OPEN_CREATE_SIM = [*MQ_OPEN_CREATE_LINUX[:4], ("inode_init_security", None, None),
                      *MQ_OPEN_CREATE_LINUX[4:]]
MQ_OPEN_EXISTING = [
    ("inode_permission", "/dev/mqueue", 1),
    ("inode_permission", "/dev/mqueue/q", 6),  # oflag2acc[O_RDWR] = MAY_READ | MAY_WRITE
    ("file_alloc_security", None, None),
    ("file_open", None, None),
]
MQ_UNLINK = [
    ("inode_permission", "/dev/mqueue", 1),  # lookup_one_len
    ("inode_permission", "/dev/mqueue", 3),  # may_delete
    ("inode_unlink", "/dev/mqueue", None),
]


def _shape(calls):
    out = []
    for name, args in calls:
        if name == "inode_permission":
            out.append((name, args[0].path(), args[1]))
        elif name in ("inode_create", "inode_unlink"):
            out.append((name, args[0].path(), None))
        else:
            out.append((name, None, None))
    return out


def test_hook_order() -> None:
    rec = Recorder()
    phases = {}

    def prog(p):
        rec.on = True
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600, SMALL)
        phases["create"], rec.calls = rec.calls, []
        yield from p.mq_send(q, b"x")
        yield from p.mq_receive(q, 1)
        yield from p.mq_getattr(q)
        phases["send_receive"], rec.calls = rec.calls, []
        yield from p.mq_open("/q", O_RDWR)
        phases["open"], rec.calls = rec.calls, []
        yield from p.mq_unlink("/q")
        phases["unlink"], rec.calls = rec.calls, []
        rec.on = False
        return 0

    k, pid = run(prog, lsms=[rec], uid=1000, gid=1000)
    check_ok(k, pid)
    assert _shape(phases["create"]) == MQ_OPEN_CREATE_SIM
    assert phases["send_receive"] == []  # Linux has no hook per message
    assert _shape(phases["open"]) == MQ_OPEN_EXISTING
    assert _shape(phases["unlink"]) == MQ_UNLINK


LSM_ERR = errno.EKEYREJECTED


def test_complete_mediation() -> None:
    """Every int hook denies once armed: each object-touching call fails with the LSM's
    errno and creates nothing; send/receive on an open queue still work (no hook)."""
    armed = {"on": False}
    lsm = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind == "int" and spec.name not in ("cred_prepare", "sb_alloc_security",
                                                    "inode_alloc_security"):
            lsm.attach(spec.name, lambda *a: -LSM_ERR if armed["on"] else None)

    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600, SMALL)
        armed["on"] = True
        assert (yield from err(p.mq_open("/new", O_CREAT | O_RDWR, 0o600, SMALL))) == LSM_ERR
        assert (yield from err(p.mq_open("/q", O_RDWR))) == LSM_ERR
        assert (yield from err(p.mq_unlink("/q"))) == LSM_ERR
        assert (yield from err(p.mq_send(q, b"x"))) == 0
        assert (yield from p.mq_receive(q, 1)) == (b"x", 0)
        assert (yield from err(p.mq_getattr(q))) == 0
        armed["on"] = False
        return 0

    k, pid = run(prog, lsms=[lsm], uid=1000, gid=1000)
    check_ok(k, pid)
    assert k.lookup("/dev/mqueue/new") is None
    assert k.lookup("/dev/mqueue/q") is not None
    assert k.subsystems["mqueue"].queues_count == 1


# ---------------------------------------------------------------- mq_notify, read()
def test_mq_notify_signals_on_empty_to_non_empty_once() -> None:
    from kernel_sim.posix.mqueue import SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD

    got = []

    def handler(p, sig):
        got.append((sig, p.kernel.now))
        return
        yield

    def other(p):
        q = yield from p.mq_open("/q", O_WRONLY)
        assert (yield from err(p.mq_notify(q, {"sigev_notify": SIGEV_NONE}))) == errno.EBUSY
        yield from p.mq_send(q, b"a")  # empty -> non-empty: notify, then unregister
        yield from p.mq_send(q, b"b")  # not a transition: nothing
        return 0

    def prog(p):
        yield from p.sigaction(SIGUSR1, handler)
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600, {"mq_maxmsg": 4,
                                                                 "mq_msgsize": 8})
        bad = {"sigev_notify": SIGEV_SIGNAL, "sigev_signo": 0}
        assert (yield from err(p.mq_notify(q, bad))) == errno.EINVAL
        assert (yield from err(p.mq_notify(q, {"sigev_notify": 7}))) == errno.EINVAL
        assert (yield from err(p.mq_notify(q, {"sigev_notify": SIGEV_THREAD}))) == errno.ENOSYS
        yield from p.mq_notify(q, {"sigev_notify": SIGEV_SIGNAL, "sigev_signo": SIGUSR1})
        assert (yield from err(p.mq_notify(q, {"sigev_notify": SIGEV_NONE}))) == errno.EBUSY
        assert b"NOTIFY:0     SIGNO:10 " in (yield from p.read(q, 100))
        pid = yield from p.fork(other)
        yield from p.waitpid(pid, 0)
        assert [s for s, _ in got] == [SIGUSR1]
        assert (yield from p.mq_getattr(q)).mq_curmsgs == 2
        yield from p.mq_notify(q, {"sigev_notify": SIGEV_NONE})  # free again: one-shot
        yield from p.mq_notify(q, None)
        yield from p.mq_notify(q, {"sigev_notify": SIGEV_NONE})
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_read_on_a_queue_descriptor_reports_its_state() -> None:
    def prog(p):
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600)
        yield from p.mq_send(q, b"12345")
        line = yield from p.read(q, 200)
        assert line == b"QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"
        assert (yield from err(p.write(q, b"x"))) == errno.EINVAL
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
