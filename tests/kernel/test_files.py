"""Regular files and names: open/read/write/close, dup/dup2/fcntl, unlink, mkfifo, stat,
chmod, chown, umask and path search permission (Linux ``fs/namei.c``, ``fs/open.c``)."""

from __future__ import annotations

import errno
import stat

from kernel_sim import (
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    Kernel,
)
from tests.kernel.helpers import check_ok, err, run


def _kernel() -> Kernel:
    k = Kernel(seed=0)
    k.install("/etc/motd", b"hello world\n", mode=0o644)
    k.install("/etc/shadow", b"secret\n", mode=0o600)
    k.mkdir("/home/alice", 0o700, uid=1000, gid=1000)
    k.install("/home/alice/notes", b"alice's\n", mode=0o644, uid=1000, gid=1000)
    return k


def test_open_read_write_close_regular_file() -> None:
    def prog(p):
        fd = yield from p.open("/tmp/f", O_CREAT | O_RDWR, 0o666)
        assert fd == 0
        assert (yield from p.write(fd, b"abcdef")) == 6
        yield from p.close(fd)
        fd = yield from p.open("/tmp/f", O_RDONLY)
        assert (yield from p.read(fd, 4)) == b"abcd"
        assert (yield from p.read(fd, 100)) == b"ef"
        assert (yield from p.read(fd, 100)) == b""
        st = yield from p.stat("/tmp/f")
        assert st.st_size == 6 and stat.S_IMODE(st.st_mode) == 0o644
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=1000, gid=1000))


def test_open_flags_errors() -> None:
    def prog(p):
        assert (yield from err(p.open("/etc/nope", O_RDONLY))) == errno.ENOENT
        assert (yield from err(p.open("/etc/motd", O_CREAT | O_EXCL | O_RDWR))) == errno.EEXIST
        assert (yield from err(p.open("/etc", O_WRONLY))) == errno.EISDIR
        assert (yield from err(p.open("/tmp", O_CREAT | O_RDONLY))) == errno.EISDIR
        assert (yield from err(p.open("/etc/motd", O_RDONLY | O_DIRECTORY))) == errno.ENOTDIR
        assert (yield from err(p.open("/etc/motd/x", O_RDONLY))) == errno.ENOTDIR
        assert (yield from err(p.open("", O_RDONLY))) == errno.ENOENT
        assert (yield from err(p.open("/tmp/missing/f", O_CREAT | O_WRONLY))) == errno.ENOENT
        fd = yield from p.open("/etc", O_RDONLY | O_DIRECTORY)
        assert (yield from err(p.read(fd, 1))) == errno.EISDIR
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_dac_on_open_and_create() -> None:
    def prog(p):
        assert (yield from err(p.open("/etc/shadow", O_RDONLY))) == errno.EACCES
        assert (yield from err(p.open("/etc/motd", O_WRONLY))) == errno.EACCES
        assert (yield from err(p.open("/etc/motd", O_RDONLY | O_TRUNC))) == errno.EACCES
        assert (yield from err(p.open("/etc/new", O_CREAT | O_WRONLY))) == errno.EACCES
        # a file created with mode 0 is still opened for writing by its creator
        fd = yield from p.open("/tmp/zero", O_CREAT | O_WRONLY, 0)
        assert (yield from p.write(fd, b"x")) == 1
        assert (yield from err(p.open("/tmp/zero", O_RDONLY))) == errno.EACCES
        fd = yield from p.open("/etc/motd", O_RDONLY)
        assert (yield from err(p.write(fd, b"x"))) == errno.EBADF
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=2000, gid=2000))


def test_root_bypasses_mode_bits() -> None:
    def prog(p):
        fd = yield from p.open("/home/alice/notes", O_RDWR)
        assert (yield from p.read(fd, 100)) == b"alice's\n"
        fd = yield from p.open("/etc/shadow", O_RDONLY)
        assert (yield from p.read(fd, 100)) == b"secret\n"
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_path_search_permission() -> None:
    def prog(p):
        # /home/alice is 0700: no search for others, whatever the file's own mode
        assert (yield from err(p.open("/home/alice/notes", O_RDONLY))) == errno.EACCES
        assert (yield from err(p.stat("/home/alice/notes"))) == errno.EACCES
        assert (yield from err(p.stat("/home/alice/missing"))) == errno.EACCES
        assert (yield from err(p.mkfifo("/home/alice/f"))) == errno.EACCES
        assert (yield from err(p.unlink("/home/alice/notes"))) == errno.EACCES
        yield from p.stat("/home/alice")  # the directory itself is visible
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=2000, gid=2000))


