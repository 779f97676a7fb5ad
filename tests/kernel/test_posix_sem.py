"""Named POSIX semaphores as glibc builds them: /dev/shm/sem.NAME, mapped MAP_SHARED, the
counter in the mapped bytes, sleeping and waking through futexes.

sem_open(O_CREAT) creates the file under a temporary name, writes the initial sem_t, maps it
and link(2)s it into place; sem_wait/sem_post enter the kernel only to sleep or wake.
"""

from __future__ import annotations

import errno

from kernel_sim import O_CREAT, O_EXCL, SIGUSR1, Kernel
from kernel_sim.posix import SEM_VALUE_MAX
from kernel_sim.posix.sem import SIZEOF_SEM_T
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err, run


def test_sem_open_builds_the_glibc_file() -> None:
    def prog(p):
        yield from p.umask(0o077)
        s = yield from p.sem_open("/s", O_CREAT, 0o666, 3)
        assert p.sem_getvalue(s) == 3
        assert p.mem_read(s.addr, 0, 12) == (3).to_bytes(8, "little") + bytes(4)
        again = yield from p.sem_open("/s", 0)  # same process: the same mapping
        assert again is s and s.refcnt == 2
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    shm = k.lookup("/dev/shm")
    assert sorted(shm.children) == ["sem.s"]  # the temporary name is gone
    inode = shm.children["sem.s"]
    assert inode.mode & 0o777 == 0o600 and inode.size == SIZEOF_SEM_T and inode.nlink == 1


def test_sem_open_errors() -> None:
    k = Kernel(seed=0)

    def owner(p):
        assert (yield from err(p.sem_open("", O_CREAT, 0o600, 0))) == errno.EINVAL
        assert (yield from err(p.sem_open("/a/b", O_CREAT, 0o600, 0))) == errno.EINVAL
        assert (yield from err(p.sem_open("/" + "x" * 260, O_CREAT, 0o600, 0))) == \
            errno.ENAMETOOLONG
        assert (yield from err(p.sem_open("/missing", 0))) == errno.ENOENT
        assert (yield from err(p.sem_open("/big", O_CREAT, 0o600, SEM_VALUE_MAX + 1))) == \
            errno.EINVAL
        yield from p.sem_open("/s", O_CREAT, 0o644, 1)
        assert (yield from err(p.sem_open("/s", O_CREAT | O_EXCL, 0o600, 0))) == errno.EEXIST
        assert (yield from err(p.sem_open("/s", O_CREAT, 0o600, 0))) == 0  # existing: fine
        return 0

    def other(p):
        # glibc opens every semaphore O_RDWR: 0644 is not enough for another user
        assert (yield from err(p.sem_open("/s", 0))) == errno.EACCES
        assert (yield from err(p.sem_unlink("/s"))) == errno.EACCES  # sticky /dev/shm
        assert (yield from err(p.sem_unlink("/nope"))) == errno.ENOENT
        assert (yield from err(p.sem_unlink("a/b"))) == errno.ENOENT
        return 0

    def owner_unlinks(p):
        yield from p.sem_unlink("/s")
        return 0

    for prog, uid in ((owner, 1000), (other, 2000), (owner_unlinks, 1000)):
        pid = k.spawn(prog, uid=uid, gid=uid)
        k.run()
        check_ok(k, pid)
    assert k.lookup("/dev/shm").children == {}


def test_trywait_post_and_overflow() -> None:
    def prog(p):
        s = yield from p.sem_open("/s", O_CREAT, 0o600, 1)
        yield from p.sem_trywait(s)
        assert (yield from err(p.sem_trywait(s))) == errno.EAGAIN
        yield from p.sem_post(s)
        assert p.sem_getvalue(s) == 1
        m = yield from p.sem_open("/max", O_CREAT, 0o600, SEM_VALUE_MAX)
        assert (yield from err(p.sem_post(m))) == errno.EOVERFLOW
        assert p.sem_getvalue(m) == SEM_VALUE_MAX
        t0 = p.kernel.now
        yield from p.sem_wait(s)  # uncontended: no system call, no simulated time
        yield from p.sem_post(s)
        assert p.kernel.now == t0
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_named_semaphore_across_unrelated_processes() -> None:
    """Two processes that share nothing but the name: a ping-pong with two semaphores."""
    k = Kernel(seed=0)
    log = []

    def ping(p):
        a = yield from p.sem_open("/a", O_CREAT, 0o600, 0)
        b = yield from p.sem_open("/b", O_CREAT, 0o600, 0)
        for i in range(5):
            log.append(("ping", i))
            yield from p.sem_post(a)
            yield from p.sem_wait(b)
        return 0

    def pong(p):
        yield from p.nanosleep(0.001)
        a = yield from p.sem_open("/a", 0)
        b = yield from p.sem_open("/b", 0)
        for i in range(5):
            yield from p.sem_wait(a)
            log.append(("pong", i))
            yield from p.sem_post(b)
        return 0

    x = k.spawn(ping, uid=1000, gid=1000)
    y = k.spawn(pong, uid=1000, gid=1000)
    k.run()
    check_ok(k, x)
    check_ok(k, y)
    assert log == [(who, i) for i in range(5) for who in ("ping", "pong")]


