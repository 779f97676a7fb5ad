"""``kernel-sim scenarios`` / ``kernel-sim run``: listing, story, JSON, exit status,
``--compare`` (behavioural policy diff) and clear errors for malformed scenario files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kernel_sim.cli import main
from lsm.selinux import BASE_CONF
from scenarios import ScenarioFormatError, all_scenarios, get, load

POL = Path(__file__).resolve().parents[2] / "scenarios" / "policies"


def test_scenarios_json_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in doc} == set(all_scenarios())
    assert all(d["primitives"] and d["summary"] for d in doc)


def test_human_story_names_the_deciding_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "mq-lateral-movement", "--variant", "hardened"]) == 0
    out = capsys.readouterr().out
    assert "msgget(4277325, 0) = EACCES by selinux: denied { associate } httpd_t -> " \
           "admind_t:msgq" in out
    assert out.rstrip().endswith("== all expectations hold")


def test_dac_and_capability_denials_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "fifo-credential-theft", "--mode", "dac"]) == 0
    out = capsys.readouterr().out
    assert "kill(2, 15) = EPERM by DAC (no CAP_KILL)" in out
    assert "REACHED httpd" in out and "write -> /tmp/db-creds" in out


def test_json_run_has_denials_and_flows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "sysv-key-squatting", "--variant", "vulnerable", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["variant"] == "vulnerable" and doc["mode"] == "dac"
    assert [f["reached"] for f in doc["flows"]] == ["httpd"]
    assert "sysv shm key=0x5641" in doc["flows"][0]["path"][-1]
    assert main(["run", "sysv-key-squatting", "--variant", "hardened", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["denials"][0]["by"] == "selinux" and doc["denials"][0]["errno"] == "EACCES"
    assert doc["flows"] == []


def test_exit_status_is_1_when_an_expectation_fails(capsys: pytest.CaptureFixture[str]) -> None:
    # the vulnerable story's expectations do not hold under the hardened policy's mode
    weak = [str(BASE_CONF), str(POL / "common.te"), str(POL / "admind.te")]
    flags = [x for f in weak for x in ("--policy", f)]
    assert main(["run", "mq-lateral-movement", "--variant", "vulnerable", "--mode",
                 "enforcing", *flags]) == 1
    assert "EXPECTATIONS FAILED" in capsys.readouterr().out


def test_compare_policy_files_lists_flipped_operations(
        capsys: pytest.CaptureFixture[str]) -> None:
    after = [str(BASE_CONF), str(POL / "common.te"), str(POL / "reload-after.te")]
    assert main(["run", "policy-reload", "--variant", "hardened", "--compare", *after]) == 0
    out = capsys.readouterr().out
    flips = [line for line in out.splitlines() if line.startswith("  exporter[3] shmget")]
    assert len(flips) == 2
    assert all("EACCES (selinux: denied { associate } exporter_t -> billingd_t:shm) -> ok"
               in f for f in flips)
    assert "== 2 decision(s) flipped" in out


def test_compare_two_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "signal-same-uid", "--variant", "vulnerable", "--compare",
                 "hardened", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["flips"] == [{"pid": 3, "syscall": "kill", "args": "2, 9", "before": "ok",
                             "after": "EACCES",
                             "after_rule": "denied { sigkill } worker_t -> monitor_t:process"}]
    assert main(["run", "httpd-exec-shell", "--variant", "hardened", "--compare",
                 "vulnerable"]) == 0
    out = capsys.readouterr().out
    assert "httpd[3] execve('/bin/sh'" in out and "shell_exec_t:file) -> ok" in out


def test_unknown_scenario_and_bad_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no-such-thing"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert main(["run", "sem-dos", "--variant", "nope"]) == 2
    assert "unknown variant 'nope'" in capsys.readouterr().err


GOOD = """# A story.
name = "tmp-scenario"
summary = "s"
primitives = ["sysv-msg"]
programs = "sysv"
[variants.vulnerable]
mode = "dac"
[variants.hardened]
mode = "enforcing"
[[process]]
name = "a"
program = "job_client"
args = [1, "x", 0.0]
[[expect]]
process = "a"
exit = 0
"""


@pytest.mark.parametrize("edit,key,expected", [
    (("mode = \"dac\"", "mode = \"loose\""), "variants.vulnerable.mode", "expected one of"),
    (("program = \"job_client\"", "program = \"nope\""), "process[0].program",
     "expected a program defined in"),
    (("exit = 0", "exit = \"zero\""), "expect[0].exit", "expected an integer"),
    (("process = \"a\"\nexit = 0", "syscall = \"open\"\nby = \"a\"\noutcome = \"EWHAT\""),
     "expect[0].outcome", "expected an errno name"),
    (("[variants.hardened]\nmode = \"enforcing\"\n", ""), "variants.hardened",
     "every scenario has a vulnerable and a hardened variant"),
    (("# A story.\n", ""), "(header)", "expected the file to start with a # comment"),
    (("summary = \"s\"", "summary = 3"), "summary", "expected a one-line summary, got 3"),
    (("name = \"tmp-scenario\"", "name = \"tmp-scenario\"\ncolour = 1"), "colour",
     "unknown key"),
    (("[[expect]]", "[[expect]\n"), "(syntax)", "expected valid TOML"),
])
def test_malformed_file_names_file_key_and_expectation(tmp_path: Path, edit: tuple[str, str],
                                                       key: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    assert edit[0] in GOOD
    path.write_text(GOOD.replace(edit[0], edit[1], 1))
    with pytest.raises(ScenarioFormatError) as info:
        load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert expected in msg, msg


def test_a_good_file_loads_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(GOOD)
    sc = load(path)
    assert sc.name == "tmp-scenario" and sc.story == "A story."
    assert sc.run(options={"variant": "vulnerable"}).ok


def test_python_scenarios_keep_their_modes() -> None:
    sc = get("shm-credential-theft")
    assert sc.resolve(None, None).mode == "dac"
    assert sc.resolve(None, "permissive").mode == "permissive"
    assert sc.run(options={"mode": "permissive"}).ok
    assert get("httpd-sendmail-boolean").resolve(None, None).name == "hardened"


def test_progress_is_reported_and_the_run_is_unchanged() -> None:
    calls: list[tuple[float, int]] = []
    sc = get("mls-covert-channel")
    a = sc.run(trace=True, options={"variant": "hardened",
                                    "progress": lambda t, n: calls.append((t, n))})
    b = sc.run(trace=True, options={"variant": "hardened"})
    assert calls and calls[-1][1] > 0
    assert a.context.kernel.trace_lines() == b.context.kernel.trace_lines()


def test_unreadable_policy_is_a_clear_error_not_a_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    from kernel_sim.cli import main

    rc = main(["run", "shm-credential-theft", "--mode", "enforcing", "--policy",
               "/nonexistent/policy.te"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "cannot read policy /nonexistent/policy.te" in err and "Traceback" not in err


def test_a_policy_without_a_mode_is_enforced_and_dac_with_a_policy_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(BASE_CONF), str(POL / "common.te"), str(POL / "db.te")]
    flags = [x for f in files for x in ("--policy", f)]
    assert main(["run", "shm-credential-theft", *flags]) == 0
    out = capsys.readouterr().out
    assert "[hardened: enforcing]" in out and "avc:  denied  { associate }" in out
    assert main(["run", "shm-credential-theft", "--variant", "vulnerable", *flags]) == 2
    err = capsys.readouterr().err
    assert "no policy applies: use --mode enforcing" in err and "Traceback" not in err


def test_a_bug_in_scenario_code_is_reported_not_a_traceback(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sc = get("shm-credential-theft")

    def broken(ctx: Any) -> Any:
        return 1 / 0

    monkeypatch.setattr(sc, "expect", broken)
    assert main(["run", "shm-credential-theft"]) == 2
    err = capsys.readouterr().err
    assert "the scenario's code raised ZeroDivisionError: division by zero (at " in err
    assert "test_cli_runner.py:" in err and "Traceback" not in err
