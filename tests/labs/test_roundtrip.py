"""The troubleshooting loop on the labs: permissive log -> our audit2allow -> graded policy;
the same log through the real audit2allow; the neverallow a naive grant would break."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsm.selinux import BASE_CONF
from lsm.selinux.policy.base import splice
from scenarios.labs import get_lab, grade
from scenarios.labs.model import COMMON_TE
from tests.oracles import require

from .conftest import Run


def _policy_args(lab_dir: Path) -> list[str]:
    return [str(BASE_CONF), *(str(lab_dir / f) for f in ("common.te", "world.te", "policy.te"))]


def _allow_lines(text: str) -> set[str]:
    return {ln.strip() for ln in text.splitlines() if ln.startswith("allow ")}


def _start(cli: Run, name: str, tmp: Path) -> Path:
    d = tmp / name
    rc, out, err = cli("lab", "start", name, str(d))
    assert rc == 0, err
    assert "AVC record(s)" in out
    return d


def _checkpolicy(tmp: Path, name: str) -> Path:
    """base + common + world + start, compiled by the real checkpolicy."""
    lab = get_lab(name)
    conf, out = tmp / "policy.conf", tmp / "policy.33"
    conf.write_text(splice(COMMON_TE.read_text(), lab.world.read_text(), lab.start.read_text()))
    proc = subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(out), str(conf)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_start_writes_permissive_log(cli: Run, tmp_path: Path) -> None:
    d = _start(cli, "audit_loop", tmp_path)
    log = (d / "audit.log").read_text().splitlines()
    avcs = [ln for ln in log if "type=AVC" in ln]
    # the whole flow ran: every step's denial is there, each one permissive=1
    assert len(avcs) == 8 and all("permissive=1" in a for a in avcs)
    assert {"tclass=sem"} == {a.split()[-2] for a in avcs}
    assert (d / "policy.te").read_text() == get_lab("audit_loop").start.read_text()
    assert (d / "common.te").read_text() == COMMON_TE.read_text()
    assert "## Objectives" in (d / "README.md").read_text()
    rc, _, err = cli("lab", "start", "audit_loop", str(d))
    assert rc == 2 and "exists" in err


def test_audit2allow_round_trip(cli: Run, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Denials -> our audit2allow module -> the module as the policy: full marks."""
    d = _start(cli, "audit_loop", tmp_path)
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli("audit2allow", "-i", str(d / "audit.log"), "-p", *_policy_args(d),
                     "-M", "jobs")
    assert rc == 0, err
    module = tmp_path / "jobs.te"
    assert _allow_lines(module.read_text()) == {
        "allow jobcli_t jobd_t:sem { associate read unix_write write };",
        "allow jobd_t self:sem { create read unix_read unix_write write };"}
    g = grade(get_lab("audit_loop"), module)
    assert g.ok and g.score == 100.0


@pytest.mark.interop
def test_round_trip_log_through_real_audit2allow(cli: Run, tmp_path: Path) -> None:
    """The real audit2allow, on a checkpolicy build of the same policy, proposes exactly the
    rules ours does for this log (no boolean or constraint is involved)."""
    require("checkpolicy", "audit2allow")
    d = _start(cli, "audit_loop", tmp_path)
    binary = _checkpolicy(tmp_path, "audit_loop")
    real = subprocess.run(["audit2allow", "-i", str(d / "audit.log"), "-p", str(binary)],
                          capture_output=True, text=True, check=True).stdout
    rc, ours, err = cli("audit2allow", "-i", str(d / "audit.log"), "-p", *_policy_args(d))
    assert rc == 0, err
    assert _allow_lines(real) == _allow_lines(ours) != set()


def test_neverallow_refused_by_our_audit2allow(cli: Run, tmp_path: Path) -> None:
    d = _start(cli, "neverallow_split", tmp_path)
    rc, out, err = cli("audit2allow", "-i", str(d / "audit.log"), "-p", *_policy_args(d))
    assert rc == 1 and out == ""
    assert ("allow reporting_t pay_data_t:file { open read }; violates the neverallow rule"
            in err)
    assert "neverallow { domain -payment_t -unconfined_domain } pay_data_t:file" in err
    rc, out, err = cli("audit2allow", "-i", str(d / "audit.log"), "-p", *_policy_args(d),
                       "--force")
    assert rc == 0 and "#!!!! WARNING: violates neverallow" in out
    # the naive grant as a submission: the compiler refuses it, the grade is 0
    naive = tmp_path / "naive.te"
    naive.write_text(out)
    rc, text, _ = cli("lab", "check", "neverallow_split", "--policy", str(naive))
    assert rc == 1 and "neverallow violated" in text and "score: 0 / 100" in text


@pytest.mark.interop
def test_real_audit2allow_proposes_the_forbidden_rule(cli: Run, tmp_path: Path) -> None:
    """A kernel (binary) policy keeps no neverallow rules: the real audit2allow proposes the
    rule our tool refuses (README: why ours differ)."""
    require("checkpolicy", "audit2allow")
    d = _start(cli, "neverallow_split", tmp_path)
    binary = _checkpolicy(tmp_path, "neverallow_split")
    real = subprocess.run(["audit2allow", "-i", str(d / "audit.log"), "-p", str(binary)],
                          capture_output=True, text=True, check=True).stdout
    assert "allow reporting_t pay_data_t:file { open read };" in _allow_lines(real)
    rc, _, err = cli("audit2allow", "-i", str(d / "audit.log"), "-p", *_policy_args(d))
    assert rc == 1 and "neverallow" in err


def test_boolean_hint_instead_of_rule(cli: Run, tmp_path: Path) -> None:
    """With the reference solution, the feature-off denial is one a boolean allows: our
    audit2allow says so instead of proposing an unconditional rule."""
    from lsm.selinux import load_policy
    from scenarios.labs.grader import run_case

    from .conftest import solution

    lab = get_lab("booleans")
    policy = load_policy(*lab.policy_files(solution("booleans")))
    case = next(c for c in lab.cases if c.name == "mail-off")
    _, se = run_case(lab, case, policy)
    log = tmp_path / "audit.log"
    log.write_text("".join(ln + "\n" for ln in se.audit_log()))
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *map(str, lab.policy_files(
        solution("booleans"))))
    assert rc == 0, err
    assert "boolean 'webapp_can_sendmail'" in out
    assert not _allow_lines(out)
