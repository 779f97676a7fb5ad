"""Grade a student policy: run every case, score functionality, security and least privilege.

Score (100): functionality 40 (legitimate cases that work), security 40 (attacks blocked),
least privilege 20 (share of the student's granted permissions that some legitimate case
exercised, from :mod:`lsm.selinux.coverage`, times the share of legitimate cases that
work).  A policy that does not compile scores 0 with the compiler's ``file:line:col``
message.  ``info`` cases (e.g. a covert channel no access check
can close) are reported and never graded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attrs import define, field

from kernel_sim import Kernel
from kernel_sim.errors import ProgramError
from lsm.selinux.coverage import (
    GrantMap,
    Recorder,
    Report,
    allowed_map,
    hidden_grants,
    report,
    source_rules,
)
from lsm.selinux.policy import ast as A
from lsm.selinux.policy.parser import parse_file
from scenarios.labs.model import Case, CaseCtx, Lab

__all__ = ["CaseResult", "Grade", "grade", "run_case"]

W_FUNC, W_SEC, W_LP = 40, 40, 20
_HIDDEN_HINT = "hidden check: re-read the objectives; think of other flows of the same family"


@define(slots=True)
class CaseResult:
    name: str
    kind: str
    visible: bool
    what: str
    passed: bool
    detail: str = ""
    denials: list[str] = field(factory=list)
    hint: str = ""
    #: student rules that granted what an attack used
    culprits: list[str] = field(factory=list)
    #: per-case coverage of a legitimate case: the student rules (file:line:col) it used
    uses: list[str] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "visible": self.visible,
                               "what": self.what, "passed": self.passed}
        if self.kind == "legit":
            out["uses_rules"] = self.uses
        if not self.passed or self.kind == "info":
            out.update(detail=self.detail, denials=self.denials, hint=self.hint,
                       culprits=self.culprits)
        return out


@define(slots=True)
class Grade:
    lab: str
    policy: str
    error: str = ""
    cases: list[CaseResult] = field(factory=list)
    coverage: Report | None = None
    hint: str = ""

    def _share(self, kind: str) -> float:
        cs = [c for c in self.cases if c.kind == kind]
        return 1.0 if not cs else sum(c.passed for c in cs) / len(cs)

    @property
    def functionality(self) -> float:
        return 0.0 if self.error else round(W_FUNC * self._share("legit"), 2)

    @property
    def security(self) -> float:
        return 0.0 if self.error else round(W_SEC * self._share("attack"), 2)

    @property
    def least_privilege(self) -> float:
        if self.error or self.coverage is None:
            return 0.0
        # no points for granting nothing: the share is scaled by the flows that work
        return round(W_LP * self.coverage.ratio * self._share("legit"), 2)

    @property
    def score(self) -> float:
        return round(self.functionality + self.security + self.least_privilege, 2)

    @property
    def ok(self) -> bool:
        """Every graded case passed (least privilege aside)."""
        return not self.error and all(c.passed for c in self.cases if c.kind != "info")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lab": self.lab, "policy": self.policy, "ok": self.ok, "score": self.score,
            "max": W_FUNC + W_SEC + W_LP, "functionality": self.functionality,
            "security": self.security, "least_privilege": self.least_privilege,
            "error": self.error, "cases": [c.to_json() for c in self.cases]}
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_json()
        if self.hint:
            out["hint"] = self.hint
        return out

    def format(self) -> str:
        lines = [f"lab {self.lab}: {self.policy}"]
        if self.error:
            lines += [f"  policy error: {self.error}", "score: 0 / 100"]
            return "\n".join(lines)
        for c in self.cases:
            mark = "PASS" if c.passed else "FAIL"
            if c.kind == "info":
                mark = "INFO"
            label = c.name if c.visible else f"{c.name} (hidden)"
            lines.append(f"  {mark} [{c.kind}] {label}: {c.what}")
            if c.passed and c.kind != "info":
                continue
            if c.detail:
                lines.append(f"       what happened: {c.detail}")
            for d in c.denials[:3]:
                lines.append(f"       audit: {d}")
            if len(c.denials) > 3:
                lines.append(f"       (+ {len(c.denials) - 3} more denial(s))")
            for r in c.culprits:
                lines.append(f"       granted by your rule at {r}")
            if c.hint:
                lines.append(f"       hint: {c.hint}")
        if self.coverage is not None:
            lines.append(self.coverage.format())
        lines.append(f"score: {self.score} / 100  (functionality {self.functionality}/{W_FUNC}, "
                     f"security {self.security}/{W_SEC}, least privilege "
                     f"{self.least_privilege}/{W_LP})")
        lines.append("result: " + ("all checks pass" if self.ok else "some checks fail"))
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


def run_case(lab: Lab, case: Case, policy: Any, mode: str | None = None,
             recorder: Recorder | None = None) -> tuple[CaseCtx, Any]:
    """Run one case on a fresh kernel; returns its context and the SELinux module."""
    from lsm.selinux import SELinux

    se = SELinux(policy, mode=mode or lab.mode)
    if recorder is not None:
        recorder.attach(se)
    k = Kernel(lsms=[se], seed=0)
    ctx = CaseCtx(k)
    if case.booleans:
        se.setsebool(dict(case.booleans))
    case.setup(k, ctx)
    try:
        k.run(until=60.0)
    except ProgramError as e:  # a lab program bug: the case fails, the grading goes on
        ctx.fail(f"lab program error: {e}")
        ctx.breach(f"lab program error: {e}")
    return ctx, se


def _judge(case: Case, ctx: CaseCtx) -> tuple[bool, str]:
    if case.kind == "legit":
        missing = [g for g in case.goals if g not in ctx.goals]
        ok = not missing and not ctx.failures
        why = "; ".join(ctx.failures) or (f"never reached: {', '.join(missing)}" if missing else "")
        return ok, why
    ok = not ctx.breaches
    return ok, "; ".join(ctx.breaches) if ctx.breaches else "blocked"


def grade(lab: Lab, student: str | Path, hint: int | None = None) -> Grade:
    """Compile base + world + ``student`` and run every case of ``lab``."""
    from lsm.selinux import load_policy
    from lsm.selinux.policy.errors import PolicyError

    g = Grade(lab.name, str(student))
    if hint is not None:
        g.hint = (lab.hints[hint - 1] if 1 <= hint <= len(lab.hints)
                  else f"this lab has {len(lab.hints)} hint(s)")
    try:
        policy = load_policy(*lab.policy_files(student))
        rules = source_rules([student])
        for st in parse_file(student):
            if isinstance(st, A.Permissive):
                g.error = (f"{st.pos}: permissive {st.type.text}: a permissive domain is not "
                           "a solution (SELinux would only log its denials)")
                return g
    except PolicyError as e:
        g.error = str(e)
        return g
    except (OSError, RecursionError, ValueError) as e:
        g.error = f"{student}: {e}"
        return g
    legit = Recorder()
    db = policy.policydb
    results: dict[str, CaseResult] = {}
    # legitimate cases first: an attack's culprits are the grants legitimate flows never use
    order = sorted(lab.cases, key=lambda c: c.kind != "legit")
    needed: set[Any] | None = None
    for case in order:
        rec = legit if case.kind == "legit" else Recorder()
        ctx, se = run_case(lab, case, policy, recorder=rec)
        passed, detail = _judge(case, ctx)
        res = CaseResult(case.name, case.kind, case.visible, case.what, passed, detail)
        if case.kind == "legit":
            res.uses = [r.where for r in report(db, rules, rec.exercised(se)).rules if r.used]
        if case.kind != "legit" and needed is None:
            needed = legit.exercised()
        if not passed or case.kind == "info":
            if case.visible:
                res.denials = [ln for ln in se.audit_log()
                               if ("type=AVC" in ln and "avc:  denied" in ln)
                               or "type=SELINUX_ERR" in ln]
                res.hint = case.hint
            else:
                res.hint = _HIDDEN_HINT
            if case.kind == "attack":
                mine = rec.exercised(se)
                used = report(db, rules, mine - (needed or set()))
                res.culprits = [f"{r.where}: {r.text}" for r in used.rules if r.used]
                if not res.culprits:
                    # the attack used only what legitimate flows use too: the grant is
                    # right, its scope is not (a boolean condition, an attribute, a level)
                    used = report(db, rules, mine)
                    res.culprits = [f"{r.where}: {r.text} (also used by legitimate flows: "
                                    "check its condition, attributes and levels)"
                                    for r in used.rules if r.used]
        results[case.name] = res
    g.cases = [results[c.name] for c in lab.cases]
    exercised = legit.exercised()
    g.coverage = report(db, rules, exercised)
    hidden = hidden_grants(db, _world_grants(lab), rules, exercised, str(student))
    if hidden.granted:
        g.coverage.rules.append(hidden)
    return g


_WORLD: dict[str, GrantMap] = {}


def _world_grants(lab: Lab) -> GrantMap:
    """What base + common + world allow without the student (cached per lab)."""
    from lsm.selinux import load_policy

    got = _WORLD.get(lab.name)
    if got is None:
        got = _WORLD[lab.name] = allowed_map(
            load_policy(*lab.policy_files(lab.start)[:-1]).policydb)
    return got
