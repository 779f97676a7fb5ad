"""Every scenario, in both variants: expectations hold and the human story matches its golden
file (tests/scenarios/golden/NAME.VARIANT.out).  Regenerate with KERNEL_SIM_REGEN_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scenarios import all_scenarios
from scenarios.runner import human

GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(all_scenarios())


def _requires_missing(name: str) -> bool:
    sc = all_scenarios()[name]
    return sc.binary_policy is not None and not Path(sc.binary_policy).exists()


@pytest.mark.parametrize("variant", ["vulnerable", "hardened"])
@pytest.mark.parametrize("name", NAMES)
def test_scenario_variant(name: str, variant: str) -> None:
    if _requires_missing(name):
        pytest.skip("needs Debian's policy.33 (selinux-policy-default)")
    sc = all_scenarios()[name]
    result = sc.run(trace=True, options={"variant": variant})
    assert result.ok, [c for c in result.checks if not c.ok]
    text = human(sc, result)
    golden = GOLDEN / f"{name}.{variant}.out"
    if os.environ.get("KERNEL_SIM_REGEN_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden output {golden}; run with KERNEL_SIM_REGEN_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_library_size_and_coverage() -> None:
    scs = all_scenarios()
    assert len(scs) >= 20, sorted(scs)
    prims = {p for s in scs.values() for p in s.primitives}
    for need in ("pipe", "fifo", "files", "sysv-msg", "sysv-sem", "sysv-shm", "posix-mq",
                 "posix-shm", "posix-sem", "unix-socket", "scm-rights", "tcp", "signals",
                 "ptrace", "threads"):
        assert need in prims, need


@pytest.mark.parametrize("name", NAMES)
def test_story_and_both_variants_declared(name: str) -> None:
    sc = all_scenarios()[name]
    assert sc.story.strip() and sc.summary
    assert {"vulnerable", "hardened"} <= set(sc.variants)