def test_search_without_read_on_directory_is_enough() -> None:
    k = _kernel()
    k.mkdir("/srv", 0o711)
    k.install("/srv/pub", b"public", mode=0o644)

    def prog(p):
        fd = yield from p.open("/srv/pub", O_RDONLY)
        assert (yield from p.read(fd, 10)) == b"public"
        assert (yield from err(p.open("/srv", O_RDONLY))) == errno.EACCES  # no read bit
        return 0

    check_ok(*run(prog, kernel=k, uid=2000, gid=2000))


def test_truncate_and_append() -> None:
    def prog(p):
        fd = yield from p.open("/tmp/f", O_CREAT | O_WRONLY, 0o644)
        yield from p.write(fd, b"0123456789")
        yield from p.close(fd)
        fd = yield from p.open("/tmp/f", O_WRONLY | O_APPEND)
        yield from p.write(fd, b"AB")
        yield from p.close(fd)
        fd = yield from p.open("/tmp/f", O_RDONLY)
        assert (yield from p.read(fd, 100)) == b"0123456789AB"
        fd = yield from p.open("/tmp/f", O_WRONLY | O_TRUNC)
        assert (yield from p.stat("/tmp/f")).st_size == 0
        assert (yield from p.fcntl(fd, F_GETFL)) == O_WRONLY  # O_TRUNC is not kept
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=1000, gid=1000))


def test_dup_dup2_share_the_open_file() -> None:
    def prog(p):
        fd = yield from p.open("/etc/motd", O_RDONLY)
        d = yield from p.dup(fd)
        assert d == fd + 1
        assert (yield from p.read(fd, 6)) == b"hello "
        assert (yield from p.read(d, 100)) == b"world\n"  # shared offset
        assert (yield from p.dup2(fd, 7)) == 7
        assert (yield from p.dup2(fd, fd)) == fd
        yield from p.close(fd)
        assert (yield from p.read(7, 1)) == b""  # still open through the duplicate
        assert (yield from err(p.dup(fd))) == errno.EBADF
        assert (yield from err(p.dup2(fd, 9))) == errno.EBADF
        assert (yield from err(p.dup2(fd, fd))) == errno.EBADF
        assert (yield from err(p.dup2(7, -1))) == errno.EBADF
        assert (yield from err(p.dup2(7, 5000))) == errno.EBADF
        r, w = yield from p.pipe()
        yield from p.dup2(w, 7)  # replaces (closes) the old fd 7
        yield from p.write(7, b"z")
        assert (yield from p.read(r, 1)) == b"z"
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_fcntl_descriptor_flags() -> None:
    def prog(p):
        fd = yield from p.open("/etc/motd", O_RDONLY | O_CLOEXEC)
        assert (yield from p.fcntl(fd, F_GETFD)) == FD_CLOEXEC
        yield from p.fcntl(fd, F_SETFD, 0)
        assert (yield from p.fcntl(fd, F_GETFD)) == 0
        d = yield from p.fcntl(fd, F_DUPFD, 10)
        assert d == 10 and (yield from p.fcntl(d, F_GETFD)) == 0
        d2 = yield from p.fcntl(fd, F_DUPFD_CLOEXEC, 10)
        assert d2 == 11 and (yield from p.fcntl(d2, F_GETFD)) == FD_CLOEXEC
        assert (yield from err(p.fcntl(fd, F_DUPFD, 1 << 20))) == errno.EINVAL
        assert (yield from err(p.fcntl(fd, F_DUPFD, -1))) == errno.EINVAL
        # dup2 clears close-on-exec on the new descriptor
        yield from p.dup2(d2, 12)
        assert (yield from p.fcntl(12, F_GETFD)) == 0
        assert (yield from p.fcntl(fd, F_GETFL)) & 3 == O_RDONLY
        yield from p.fcntl(fd, F_SETFL, O_NONBLOCK | O_WRONLY)  # access mode is not changed
        assert (yield from p.fcntl(fd, F_GETFL)) == O_RDONLY | O_NONBLOCK | O_CLOEXEC
        assert (yield from err(p.fcntl(fd, 9999))) == errno.EINVAL
        assert (yield from err(p.fcntl(77, F_GETFD))) == errno.EBADF
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_emfile_when_the_table_is_full() -> None:
    def prog(p):
        fd = yield from p.open("/etc/motd", O_RDONLY)
        for _ in range(1023):
            yield from p.dup(fd)
        assert (yield from err(p.dup(fd))) == errno.EMFILE
        assert (yield from err(p.open("/etc/motd", O_RDONLY))) == errno.EMFILE
        assert (yield from err(p.open("/etc/missing", O_RDONLY))) == errno.EMFILE  # fd first
        assert (yield from err(p.pipe())) == errno.EMFILE
        yield from p.close(5)
        assert (yield from p.dup(fd)) == 5
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_unlink() -> None:
    def prog(p):
        fd = yield from p.open("/tmp/f", O_CREAT | O_RDWR)
        yield from p.write(fd, b"data")
        yield from p.unlink("/tmp/f")
        assert (yield from err(p.stat("/tmp/f"))) == errno.ENOENT
        assert (yield from err(p.unlink("/tmp/f"))) == errno.ENOENT
        # the open file outlives its name
        assert (yield from p.fstat(fd)).st_nlink == 0
        assert (yield from p.write(fd, b"more")) == 4
        assert (yield from err(p.unlink("/etc/motd"))) == errno.EACCES  # /etc not writable
        # / is 0755 root: may_delete fails on write permission before its EISDIR test
        assert (yield from err(p.unlink("/tmp"))) == errno.EACCES
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=1000, gid=1000))


