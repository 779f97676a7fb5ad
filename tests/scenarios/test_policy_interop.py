"""Every policy fragment the scenarios load compiles with the real checkpolicy when spliced
into the shipped base, and each hardened story run on checkpolicy's binary is identical
(same expectations, same AVC records) to the run on our compiler's policy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsm.selinux.policy.base import base_text, splice
from scenarios import all_scenarios
from tests.oracles import require


def _policy_sets() -> dict[str, list[Path]]:
    """Each distinct list of fragments a scenario variant (or a mid-run reload) loads."""
    sets: dict[str, list[Path]] = {}
    for sc in all_scenarios().values():
        if sc.binary_policy is not None:
            continue
        for v in sc.variants.values():
            frags = list(v.policy if v.policy is not None else sc.policy)
            if frags:
                sets[" + ".join(frags)] = [sc.base_dir / f for f in frags]
        for path in sorted(sc.base_dir.glob("policies/reload-*.te")):
            sets[f"common + {path.name}"] = [sc.base_dir / "policies/common.te", path]
    return sets


SETS = _policy_sets()


def spliced(fragments: list[Path]) -> str:
    """``splice`` for checkpolicy, which wants portcon lines in the ocontext section."""
    te: list[str] = []
    ports: list[str] = []
    for f in fragments:
        for line in f.read_text().splitlines():
            (ports if line.startswith("portcon ") else te).append(line)
    text = splice("\n".join(te))
    if ports:
        at = text.index("portcon ")
        text = text[:at] + "\n".join(ports) + "\n" + text[at:]
    return text


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SETS))
def test_fragments_compile_with_checkpolicy(name: str, tmp_path: Path) -> None:
    require("checkpolicy")
    conf = tmp_path / "policy.conf"
    conf.write_text(spliced(SETS[name]))
    out = subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", "/dev/null", str(conf)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_policy_sets_cover_every_toml_scenario() -> None:
    assert len(SETS) >= 15
    assert "portcon" not in base_text().split("portcon", 1)[0]  # base has an ocontext section


TOML = sorted(n for n, sc in all_scenarios().items() if sc.source.endswith(".toml"))


@pytest.mark.interop
@pytest.mark.parametrize("name", TOML)
def test_hardened_run_on_the_checkpolicy_binary_is_identical(name: str, tmp_path: Path) -> None:
    """The same story on checkpolicy's binary policy: same expectations, same audit log."""
    require("checkpolicy")
    sc = all_scenarios()[name]
    v = sc.variants["hardened"]
    frags = [sc.base_dir / f for f in (v.policy if v.policy is not None else sc.policy)]
    conf, binary = tmp_path / "policy.conf", tmp_path / "policy.33"
    conf.write_text(spliced(frags))
    subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(binary), str(conf)],
                   capture_output=True, check=True)
    ours = sc.run(options={"variant": "hardened"})
    theirs = sc.run(options={"variant": "hardened", "policy": [str(binary)]})
    assert theirs.ok, [c for c in theirs.checks if not c.ok]
    avc = [line for line in ours.context.kernel.audit_log() if line.startswith("type=AVC")]
    assert avc == [line for line in theirs.context.kernel.audit_log()
                   if line.startswith("type=AVC")]
