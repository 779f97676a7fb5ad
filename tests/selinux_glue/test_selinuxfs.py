"""selinuxfs: administrators change SELinux by writing files, each write mediated."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import EACCES, O_RDONLY, O_WRONLY, Kernel, SyscallError
from lsm.selinux import BASE_CONF, SELinux, load_policy

TE = """
type adm_t, domain; type web_t, domain;
role system_r types { adm_t web_t };
allow { adm_t web_t } self:process { fork sigchld };
allow { adm_t web_t } { root_t sysfs_t security_t }:dir { search getattr };
allow { adm_t web_t } security_t:file { read write open getattr };
allow adm_t security_t:security { setenforce setbool };
bool demo_bool false;
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("sfs") / "sfs.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def _write(p: Any, path: str, data: bytes) -> Any:
    fd = yield from p.open(path, O_WRONLY)
    try:
        yield from p.write(fd, data)
    finally:
        yield from p.close(fd)


def _read(p: Any, path: str) -> Any:
    fd = yield from p.open(path, O_RDONLY)
    data = yield from p.read(fd, 100)
    yield from p.close(fd)
    return data


def test_setenforce_and_booleans_need_their_security_permissions(policy: Any) -> None:
    log: list[Any] = []

    def prog(p: Any, who: str) -> Any:
        for path, val in (("booleans/demo_bool", b"1"), ("commit_pending_bools", b"1"),
                          ("enforce", b"0")):
            try:
                yield from _write(p, "/sys/fs/selinux/" + path, val)
                log.append((who, path, 0))
            except SyscallError as e:
                log.append((who, path, e.errno))

    se = SELinux(policy, mode="enforcing")
    k = Kernel(lsms=[se])
    k.spawn(prog, "web", context="system_u:system_r:web_t:s0")
    k.spawn(prog, "adm", context="system_u:system_r:adm_t:s0", uid=0)
    k.run()
    assert [e for w, _, e in log if w == "web"] == [EACCES] * 3
    assert [e for w, _, e in log if w == "adm"] == [0, 0, 0]
    assert se.getsebool("demo_bool") is True
    assert not se.enforcing
    lines = k.audit_log()
    assert any("{ setenforce }" in x and "web_t" in x for x in lines)
    assert any(x.startswith("type=MAC_STATUS") and "enforcing=0 old_enforcing=1" in x
               for x in lines)


def test_unprivileged_user_is_stopped_by_dac_first(policy: Any) -> None:
    errs: list[int] = []

    def prog(p: Any) -> Any:
        try:
            yield from _write(p, "/sys/fs/selinux/enforce", b"0")
        except SyscallError as e:
            errs.append(e.errno)

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.spawn(prog, uid=1000, gid=1000, context="system_u:system_r:adm_t:s0")
    k.run()
    assert errs == [EACCES]
    assert not [x for x in k.audit_log() if "type=AVC" in x]  # DAC refused: no AVC


def test_reading_enforce_and_cache_stats(policy: Any) -> None:
    out: dict[str, bytes] = {}

    def prog(p: Any) -> Any:
        out["enforce"] = yield from _read(p, "/sys/fs/selinux/enforce")
        out["stats"] = yield from _read(p, "/sys/fs/selinux/avc/cache_stats")

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.spawn(prog, context="system_u:system_r:adm_t:s0")
    k.run()
    assert out["enforce"] == b"1"
    assert out["stats"].startswith(b"lookups hits misses allocations reclaims frees")
