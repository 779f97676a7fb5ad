"""Every lab: the starting policy fails with useful feedback, the reference solution gets full
marks, a broad grant keeps the functionality but loses least privilege and the attacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.labs import all_labs, get_lab, grade
from scenarios.labs.model import CONTENT

from .conftest import SOLUTIONS, broad, solution

NAMES = [lab.name for lab in all_labs()]


def test_at_least_ten_labs_in_rising_order() -> None:
    labs = all_labs()
    assert len(labs) >= 10
    assert [lab.order for lab in labs] == sorted(lab.order for lab in labs)
    assert len({lab.order for lab in labs}) == len(labs)
    for lab in labs:
        kinds = {c.kind for c in lab.cases}
        assert {"legit", "attack"} <= kinds, lab.name
        assert any(not c.visible for c in lab.cases), f"{lab.name}: no hidden case"
        assert lab.hints and lab.objectives.strip(), lab.name


def test_no_reference_solution_next_to_the_student_material() -> None:
    for lab in all_labs():
        sol = solution(lab.name).read_text().split("\n", 1)[1].strip()
        for f in lab.folder.iterdir():
            if f.suffix in (".te", ".toml", ".md"):
                assert sol not in f.read_text(), f
    assert not list(CONTENT.rglob("*solution*"))
    assert sorted(p.stem for p in SOLUTIONS.glob("*.te")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_starting_policy_fails_with_feedback(name: str) -> None:
    lab = get_lab(name)
    g = grade(lab, lab.start)
    assert not g.ok and not g.error
    assert g.score < 100
    failed = [c for c in g.cases if not c.passed and c.kind != "info"]
    assert failed
    visible = [c for c in failed if c.visible]
    assert visible, "the starting policy must fail a case the student can see"
    for c in visible:
        assert c.detail and c.hint
        if c.kind == "attack":
            assert c.culprits, c  # the student rules that let the attack through
        else:
            # a denial to read, or what the program saw (e.g. the domain it ran in)
            assert c.denials or not c.detail.startswith("never reached"), c
    text = g.format()
    assert "FAIL" in text and "score:" in text


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_gets_full_marks(name: str) -> None:
    g = grade(get_lab(name), solution(name))
    assert g.error == ""
    assert g.ok, [c for c in g.cases if not c.passed]
    assert g.score == 100.0
    assert g.coverage is not None and g.coverage.unused == 0 and g.coverage.granted > 0


@pytest.mark.parametrize("name", NAMES)
def test_broad_grant_keeps_function_loses_least_privilege(name: str, tmp_path: Path) -> None:
    g = grade(get_lab(name), broad(name, tmp_path))
    assert g.error == ""
    assert g.functionality == 40.0
    assert g.least_privilege < 1.0
    assert g.coverage is not None and g.coverage.unused > 1000
    attacks = [c for c in g.cases if c.kind == "attack"]
    if name == "mls_queue":
        # same type at two levels: TE grants everything, the MLS constraints still hold
        assert all(c.passed for c in attacks)
        assert g.security == 40.0
    else:
        assert g.security < 40.0 and not g.ok
        failed = [c for c in attacks if not c.passed]
        # the broad rule is named as the culprit of every attack it let through
        assert all(any("domain" in r for r in c.culprits) for c in failed if c.visible)
        if name not in ("thread_bounds", "neverallow_split"):
            assert any(not c.visible for c in failed), "a hidden attack should fail too"


def test_hidden_case_details_stay_private() -> None:
    lab = get_lab("msgq_roles")
    doc = grade(lab, lab.start).to_json()
    hidden = [c for c in doc["cases"] if not c["visible"] and not c["passed"]]
    assert hidden
    for c in hidden:
        assert c["denials"] == [] and "hidden check" in c["hint"]


def test_covert_channel_stays_open_under_the_reference_solution() -> None:
    g = grade(get_lab("mls_queue"), solution("mls_queue"))
    info = next(c for c in g.cases if c.name == "covert-key-probe")
    assert info.kind == "info" and not info.passed
    assert "decoded [1, 0, 1, 1]" in info.detail
    assert g.score == 100.0  # reported, not graded


def test_bounded_transition_error_in_feedback() -> None:
    lab = get_lab("thread_bounds")
    g = grade(lab, lab.start)
    serve = next(c for c in g.cases if c.name == "workers-serve")
    assert "EPERM" in serve.detail
    assert any("op=security_bounded_transition" in d for d in serve.denials)


def test_syntax_error_scores_zero_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "policy.te"
    bad.write_text("allow logger_t log_fifo_t:fifo_file { open write };\nallow logger_t\n")
    g = grade(get_lab("first_denial"), bad)
    assert g.score == 0 and not g.ok
    assert g.error.startswith(f"{bad}:3:1: ")
    unknown = tmp_path / "unknown.te"
    unknown.write_text("allow logger_t nosuch_t:fifo_file write;\n")
    g = grade(get_lab("first_denial"), unknown)
    assert g.score == 0 and g.error.startswith(f"{unknown}:1:16: ")


def test_neverallow_violation_scores_zero(tmp_path: Path) -> None:
    naive = tmp_path / "naive.te"
    naive.write_text("allow reporting_t pay_data_t:file { open read };\n")
    g = grade(get_lab("neverallow_split"), naive)
    assert g.score == 0
    assert "neverallow" in g.error and f"{naive}:1:1" in g.error


def test_partial_least_privilege(tmp_path: Path) -> None:
    """One unneeded permission costs a proportional share of the 20 points."""
    p = tmp_path / "p.te"
    p.write_text("allow logger_t log_fifo_t:fifo_file { open write getattr append };\n")
    g = grade(get_lab("first_denial"), p)
    assert g.ok and g.coverage is not None
    assert (g.coverage.used, g.coverage.granted) == (2, 4)
    assert g.least_privilege == 10.0 and g.score == 90.0


def test_grants_through_attributes_count(tmp_path: Path) -> None:
    """No allow rule, yet everything allowed: the grants the student's typeattribute brings
    in from the base's unconfined rules cost the least-privilege points."""
    cheat = tmp_path / "cheat.te"
    cheat.write_text("typeattribute logger_t unconfined_domain;\n")
    g = grade(get_lab("first_denial"), cheat)
    assert g.functionality == 40.0 and g.security == 40.0
    assert g.coverage is not None and g.coverage.granted > 10000
    hidden = g.coverage.rules[-1]
    assert hidden.where == str(cheat) and "through attributes" in hidden.text
    assert len(hidden.used) == 2 and g.least_privilege < 0.01


def test_permissive_domain_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.te"
    p.write_text("allow logger_t log_fifo_t:fifo_file { open write };\npermissive intruder_t;\n")
    g = grade(get_lab("first_denial"), p)
    assert g.score == 0 and g.error.startswith(f"{p}:2:1: permissive intruder_t")


def test_reference_solutions_gain_nothing_hidden() -> None:
    for name in NAMES:
        g = grade(get_lab(name), solution(name))
        assert g.coverage is not None
        assert not any(r.text.startswith("permissions gained") for r in g.coverage.rules), name
