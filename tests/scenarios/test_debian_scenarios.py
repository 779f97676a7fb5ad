"""Scenarios on Debian's shipped binary policy (selinux-policy-default's policy.33)."""

from __future__ import annotations

import pytest

from scenarios import get
from tests.oracles import audit2why_analyze, require

DEBIAN = ["debian-httpd-postgres-ipc", "debian-httpd-ptrace-sshd", "debian-httpd-user-content"]


@pytest.mark.interop
@pytest.mark.parametrize("name", DEBIAN)
@pytest.mark.parametrize("mode", ["enforcing", "dac"])
def test_real_policy_scenarios(name: str, mode: str) -> None:
    require("policy.33")
    result = get(name).run(options={"mode": mode})
    assert result.ok, [c for c in result.checks if not c.ok]


@pytest.mark.interop
def test_every_denial_is_one_libsepol_also_denies() -> None:
    """Each AVC the Debian scenarios log is a denial libsepol agrees with (not ALLOW)."""
    require("policy.33", "audit2why")
    queries = []
    for name in DEBIAN:
        for line in get(name).run(options={"mode": "enforcing"}).context.kernel.audit_log():
            if not line.startswith("type=AVC") or "avc:  denied" not in line:
                continue
            perms = line.split("{ ")[1].split(" }")[0].split()
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            queries.append((fields["scontext"], fields["tcontext"], fields["tclass"], perms))
    assert len(queries) >= 5
    answers = audit2why_analyze("/etc/selinux/default/policy/policy.33", queries)
    assert all(code != 0 for code, _ in answers), list(zip(queries, answers, strict=True))


def test_missing_policy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = get("debian-httpd-ptrace-sshd")
    monkeypatch.setattr(sc, "binary_policy", "/nonexistent/policy.33")
    with pytest.raises(FileNotFoundError, match="selinux-policy-default"):
        sc.run(options={"mode": "enforcing"})
