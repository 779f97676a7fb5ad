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


def _where(e: BaseException) -> str:
    """``TypeError: message (at file:line)`` for the innermost frame of an exception."""
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    at = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {e}{at}"


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr looked up per logger, not bound once: an embedding program (or a test
    # harness) may replace and close the stream it had when the CLI ran
    return structlog.PrintLogger(sys.stderr)


def _configure_logging() -> None:
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.dev.ConsoleRenderer(colors=False)],
        logger_factory=_stderr_logger,
    )


def cmd_scenarios(args: argparse.Namespace) -> int:
    from scenarios import ScenarioFormatError, all_scenarios

    try:
        scs = all_scenarios()
    except ScenarioFormatError as e:
        print(f"kernel-sim: malformed scenario: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"name": s.name, "primitives": list(s.primitives),
                           "summary": s.summary} for s in scs.values()], indent=2))
        return 0
    width = max((len(n) for n in scs), default=10)
    for s in scs.values():
        print(f"{s.name:<{width}}  {s.summary}  [{', '.join(s.primitives)}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from kernel_sim.errors import KernelSimError
    from scenarios import ScenarioFormatError, get
    from scenarios.runner import as_json, compare, human

    try:
        scenario = get(args.scenario)
    except KeyError as e:
        print(f"kernel-sim: {e.args[0]}", file=sys.stderr)
        return 2
    except ScenarioFormatError as e:
        print(f"kernel-sim: malformed scenario: {e}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"policy": args.policy, "mode": args.mode,
                               "variant": args.variant}
    if sys.stderr.isatty() and not args.json:
        options["progress"] = _progress
    try:
        result = scenario.run(seed=args.seed, trace=True, options=options)
        other = None
        if args.compare and len(args.compare) == 1 and args.compare[0] in scenario.variants:
            other = scenario.run(seed=args.seed, trace=True,  # another variant of the story
                                 options={**options, "variant": args.compare[0], "mode": None,
                                          "policy": []})
        elif args.compare:
            other = scenario.run(seed=args.seed, trace=True,
                                 options={**options, "policy": args.compare,
                                          "mode": args.mode or "enforcing"})
    except (OSError, ValueError, KernelSimError) as e:
        print(f"kernel-sim: {args.scenario}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug in the scenario's own code (setup, expect): say where
        print(f"kernel-sim: {args.scenario}: the scenario's code raised {_where(e)}",
              file=sys.stderr)
        return 2
    if options.get("progress"):
        print(file=sys.stderr)
    k = result.context.kernel
    if args.trace:
        assert k.tracer is not None
        k.tracer.write(args.trace)
    if args.audit_log:
        with open(args.audit_log, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in k.audit_log())
    if args.report:
        from scenarios.report import write_report

        write_report(args.report, scenario, result)
    for d in k.diagnostics:
        log.info(d.pop("event"), **d)
    if other is not None:
        flips = compare(result, other)
        if args.json:
            doc = {"scenario": scenario.name, "compare": args.compare,
                   "flips": [{"pid": int(f.key[0]), "syscall": f.key[1], "args": f.key[2],
                              "before": f.before.outcome if f.before else None,
                              "after": f.after.outcome if f.after else None,
                              "after_rule": f.after.rule if f.after else ""} for f in flips]}
            print(json.dumps(doc, indent=2))
        else:
            base = " ".join(args.policy) or f"{result.variant} ({result.mode})"
            print(f"== {scenario.name}: {base}  vs  {' '.join(args.compare)}")
            for f in flips:
                print("  " + f.line())
            print(f"== {len(flips)} decision(s) flipped")
        return 0
    if args.json:
        print(json.dumps(as_json(scenario, result), indent=2))
    else:
        sys.stdout.write(human(scenario, result))
    return 0 if result.ok else 1


def _progress(now: float, events: int) -> None:
    print(f"\r  simulating: t={now:.6f}s, {events} events", end="", file=sys.stderr)


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
    rp.add_argument("--mode", choices=("dac", "enforcing", "permissive", "disabled"),
                    default=None)
    rp.add_argument("--variant", metavar="NAME",
                    help="vulnerable or hardened (default: the scenario's default)")
    rp.add_argument("--compare", nargs="+", metavar="POLICY",
                    help="replay under this policy (files, or a variant name) and list the "
                         "operations whose decision flipped")
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
    """Sub-commands contributed by the application layers (policy tools, labs), found through
    the ``kernel_sim.commands`` entry-point group the package declares, so the kernel never
    names a security module.  (A source tree that was never installed has none.)"""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group="kernel_sim.commands"),
                                       key=lambda ep: ep.name)]


def main(argv: Sequence[str] | None = None) -> int:
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
