"""Extended permissions (ioctl allowxperm/auditallowxperm/dontauditxperm) decisions.

The rules are added to the small MLS policy and compiled with checkpolicy (xperm rules need
policy version 30 or later).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lsm.selinux.policy.binary import read_policy_file
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.policy.loader import load_policy
from lsm.selinux.ss.services import SecurityServer
from lsm.selinux.ss.xperms import XPERMS_ALLOWED, XPERMS_AUDITALLOW, XPERMS_DONTAUDIT
from tests.selinux_ss.conftest import POLICIES, checkpolicy_build

XPERM_RULES = """
allowxperm user_t tmp_t:file ioctl { 0x8910 0x8927 };
allowxperm user_t tmp_t:file ioctl { 0x5401-0x5405 };
allowxperm staff_t tmp_t:file ioctl { 0x1200-0x12ff };
auditallowxperm user_t tmp_t:file ioctl 0x8910;
dontauditxperm user_t tmp_t:file ioctl 0x8927;
"""

USER = "user_u:user_r:user_t:s0"
STAFF = "staff_u:staff_r:staff_t:s0"
TMP = "system_u:object_r:tmp_t:s0"


def _conf(tmp_path: Path) -> Path:
    text = (POLICIES / "small_mls.conf").read_text()
    anchor = "auditallow user_t etc_t:file read;\n"
    assert anchor in text
    conf = tmp_path / "xperms.conf"
    conf.write_text(text.replace(anchor, anchor + XPERM_RULES))
    return conf


def check(srv: SecurityServer) -> None:
    u, s, t = (srv.context_to_sid(c) for c in (USER, STAFF, TMP))
    assert srv.xperms_drivers(u, t, "file") == (1 << 0x89) | (1 << 0x54)
    assert srv.xperms_drivers(s, t, "file") == 1 << 0x12
    d = srv.compute_xperms_decision(u, t, "file", 0x89)
    assert d.used == XPERMS_ALLOWED | XPERMS_AUDITALLOW | XPERMS_DONTAUDIT
    assert d.allowed == (1 << 0x10) | (1 << 0x27)
    assert d.auditallow == 1 << 0x10 and d.dontaudit == 1 << 0x27
    assert d.allows(0x8910) and not d.allows(0x8911) and not d.allows(0x5401)
    assert srv.compute_xperms_decision(u, t, "file", 0x54).allowed == 0b111110
    full = srv.compute_xperms_decision(s, t, "file", 0x12)
    assert full.used == XPERMS_ALLOWED and full.allowed == (1 << 256) - 1
    none = srv.compute_xperms_decision(u, t, "file", 0x12)
    assert none.used == 0 and none.allowed == 0


@pytest.mark.interop
@pytest.mark.parametrize("version", [30, 33])
def test_xperms_decisions(tmp_path: Path, version: int) -> None:
    """Function-level and whole-driver rules, auditallow and dontaudit, per driver."""
    binary = checkpolicy_build(_conf(tmp_path), tmp_path / f"policy.{version}", version, mls=True)
    check(SecurityServer(read_policy_file(binary)))


def test_xperms_from_source(tmp_path: Path) -> None:
    """The same decisions from the policy compiler (skipped if it lacks xperm support)."""
    try:
        pol = load_policy(_conf(tmp_path))
    except (NotImplementedError, PolicyError) as e:
        pytest.skip(f"compiler cannot build the xperm policy: {e}")
    check(pol.server)
