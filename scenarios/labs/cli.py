"""``kernel-sim lab list|show NAME|start NAME DIR|check NAME --policy FILE [--json] [--hint N]``,
the instructor's ``kernel-sim lab check NAME --submissions DIR`` (CSV + JSON gradebook) and
``kernel-sim lab coverage SCENARIO...`` (policy coverage of scenario runs).

Exit status: ``check`` 0 when every graded case passes, 1 otherwise (or a policy error), 2 for
bad input (unknown lab, missing file).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from scenarios.labs.model import COMMON_TE, Lab, LabError, all_labs, get_lab

__all__ = ["permissive_log", "register"]


def permissive_log(lab: Lab, policy_file: str | Path) -> list[str]:
    """The audit log of the visible legitimate cases run in permissive mode: every denial the
    policy would cause, not just the first (the seed's ``setenforce 0`` troubleshooting)."""
    from lsm.selinux import load_policy
    from scenarios.labs.grader import run_case

    policy = load_policy(*lab.policy_files(policy_file))
    lines: list[str] = []
    for case in lab.cases:
        if case.kind == "legit" and case.visible:
            _, se = run_case(lab, case, policy, mode="permissive")
            lines += se.audit_log()
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    labs = all_labs()
    if args.json:
        print(json.dumps([{"name": lab.name, "order": lab.order, "level": lab.level,
                           "title": lab.title} for lab in labs], indent=2))
        return 0
    for lab in labs:
        print(f"{lab.order:2}. {lab.name:16} [{lab.level}] {lab.title}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    lab = get_lab(args.name)
    if args.json:
        print(json.dumps({"name": lab.name, "title": lab.title, "level": lab.level,
                          "summary": lab.summary, "objectives": lab.objectives,
                          "hints": len(lab.hints),
                          "cases": [{"name": c.name, "kind": c.kind, "what": c.what}
                                    for c in lab.cases if c.visible]}, indent=2))
    else:
        print(lab.show())
    if args.hint is not None:
        n = args.hint
        print(f"hint {n}: {lab.hints[n - 1]}" if 1 <= n <= len(lab.hints)
              else f"this lab has {len(lab.hints)} hint(s)")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    lab = get_lab(args.name)
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    policy = out / "policy.te"
    if policy.exists() and not args.force:
        print(f"kernel-sim lab start: {policy} exists (use --force to overwrite)",
              file=sys.stderr)
        return 2
    shutil.copyfile(lab.start, policy)
    shutil.copyfile(lab.world, out / "world.te")
    shutil.copyfile(COMMON_TE, out / "common.te")
    from lsm.selinux import BASE_CONF

    files = f"{BASE_CONF} {out / 'common.te'} {out / 'world.te'} {policy}"
    (out / "README.md").write_text(
        f"# {lab.title}\n\n{lab.summary.strip()}\n\n## Objectives\n\n{lab.objectives.strip()}\n"
        f"\n## Files\n\n- policy.te: your policy (edit this)\n- world.te, common.te: the "
        f"lab's types and shared basics (read only)\n- audit.log: denials of the starting "
        f"policy, run in permissive mode\n"
        f"\n## Loop\n\n    kernel-sim lab check {lab.name} --policy {policy}\n"
        f"    kernel-sim audit2why -i {out / 'audit.log'} -p {files}\n"
        f"    kernel-sim audit2allow -i {out / 'audit.log'} -p {files} -M mymodule\n"
        f"    kernel-sim lab check {lab.name} --policy {policy} --hint 1\n", encoding="utf-8")
    log = permissive_log(lab, policy)
    (out / "audit.log").write_text("".join(ln + "\n" for ln in log), encoding="utf-8")
    print(f"lab {lab.name} ready in {out}: edit {policy}; {out / 'audit.log'} holds "
          f"{sum('type=AVC' in ln for ln in log)} AVC record(s) from a permissive run")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from scenarios.labs.grader import grade

    lab = get_lab(args.name)
    if args.submissions:
        from scenarios.labs.gradebook import gradebook

        book = gradebook(lab, Path(args.submissions), Path(args.out) if args.out else None)
        if args.json:
            print(json.dumps(book.to_json(), indent=2))
        else:
            print(book.format())
        return 0
    if not args.policy:
        raise LabError("give --policy FILE (a student) or --submissions DIR (a class)")
    if not Path(args.policy).is_file():
        raise LabError(f"no such policy file: {args.policy}")
    g = grade(lab, args.policy, hint=args.hint)
    if args.json:
        print(json.dumps(g.to_json(), indent=2))
    else:
        print(g.format())
    return 0 if g.ok else 1


def cmd_coverage(args: argparse.Namespace) -> int:
    """Policy coverage of scenario runs: per scenario and in total."""
    from lsm.selinux import BASE_CONF
    from lsm.selinux.coverage import Recorder, Report, merge, recording, report, source_rules
    from scenarios import get

    per: dict[str, tuple[bool, Report, list[str]]] = {}
    for name in args.scenario:
        try:
            sc = get(name)
        except KeyError:
            raise LabError(f"unknown scenario {name!r}") from None
        v = sc.resolve(args.variant, None if args.variant else "enforcing")
        files = list(args.rules or [f for f in sc.default_policy(v.policy)
                                    if Path(f) != BASE_CONF])
        rec = Recorder()
        with recording(rec):
            result = sc.run(options={"variant": v.name} if args.variant else
                            {"mode": "enforcing"})
        if not rec.runs:
            raise LabError(f"scenario {name} ran without SELinux: nothing to cover")
        db = rec.runs[0][0].policy.policydb
        per[name] = (result.ok, report(db, source_rules(files), rec.exercised()), files)
    total = merge(r for _, r, _ in per.values())
    if args.json:
        print(json.dumps({"scenarios": {n: {"ok": ok, "rules_from": files, **r.to_json()}
                                        for n, (ok, r, files) in per.items()},
                          "total": total.to_json()}, indent=2))
        return 0
    for n, (ok, r, files) in per.items():
        print(f"== {n} ({'checks pass' if ok else 'checks FAIL'}; rules of "
              f"{', '.join(Path(f).name for f in files)}): {r.used} of {r.granted} granted "
              "permissions exercised")
    print("== total over " + ", ".join(per))
    print(total.format())
    return 0


def _guard(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except (LabError, OSError) as e:
            print(f"kernel-sim lab: {e}", file=sys.stderr)
            return 2

    return run


def register(sub: Any) -> None:
    """Add ``lab`` to ``kernel-sim``'s sub-parsers."""
    lp = sub.add_parser("lab", help="auto-graded IPC-security labs")
    ls = lp.add_subparsers(dest="lab_command", required=True)
    p = ls.add_parser("list", help="the labs, easiest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_list))
    p = ls.add_parser("show", help="a lab's story, objectives and visible checks")
    p.add_argument("name")
    p.add_argument("--hint", type=int, metavar="N", help="reveal hint N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_show))
    p = ls.add_parser("start", help="copy a lab's starting policy and audit log into DIR")
    p.add_argument("name")
    p.add_argument("dir")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_guard(cmd_start))
    p = ls.add_parser("check", help="grade a policy (or a folder of submissions)")
    p.add_argument("name")
    p.add_argument("--policy", metavar="FILE")
    p.add_argument("--submissions", metavar="DIR",
                   help="grade every *.te (or */policy.te) in DIR; write gradebook.csv/.json")
    p.add_argument("--out", metavar="DIR", help="where the gradebook goes (default: DIR)")
    p.add_argument("--hint", type=int, metavar="N", help="reveal hint N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_check))
    p = ls.add_parser("coverage", help="policy coverage of scenario runs (used vs unused "
                      "grants, per scenario and in total)")
    p.add_argument("scenario", nargs="+")
    p.add_argument("--rules", action="append", metavar="FILE",
                   help="policy source whose allow rules are measured (default: the "
                        "scenarios' own fragments)")
    p.add_argument("--variant", metavar="NAME", help="scenario variant (default: enforcing)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_coverage))
