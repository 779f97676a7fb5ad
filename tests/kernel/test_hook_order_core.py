"""The hooks each core syscall calls, in Linux's order.

A recording module stacked after ``capability`` logs every hook it is offered.  Each table
below is written from Linux (``fs/namei.c`` path_openat/link_path_walk/may_open/vfs_mknod,
``fs/pipe.c`` create_pipe_files, ``fs/exec.c`` do_open_execat/bprm_execve/begin_new_exec,
``kernel/fork.c`` copy_process, ``kernel/signal.c`` check_kill_permission, ``kernel/ptrace.c``)
and ipc-lsm-reference 1.2/3.1-3.5.  ``*_free`` hooks (lifecycle, RCU-deferred on Linux) are
left out of the comparison.

Notes where the common summary differs from the code: ``file_alloc_security`` comes
*first* for open/execve (path_openat allocates the file before the walk); the last
directory of every path gets its own search check (may_lookup); may_open passes
``MAY_OPEN`` with the access bits; execve reads the header (``file_permission``) and runs
``bprm_check_security`` before ``bprm_creds_from_file`` (begin_new_exec), and maps the program
with the new credentials after the commit (load_elf_binary's elf_map); pipe() also calls
``d_instantiate`` (alloc_file_pseudo).
"""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import (
    F_GETFL,
    MAP_PRIVATE,
    MAY_EXEC,
    MAY_OPEN,
    MAY_READ,
    MAY_WRITE,
    O_CREAT,
    O_NONBLOCK,
    O_RDONLY,
    O_WRONLY,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    PTRACE_ATTACH,
    SIGUSR1,
    Kernel,
)
from lsm import HOOKS, BpfLsm
from tests.kernel.helpers import check_ok, err

FREE_HOOKS = {"task_free", "cred_free", "file_free_security", "inode_free_security",
              "sb_free_security", "msg_msg_free_security", "sk_free_security"}


def _summary(value: Any) -> Any:
    path = getattr(value, "path", None)
    if getattr(value, "ino", None) is not None and callable(path):
        return path()
    return None


