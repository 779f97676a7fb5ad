"""POSIX shared memory (glibc shm_open/shm_unlink on the /dev/shm tmpfs), ftruncate, mmap.

shm_open is open(2) on ``/dev/shm/NAME`` (glibc ``__shm_get_name`` checks the name first);
ftruncate sizes the object (``security_file_truncate``, ``security_inode_setattr``); mmap
checks ``security_mmap_file`` then the descriptor's open mode (MAP_SHARED + PROT_WRITE needs a
writable descriptor: EACCES).  A MAP_SHARED mapping is the file's contents: processes mapping
it see each other's stores, and read(2) sees them too.
"""

from __future__ import annotations

import errno
import stat

from kernel_sim import (
    F_GETFD,
    FD_CLOEXEC,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    SIGSEGV,
    Kernel,
)
from lsm.hookdefs import HOOKS
from lsm.module import BpfLsm
from tests.kernel.helpers import check_ok, err, exited, killed_by, run

RW = PROT_READ | PROT_WRITE


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


# ---------------------------------------------------------------- shm_open / shm_unlink
def test_shm_open_creates_a_file_in_dev_shm() -> None:
    def prog(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o666)
        assert (yield from p.fcntl(fd, F_GETFD)) == FD_CLOEXEC  # glibc adds O_CLOEXEC
        fd2 = yield from p.shm_open("//seg", O_RDWR)  # leading slashes are skipped
        assert (yield from p.fstat(fd2)).st_ino == (yield from p.fstat(fd)).st_ino
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    inode = k.lookup("/dev/shm/seg")
    assert inode is not None and inode.sb is k.tmpfs
    assert stat.S_ISREG(inode.mode) and inode.mode & 0o777 == 0o644 and inode.uid == 1000


def test_shm_open_errors() -> None:
    k = Kernel(seed=0)

    def owner(p):
        for bad in ("", "/", "a/b", "/a/b"):
            assert (yield from err(p.shm_open(bad, O_CREAT | O_RDWR))) == errno.EINVAL, bad
        assert (yield from err(p.shm_open("/" + "x" * 256, O_CREAT | O_RDWR))) == \
            errno.ENAMETOOLONG
        assert (yield from err(p.shm_open("/missing", O_RDWR))) == errno.ENOENT
        yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        assert (yield from err(p.shm_open("/seg", O_CREAT | O_EXCL | O_RDWR))) == errno.EEXIST
        return 0

    def other(p):
        assert (yield from err(p.shm_open("/seg", O_RDONLY))) == errno.EACCES
        assert (yield from err(p.shm_unlink("/seg"))) == errno.EACCES  # sticky: EPERM->EACCES
        assert (yield from err(p.shm_unlink("/nope"))) == errno.ENOENT
        assert (yield from err(p.shm_unlink("a/b"))) == errno.ENOENT  # glibc: bad name
        return 0

    def owner_unlinks(p):
        yield from p.shm_unlink("/seg")
        return 0

    for prog, uid in ((owner, 1000), (other, 2000), (owner_unlinks, 1000)):
        pid = k.spawn(prog, uid=uid, gid=uid)
        k.run()
        check_ok(k, pid)
    assert k.lookup("/dev/shm/seg") is None


