"""The flagship scenario holds in every mode, deterministically, and its audit log is real."""

from __future__ import annotations

import subprocess

import pytest

from scenarios import all_scenarios, get
from tests.oracles import require


@pytest.mark.parametrize("mode", ["dac", "enforcing", "permissive", "disabled"])
def test_expectations_hold(mode: str) -> None:
    result = get("fifo-credential-theft").run(options={"mode": mode})
    failed = [c for c in result.checks if not c.ok]
    assert not failed, failed


def test_enforcing_blocks_the_leak_that_dac_allows() -> None:
    dac = get("fifo-credential-theft").run(options={"mode": "dac"}).context
    mac = get("fifo-credential-theft").run(options={"mode": "enforcing"}).context
    assert dac.find("allowed", who="httpd", op="read fifo")
    assert not mac.find("allowed", who="httpd", op="read fifo")
    assert mac.find("denied", who="httpd", op="read fifo")
    assert not dac.kernel.audit_log()


@pytest.mark.parametrize("mode", ["dac", "enforcing"])
def test_same_seed_gives_byte_identical_trace_and_audit(mode: str) -> None:
    runs = [get("fifo-credential-theft").run(seed=7, trace=True, options={"mode": mode})
            for _ in range(2)]
    a, b = (r.context.kernel for r in runs)
    assert a.trace_lines() == b.trace_lines()
    assert a.audit_log() == b.audit_log()
    assert len(a.trace_lines()) > 20


def test_registry_lists_the_scenario() -> None:
    sc = all_scenarios()["fifo-credential-theft"]
    assert "fifo" in sc.primitives
    assert sc.story.strip()


@pytest.mark.interop
def test_audit_log_is_accepted_by_ausearch(tmp_path) -> None:
    require("ausearch")
    result = get("fifo-credential-theft").run(options={"mode": "enforcing"})
    log = tmp_path / "audit.log"
    log.write_text("\n".join(result.context.kernel.audit_log()) + "\n")
    out = subprocess.run(["ausearch", "-if", str(log), "-m", "AVC", "-i"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "httpd_t" in out.stdout and "mysqld_tmp_t" in out.stdout
    assert "exit=EACCES" in out.stdout
