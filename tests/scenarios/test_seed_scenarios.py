"""The seed's flagship scenarios hold in every mode and are deterministic."""

from __future__ import annotations

import pytest

from scenarios import get


@pytest.mark.parametrize("name", ["shm-credential-theft", "httpd-sendmail-boolean"])
@pytest.mark.parametrize("mode", ["dac", "enforcing", "permissive"])
def test_expectations_hold(name: str, mode: str) -> None:
    result = get(name).run(options={"mode": mode})
    assert result.ok, [c for c in result.checks if not c.ok]


def test_shm_theft_flips_between_dac_and_enforcing() -> None:
    dac = get("shm-credential-theft").run(options={"mode": "dac"}).context
    mac = get("shm-credential-theft").run(options={"mode": "enforcing"}).context
    assert dac.find("read", who="httpd") and not mac.find("read", who="httpd")
    assert mac.find("read", who="backup")


def test_boolean_flip_is_timestamped_when_it_happens() -> None:
    log = get("httpd-sendmail-boolean").run(options={"mode": "enforcing"}).context.kernel
    change = [line for line in log.audit_log() if line.startswith("type=MAC_CONFIG_CHANGE")]
    assert change and "audit(1700000000.005:" in change[0]


@pytest.mark.parametrize("name", ["shm-credential-theft", "httpd-sendmail-boolean"])
def test_deterministic(name: str) -> None:
    a, b = (get(name).run(seed=3, trace=True, options={"mode": "enforcing"}).context.kernel
            for _ in range(2))
    assert a.trace_lines() == b.trace_lines() and a.audit_log() == b.audit_log()
