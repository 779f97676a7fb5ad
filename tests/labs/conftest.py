"""Fixtures for the lab tests: the in-process CLI and the reference solutions' paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kernel_sim.cli import main

SOLUTIONS = Path(__file__).with_name("solutions")
#: a broad grant valid on the base policy, added to a reference solution (the functionality
#: stays, least privilege and the attacks do not)
BROAD = ("allow domain domain:* *;\n"
         "allow domain file_type:{ file fifo_file sock_file dir } *;\n")

Run = Callable[..., tuple[int, str, str]]


def solution(name: str) -> Path:
    return SOLUTIONS / f"{name}.te"


def broad(name: str, tmp: Path) -> Path:
    """The reference solution plus BROAD (card data excluded where a neverallow forbids it:
    that lab's broad variant must still compile)."""
    extra = BROAD if name != "neverallow_split" else BROAD.replace(
        "file_type", "{ file_type -pay_data_t }")
    out = tmp / f"{name}.broad.te"
    out.write_text(solution(name).read_text() + extra)
    return out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``kernel-sim ARGS...`` in-process: (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as e:
            rc = int(e.code or 0)
        out, err = capsys.readouterr()
        return rc, out, err

    return run