# ---------------------------------------------------------------- ftruncate
def test_ftruncate_rules() -> None:
    def prog(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        assert (yield from err(p.ftruncate(fd, -1))) == errno.EINVAL
        assert (yield from err(p.ftruncate(77, 10))) == errno.EBADF
        assert (yield from err(p.ftruncate(77, -1))) == errno.EINVAL  # length is checked first
        ro = yield from p.shm_open("/seg", O_RDONLY)
        assert (yield from err(p.ftruncate(ro, 10))) == errno.EINVAL  # not open for writing
        r, _w = yield from p.pipe()
        assert (yield from err(p.ftruncate(r, 10))) == errno.EINVAL  # not a regular file
        yield from p.write(fd, b"abcdef")
        yield from p.ftruncate(fd, 3)
        assert (yield from p.fstat(fd)).st_size == 3
        yield from p.ftruncate(fd, 8)
        assert (yield from p.fstat(fd)).st_size == 8
        assert (yield from p.read(ro, 100)) == b"abc" + bytes(5)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


# ---------------------------------------------------------------- mmap
def test_mmap_protection_against_open_mode() -> None:
    def prog(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, PAGE_SIZE)
        ro = yield from p.shm_open("/seg", O_RDONLY)
        wo = yield from p.open("/dev/shm/seg", O_WRONLY)
        assert (yield from err(p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, ro))) == errno.EACCES
        assert (yield from err(p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, wo))) == errno.EACCES
        assert (yield from err(p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro))) == 0
        # a private writable mapping of a read-only descriptor is fine: writes stay private
        a = yield from p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, ro)
        p.mem_write(a, 0, b"private")
        assert (yield from p.read(ro, 7)) == bytes(7)
        assert (yield from err(p.mmap(0, 0, RW, MAP_SHARED, fd))) == errno.EINVAL
        assert (yield from err(p.mmap(0, 10, RW, 0, fd))) == errno.EINVAL  # neither type
        assert (yield from err(p.mmap(0, 10, RW, MAP_SHARED, fd, 100))) == errno.EINVAL
        assert (yield from err(p.mmap(0, 10, RW, MAP_SHARED, 55))) == errno.EBADF
        r, _w = yield from p.pipe()
        assert (yield from err(p.mmap(0, 10, PROT_READ, MAP_SHARED, r))) == errno.ENODEV
        q = yield from p.mq_open("/q", O_CREAT | O_RDWR, 0o600)
        assert (yield from err(p.mmap(0, 10, PROT_READ, MAP_SHARED, q))) == errno.ENODEV
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_shared_memory_is_visible_across_processes() -> None:
    def child(p):
        fd = yield from p.shm_open("/seg", O_RDWR)
        a = yield from p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd)
        yield from p.close(fd)  # the mapping outlives the descriptor
        assert p.mem_read(a, 0, 5) == b"hello"
        p.mem_write(a, PAGE_SIZE, b"from child")
        return 0

    def parent(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, 2 * PAGE_SIZE)
        a = yield from p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd)
        p.mem_write(a, 0, b"hello")
        pid = yield from p.fork(child)
        _, status = yield from p.waitpid(pid, 0)
        assert exited(status)
        assert p.mem_read(a, PAGE_SIZE, 10) == b"from child"
        # read(2) sees what was stored through the mapping, and a mapping at an offset too
        b = yield from p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE)
        assert p.mem_read(b, 0, 10) == b"from child"
        assert (yield from p.read(fd, 5)) == b"hello"
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)


def test_unrelated_processes_share_through_the_file() -> None:
    """Two processes that are not related by fork, each mapping the same name."""
    k = Kernel(seed=0)
    got = {}

    def writer(p):
        fd = yield from p.shm_open("/board", O_CREAT | O_RDWR, 0o666)
        yield from p.ftruncate(fd, 64)
        a = yield from p.mmap(0, 64, RW, MAP_SHARED, fd)
        yield from p.nanosleep(0.001)
        p.mem_write(a, 8, b"posted")
        return 0

    def reader(p):
        yield from p.nanosleep(0.0005)
        fd = yield from p.shm_open("/board", O_RDONLY)
        a = yield from p.mmap(0, 64, PROT_READ, MAP_SHARED, fd)
        got["before"] = p.mem_read(a, 8, 6)
        yield from p.nanosleep(0.002)
        got["after"] = p.mem_read(a, 8, 6)
        return 0

    w = k.spawn(writer, uid=1000, gid=1000)
    r = k.spawn(reader, uid=2000, gid=2000)
    k.run()
    check_ok(k, w)
    check_ok(k, r)
    assert got == {"before": bytes(6), "after": b"posted"}


def test_anonymous_mappings_and_fork() -> None:
    def child(p, shared, private):
        p.mem_write(shared, 0, b"S")
        p.mem_write(private, 0, b"P")
        return 0
        yield

    def parent(p):
        shared = yield from p.mmap(0, 100, RW, MAP_SHARED | MAP_ANONYMOUS)
        private = yield from p.mmap(0, 100, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        assert p.mem_read(shared, 0, 100) == bytes(100)  # zero-filled
        pid = yield from p.fork(child, shared, private)
        yield from p.waitpid(pid, 0)
        assert p.mem_read(shared, 0, 1) == b"S"
        assert p.mem_read(private, 0, 1) == b"\0"
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)


