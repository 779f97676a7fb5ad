"""Fixtures for the security-server tests: the small test policies and the Debian policy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lsm.selinux.policy.binary import read_policy_file
from lsm.selinux.ss.policydb import PolicyDB
from lsm.selinux.ss.services import SecurityServer
from tests.oracles import DEBIAN_POLICY, require

POLICIES = Path(__file__).parent / "policies"
#: prebuilt with ``checkpolicy -M -c 33`` (MLS) and ``checkpolicy -c 33`` from the .conf files
SMALL_MLS = POLICIES / "small_mls.33"
SMALL = POLICIES / "small.33"


@pytest.fixture(scope="session")
def small_mls_db() -> PolicyDB:
    """The small MLS test policy (read once; treat as read-only)."""
    return read_policy_file(SMALL_MLS)


@pytest.fixture
def srv(small_mls_db: PolicyDB) -> SecurityServer:
    """A fresh security server over the small MLS policy (booleans at their defaults)."""
    return SecurityServer(small_mls_db)


@pytest.fixture(scope="session")
def debian_db() -> PolicyDB:
    """The distribution's refpolicy binary (skips where it is not installed)."""
    require("policy.33")
    return read_policy_file(DEBIAN_POLICY)


def checkpolicy_build(conf: Path, out: Path, version: int, *, mls: bool) -> Path:
    """Compile ``conf`` with checkpolicy into ``out`` (skips/fails per :func:`require`)."""
    require("checkpolicy")
    exe = shutil.which("checkpolicy")
    assert exe is not None
    args = [exe, "-c", str(version), "-o", str(out), str(conf)]
    if mls:
        args.insert(1, "-M")
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out
