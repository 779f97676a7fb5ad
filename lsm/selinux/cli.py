"""``kernel-sim policy info|search|compute-av``, ``kernel-sim audit2why`` and ``audit2allow``.

:func:`register` adds the sub-commands to ``kernel-sim``'s parser (see ``kernel_sim/cli.py``).
Bad input (unreadable file, malformed record, unknown name, invalid policy) is reported on
stderr as ``kernel-sim <command>: <message>`` with exit status 2; ``audit2allow`` exits 1 when
a proposed rule violates a neverallow rule (unless ``--force``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.tools import ToolError

__all__ = ["register"]

Handler = Callable[[argparse.Namespace], int]


def _guard(name: str, fn: Handler) -> Handler:
    """Run ``fn``; turn bad input into a one-line diagnostic and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (ToolError, PolicyError, OSError, ValueError, RecursionError) as e:
            print(f"kernel-sim {name}: {e}", file=sys.stderr)
            return 2

    return run


def _load(paths: Sequence[str]) -> Any:
    from lsm.selinux.policy.loader import load_policy

    if not paths:
        raise ToolError("no policy given")
    return load_policy(*paths)


def _is_binary(path: str) -> bool:
    from lsm.selinux.policy.binary import is_binary_policy

    try:
        with open(path, "rb") as fh:
            return is_binary_policy(fh.read(8))
    except OSError as e:
        raise ToolError(f"cannot read policy {path}: {e.strerror or e}") from None


# -- policy info / search / compute-av


def cmd_info(args: argparse.Namespace) -> int:
    from lsm.selinux.tools.info import (
        format_stats,
        policy_stats,
        raw_role_allow,
        source_neverallows,
    )

    policy = _load(args.policy)
    db = policy.policydb
    binary = _is_binary(args.policy[0])
    never = 0 if binary else len(source_neverallows(args.policy))
    stats = policy_stats(db, never)
    if binary:
        stats["role_allow"] = raw_role_allow(Path(args.policy[0]).read_bytes(),
                                             stats["role_allow"])
    source = " ".join(args.policy)
    if args.json:
        print(json.dumps({"policy": args.policy, "version": db.version, "mls": db.mls,
                          "binary": binary, "stats": stats}, indent=2))
    else:
        print(format_stats(db, stats, source))
    return 0


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(x for v in values or () for x in v.split(",") if x)


def cmd_search(args: argparse.Namespace) -> int:
    from lsm.selinux.tools.search import Query, search

    kinds = set(args.kinds or ())
    if args.A:  # as sesearch: allow and allowxperm
        kinds |= {"allow", "allowxperm"}
    if not kinds:
        raise ToolError("one or more rule types must be specified "
                        "(-A/--allow/--allowxperm, --auditallow, --dontaudit, -T, "
                        "--type_change, --type_member)")
    db = _load(args.policy).policydb
    q = Query(frozenset(kinds), args.source, args.target, _split(args.tclass),
              _split(args.perms), _split(args.bool))
    rules = search(db, q)
    if args.json:
        print(json.dumps({"rules": rules}, indent=2))
    else:
        for r in rules:
            print(r)
    return 0


def _names(names: frozenset[str]) -> str:
    return "{ " + " ".join(sorted(names)) + " }" if names else "{ }"