def test_munmap() -> None:
    def prog(p):
        a = yield from p.mmap(0, 3 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        assert (yield from err(p.munmap(a + 1, PAGE_SIZE))) == errno.EINVAL
        assert (yield from err(p.munmap(a, 0))) == errno.EINVAL
        p.mem_write(a, 2 * PAGE_SIZE, b"tail")
        yield from p.munmap(a + PAGE_SIZE, PAGE_SIZE)  # punch a hole: two mappings remain
        assert p.mem_read(a + 2 * PAGE_SIZE, 0, 4) == b"tail"
        p.mem_write(a, 0, b"head")
        yield from p.munmap(a + PAGE_SIZE, PAGE_SIZE)  # unmapping a hole is not an error
        b = yield from p.mmap(a + PAGE_SIZE, PAGE_SIZE, RW,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
        assert b == a + PAGE_SIZE and p.mem_read(b, 0, 4) == bytes(4)
        yield from p.munmap(a, 3 * PAGE_SIZE)
        p.mem_read(a, 0, 1)  # SIGSEGV
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    assert killed_by(k.exit_status(pid), SIGSEGV)


# ---------------------------------------------------------------- hooks
def _shape(calls):
    out = []
    for name, args in calls:
        if name == "inode_permission":
            out.append((name, args[0].path(), args[1]))
        elif name in ("inode_create", "inode_unlink"):
            out.append((name, args[0].path()))
        elif name == "inode_setattr":
            out.append((name, args[1]["size"]))
        elif name == "mmap_file":
            out.append((name, args[1], args[2], args[3]))
        else:
            out.append((name,))
    return out


#: Linux (path_openat -> link_path_walk -> lookup_open/may_o_create -> shmem_mknod -> do_open
#: -> may_open -> vfs_open), then ftruncate (do_sys_ftruncate -> do_truncate ->
#: notify_change) and mmap (vm_mmap_pgoff), from ipc-lsm-reference 3.8.
SHM_LINUX = [
    ("file_alloc_security",),  # alloc_empty_file, before the walk
    ("inode_permission", "/", 1),
    ("inode_permission", "/dev", 1),
    ("inode_permission", "/dev/shm", 1),  # may_lookup of the last component's directory
    ("inode_permission", "/dev/shm", 3),  # may_o_create: MAY_WRITE | MAY_EXEC
    ("inode_create", "/dev/shm"),
    ("inode_alloc_security",),
    ("inode_init_security",),
    ("d_instantiate",),
    ("inode_permission", "/dev/shm/seg", 32),  # may_open on a created file: MAY_OPEN only
    ("file_open",),
    ("file_truncate",),
    ("inode_setattr", 8192),
    ("mmap_file", RW, RW, MAP_SHARED),
]


def test_hook_order_shm_open_ftruncate_mmap() -> None:
    rec = Recorder()

    def prog(p):
        rec.on = True
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, 8192)
        a = yield from p.mmap(0, 8192, RW, MAP_SHARED, fd)
        p.mem_write(a, 0, b"no hook for memory accesses")
        p.mem_read(a, 0, 4)
        rec.on = False
        return 0

    k, pid = run(prog, lsms=[rec], uid=1000, gid=1000)
    check_ok(k, pid)
    assert _shape(rec.calls) == SHM_LINUX
    mmap_file_args = next(a for n, a in rec.calls if n == "mmap_file")
    assert mmap_file_args[0].inode is k.lookup("/dev/shm/seg")


LSM_ERR = errno.EKEYREJECTED


def test_complete_mediation() -> None:
    armed = {"on": False}
    lsm = BpfLsm("deny-all")
    for spec in HOOKS:
        if spec.kind == "int" and spec.name not in ("cred_prepare", "sb_alloc_security",
                                                    "inode_alloc_security"):
            lsm.attach(spec.name, lambda *a: -LSM_ERR if armed["on"] else None)

    def prog(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, 100)
        nmaps = len(p.process.mm.maps)
        armed["on"] = True
        assert (yield from err(p.shm_open("/new", O_CREAT | O_RDWR, 0o600))) == LSM_ERR
        assert (yield from err(p.shm_open("/seg", O_RDWR))) == LSM_ERR
        assert (yield from err(p.shm_unlink("/seg"))) == LSM_ERR
        assert (yield from err(p.ftruncate(fd, 200))) == LSM_ERR
        assert (yield from err(p.mmap(0, 100, RW, MAP_SHARED, fd))) == LSM_ERR
        assert (yield from err(p.mmap(0, 100, RW, MAP_PRIVATE | MAP_ANONYMOUS))) == LSM_ERR
        assert len(p.process.mm.maps) == nmaps
        armed["on"] = False
        return 0

    k, pid = run(prog, lsms=[lsm], uid=1000, gid=1000)
    check_ok(k, pid)
    assert k.lookup("/dev/shm/new") is None
    seg = k.lookup("/dev/shm/seg")
    assert seg is not None and seg.size == 100


def test_mmap_file_hook_runs_before_the_open_mode_check() -> None:
    """vm_mmap_pgoff calls security_mmap_file before do_mmap looks at f_mode: an LSM that
    refuses the mapping is heard even when the descriptor's mode would refuse it too."""
    lsm = BpfLsm("no-map")
    lsm.attach("mmap_file", lambda file, reqprot, prot, flags: -LSM_ERR)

    def prog(p):
        fd = yield from p.shm_open("/seg", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, 10)
        ro = yield from p.shm_open("/seg", O_RDONLY)
        return (yield from err(p.mmap(0, 10, RW, MAP_SHARED, ro)))

    k, pid = run(prog, lsms=[lsm], uid=1000, gid=1000)
    assert k.exit_status(pid) >> 8 == LSM_ERR
    k, pid = run(prog, uid=1000, gid=1000)
    assert k.exit_status(pid) >> 8 == errno.EACCES