class Recorder:
    """Records (hook, first inode path, mask) for the task under test while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.pid = 0
        self.calls: list[tuple[Any, ...]] = []
        self.module = BpfLsm("recorder")
        for spec in HOOKS:
            self.module.attach(spec.name, self._make(spec.name))

    def _make(self, name: str):
        def hook(*args: Any) -> None:
            cur = self.module.security.current
            if not self.on or cur is None or cur.pid != self.pid or name in FREE_HOOKS:
                return
            if name == "inode_permission":
                self.calls.append((name, _summary(args[0]), args[1]))
            elif name == "file_permission":
                self.calls.append((name, args[1]))
            elif name == "mmap_file":
                self.calls.append((name, args[2], args[3]))  # prot, flags
            else:
                self.calls.append((name,))

        return hook


def _newprog(p):
    yield from p.getpid()
    return 0


def _sleeper(p):
    yield from p.nanosleep(5.0)
    return 0


def _search(*dirs: str) -> list[tuple[Any, ...]]:
    return [("inode_permission", d, MAY_EXEC) for d in dirs]


LINUX: dict[str, list[tuple[Any, ...]]] = {
    "open_existing": [("file_alloc_security",), *_search("/", "/tmp"),
                      ("inode_permission", "/tmp/data", MAY_READ | MAY_OPEN), ("file_open",)],
    "open_create": [("file_alloc_security",), *_search("/", "/tmp"),
                    ("inode_permission", "/tmp", MAY_WRITE | MAY_EXEC),  # may_o_create
                    ("inode_create",), ("inode_alloc_security",), ("inode_init_security",),
                    ("d_instantiate",),
                    ("inode_permission", "/tmp/new", MAY_OPEN),  # created: no access bits
                    ("file_open",)],
    "open_fifo": [("file_alloc_security",), *_search("/", "/tmp"),
                  ("inode_permission", "/tmp/fifo", MAY_READ | MAY_OPEN), ("file_open",)],
    # create_pipe_files: get_pipe_inode, alloc_file_pseudo (d_instantiate of an anonymous
    # dentry, then the write file), alloc_file_clone (the read file); no file_open
    "pipe": [("inode_alloc_security",), ("d_instantiate",), ("file_alloc_security",),
             ("file_alloc_security",)],
    "pipe_read": [("file_permission", MAY_READ)],
    "pipe_write": [("file_permission", MAY_WRITE)],
    "mkfifo": [*_search("/", "/tmp"), ("inode_permission", "/tmp", MAY_WRITE | MAY_EXEC),
               ("inode_mknod",), ("inode_alloc_security",), ("inode_init_security",),
               ("d_instantiate",)],
    "mkdir": [*_search("/", "/tmp"), ("inode_permission", "/tmp", MAY_WRITE | MAY_EXEC),
              ("inode_mkdir",), ("inode_alloc_security",), ("inode_init_security",),
              ("d_instantiate",)],
    "unlink": [*_search("/", "/tmp"), ("inode_permission", "/tmp", MAY_WRITE | MAY_EXEC),
               ("inode_unlink",)],
    "stat": [*_search("/", "/tmp"), ("inode_getattr",)],
    "chmod": [*_search("/", "/tmp"), ("inode_setattr",)],
    "fcntl": [("file_fcntl",)],
    "kill": [("task_kill",)],
    "kill_self": [("task_kill",)],  # same thread group: no DAC, the LSM is still asked
    "fork": [("cred_prepare",), ("task_alloc",)],
    "setuid": [("cred_prepare",), ("task_fix_setuid",)],  # capable() stopped in commoncap
    "ptrace": [("ptrace_access_check",)],
    "execve": [("file_alloc_security",), *_search("/", "/usr", "/usr/bin"),
               ("inode_permission", "/usr/bin/newprog", MAY_EXEC | MAY_OPEN), ("file_open",),
               ("cred_prepare",),  # prepare_bprm_creds
               ("bprm_creds_for_exec",),
               ("file_permission", MAY_READ),  # prepare_binprm: kernel_read of the header
               ("bprm_check_security",),
               ("bprm_creds_from_file",),  # begin_new_exec
               ("bprm_committing_creds",), ("bprm_committed_creds",),
               # load_elf_binary maps the text (r-x) and data (rw-) segments, privately
               ("mmap_file", PROT_READ | PROT_EXEC, MAP_PRIVATE),
               ("mmap_file", PROT_READ | PROT_WRITE, MAP_PRIVATE)],
    "dup_close_getpid": [],  # no hooks: the fd table and identity are not mediated
}


def _record(step: str) -> list[tuple[Any, ...]]:
    rec = Recorder()
    k = Kernel(lsms=[rec.module], seed=0)
    k.install("/tmp/data", b"data", mode=0o666, uid=1000, gid=1000)
    k.install("/usr/bin/newprog", _newprog)
    k.mkfifo("/tmp/fifo", 0o666)
    target = k.spawn(_sleeper, uid=1000, gid=1000)

    def prog(p):
        rec.pid = p.pid
        r, w = yield from p.pipe()
        fd = yield from p.open("/tmp/data", O_RDONLY)
        yield from p.write(w, b"x")
        steps = {
            "open_existing": lambda: p.open("/tmp/data", O_RDONLY),
            "open_create": lambda: p.open("/tmp/new", O_CREAT | O_WRONLY),
            "open_fifo": lambda: p.open("/tmp/fifo", O_RDONLY | O_NONBLOCK),
            "pipe": lambda: p.pipe(),
            "pipe_read": lambda: p.read(r, 1),
            "pipe_write": lambda: p.write(w, b"y"),
            "mkfifo": lambda: p.mkfifo("/tmp/f2"),
            "mkdir": lambda: p.mkdir("/tmp/d"),
            "unlink": lambda: p.unlink("/tmp/data"),
            "stat": lambda: p.stat("/tmp/data"),
            "chmod": lambda: p.chmod("/tmp/data", 0o600),
            "fcntl": lambda: p.fcntl(fd, F_GETFL),
            "kill": lambda: p.kill(target, SIGUSR1),
            "kill_self": lambda: p.kill(p.pid, 0),
            "fork": lambda: p.fork(_sleeper),
            "setuid": lambda: p.setuid(1000),
            "ptrace": lambda: p.ptrace(PTRACE_ATTACH, target),
            "execve": lambda: p.execve("/usr/bin/newprog", ["newprog"], {}),
        }
        rec.on = True
        if step == "dup_close_getpid":
            d = yield from p.dup(fd)
            yield from p.close(d)
            yield from p.getpid()
        else:
            rc = yield from err(steps[step]())
            assert rc == 0, rc
        rec.on = False
        return 0

    pid = k.spawn(prog, uid=1000, gid=1000)
    k.run()
    check_ok(k, pid)
    return rec.calls


@pytest.mark.parametrize("step", sorted(LINUX))
def test_hook_sequence_matches_linux(step: str) -> None:
    assert _record(step) == LINUX[step]


def test_pipe_has_no_file_open_but_named_fifo_does() -> None:
    assert ("file_open",) not in _record("pipe")
    assert ("file_open",) in _record("open_fifo")