def test_post_wakes_exactly_one_waiter() -> None:
    k = Kernel(seed=0)
    woke = []

    def waiter(p, i):
        s = yield from p.sem_open("/s", O_CREAT, 0o600, 0)
        yield from p.sem_wait(s)
        woke.append(i)
        return 0

    def poster(p):
        yield from p.nanosleep(0.001)
        s = yield from p.sem_open("/s", 0)
        assert p.mem_read(s.addr, 4, 4) == (3).to_bytes(4, "little")  # three waiters counted
        yield from p.sem_post(s)
        yield from p.nanosleep(0.001)
        assert len(woke) == 1
        yield from p.sem_post(s)
        yield from p.sem_post(s)
        yield from p.nanosleep(0.001)
        assert sorted(woke) == [0, 1, 2] and p.sem_getvalue(s) == 0
        assert p.mem_read(s.addr, 4, 4) == bytes(4)  # no waiters left
        return 0

    pids = [k.spawn(waiter, i, uid=1000, gid=1000) for i in range(3)]
    pids.append(k.spawn(poster, uid=1000, gid=1000))
    k.run()
    for pid in pids:
        check_ok(k, pid)


def test_sem_wait_interrupted_by_a_signal() -> None:
    out = {}

    def handler(p, sig):
        return
        yield

    def prog(p):
        yield from p.sigaction(SIGUSR1, handler)
        s = yield from p.sem_open("/s", O_CREAT, 0o600, 0)

        def killer(t):
            yield from t.nanosleep(0.001)
            yield from t.tgkill(t.pid, t.pid, SIGUSR1)

        yield from p.clone_thread(killer)
        out["err"] = yield from err(p.sem_wait(s))
        out["waiters"] = p.mem_read(s.addr, 4, 4)
        yield from p.nanosleep(0.001)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert out == {"err": errno.EINTR, "waiters": bytes(4)}  # __sem_wait_cleanup ran


def test_sem_close() -> None:
    def prog(p):
        s = yield from p.sem_open("/s", O_CREAT, 0o600, 1)
        yield from p.sem_open("/s", 0)
        yield from p.sem_close(s)
        assert p.sem_getvalue(s) == 1  # one reference left: still mapped
        yield from p.sem_close(s)
        assert p.process.mm.find(s.addr) is None
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_hooks_of_sem_open_create() -> None:
    """The system calls glibc makes, so the hooks SELinux sees (refpolicy's dirsrv
    ``{ map }`` on /dev/shm/sem.* comes from the mmap): create a temporary file, write,
    map, link into place, fstat, unlink the temporary name."""
    calls = []
    armed = {"on": False}
    lsm = BpfLsm("rec")
    for spec in HOOKS:
        lsm.attach(spec.name, lambda *a, _n=spec.name: calls.append((_n, a))
                   if armed["on"] else None)

    def prog(p):
        armed["on"] = True
        yield from p.sem_open("/s", O_CREAT, 0o600, 0)
        armed["on"] = False
        return 0

    k, pid = run(prog, lsms=[lsm], uid=1000, gid=1000)
    check_ok(k, pid)
    key = []
    for name, a in calls:
        if name == "inode_create":
            key.append((name, a[1].name.startswith("sem.") and a[1].name != "sem.s"))
        elif name == "mmap_file":
            key.append((name, a[3]))
        elif name == "inode_link":
            key.append((name, a[2].name))
        elif name == "inode_unlink":
            key.append((name, a[1].name != "sem.s"))
        elif name in ("file_permission", "inode_getattr", "file_open"):
            key.append((name,))
    assert key == [("inode_create", True), ("file_open",), ("file_permission",),
                   ("mmap_file", 1), ("inode_link", "sem.s"), ("inode_getattr",),
                   ("inode_unlink", True)]


LSM_ERR = errno.EKEYREJECTED


def test_complete_mediation() -> None:
    armed = {"on": False}
    lsm = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind == "int" and spec.name not in ("cred_prepare", "sb_alloc_security",
                                                    "inode_alloc_security"):
            lsm.attach(spec.name, lambda *a: -LSM_ERR if armed["on"] else None)

    def prog(p):
        s = yield from p.sem_open("/old", O_CREAT, 0o600, 1)
        armed["on"] = True
        assert (yield from err(p.sem_open("/new", O_CREAT, 0o600, 0))) == LSM_ERR
        assert (yield from err(p.sem_open("/old", 0))) == LSM_ERR
        assert (yield from err(p.sem_unlink("/old"))) == LSM_ERR
        # a semaphore already mapped is plain memory plus futexes: no hook
        yield from p.sem_wait(s)
        yield from p.sem_post(s)
        armed["on"] = False
        return 0

    k, pid = run(prog, lsms=[lsm], uid=1000, gid=1000)
    check_ok(k, pid)
    assert sorted(k.lookup("/dev/shm").children) == ["sem.old"]  # no sem.new, no temp file


def _child_reopens(p, s):
    again = yield from p.sem_open("/s", 0)
    assert again.addr == s.addr  # glibc's table is process memory: fork copied it
    yield from p.sem_post(s)
    return 0


def _after_exec(p, *args):
    assert p.process.ipc.get("posix_sem") is None  # exec dropped the old table
    s = yield from p.sem_open("/s", 0)
    yield from p.sem_post(s)
    return 0


def test_fork_shares_the_mapping_and_exec_forgets_it() -> None:
    def execer(p):
        yield from p.sem_open("/s", 0)
        yield from p.execve("/usr/bin/after", ["after"], {})

    def prog(p):
        s = yield from p.sem_open("/s", O_CREAT, 0o600, 0)
        pid = yield from p.fork(_child_reopens, s)
        yield from p.sem_wait(s)  # the child's post through the inherited mapping
        yield from p.waitpid(pid, 0)
        pid = yield from p.fork(execer)
        yield from p.sem_wait(s)
        _, st = yield from p.waitpid(pid, 0)
        return st >> 8

    k = Kernel(seed=0)
    k.install("/usr/bin/after", _after_exec)
    k, pid = run(prog, kernel=k, uid=1000, gid=1000)
    check_ok(k, pid)
