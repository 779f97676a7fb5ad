"""The LSM framework: stacking order, int/void hook semantics, exclusivity, BpfLsm, blobs
(Linux ``security/security.c``: ``call_int_hook``, ``call_void_hook``, ``lsm_blob_sizes``)."""

from __future__ import annotations

import errno
import json

import pytest

from kernel_sim import O_CREAT, O_RDWR, SIGUSR1, Kernel
from lsm import HOOKS, BpfLsm, Capability, HookRegistrationError, LsmModule, Security
from lsm.hookdefs import HOOKS_BY_NAME
from tests.kernel.helpers import check_ok, err, run


def _recorder(name: str, log: list[str], hooks: dict[str, int | None]) -> BpfLsm:
    m = BpfLsm(name)
    for hook, rc in hooks.items():
        m.attach(hook, lambda *_a, _h=hook, _rc=rc: (log.append(f"{name}:{_h}"), _rc)[1])
    return m


def test_capability_is_stacked_first_then_modules_in_order() -> None:
    a, b = BpfLsm("a"), BpfLsm("b")
    k = Kernel(lsms=[a, b])
    assert [m.name for m in k.security.modules] == ["capability", "a", "b"]
    assert [m.slot for m in k.security.modules] == [0, 1, 2]


def test_int_hook_stops_at_first_non_default_result() -> None:
    log: list[str] = []
    a = _recorder("a", log, {"task_kill": -errno.EPERM})
    b = _recorder("b", log, {"task_kill": -errno.EACCES})

    def prog(p):
        assert (yield from err(p.kill(p.pid, 0))) == errno.EPERM  # a's answer, b never asked
        return 0

    check_ok(*run(prog, lsms=[a, b]))
    assert log == ["a:task_kill"]


def test_int_hook_walks_on_while_modules_return_the_default() -> None:
    log: list[str] = []
    a = _recorder("a", log, {"task_kill": None})  # None: no opinion
    b = _recorder("b", log, {"task_kill": 0})
    c = _recorder("c", log, {"task_kill": -errno.EACCES})

    def prog(p):
        assert (yield from err(p.kill(p.pid, 0))) == errno.EACCES
        return 0

    check_ok(*run(prog, lsms=[a, b, c]))
    assert log == ["a:task_kill", "b:task_kill", "c:task_kill"]


def test_capability_denial_hides_the_capable_hook_from_later_modules() -> None:
    """cap_capable refuses first, so a MAC module sees capable() only for holders."""
    log: list[str] = []
    a = _recorder("a", log, {"capable": None})

    def prog(p):
        yield from err(p.setuid(0))
        return 0

    run(prog, lsms=[a], uid=1000, gid=1000)
    assert log == []
    run(prog, lsms=[a])  # root holds CAP_SETUID: now module a is consulted
    assert log == ["a:capable"]


def test_void_hooks_call_every_module() -> None:
    log: list[str] = []
    a = _recorder("a", log, {"task_free": None, "file_free_security": None})
    b = _recorder("b", log, {"task_free": None, "file_free_security": None})

    def prog(p):
        r, _w = yield from p.pipe()
        yield from p.close(r)
        return 0

    run(prog, lsms=[a, b])
    assert log == ["a:file_free_security", "b:file_free_security",  # close(r)
                   "a:file_free_security", "b:file_free_security",  # exit closes w
                   "a:task_free", "b:task_free"]


def test_hooks_with_non_zero_defaults() -> None:
    assert HOOKS_BY_NAME["inode_init_security"].default == -errno.EOPNOTSUPP
    assert HOOKS_BY_NAME["task_prctl"].default == -errno.ENOSYS
    assert HOOKS_BY_NAME["getprocattr"].default == -errno.EINVAL
    assert HOOKS_BY_NAME["setprocattr"].default == -errno.EINVAL
    assert HOOKS_BY_NAME["socket_getpeersec_stream"].default == -errno.ENOPROTOOPT
    log: list[str] = []
    none = _recorder("none", log, {"inode_init_security": None})
    zero = _recorder("zero", log, {"inode_init_security": 0})
    later = _recorder("later", log, {"inode_init_security": -errno.EIO})
    sec = Security([Capability(), none, zero, later])
    # 0 differs from the default -EOPNOTSUPP: it ends the walk
    assert sec.inode_init_security(None, None, "x") == 0
    assert log == ["none:inode_init_security", "zero:inode_init_security"]
    assert Security([Capability()]).inode_init_security(None, None, "x") == -errno.EOPNOTSUPP
    assert Security([Capability()]).task_prctl(1, 2, 3, 4, 5) == -errno.ENOSYS


def test_every_hook_has_a_dispatcher() -> None:
    sec = Security([Capability()])
    for spec in HOOKS:
        assert callable(getattr(sec, spec.name))
    with pytest.raises(AttributeError):
        sec.no_such_hook
    assert len({h.name for h in HOOKS}) == len(HOOKS)
    assert all(h.kind in ("int", "void") for h in HOOKS)


