"""Run the benchmarks: ``python -m benchmarks [NAME ...]``.

Every ``benchmarks/bench_*.py`` module's ``main()`` runs with its default arguments (or only
those whose name contains one of the given NAMEs); each prints one JSON document (or returns
a dict).  The results are printed as one JSON document keyed by module name.  Exit status 1
if a benchmark raised.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def discover(names: list[str] | None = None) -> list[str]:
    """Module names of the benchmarks, sorted, optionally filtered by substrings."""
    found = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if names:
        found = [m for m in found if any(n in m for n in names)]
    return found


def run_one(module: str) -> Any:
    """Import ``benchmarks.<module>`` and run its ``main()`` with default arguments."""
    mod = importlib.import_module(f"benchmarks.{module}")
    saved_argv = sys.argv
    sys.argv = [str(HERE / f"{module}.py")]
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            try:
                returned = mod.main()
            except SystemExit as e:  # an argparse-style main may exit
                returned = e.code
    finally:
        sys.argv = saved_argv
    out = buf.getvalue().strip()
    try:
        return json.loads(out)
    except ValueError:
        if isinstance(returned, dict):
            return returned
        return {"output": out, "returned": returned}


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    results: dict[str, Any] = {}
    failed = False
    for module in discover(names):
        print(f"running {module} ...", file=sys.stderr, flush=True)
        try:
            results[module] = run_one(module)
        except Exception as e:  # report and go on with the others
            failed = True
            results[module] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(results, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
