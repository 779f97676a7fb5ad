"""``kernel-sim``: list and run scenarios, query policies.

Human output goes to stdout, diagnostics to stderr; ``--json`` prints one JSON document.
``run`` exits 0 exactly when every expectation of the scenario holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import structlog

log = structlog.get_logger("kernel_sim")


def _configure_logging() -> None:
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.dev.ConsoleRenderer(colors=False)],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def cmd_scenarios(args: argparse.Namespace) -> int:
    from scenarios import all_scenarios

    scs = all_scenarios()
    if args.json:
        print(json.dumps([{"name": s.name, "primitives": list(s.primitives),
                           "summary": s.summary} for s in scs.values()], indent=2))
        return 0
    width = max((len(n) for n in scs), default=10)
    for s in scs.values():
        print(f"{s.name:<{width}}  {s.summary}  [{', '.join(s.primitives)}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from scenarios import get

    try:
        scenario = get(args.scenario)
    except KeyError as e:
        print(f"kernel-sim: {e.args[0]}", file=sys.stderr)
        return 2
    options = {"policy": args.policy, "mode": args.mode}
    try:
        result = scenario.run(seed=args.seed, trace=bool(args.trace), options=options)
    except (OSError, ValueError) as e:
        print(f"kernel-sim: {args.scenario}: {e}", file=sys.stderr)
        return 2
    k = result.context.kernel
    if args.trace:
        assert k.tracer is not None
        k.tracer.write(args.trace)
    if args.audit_log:
        with open(args.audit_log, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in k.audit_log())
    for d in k.diagnostics:
        log.info(d.pop("event"), **d)
    if args.json:
        doc = {"scenario": scenario.name, "seed": args.seed, "ok": result.ok,
               "checks": [{"what": c.what, "ok": c.ok, "seen": c.seen} for c in result.checks],
               "notes": _jsonable(result.context.notes), "audit": k.audit_log(),
               "avc_stats": k.avc_stats(), "sim_time": k.now}
        print(json.dumps(doc, indent=2))
    else:
        print(f"== {scenario.name}: {scenario.summary}")
        story = scenario.story.strip().splitlines()
        if story:
            print("   " + story[0])
        for n in result.context.notes:
            fields = " ".join(f"{key}={_errname(v) if key == 'errno' else _short(v)}"
                              for key, v in n.items() if key not in ("t", "event"))
            print(f"  [{n['t']:.6f}s] {n['event']:<10} {fields}")
        audit = k.audit_log()
        if audit:
            print(f"  audit: {len(audit)} record(s); first: {audit[0][:160]}")
        for c in result.checks:
            print(f"  {'PASS' if c.ok else 'FAIL'}  {c.what}  (seen: {c.seen})")
        print(f"== {'all expectations hold' if result.ok else 'EXPECTATIONS FAILED'}")
    return 0 if result.ok else 1


def _errname(v: Any) -> str:
    import errno

    return errno.errorcode.get(v, str(v)) if isinstance(v, int) else str(v)


def _short(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    s = repr(v) if isinstance(v, str) else str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kernel-sim", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("scenarios", help="list the scenarios")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_scenarios)
    rp = sub.add_parser("run", help="run one scenario")
    rp.add_argument("scenario")
    rp.add_argument("--policy", action="append", default=[], metavar="FILE",
                    help="policy source, module or binary policy.NN (repeatable)")
    rp.add_argument("--mode", choices=("enforcing", "permissive", "disabled"), default=None)
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--audit-log", metavar="FILE")
    rp.add_argument("--trace", metavar="FILE.jsonl")
    rp.add_argument("--report", metavar="FILE.html")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_run)
    for extra in _extra_commands():
        extra(sub)
    return p


def _extra_commands() -> list[Any]:
    """Sub-commands contributed by other packages (policy tools, labs)."""
    found = []
    try:
        from lsm.selinux.cli import register

        found.append(register)
    except ImportError:
        pass
    return found


def main(argv: Sequence[str] | None = None) -> int:
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
