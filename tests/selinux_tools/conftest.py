"""Fixtures for the policy and audit tools: the tools test policy, a CLI runner, AVC lines."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kernel_sim  # noqa: F401  (kernel_sim before lsm, as everywhere in the tests)
from kernel_sim.cli import main
from lsm.selinux import BASE_CONF, load_policy
from lsm.selinux.policy.base import splice

HERE = Path(__file__).parent
TOOLS_TE = HERE / "policies" / "tools.te"
SOURCES = [str(BASE_CONF), str(TOOLS_TE)]

WEB = "system_u:system_r:web_t:s0"
CLIENT = "system_u:system_r:client_t:s0"
SECRET = "system_u:object_r:secret_t:s0"
CONTENT = "system_u:object_r:web_content_t:s0"

Run = Callable[..., tuple[int, str, str]]


def avc(perms: str, scon: str, tcon: str, tclass: str, serial: int = 1, permissive: int = 0,
        comm: str = "web") -> str:
    """An AVC record in the simulator's (= auditd's) format."""
    return (f"type=AVC msg=audit(1700000000.000:{serial}): avc:  denied  {{ {perms} }} for  "
            f'pid=7 comm="{comm}" scontext={scon} tcontext={tcon} tclass={tclass} '
            f"permissive={permissive}")


@pytest.fixture(scope="session")
def tools_policy() -> Any:
    """The base plus tools.te, compiled by our compiler."""
    return load_policy(*SOURCES)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``kernel-sim ARGS...`` in-process: (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as e:  # argparse usage errors
            rc = int(e.code or 0)
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def checkpolicy_binary(tmp: Path, *fragments: str) -> Path:
    """The base plus ``fragments`` compiled by real ``checkpolicy -M -c 33``."""
    conf, out = tmp / "policy.conf", tmp / "policy.33"
    conf.write_text(splice(*fragments))
    proc = subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(out), str(conf)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out
