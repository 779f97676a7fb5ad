"""Same scenario and seed in two fresh interpreters with different hash seeds: byte-identical
trace and audit log (catches iteration over hash-ordered sets leaking into the output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp: Path, hashseed: str, name: str) -> tuple[bytes, bytes, bytes]:
    trace, audit = tmp / f"t{hashseed}.jsonl", tmp / f"a{hashseed}.log"
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "kernel_sim", "run", name, "--variant",
                          "hardened", "--seed", "5", "--trace", str(trace), "--audit-log",
                          str(audit)], env=env, cwd=ROOT, capture_output=True, check=False)
    assert out.returncode == 0, out.stderr.decode()
    return trace.read_bytes(), audit.read_bytes(), out.stdout


@pytest.mark.parametrize("name", ["scm-rights-smuggling", "mls-covert-channel"])
def test_byte_identical_across_interpreters(tmp_path: Path, name: str) -> None:
    a = _run(tmp_path, "1", name)
    b = _run(tmp_path, "4242", name)
    assert a == b
    assert a[0].count(b"\n") > 20
