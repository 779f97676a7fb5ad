"""The audit2allow workflow end to end: a program denied under SELinux, its audit log, our
module, and a re-run with the module loaded; the same log through the real audit2allow and the
module through the real checkmodule."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from kernel_sim import IPC_CREAT, O_RDWR, Kernel
from lsm.selinux import BASE_CONF, SELinux, load_policy
from tests.oracles import require

from .conftest import Run, checkpolicy_binary

APP_TE = """\
type app_t, domain;
type app_data_t, file_type;
role system_r types app_t;
allow app_t self:process { fork sigchld };
"""
APP = "system_u:system_r:app_t:s0"


def app(p: Any) -> Generator[Any, Any, int]:
    """Read and update a data file, then post a message on its own SysV queue."""
    fd = yield from p.open("/srv/data", O_RDWR)
    yield from p.read(fd, 4)
    yield from p.write(fd, b"x")
    yield from p.close(fd)
    q = yield from p.msgget(0x42, IPC_CREAT | 0o600)
    yield from p.msgsnd(q, 1, b"hi")
    return 0


def run_app(files: list[Path], mode: str) -> tuple[int, list[str]]:
    k = Kernel(lsms=[SELinux(load_policy(BASE_CONF, *files), mode=mode)])
    k.install("/srv/data", b"data", label="system_u:object_r:app_data_t:s0", mode=0o644)
    pid = k.spawn(app, context=APP, uid=0)
    k.run()
    status = k.exit_status(pid)
    return (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1), k.audit_log()


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("rt")
    te = tmp / "app.te"
    te.write_text(APP_TE)
    status, log = run_app([te], "enforcing")
    assert status != 0 and any("avc:  denied" in line for line in log)
    status, log = run_app([te], "permissive")  # collect every denial in one run
    assert status == 0
    audit = tmp / "audit.log"
    audit.write_text("".join(line + "\n" for line in log))
    return {"tmp": tmp, "te": te, "log": audit}


def test_module_makes_the_program_pass(cli: Run, workflow: dict[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tmp, te = workflow["tmp"], workflow["te"]
    monkeypatch.chdir(tmp)
    rc, _, err = cli("audit2allow", "-i", str(workflow["log"]), "-p", str(BASE_CONF), str(te),
                     "-M", "appfix")
    assert rc == 0, err
    module = (tmp / "appfix.te").read_text()
    assert module.startswith("\nmodule appfix 1.0;\n\nrequire {\n")
    assert "allow app_t app_data_t:file { open read write };" in module
    assert "allow app_t self:msgq { create enqueue unix_write write };" in module
    status, log = run_app([te, tmp / "appfix.te"], "enforcing")
    assert status == 0
    assert not [line for line in log if "avc:  denied" in line]


def test_real_audit2allow_proposes_nothing_we_do_not(cli: Run, workflow: dict[str, Path]) -> None:
    require("checkpolicy", "audit2allow")
    binary = checkpolicy_binary(workflow["tmp"], APP_TE)
    real = subprocess.run(["audit2allow", "-i", str(workflow["log"]), "-p", str(binary)],
                          capture_output=True, text=True, check=True).stdout
    theirs = {line for line in real.splitlines() if line.startswith("allow ")}
    rc, out, _ = cli("audit2allow", "-i", str(workflow["log"]), "-p", str(BASE_CONF),
                     str(workflow["te"]))
    ours = {line for line in out.splitlines() if line.startswith("allow ")}
    assert rc == 0 and theirs and theirs <= ours
    assert ours == theirs  # every denial here is a plain missing TE rule


def test_module_compiles_with_checkmodule(cli: Run, workflow: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    require("checkmodule")
    tmp = workflow["tmp"]
    monkeypatch.chdir(tmp)
    rc, _, _ = cli("audit2allow", "-i", str(workflow["log"]), "-M", "appmod")
    assert rc == 0
    proc = subprocess.run(["checkmodule", "-M", "-m", "-o", str(tmp / "appmod.mod"),
                           str(tmp / "appmod.te")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
