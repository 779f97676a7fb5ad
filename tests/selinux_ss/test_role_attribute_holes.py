"""checkpolicy gives role attributes values but does not write them: the reader keeps holes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsm.selinux.policy.base import splice
from lsm.selinux.policy.binary import read_policy
from lsm.selinux.ss.services import SecurityServer
from tests.oracles import audit2why_analyze, require

FRAGMENT = """
attribute_role webroles;
role web_r;
roleattribute web_r webroles;
type w_t, domain;
role webroles types w_t;
allow w_t self:process fork;
allow system_r web_r;
"""


@pytest.mark.interop
def test_binary_with_role_attribute_loads_and_decides_like_libsepol(tmp_path: Path) -> None:
    require("checkpolicy", "audit2why")
    conf = tmp_path / "p.conf"
    conf.write_text(splice(FRAGMENT))
    binary = tmp_path / "p.33"
    subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(binary), str(conf)],
                   check=True, capture_output=True)
    db = read_policy(binary.read_bytes())
    assert any(r.name.startswith("<role attribute") for r in db.roles)
    srv = SecurityServer(db)
    q = ("system_u:system_r:kernel_t:s0", "system_u:system_r:kernel_t:s0", "process", ["fork"])
    fork = srv.perm_bits("process", ["fork"])
    assert srv.compute_av_contexts(*q[:3]).allowed & fork
    assert audit2why_analyze(binary, [q]) == [(0, None)]