def test_unlink_directory_is_eisdir_for_root_and_sticky_rules() -> None:
    k = _kernel()
    k.install("/tmp/bobs", b"x", mode=0o666, uid=1001, gid=1001)
    k.mkdir("/tmp/bobdir", 0o777, uid=1001, gid=1001)

    def user(p):
        assert (yield from err(p.unlink("/tmp/bobs"))) == errno.EPERM  # sticky /tmp
        assert (yield from err(p.unlink("/tmp/bobdir"))) == errno.EPERM  # sticky before EISDIR
        assert (yield from err(p.unlink("/etc"))) == errno.EACCES  # DAC before EISDIR
        fd = yield from p.open("/tmp/mine", O_CREAT | O_WRONLY)
        yield from p.close(fd)
        yield from p.unlink("/tmp/mine")
        return 0

    def root(p):
        assert (yield from err(p.unlink("/tmp/bobdir"))) == errno.EISDIR
        yield from p.unlink("/tmp/bobs")
        return 0

    check_ok(*run(user, kernel=k, uid=1000, gid=1000))
    check_ok(*run(root, kernel=k))


def test_stat_fields() -> None:
    def prog(p):
        st = yield from p.stat("/tmp")
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o1777
        st = yield from p.stat("/etc/motd")
        assert stat.S_ISREG(st.st_mode) and st.st_size == 12 and st.st_nlink == 1
        assert (yield from err(p.stat("/nonexistent"))) == errno.ENOENT
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_chmod_owner_or_cap_fowner() -> None:
    def prog(p):
        yield from p.chmod("/home/alice/notes", 0o4600)
        st = yield from p.stat("/home/alice/notes")
        assert stat.S_IMODE(st.st_mode) == 0o4600 and stat.S_ISREG(st.st_mode)
        assert (yield from err(p.chmod("/etc/motd", 0o777))) == errno.EPERM
        assert (yield from err(p.chmod("/etc/none", 0o777))) == errno.ENOENT
        return 0

    k = _kernel()
    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))

    def root(p):
        yield from p.chmod("/home/alice/notes", 0o600)
        return 0

    check_ok(*run(root, kernel=k))
    assert stat.S_IMODE(k.lookup("/home/alice/notes").mode) == 0o600


