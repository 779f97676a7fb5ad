"""Relabelling files: setxattr("security.selinux") / setfilecon (``selinux_inode_setxattr``:
owner, relabelfrom, a valid context, relabelto, associate) and its effect on open files."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import (
    EACCES,
    EEXIST,
    EINVAL,
    ENODATA,
    EOPNOTSUPP,
    EPERM,
    O_RDWR,
    Kernel,
    SyscallError,
)
from lsm.selinux import BASE_CONF, SELinux, load_policy
from tests.kernel.helpers import err

TE = """
type owner_t, domain; type other_t, domain;
type note_t, file_type; type public_t, file_type; type secret_t, file_type;
role system_r types { owner_t other_t };
allow { owner_t other_t } self:process { fork sigchld };
allow { note_t public_t secret_t } fs_t:filesystem associate;
allow { owner_t other_t } { root_t tmp_t }:dir search;
allow owner_t note_t:fifo_file { relabelfrom getattr read write open };
allow owner_t public_t:fifo_file { relabelto getattr read open };
allow other_t note_t:fifo_file relabelfrom;
"""
OWNER, OTHER = "system_u:system_r:owner_t:s0", "system_u:system_r:other_t:s0"
NOTE = "system_u:object_r:note_t:s0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("relabel") / "relabel.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def _run(policy: Any, prog: Any, ctx: str, uid: int = 1000) -> list[str]:
    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.mkfifo("/tmp/note", 0o666, uid=1000, gid=1000, label=NOTE)
    k.spawn(prog, context=ctx, uid=uid, gid=uid)
    k.run()
    return k.audit_log()


def test_relabel_rules_and_the_new_label_taking_effect(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def owner(p: Any) -> Any:
        fd = yield from p.open("/tmp/note", O_RDWR)
        yield from p.write(fd, b"a")  # remembered as granted for note_t
        seen["secret"] = yield from err(p.setfilecon("/tmp/note", "system_u:object_r:secret_t:s0"))
        seen["bogus"] = yield from err(p.setfilecon("/tmp/note", "system_u:object_r:nope_t:s0"))
        seen["public"] = yield from err(p.setfilecon("/tmp/note", "system_u:object_r:public_t:s0"))
        seen["now"] = yield from p.getfilecon("/tmp/note")
        try:  # owner_t may read public_t but not write it: the open fd is revalidated
            yield from p.write(fd, b"b")
            seen["write after"] = 0
        except SyscallError as e:
            seen["write after"] = e.errno

    log = _run(policy, owner, OWNER)
    assert seen == {"secret": EACCES, "bogus": EINVAL, "public": 0,
                    "now": "system_u:object_r:public_t:s0", "write after": EACCES}
    denied = [line.split("{ ")[1].split(" }")[0] for line in log if line.startswith("type=AVC")]
    assert denied == ["relabelto", "write"]
    assert any("op=setxattr invalid_context=\"system_u:object_r:nope_t:s0\"" in line
               for line in log if line.startswith("type=SELINUX_ERR"))


def test_only_the_owner_may_relabel(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def other(p: Any) -> Any:
        seen["rc"] = yield from err(p.setfilecon("/tmp/note", "system_u:object_r:public_t:s0"))

    log = _run(policy, other, OTHER, uid=2000)
    assert seen["rc"] == EPERM  # inode_owner_or_capable, before any SELinux check
    assert not [line for line in log if line.startswith("type=AVC")]


def test_setxattr_namespaces_and_flags_without_an_lsm() -> None:
    seen: dict[str, Any] = {}

    def prog(p: Any) -> Any:
        seen["root security"] = yield from err(p.setxattr("/tmp/f", "security.x", b"1"))
        seen["create again"] = yield from err(p.setxattr("/tmp/f", "security.x", b"2", 1))
        seen["replace missing"] = yield from err(p.setxattr("/tmp/f", "user.y", b"2", 2))
        seen["namespace"] = yield from err(p.setxattr("/tmp/f", "bogus.z", b"1"))
        seen["user on fifo"] = yield from err(p.setxattr("/tmp/fifo", "user.y", b"1"))

    def user(p: Any) -> Any:
        yield from p.nanosleep(0.01)
        seen["user security"] = yield from err(p.setxattr("/tmp/f", "security.x", b"1"))
        seen["user user"] = yield from err(p.setxattr("/tmp/f", "user.y", b"1"))

    k = Kernel()
    k.install("/tmp/f", b"", mode=0o666, uid=1000, gid=1000)
    k.mkfifo("/tmp/fifo", 0o666)
    k.spawn(prog)
    k.spawn(user, uid=1000, gid=1000)
    k.run()
    assert seen == {"root security": 0, "create again": EEXIST, "replace missing": ENODATA,
                    "namespace": EOPNOTSUPP, "user on fifo": EPERM,
                    "user security": EPERM, "user user": 0}
    assert k.lookup("/tmp/f").xattrs == {"security.x": b"1", "user.y": b"1"}
