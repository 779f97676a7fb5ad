"""Access to the real SELinux userland, used as test oracles (see shared docs: oracles.md).

Tests that need a tool call :func:`require`.  Where the tool is missing the test is skipped,
except in CI (``KERNEL_SIM_REQUIRE_ORACLES=1``), where a missing oracle is a failure: a green
run must never hide an install step that ``.ci/run`` forgot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_POLICY = Path("/etc/selinux/default/policy/policy.33")


def _have(tool: str) -> bool:
    if tool == "audit2why":
        return (
            Path(SYSTEM_PYTHON).exists()
            and subprocess.run(
                [SYSTEM_PYTHON, "-c", "import selinux.audit2why"], capture_output=True, check=False
            ).returncode
            == 0
        )
    if tool == "policy.33":
        return DEBIAN_POLICY.exists()
    return shutil.which(tool) is not None


def require(*tools: str) -> None:
    """Skip (or, in CI, fail) unless every named tool is available."""
    missing = [t for t in tools if not _have(t)]
    if not missing:
        return
    msg = f"oracle(s) not installed: {', '.join(missing)}"
    if os.environ.get("KERNEL_SIM_REQUIRE_ORACLES") == "1":
        pytest.fail(msg + " (CI requires them: see .ci/run)")
    pytest.skip(msg)


_ANALYZE = r"""
import json, sys
import selinux.audit2why as a
policy = sys.argv[1]
a.init(policy)
out = []
for line in sys.stdin:
    scon, tcon, tclass, perms = json.loads(line)
    code, extra = a.analyze(scon, tcon, tclass, perms)
    if extra is not None and not isinstance(extra, str):
        extra = [list(x) for x in extra]
    out.append([code, extra])
a.finish()
json.dump(out, sys.stdout)
"""


def audit2why_analyze(
    policy: str | Path, queries: list[tuple[str, str, str, list[str]]]
) -> list[tuple[int, object]]:
    """Run libsepol's ``audit2why.analyze`` on each (scon, tcon, tclass, perms) in one process.

    Returns ``(code, extra)`` per query: 0 ALLOW, 1 DONTAUDIT, 2 TERULE, 3 BOOLEAN,
    4 CONSTRAINT, 5 RBAC, 6 BOUNDS, negative codes for errors.
    """
    require("audit2why")
    stdin = "".join(json.dumps(list(q)) + "\n" for q in queries)
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", _ANALYZE, str(policy)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return [(int(c), e) for c, e in json.loads(proc.stdout)]