def test_chown_rules() -> None:
    k = _kernel()

    def user(p):
        f = "/home/alice/notes"
        assert (yield from err(p.chown(f, 0, -1))) == errno.EPERM  # giving away: CAP_CHOWN
        yield from p.chown(f, 1000, -1)  # to oneself: allowed
        yield from p.chown(f, -1, 50)  # to a group we are a member of
        assert (yield from p.stat(f)).st_gid == 50
        assert (yield from err(p.chown(f, -1, 51))) == errno.EPERM
        assert (yield from err(p.chown("/etc/motd", -1, 50))) == errno.EPERM  # not the owner
        return 0

    check_ok(*run(user, kernel=k, uid=1000, gid=1000, groups=[50]))

    def root(p):
        yield from p.chmod("/etc/motd", 0o6755)
        yield from p.chown("/etc/motd", 1000, 1000)
        st = yield from p.stat("/etc/motd")
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        assert stat.S_IMODE(st.st_mode) == 0o755  # set-id bits cleared on chown
        return 0

    check_ok(*run(root, kernel=k))


def test_umask_applies_to_open_mkdir_mkfifo() -> None:
    def prog(p):
        assert (yield from p.umask(0o027)) == 0o022
        yield from p.open("/tmp/f", O_CREAT | O_WRONLY, 0o666)
        yield from p.mkdir("/tmp/d", 0o777)
        yield from p.mkfifo("/tmp/p", 0o666)
        modes = []
        for path in ("/tmp/f", "/tmp/d", "/tmp/p"):
            modes.append(stat.S_IMODE((yield from p.stat(path)).st_mode))
        assert modes == [0o640, 0o750, 0o640]
        assert (yield from p.umask(0o7777)) == 0o027
        assert (yield from p.umask(0)) == 0o777  # only the permission bits are kept
        return 0

    check_ok(*run(prog, kernel=_kernel()))


def test_new_file_group_from_setgid_directory() -> None:
    k = _kernel()
    k.mkdir("/srv/shared", 0o2777, gid=77)

    def prog(p):
        yield from p.open("/srv/shared/f", O_CREAT | O_WRONLY)
        assert (yield from p.stat("/srv/shared/f")).st_gid == 77
        yield from p.mkdir("/srv/shared/sub", 0o6777)  # mkdir drops set-id bits it is given
        st = yield from p.stat("/srv/shared/sub")
        assert st.st_gid == 77 and stat.S_IMODE(st.st_mode) == 0o2755  # but inherits S_ISGID
        yield from p.mkdir("/tmp/plain", 0o7777)
        assert stat.S_IMODE((yield from p.stat("/tmp/plain")).st_mode) == 0o1755
        return 0

    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))


def test_mkdir_and_errors() -> None:
    def prog(p):
        yield from p.mkdir("/tmp/d")
        assert (yield from err(p.mkdir("/tmp/d"))) == errno.EEXIST
        assert (yield from err(p.mkdir("/etc/d"))) == errno.EACCES
        assert (yield from err(p.mkdir("/tmp/x/y"))) == errno.ENOENT
        fd = yield from p.open("/tmp/d/f", O_CREAT | O_WRONLY)
        assert fd >= 0
        return 0

    check_ok(*run(prog, kernel=_kernel(), uid=1000, gid=1000))


def test_trailing_slash_rules() -> None:
    def prog(p):
        assert (yield from err(p.open("/tmp/newfile/", O_CREAT | O_WRONLY))) == errno.EISDIR
        assert (yield from err(p.mkfifo("/tmp/newfifo/"))) == errno.ENOENT
        assert (yield from err(p.open("/etc/motd/", O_RDONLY))) == errno.ENOTDIR
        assert (yield from err(p.stat("/etc/motd/"))) == errno.ENOTDIR
        yield from p.mkdir("/tmp/newdir/")  # a directory may be named with a slash
        assert (yield from err(p.mkfifo("/tmp/newdir/"))) == errno.EEXIST
        assert k_lookup("/tmp/newfile") is None and k_lookup("/tmp/newfifo") is None
        return 0

    k = _kernel()
    k_lookup = k.lookup
    check_ok(*run(prog, kernel=k, uid=1000, gid=1000))
