"""lsm.selinux.coverage: exercised permissions mapped back to source allow rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel_sim import IPC_CREAT, Kernel, SyscallError
from lsm.selinux import BASE_CONF, SELinux, load_policy
from lsm.selinux.coverage import Recorder, report, source_rules

TE = """\
attribute app;
type a_t, domain, app;
type b_t, domain, app;
type c_t, domain;
role system_r types { a_t b_t c_t };
bool feature false;
"""
RULES = """\
allow app self:msgq { create associate unix_read unix_write read write enqueue getattr };
allow app self:msg { send receive };
allow a_t b_t:msgq *;
if (feature) {
    allow c_t a_t:msgq associate;
}
allow a_t c_t:shm ~{ lock };
"""


def _files(tmp: Path) -> list[Path]:
    (tmp / "types.te").write_text(TE)
    (tmp / "rules.te").write_text(RULES)
    return [tmp / "types.te", tmp / "rules.te"]


def _queue(p: Any, key: int) -> Any:
    q = yield from p.msgget(key, IPC_CREAT | 0o600)
    yield from p.msgsnd(q, 1, b"x")
    yield from p.msgrcv(q, 8)
    return 0


def _peek(p: Any, key: int) -> Any:
    yield from p.nanosleep(0.001)
    try:
        yield from p.msgget(key, 0)
    except SyscallError:
        return 1
    return 0


def _run(files: list[Path], mode: str, rec: Recorder) -> SELinux:
    se = SELinux(load_policy(BASE_CONF, *files), mode=mode)
    rec.attach(se)
    k = Kernel(lsms=[se], seed=0)
    k.spawn(_queue, 0x11, comm="a", context="system_u:system_r:a_t:s0")
    k.spawn(_peek, 0x11, comm="c", context="system_u:system_r:c_t:s0")
    k.run()
    return se


def test_rules_keep_positions_and_conditions(tmp_path: Path) -> None:
    files = _files(tmp_path)
    rules = source_rules([files[1]])
    assert [r.where.rsplit(":", 2)[1] for r in rules] == ["1", "2", "3", "5", "7"]
    assert rules[3].cond == "if (feature)" and rules[0].cond == ""
    assert rules[2].text == "allow a_t b_t:msgq *;"


def test_attribute_self_star_and_complement_counts(tmp_path: Path) -> None:
    files = _files(tmp_path)
    db = load_policy(BASE_CONF, *files).policydb
    rep = report(db, source_rules([files[1]]), set())
    granted = [r.granted for r in rep.rules]
    n_msgq = len(db.classes.get("msgq").all_perms)
    n_shm = len(db.classes.get("shm").all_perms)
    # app self: 2 members x 8 perms; 2 x 2; a->b: every msgq perm; 1; shm minus lock
    assert granted == [16, 4, n_msgq, 1, n_shm - 1]
    assert rep.used == 0 and rep.ratio == 0.0


def test_exercised_maps_to_rules_enforcing(tmp_path: Path) -> None:
    files = _files(tmp_path)
    rec = Recorder()
    se = _run(files, "enforcing", rec)
    ex = rec.exercised()
    assert ("a_t", "a_t", "msgq", "create") in ex
    assert ("a_t", "a_t", "msg", "send") in ex
    # c_t's associate was denied (boolean off): it exercised no grant
    assert not {e for e in ex if e[0] == "c_t"}
    assert any("c_t" in ln and "associate" in ln for ln in se.audit_log())
    rep = report(se.policy.policydb, source_rules([files[1]]), ex)
    used = {r.where.rsplit(":", 2)[1]: len(r.used) for r in rep.rules}
    assert used["3"] == 0 and used["5"] == 0 and used["7"] == 0
    assert used["1"] > 0 and used["2"] == 2
    assert "UNUSED" in rep.format() and rep.outside == set()


def test_permissive_denials_are_not_exercised(tmp_path: Path) -> None:
    """In permissive mode a denied check returns 0: coverage recomputes the decision."""
    files = _files(tmp_path)
    rec = Recorder()
    _run(files, "permissive", rec)
    assert not {e for e in rec.exercised() if e[0] == "c_t"}


def test_boolean_rule_covered_when_on(tmp_path: Path) -> None:
    files = _files(tmp_path)
    rec = Recorder()
    se = SELinux(load_policy(BASE_CONF, *files), mode="enforcing")
    rec.attach(se)
    k = Kernel(lsms=[se], seed=0)
    se.setsebool({"feature": True})
    k.spawn(_queue, 0x12, comm="a", context="system_u:system_r:a_t:s0")
    pid = k.spawn(_peek, 0x12, comm="c", context="system_u:system_r:c_t:s0")
    k.run()
    assert k.exit_status(pid) == 0
    rep = report(se.policy.policydb, source_rules([files[1]]), rec.exercised())
    assert len(rep.rules[3].used) == 1 and rep.rules[3].unused == 0


def test_recorders_keep_sids_per_kernel(tmp_path: Path) -> None:
    """Two kernels give the same SID number to different contexts (a_t in one, b_t in the
    other): each run is resolved with its own security server."""
    files = _files(tmp_path)
    policy = load_policy(BASE_CONF, *files)
    rec = Recorder()
    sids = []
    for t in ("a_t", "b_t"):
        se = SELinux(policy, mode="enforcing")
        rec.attach(se)
        k = Kernel(lsms=[se], seed=0)
        k.spawn(_queue, 0x13, comm="q", context=f"system_u:system_r:{t}:s0")
        k.run()
        sids.append(se.server.context_to_sid(f"system_u:system_r:{t}:s0"))
    assert sids[0] == sids[1]
    ex = rec.exercised()
    assert ("a_t", "a_t", "msgq", "create") in ex and ("b_t", "b_t", "msgq", "create") in ex
