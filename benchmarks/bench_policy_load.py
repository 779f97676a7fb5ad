"""Benchmark: loading the distribution's binary policy and answering queries, ours vs libsepol.

Measures, in one run on the same machine:

* our ``read_policy`` (binary -> PolicyDB) and ``SecurityServer`` construction, best of N;
* libsepol's load through ``selinux.audit2why.init`` (timed inside a ``/usr/bin/python3``
  subprocess, so interpreter start-up is excluded), best of N init/finish cycles;
* per query, uncached: our ``compute_av`` starting from context strings (parse, validate, SID,
  decision), ``compute_av`` from SIDs (what an AVC miss costs) and our ``explain`` (audit2why's
  full analysis), against ``audit2why.analyze`` on the same queries.

Prints one JSON document: ``python3 benchmarks/bench_policy_load.py [--queries N] [--policy P]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsm.selinux.policy.binary import read_policy
from lsm.selinux.ss.services import SecurityServer
from tests.selinux_ss.querygen import QueryGen

DEFAULT_POLICY = "/etc/selinux/default/policy/policy.33"
SYSTEM_PYTHON = "/usr/bin/python3"

_LIBSEPOL = r"""
import json, sys, time
import selinux.audit2why as a
path, repeat = sys.argv[1], int(sys.argv[2])
queries = [json.loads(line) for line in sys.stdin]
loads = []
for _ in range(repeat):
    t = time.perf_counter(); a.init(path); loads.append(time.perf_counter() - t); a.finish()
a.init(path)
t = time.perf_counter()
for scon, tcon, tclass, perms in queries:
    a.analyze(scon, tcon, tclass, perms)
elapsed = time.perf_counter() - t
a.finish()
print(json.dumps({"load_s": min(loads), "analyze_total_s": elapsed}))
"""


def _best(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def bench(policy: str, nqueries: int, repeat: int) -> dict[str, object]:
    data = Path(policy).read_bytes()
    read_s = _best(lambda: read_policy(data), repeat)
    db = read_policy(data)
    server_s = _best(lambda: SecurityServer(db), repeat)
    queries = QueryGen(db, seed=1).queries(nqueries)

    srv = SecurityServer(db)
    start = time.perf_counter()
    for scon, tcon, tclass, _perms in queries:
        srv.compute_av(srv.context_to_sid(scon), srv.context_to_sid(tcon), tclass)
    compute_s = time.perf_counter() - start
    triples = [
        (srv.context_to_sid(s), srv.context_to_sid(t), db.lookup_class(c).value)
        for s, t, c, _p in queries
    ]
    start = time.perf_counter()
    for ssid, tsid, tclass_value in triples:
        srv.compute_av(ssid, tsid, tclass_value)
    by_sid_s = time.perf_counter() - start
    start = time.perf_counter()
    for scon, tcon, tclass, perms in queries:
        srv.explain(scon, tcon, tclass, perms)
    explain_s = time.perf_counter() - start

    result: dict[str, object] = {
        "policy": policy,
        "policy_bytes": len(data),
        "types": db.type_count,
        "avtab_rules": len(db.avtab),
        "queries": nqueries,
        "ours": {
            "read_policy_s": round(read_s, 4),
            "security_server_init_s": round(server_s, 4),
            "load_total_s": round(read_s + server_s, 4),
            "compute_av_from_strings_us": round(compute_s / nqueries * 1e6, 2),
            "compute_av_by_sid_us": round(by_sid_s / nqueries * 1e6, 2),
            "explain_us": round(explain_s / nqueries * 1e6, 2),
        },
    }
    if Path(SYSTEM_PYTHON).exists():
        stdin = "".join(json.dumps(list(q)) + "\n" for q in queries)
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", _LIBSEPOL, policy, str(repeat)],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            theirs = json.loads(proc.stdout)
            result["libsepol"] = {
                "audit2why_init_s": round(theirs["load_s"], 4),
                "analyze_us": round(theirs["analyze_total_s"] / nqueries * 1e6, 2),
            }
        else:
            result["libsepol"] = {"error": proc.stderr.strip()[-300:]}
    else:
        result["libsepol"] = {"error": f"{SYSTEM_PYTHON} not found"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=DEFAULT_POLICY)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(bench(args.policy, args.queries, args.repeat), indent=2))


if __name__ == "__main__":
    main()
