"""Differential run against the real toolchain, for many seeds (the tests run a few).

    python3 -m tests.selinux_policy.differential policies 0 1500
    python3 -m tests.selinux_policy.differential modules 0 150

For each seed, a random policy (or module on the base) is built by checkpolicy (or the
checkmodule/semodule_link/semodule_expand pipeline) and by our compiler.  Both must accept
or both refuse it; when accepted, the binary read back must equal our PolicyDB field by
field and libsepol must agree with our decisions on every permission of every (type, type,
class) plus sampled contexts.  Prints one line per disagreement and a summary.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from lsm.selinux.policy.base import BASE_CONF
from lsm.selinux.policy.binary import read_policy_file
from lsm.selinux.policy.compiler import compile_files, compile_text
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.ss.policydb import PolicyDB
from tests.selinux_policy.helpers import checkmodule_link, compare_decisions
from tests.selinux_policy.randpolicy import random_module, random_policy
from tests.selinux_policy.test_interop import _BASE_CLASSES, _triples, assert_same_structure


def _reference_policy(seed: int, tmp: Path) -> tuple[Path | None, PolicyDB | str]:
    text = random_policy(seed)
    (tmp / "p.conf").write_text(text)
    proc = subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(tmp / "p.33"),
                           str(tmp / "p.conf")], capture_output=True, text=True, check=False)
    try:
        ours: PolicyDB | str = compile_text(("p.conf", text))
    except PolicyError as exc:
        ours = str(exc)
    return (tmp / "p.33" if proc.returncode == 0 else None), ours


def _reference_module(seed: int, tmp: Path) -> tuple[Path | None, PolicyDB | str]:
    module = tmp / f"rand{seed}.te"
    module.write_text(random_module(seed))
    try:
        binary: Path | None = checkmodule_link(module, tmp, f"rand{seed}")
    except AssertionError:
        binary = None
    try:
        ours: PolicyDB | str = compile_files([BASE_CONF, module])
    except PolicyError as exc:
        ours = str(exc)
    return binary, ours


def run(kind: str, first: int, last: int) -> dict[str, int]:
    """Compare seeds ``first`` .. ``last - 1``; returns the counts."""
    counts = {"both_ok": 0, "both_refuse": 0, "accept_mismatch": 0, "structure": 0,
              "decisions": 0, "triples": 0}
    build = _reference_policy if kind == "policies" else _reference_module
    classes = None if kind == "policies" else _BASE_CLASSES
    for seed in range(first, last):
        with tempfile.TemporaryDirectory() as tmp:
            binary, ours = build(seed, Path(tmp))
            if (binary is None) != isinstance(ours, str):
                counts["accept_mismatch"] += 1
                print(f"seed {seed}: checkpolicy {'refused' if binary is None else 'accepted'},"
                      f" we {'refused: ' + ours if isinstance(ours, str) else 'accepted'}")
                continue
            if binary is None or isinstance(ours, str):
                counts["both_refuse"] += 1
                continue
            counts["both_ok"] += 1
            try:
                assert_same_structure(ours, read_policy_file(binary))
            except AssertionError as exc:
                counts["structure"] += 1
                where = traceback.extract_tb(exc.__traceback__)[-1].line
                print(f"seed {seed}: structure differs at {where}: {exc}")
                continue
            total, bad = compare_decisions(ours, binary, _triples(ours, classes, seed))
            counts["triples"] += total
            if bad:
                counts["decisions"] += 1
                print(f"seed {seed}: {len(bad)} decisions differ, e.g. {bad[0]}")
    return counts


if __name__ == "__main__":
    print(run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
