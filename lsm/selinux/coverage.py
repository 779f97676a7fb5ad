"""Policy coverage: which allow rules and permissions runs exercised, and which never were.

This is the least-privilege measure the labs grade on.  A :class:`Recorder` plugs into
``SELinux.coverage`` (called after every permission check) and keeps the distinct
``(ssid, tsid, tclass, requested bits)`` it saw; :meth:`Recorder.exercised` turns them into
``(source type, target type, class, permission)`` names, keeping only permissions the policy
*allowed* (a denied permission exercises no grant; in permissive mode the check returns 0 for
denials too, so the decision is recomputed).

:func:`source_rules` reads the allow rules of policy *source* files (a fragment or module,
including conditional branches and optional blocks) with their ``file:line:col``, and
:func:`report` maps exercised accesses back onto them: a rule naming an attribute covers every
member type, ``self`` the source type itself, ``*`` and ``~`` sets their expansion.  Rules are
never expanded into tuple lists (``allow domain domain:* *`` is counted arithmetically).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.namesets import NameSetExpander
from lsm.selinux.policy.parser import parse_file
from lsm.selinux.ss import policydb as P

__all__ = ["Access", "Recorder", "Report", "RuleCoverage", "SourceRule", "merge", "recording",
           "report", "source_rules"]

#: (source type, target type, class, permission), all names
Access = tuple[str, str, str, str]


@define(slots=True)
class Recorder:
    """Collects the checks of one or more runs (attach each SELinux module with
    :meth:`attach`; SIDs are per module, so each keeps its own set)."""

    runs: list[tuple[Any, set[tuple[int, int, int, int]]]] = field(factory=list)

    def attach(self, selinux: Any) -> None:
        """Record every check of this SELinux module from now on."""
        seen: set[tuple[int, int, int, int]] = set()
        add = seen.add

        def hook(ssid: int, tsid: int, tclass: int, bits: int, rc: int) -> None:
            add((ssid, tsid, tclass, bits))

        selinux.coverage = hook
        self.runs.append((selinux, seen))

    def exercised(self, selinux: Any | None = None) -> set[Access]:
        """The allowed permissions the recorded checks used, by type names."""
        out: set[Access] = set()
        for mod, seen in self.runs:
            if selinux is not None and mod is not selinux:
                continue
            srv = mod.server
            db = mod.policy.policydb
            done: dict[tuple[int, int, int], int] = {}
            for ssid, tsid, tclass, bits in seen:
                k = (ssid, tsid, tclass)
                allowed = done.get(k)
                if allowed is None:
                    allowed = done[k] = srv.compute_av(ssid, tsid, tclass).allowed
                used = bits & allowed
                if not used:
                    continue
                sctx, tctx = srv.sidtab.search(ssid), srv.sidtab.search(tsid)
                if sctx is None or tctx is None:
                    continue
                st, tt = db.type_name(sctx.type), db.type_name(tctx.type)
                cname = db.class_name(tclass)
                for perm in db.perm_names_of(tclass, used):
                    out.add((st, tt, cname, perm))
        return out


@frozen
class SourceRule:
    """One allow statement as written."""

    where: str
    text: str
    #: the boolean condition it sits under ("" when unconditional)
    cond: str
    rule: A.AvRule


def _ns_text(ns: A.NameSet) -> str:
    if ns.star:
        return "*"
    items = [n.text for n in ns.names] + [f"-{n.text}" for n in ns.neg]
    body = items[0] if len(items) == 1 and not ns.comp else "{ " + " ".join(items) + " }"
    return f"~{body}" if ns.comp else body


def rule_text(r: A.AvRule) -> str:
    return (f"{r.kind} {_ns_text(r.src)} {_ns_text(r.tgt)}:{_ns_text(r.classes)} "
            f"{_ns_text(r.perms)};")


_OPS = {"and": "&&", "or": "||", "xor": "^", "==": "==", "!=": "!="}


def _cond_text(tree: Any) -> str:
    """A boolean expression as written (``a && !b``)."""
    if isinstance(tree, A.CondLeaf):
        return tree.name.text
    if isinstance(tree, tuple) and len(tree) == 1:
        return _cond_text(tree[0])
    if isinstance(tree, tuple) and tree and tree[0] == "not":
        return "!" + _cond_text(tree[1])
    if isinstance(tree, tuple) and len(tree) == 3:
        return f"{_cond_text(tree[1])} {_OPS.get(tree[0], tree[0])} {_cond_text(tree[2])}"
    return str(tree)


def _walk(stmts: Iterable[A.Stmt], cond: str, out: list[SourceRule]) -> None:
    for s in stmts:
        if isinstance(s, A.AvRule):
            if s.kind == "allow":
                out.append(SourceRule(str(s.pos), rule_text(s), cond, s))
        elif isinstance(s, A.CondBlock):
            e = _cond_text(s.expr)
            _walk(s.true_rules, f"if ({e})" if not cond else f"{cond} && ({e})", out)
            _walk(s.false_rules, f"if !({e})" if not cond else f"{cond} && !({e})", out)
        elif isinstance(s, A.Optional):
            _walk(s.body, cond, out)
            _walk(s.orelse, cond, out)


def source_rules(paths: Sequence[str | Path]) -> list[SourceRule]:
    """The allow statements of policy source files, in order (raises PolicyError on bad
    syntax, with ``file:line:col``)."""
    out: list[SourceRule] = []
    for p in paths:
        _walk(parse_file(p), "", out)
    return out


@define(slots=True)
class RuleCoverage:
    """How much of one allow rule was used."""

    where: str
    text: str
    cond: str
    granted: int
    used: set[Access] = field(factory=set)

    @property
    def unused(self) -> int:
        return self.granted - len(self.used)

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "rule": self.text, "cond": self.cond,
                "granted": self.granted, "used": len(self.used), "unused": self.unused,
                "used_permissions": sorted(" ".join(a) for a in self.used)}


@define(slots=True)
class Report:
    """Coverage of a set of source rules by exercised accesses."""

    rules: list[RuleCoverage]
    exercised: set[Access]
    #: exercised accesses no listed rule grants (they come from the base or other files)
    outside: set[Access]

    @property
    def granted(self) -> int:
        return sum(r.granted for r in self.rules)

    @property
    def used(self) -> int:
        return sum(len(r.used) for r in self.rules)

    @property
    def unused(self) -> int:
        return self.granted - self.used

    @property
    def ratio(self) -> float:
        """Used / granted over all rules (1.0 when nothing is granted)."""
        return 1.0 if not self.granted else self.used / self.granted

    def to_json(self) -> dict[str, Any]:
        return {"granted": self.granted, "used": self.used, "unused": self.unused,
                "ratio": round(self.ratio, 4), "rules": [r.to_json() for r in self.rules]}

    def format(self) -> str:
        """Human text: one line per rule, never-used rules flagged."""
        lines = [f"policy coverage: {self.used} of {self.granted} granted permissions "
                 f"exercised ({self.unused} never used)"]
        for r in self.rules:
            flag = "UNUSED" if not r.used else ("partial" if r.unused else "ok")
            cond = f" [{r.cond}]" if r.cond else ""
            lines.append(f"  {flag:8} {r.where}: {r.text}{cond}  ({len(r.used)}/{r.granted})")
        return "\n".join(lines)


def report(db: P.PolicyDB, rules: Sequence[SourceRule], exercised: Iterable[Access]) -> Report:
    """Map ``exercised`` accesses onto ``rules`` (compiled in ``db``)."""
    ex = NameSetExpander(db)
    exercised = set(exercised)
    by_names: dict[str, int] = {t.name: t.value for t in db.types if not t.attribute}
    covered: set[Access] = set()
    out: list[RuleCoverage] = []
    for sr in rules:
        r = sr.rule
        src, _ = ex.types(r.src)
        tgt, has_self = ex.types(r.tgt)
        classes = {c.name: ex.perms(c, r.perms) for c in ex.classes(r.classes)}
        npairs = len(src) * len(tgt) + (len(src - tgt) if has_self else 0)
        granted = npairs * sum(len(p) for p in classes.values())
        rc = RuleCoverage(sr.where, sr.text, sr.cond, granted)
        for acc in exercised:
            st, tt, cname, perm = acc
            if perm not in classes.get(cname, ()):
                continue
            sv, tv = by_names.get(st), by_names.get(tt)
            if sv is None or tv is None or sv not in src:
                continue
            if tv in tgt or (has_self and sv == tv):
                rc.used.add(acc)
                covered.add(acc)
        out.append(rc)
    return Report(out, exercised, exercised - covered)


@contextmanager
def recording(rec: Recorder) -> Iterator[Recorder]:
    """Attach ``rec`` to every SELinux module booted inside the block: for code that builds
    its own kernels (scenario runners), where no module is at hand before the run."""
    from lsm.selinux.module import SELinux

    orig = SELinux.kernel_booted

    def booted(self: Any, kernel: Any) -> None:
        rec.attach(self)
        orig(self, kernel)

    SELinux.kernel_booted = booted  # type: ignore[method-assign]
    try:
        yield rec
    finally:
        SELinux.kernel_booted = orig  # type: ignore[method-assign]


def merge(reports: Iterable[Report]) -> Report:
    """The total of several reports (e.g. one per scenario, each on its own policy): a rule,
    known by its ``file:line:col``, is used by the union of what each run used."""
    by_where: dict[str, RuleCoverage] = {}
    exercised: set[Access] = set()
    outside: set[Access] = set()
    for rep in reports:
        exercised |= rep.exercised
        outside |= rep.outside
        for r in rep.rules:
            t = by_where.get(r.where)
            if t is None:
                by_where[r.where] = RuleCoverage(r.where, r.text, r.cond, r.granted,
                                                 set(r.used))
            else:
                t.granted = max(t.granted, r.granted)
                t.used |= r.used
    covered = {a for r in by_where.values() for a in r.used}
    return Report(list(by_where.values()), exercised, outside - covered)


GrantMap = dict[tuple[str, str, str], int]


def allowed_map(db: P.PolicyDB) -> GrantMap:
    """Every ``allow`` of the compiled policy (conditional branches included), attributes
    expanded: ``(source type, target type, class) -> permission mask``, by names so two
    compilations can be compared."""
    ex = NameSetExpander(db)
    names = {t.value: t.name for t in db.types if not t.attribute}
    cache: dict[int, list[str]] = {}

    def expand(v: int) -> list[str]:
        hit = cache.get(v)
        if hit is None:
            td = db.types.at(v)
            vals = ex.members.get(v, set()) if td is not None and td.attribute else {v}
            hit = cache[v] = [names[x] for x in vals if x in names]
        return hit

    out: GrantMap = {}
    full: dict[int, int] = {}
    entries: list[Any] = list(db.avtab.items())
    for node in db.cond_list:
        entries += node.true_list + node.false_list
    for (s, t, c, spec), data in entries:
        if spec != P.AVTAB_ALLOWED or not isinstance(data, int) or not data:
            continue
        cname = db.class_name(c)
        m = full.get(c)
        if m is None:
            cd = db.class_by_value(c)
            m = full[c] = db.perm_mask(c, list(cd.all_perms))
        bits = data & m  # ``*`` compiles to every bit, defined or not (as checkpolicy does)
        for a in expand(s):
            for b in expand(t):
                k = (a, b, cname)
                out[k] = out.get(k, 0) | bits
    return out


def hidden_grants(db: P.PolicyDB, without: GrantMap, rules: Sequence[SourceRule],
                  exercised: Iterable[Access], where: str = "(your policy)") -> RuleCoverage:
    """Permissions the policy gains over ``without`` that none of ``rules`` grants: what a
    ``typeattribute x unconfined_domain;`` (or a type declared into an attribute) brings in
    through rules written elsewhere.  Least privilege counts them like any grant."""
    ex = NameSetExpander(db)
    compiled = []
    for sr in rules:
        src_v, _ = ex.types(sr.rule.src)
        tgt_v, has_self = ex.types(sr.rule.tgt)
        compiled.append(({db.type_name(v) for v in src_v}, {db.type_name(v) for v in tgt_v},
                         has_self, {c.name: db.perm_mask(c.name, ex.perms(c, sr.rule.perms))
                                    for c in ex.classes(sr.rule.classes)}))
    extra: dict[tuple[str, str, str], int] = {}
    for k, mask in allowed_map(db).items():
        new = mask & ~without.get(k, 0)
        if not new:
            continue
        a, b, cname = k
        for src, tgt, has_self, masks in compiled:
            if a in src and (b in tgt or (has_self and a == b)):
                new &= ~masks.get(cname, 0)
        if new:
            extra[k] = new
    rc = RuleCoverage(where, "permissions gained through attributes or declarations, not "
                      "through an allow rule of yours", "",
                      sum(bin(m).count("1") for m in extra.values()))
    for acc in exercised:
        st, tt, cname, perm = acc
        m = extra.get((st, tt, cname), 0)
        if m and m & db.perm_mask(cname, [perm]):
            rc.used.add(acc)
    return rc