def cmd_compute_av(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    d = policy.compute_av(args.scon, args.tcon, args.tclass)
    if args.json:
        print(json.dumps({"scontext": args.scon, "tcontext": args.tcon, "tclass": args.tclass,
                          "allowed": sorted(d.allowed), "auditallow": sorted(d.auditallow),
                          "auditdeny": sorted(d.auditdeny), "permissive": d.permissive},
                         indent=2))
    else:
        print(f"allowed: {_names(d.allowed)}")
        print(f"auditallow: {_names(d.auditallow)}")
        print(f"auditdeny: {_names(d.auditdeny)}")
        print(f"permissive: {1 if d.permissive else 0}")
    return 0


# -- audit2why / audit2allow


def cmd_audit2why(args: argparse.Namespace) -> int:
    from lsm.selinux.tools.audit2why import explain_all, format_why, why_json
    from lsm.selinux.tools.audit_parse import read_log

    denials = read_log(args.input)
    policy = _load(args.policy)
    whys = explain_all(policy, denials, args.input)
    if args.json:
        print(json.dumps([why_json(w) for w in whys], indent=2))
    else:
        for w in whys:
            print(format_why(w))
    return 0


def cmd_audit2allow(args: argparse.Namespace) -> int:
    from lsm.selinux.tools.audit2allow import format_module, propose
    from lsm.selinux.tools.audit_parse import read_log
    from lsm.selinux.tools.info import source_neverallows
    from lsm.selinux.tools.neverallow import check

    denials = read_log(args.input)
    policy = _load(args.policy) if args.policy else None
    proposal = propose(denials, policy, args.input, xperms=args.xperms)
    if policy is not None:
        if _is_binary(args.policy[0]):
            print(f"kernel-sim audit2allow: note: {args.policy[0]} is a binary policy, which "
                  "keeps no neverallow rules; the proposal was not checked against any",
                  file=sys.stderr)
        else:
            bad = check(policy.policydb, source_neverallows(args.policy), proposal.rules())
            for v in bad:
                print(f"kernel-sim audit2allow: {v.rule} violates the neverallow rule at "
                      f"{v.where}:\n    {v.neverallow}\n    (forbidden: {' '.join(v.perms)})",
                      file=sys.stderr)
            if bad and not args.force:
                print("kernel-sim audit2allow: refusing to propose rules that violate "
                      "neverallow rules (use --force to emit them anyway)", file=sys.stderr)
                return 1
            for v in bad:
                stype, rest = v.rule.split(" ", 2)[1:]
                ttype, tclass = rest.split(":", 1)[0], rest.split(":", 1)[1].split(" ")[0]
                proposal.groups[(stype, ttype, tclass)].warnings.append(
                    f"#!!!! WARNING: violates {v.neverallow} ({v.where}); emitted with --force")
    name = args.M or args.m
    text = format_module(proposal, name)
    if args.M:
        out = Path(f"{args.M}.te")
        out.write_text(text, encoding="utf-8")
        print(f"Module written to {out}.\nTo use it, load it on top of the base, e.g.:\n\n"
              f"kernel-sim run SCENARIO --policy BASE --policy {out}\n")
    elif args.output:
        with open(args.output, "a", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


# -- registration


def _policy_parsers(sub: Any) -> None:
    pp = sub.add_parser("policy", help="query a policy (source files or a binary policy.NN)")
    psub = pp.add_subparsers(dest="policy_command", required=True)
    ip = psub.add_parser("info", help="statistics, counted as seinfo does")
    ip.add_argument("policy", nargs="+", metavar="POLICY")
    ip.add_argument("--json", action="store_true")
    ip.set_defaults(func=_guard("policy info", cmd_info))
    sp = psub.add_parser("search", help="TE rules, printed as sesearch does")
    sp.add_argument("policy", nargs="+", metavar="POLICY")
    sp.add_argument("-A", action="store_true", help="allow and allowxperm rules")
    for flag, kind in (("--allow", "allow"), ("--auditallow", "auditallow"),
                       ("--dontaudit", "dontaudit"), ("--type_change", "type_change"),
                       ("--type_member", "type_member"), ("--allowxperm", "allowxperm"),
                       ("--auditallowxperm", "auditallowxperm"),
                       ("--dontauditxperm", "dontauditxperm")):
        sp.add_argument(flag, dest="kinds", action="append_const", const=kind)
    sp.add_argument("-T", "--type_trans", dest="kinds", action="append_const",
                    const="type_transition")
    sp.add_argument("-s", "--source", metavar="TYPE")
    sp.add_argument("-t", "--target", metavar="TYPE")
    sp.add_argument("-c", "--class", dest="tclass", action="append", metavar="CLASS")
    sp.add_argument("-p", "--perms", action="append", metavar="PERMS")
    sp.add_argument("-b", "--bool", action="append", metavar="BOOL")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_guard("policy search", cmd_search))
    cp = psub.add_parser("compute-av", help="the access vector decision for two contexts")
    cp.add_argument("policy", nargs="+", metavar="POLICY")
    cp.add_argument("scon")
    cp.add_argument("tcon")
    cp.add_argument("tclass", metavar="CLASS")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=_guard("policy compute-av", cmd_compute_av))


def register(sub: Any) -> None:
    """Add ``policy``, ``audit2why`` and ``audit2allow`` to ``kernel-sim``'s sub-parsers."""
    _policy_parsers(sub)
    wp = sub.add_parser("audit2why", help="explain the denials in an audit log")
    wp.add_argument("-i", "--input", required=True, metavar="LOG")
    wp.add_argument("-p", "--policy", nargs="+", required=True, metavar="P")
    wp.add_argument("--json", action="store_true")
    wp.set_defaults(func=_guard("audit2why", cmd_audit2why))
    ap = sub.add_parser("audit2allow", help="propose a policy module for the denials in a log")
    ap.add_argument("-i", "--input", required=True, metavar="LOG")
    ap.add_argument("-p", "--policy", nargs="+", default=[], metavar="P")
    ap.add_argument("-M", metavar="NAME", help="write the module to NAME.te")
    ap.add_argument("-m", metavar="NAME", help="print a module named NAME")
    ap.add_argument("-o", "--output", metavar="FILE", help="append the output to FILE")
    ap.add_argument("-x", "--xperms", action="store_true",
                    help="also grant the ioctl commands of ioctl denials (allowxperm)")
    ap.add_argument("--force", action="store_true",
                    help="emit rules that violate neverallow rules (with a warning)")
    ap.set_defaults(func=_guard("audit2allow", cmd_audit2allow))