class _Exclusive(LsmModule):
    exclusive = True

    def __init__(self, name: str) -> None:
        self.name = name


def test_exclusive_modules_cannot_be_stacked_together() -> None:
    """Linux boots the first exclusive LSM and skips the others; we refuse the stack loudly
    (a deliberate difference: a scenario asking for two exclusive modules is a mistake)."""
    Kernel(lsms=[_Exclusive("selinux"), BpfLsm("bpf")])  # one exclusive is fine
    with pytest.raises(HookRegistrationError, match="exclusive"):
        Kernel(lsms=[_Exclusive("selinux"), _Exclusive("apparmor")])


def test_module_stacked_twice_is_rejected() -> None:
    m = BpfLsm("m")
    with pytest.raises(HookRegistrationError):
        Kernel(lsms=[m, BpfLsm("m")])
    with pytest.raises(HookRegistrationError):
        Kernel(lsms=[Capability()])  # capability is always stacked already


def test_unknown_hook_names_are_rejected() -> None:
    m = BpfLsm("m")
    with pytest.raises(HookRegistrationError, match="unknown LSM hook"):
        m.attach("file_teleport", lambda *a: 0)
    with pytest.raises(HookRegistrationError):
        BpfLsm("n", {"msg_queue_msgsend": lambda *a: 0})
    with pytest.raises(HookRegistrationError):
        m.hook("inode_permision")(lambda *a: 0)

    class Sneaky(LsmModule):
        name = "sneaky"

        def hook_table(self):
            return {"task_kill": lambda *a: 0, "task_teleport": lambda *a: 0}

    with pytest.raises(HookRegistrationError, match="task_teleport"):
        Kernel(lsms=[Sneaky()])


def test_unknown_blob_kind_is_rejected() -> None:
    class Blobby(LsmModule):
        name = "blobby"
        blobs = {"toaster": dict}  # noqa: RUF012

    with pytest.raises(HookRegistrationError, match="toaster"):
        Kernel(lsms=[Blobby()])


def test_bpf_lsm_decorator_and_none_means_default() -> None:
    m = BpfLsm("no-usr1")
    seen = []

    @m.hook("task_kill")
    def deny_usr1(p, info, sig, cred):
        seen.append(sig)
        return -errno.EPERM if sig == SIGUSR1 else None

    def prog(p):
        assert (yield from err(p.kill(p.pid, SIGUSR1))) == errno.EPERM
        assert (yield from p.kill(p.pid, 0)) == 0
        return 0

    check_ok(*run(prog, lsms=[m]))
    assert seen == [SIGUSR1, 0]


class _A(LsmModule):
    name = "a"
    blobs = {"file": lambda: {"owner": "a"}, "task": lambda: ["a-task"]}  # noqa: RUF012

    def file_open(self, file):
        assert file.security[self.slot] == {"owner": "a"}
        file.security[self.slot]["opened"] = True
        return 0


class _B(LsmModule):
    name = "b"
    blobs = {"file": lambda: {"owner": "b"}, "inode": lambda: {"b": 1}}  # noqa: RUF012

    def file_open(self, file):
        assert file.security[self.slot] == {"owner": "b"}
        return 0


def test_blobs_one_slot_per_module() -> None:
    files = []

    def prog(p):
        fd = yield from p.open("/tmp/f", O_CREAT | O_RDWR)
        files.append(p.process.files.get(fd))
        assert p.security == [None, ["a-task"], None]
        return 0

    k, pid = run(prog, lsms=[_A(), _B()])
    check_ok(k, pid)
    f = files[0]
    assert f.security == [None, {"owner": "a", "opened": True}, {"owner": "b"}]
    assert f.inode.security == [None, None, {"b": 1}]
    assert k.lookup("/tmp").security == [None, None, {"b": 1}]  # boot-time inodes too
    # kinds no module asked for carry an empty blob (nothing to allocate on the hot path)
    assert k.security.alloc_blob("ipc") == []
    assert Kernel().security.alloc_blob("file") == []


def test_trace_records_the_deciding_module() -> None:
    a = BpfLsm("a", {"task_kill": lambda *_a: -errno.EPERM})

    def prog(p):
        yield from err(p.kill(p.pid, 0))
        return 0

    k = Kernel(lsms=[a], trace=True)
    run(prog, kernel=k)
    events = [json.loads(line) for line in k.trace_lines()]
    hook = [e for e in events if e.get("hook") == "task_kill"]
    assert hook == [{"t": hook[0]["t"], "hook": "task_kill", "result": -errno.EPERM,
                     "pid": 2, "tid": 2, "in": "kill", "module": "a"}]
    sys = [e for e in events if e.get("syscall") == "kill"]
    assert sys[0]["errno"] == "EPERM"
