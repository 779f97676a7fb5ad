"""``kernel-sim lab list|show|start|check`` and the instructor's gradebook."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from scenarios.labs import all_labs

from .conftest import Run, broad, solution


def test_list_and_show(cli: Run) -> None:
    rc, out, _ = cli("lab", "list")
    assert rc == 0
    assert out.splitlines()[0].split()[1] == "first_denial"
    rc, out, _ = cli("lab", "list", "--json")
    assert [x["name"] for x in json.loads(out)] == [lab.name for lab in all_labs()]
    rc, out, _ = cli("lab", "show", "msgq_roles")
    assert rc == 0 and "Objectives:" in out and "[legit] auditor-reads" in out
    assert "hidden check(s)" in out and "monitor-stats" not in out  # hidden stays hidden
    rc, out, _ = cli("lab", "show", "booleans", "--hint", "1")
    assert rc == 0 and out.rstrip().splitlines()[-1].startswith("hint 1: Conditional rules")
    rc, _, err = cli("lab", "show", "nosuch")
    assert rc == 2 and "unknown lab 'nosuch'" in err


def test_check_exit_status_and_json(cli: Run) -> None:
    rc, out, _ = cli("lab", "check", "shm_split", "--policy", str(solution("shm_split")))
    assert rc == 0 and "score: 100.0 / 100" in out
    start = all_labs()[3].start
    rc, out, _ = cli("lab", "check", "shm_split", "--policy", str(start), "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and doc["score"] < 100
    failed = [c for c in doc["cases"] if not c["passed"]]
    visible = next(c for c in failed if c["visible"])
    assert visible["name"] == "httpd-reads-db"
    assert any("shm_owner" in r for r in visible["culprits"])
    assert doc["coverage"]["unused"] > 0


def test_hint_on_request(cli: Run) -> None:
    rc, out, _ = cli("lab", "check", "first_denial", "--policy", str(solution("first_denial")),
                     "--hint", "2")
    assert rc == 0 and out.rstrip().splitlines()[-1].startswith("hint: Opening a FIFO")
    rc, out, _ = cli("lab", "check", "first_denial", "--policy", str(solution("first_denial")),
                     "--hint", "9", "--json")
    assert json.loads(out)["hint"] == "this lab has 3 hint(s)"


def test_bad_input(cli: Run, tmp_path: Path) -> None:
    rc, _, err = cli("lab", "check", "first_denial", "--policy", str(tmp_path / "none.te"))
    assert rc == 2 and "no such policy file" in err
    rc, _, err = cli("lab", "check", "first_denial")
    assert rc == 2 and "--policy" in err
    bad = tmp_path / "bad.te"
    bad.write_text("allow logger_t log_fifo_t:fifo_file { open write\n")
    rc, out, _ = cli("lab", "check", "first_denial", "--policy", str(bad), "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["score"] == 0 and doc["error"].startswith(f"{bad}:2:1: ")


def test_gradebook(cli: Run, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.te").write_text(solution("unix_one_client").read_text())
    (subs / "bob").mkdir()
    broad("unix_one_client", subs / "bob").rename(subs / "bob" / "policy.te")
    (subs / "carol.te").write_text("allow webapp_t authd_t:unix_stream_socket connectto\n")
    (subs / "dave.te").write_text(all_labs()[4].start.read_text())
    out_dir = tmp_path / "book"
    rc, out, err = cli("lab", "check", "unix_one_client", "--submissions", str(subs),
                       "--out", str(out_dir))
    assert rc == 0, err
    text = (out_dir / "gradebook.csv").read_text().splitlines()
    rows = {r["student"]: r for r in csv.DictReader(text)}
    assert set(rows) == {"alice", "bob", "carol", "dave"}
    assert rows["alice"]["score"] == "100.0" and rows["alice"]["ok"] == "True"
    assert rows["bob"]["functionality"] == "40.0" and float(rows["bob"]["score"]) < 50
    assert "intruder-login" in rows["bob"]["failed_cases"]
    assert rows["carol"]["score"] == "0.0" and "carol.te:2:1" in rows["carol"]["error"]
    assert rows["dave"]["ok"] == "False"
    doc = json.loads((out_dir / "gradebook.json").read_text())
    assert doc["lab"] == "unix_one_client" and len(doc["students"]) == 4
    assert doc["details"]["alice"]["score"] == 100.0
    assert "gradebook for lab unix_one_client: 4 submission(s)" in out
    rc, _, err = cli("lab", "check", "unix_one_client", "--submissions", str(tmp_path / "x"))
    assert rc == 2 and "no such submissions folder" in err


def test_per_case_rules_in_json(cli: Run) -> None:
    rc, out, _ = cli("lab", "check", "msgq_roles", "--policy", str(solution("msgq_roles")),
                     "--json")
    assert rc == 0
    doc = json.loads(out)
    uses = {c["name"]: c["uses_rules"] for c in doc["cases"] if c["kind"] == "legit"}
    # the monitor's case: the owner's queue and message rules and the associate-only rule,
    # none of the auditor's (lines 5 and 6)
    assert [u.rsplit(":", 2)[1] for u in uses["monitor-associates"]] == ["2", "3", "8"]
    assert [u.rsplit(":", 2)[1] for u in uses["auditor-reads"]] == ["2", "3", "5", "6"]
    assert all("uses_rules" not in c for c in doc["cases"] if c["kind"] == "attack")


def test_scenario_coverage_per_scenario_and_total(cli: Run) -> None:
    """``lab coverage``: the two db.te scenarios each use part of db.te; the total is the
    union, rule by rule."""
    rc, out, err = cli("lab", "coverage", "shm-credential-theft", "httpd-sendmail-boolean",
                       "--json")
    assert rc == 0, err
    doc = json.loads(out)
    per = doc["scenarios"]
    assert set(per) == {"shm-credential-theft", "httpd-sendmail-boolean"}
    for rep in per.values():
        assert rep["ok"] and 0 < rep["used"] < rep["granted"]
    total = doc["total"]
    by_rule: dict[str, set[str]] = {}
    for rep in per.values():
        for r in rep["rules"]:
            by_rule.setdefault(r["where"], set()).update(r["used_permissions"])
    assert total["used"] == sum(len(v) for v in by_rule.values())
    assert total["used"] > max(rep["used"] for rep in per.values())
    rc, out, _ = cli("lab", "coverage", "shm-credential-theft")
    assert rc == 0 and "UNUSED" in out and "== total over shm-credential-theft" in out
    rc, _, err = cli("lab", "coverage", "no-such-scenario")
    assert rc == 2 and "unknown scenario" in err
