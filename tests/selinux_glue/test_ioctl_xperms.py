"""ioctl(2) and SELinux extended permissions: ``allowxperm`` lists the commands a domain may
use; other commands of a listed driver, and every command of an unlisted one, are denied;
``dontauditxperm`` silences a denial; a permissive denial is logged once."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import EACCES, EAGAIN, EBADF, ENOTTY, Kernel, SyscallError
from kernel_sim import constants as c
from lsm.selinux import BASE_CONF, SELinux, load_policy
from tests.kernel.helpers import err

TE = """
type strict_t, domain; type loose_t, domain; type lax_t, domain;
role system_r types { strict_t loose_t lax_t };
allow { strict_t loose_t lax_t } self:process { fork sigchld };
allow { strict_t loose_t lax_t } self:fifo_file { read write getattr ioctl };
allowxperm { strict_t lax_t } self:fifo_file ioctl { 0x5401 0x5402 };
dontauditxperm strict_t self:fifo_file ioctl 0x5404;
permissive lax_t;
"""
FIONREAD, FIONBIO, FIOCLEX = 0x541B, 0x5421, 0x5451


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("xperm") / "xperm.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def _ioctls(policy: Any, domain: str, cmds: tuple[int, ...]) -> tuple[dict[int, int], list[str]]:
    seen: dict[int, int] = {}

    def prog(p: Any) -> Any:
        r, _w = yield from p.pipe()
        for cmd in cmds:
            seen[cmd] = yield from err(p.ioctl(r, cmd))

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.spawn(prog, context=f"system_u:system_r:{domain}:s0")
    k.run()
    return seen, [line for line in k.audit_log() if line.startswith("type=AVC")]


def test_allowxperm_limits_ioctl_commands(policy: Any) -> None:
    seen, avc = _ioctls(policy, "strict_t", (0x5401, 0x5403, 0x8901, 0x5404, FIONREAD,
                                             FIOCLEX))
    # listed: SELinux passes it on (no device here: ENOTTY); FIONREAD is a getattr check
    assert seen[0x5401] == ENOTTY and seen[FIONREAD] == 0
    # same driver, unlisted function; another driver; FIOCLEX is an ioctl like any other
    assert seen[0x5403] == seen[0x8901] == seen[FIOCLEX] == EACCES
    assert seen[0x5404] == EACCES  # denied, but dontauditxperm: no record
    assert [line.split("ioctlcmd=")[1].split()[0] for line in avc] == [
        "0x5403", "0x8901", "0x5451"]
    assert all("{ ioctl }" in line and "tclass=fifo_file" in line for line in avc)


def test_without_xperm_rules_the_ioctl_permission_decides(policy: Any) -> None:
    seen, avc = _ioctls(policy, "loose_t", (0x5403, 0x8901))
    assert seen == {0x5403: ENOTTY, 0x8901: ENOTTY} and not avc


def test_a_permissive_domain_logs_a_command_once(policy: Any) -> None:
    seen, avc = _ioctls(policy, "lax_t", (0x5403, 0x5403, 0x5405))
    assert seen == {0x5403: ENOTTY, 0x5405: ENOTTY}
    assert [line.split("ioctlcmd=")[1].split()[0] for line in avc] == ["0x5403", "0x5405"]
    assert all("permissive=1" in line for line in avc)


def test_generic_ioctls_on_a_pipe() -> None:
    out: dict[str, Any] = {}

    def prog(p: Any) -> Any:
        r, w = yield from p.pipe()
        yield from p.write(w, b"hello")
        out["nread"] = yield from p.ioctl(r, FIONREAD)
        yield from p.read(r, 5)
        yield from p.ioctl(r, FIONBIO, 1)
        out["nonblock"] = yield from err(p.read(r, 1))
        yield from p.ioctl(r, FIOCLEX)
        out["cloexec"] = yield from p.fcntl(r, c.F_GETFD)
        out["badfd"] = yield from err(p.ioctl(99, FIONREAD))
        try:
            yield from p.ioctl(r, 0x1234)
        except SyscallError as e:
            out["unknown"] = e.errno

    k = Kernel()
    k.spawn(prog)
    k.run()
    assert out == {"nread": 5, "nonblock": EAGAIN, "cloexec": c.FD_CLOEXEC, "badfd": EBADF,
                   "unknown": ENOTTY}
