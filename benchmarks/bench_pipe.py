"""Pipe ping-pong through the simulated kernel vs a bare SimPy Store ping-pong.

Two processes bounce a 1-byte message over two pipes ``n`` times: read and write go through
the syscall wrapper, fd lookup, ``file_permission`` (capability module stacked), the pipe
buffer, the wait queues and the per-syscall simulated cost.  The same kernel ping-pong is run
again with a stacked BpfLsm module that implements the hooks on this path and allows
everything.  Targets: kernel >= 0.5x the bare SimPy rate; the allow-all module costs <= 5%.
The variants run interleaved and medians are reported (see ``benchmarks/harness.py``).
Prints one JSON document: ``python3 benchmarks/bench_pipe.py [--n N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import interleaved, rates, run_timed, simpy_store_pingpong
from kernel_sim import Kernel
from lsm import BpfLsm

KERNEL_TARGET = 0.5
MODULE_BUDGET = 0.05
#: hooks a pipe ping-pong can reach (per message, at set-up, at exit)
ALLOW_HOOKS = ("file_permission", "file_alloc_security", "inode_alloc_security",
               "file_fcntl", "task_alloc", "cred_prepare", "task_kill")


def allow_all() -> BpfLsm:
    """A module with an opinion on every hook of the path: allow."""
    return BpfLsm("allow-all", dict.fromkeys(ALLOW_HOOKS, lambda *_a: 0))


def kernel_pingpong(n: int, lsms: tuple[Any, ...] = ()) -> float:
    """CPU seconds for ``n`` 1-byte round trips over two pipes (kernel boot excluded)."""
    k = Kernel(lsms=list(lsms), seed=0)

    def pong(p: Any, rfd: int, wfd: int) -> Generator[Any, Any, int]:
        read, write = p.read, p.write
        for _ in range(n):
            data = yield from read(rfd, 1)
            yield from write(wfd, data)
        return 0

    def ping(p: Any) -> Generator[Any, Any, int]:
        r1, w1 = yield from p.pipe()
        r2, w2 = yield from p.pipe()
        yield from p.fork(pong, r1, w2)
        read, write = p.read, p.write
        for _ in range(n):
            yield from write(w1, b"x")
            yield from read(r2, 1)
        yield from p.waitpid(-1, 0)
        return 0

    return run_timed(k, k.spawn(ping))


def bench(n: int, repeat: int) -> dict[str, Any]:
    seconds = interleaved({
        "kernel": lambda: kernel_pingpong(n),
        "kernel_allow_all": lambda: kernel_pingpong(n, (allow_all(),)),
        "simpy": lambda: simpy_store_pingpong(n),
    }, repeat=repeat)
    r = rates(n, seconds)
    kernel_ratio = r["kernel"] / r["simpy"]
    module_cost = r["kernel"] / r["kernel_allow_all"] - 1.0
    return {
        "benchmark": "pipe_pingpong",
        "round_trips": n,
        "message_bytes": 1,
        "repeat": repeat,
        "kernel_round_trips_per_s": round(r["kernel"]),
        "kernel_allow_all_round_trips_per_s": round(r["kernel_allow_all"]),
        "simpy_store_round_trips_per_s": round(r["simpy"]),
        "kernel_vs_simpy_ratio": round(kernel_ratio, 3),
        "allow_all_vs_kernel_ratio": round(r["kernel_allow_all"] / r["kernel"], 3),
        "allow_all_extra_cost": round(module_cost, 3),
        "targets": {"kernel_vs_simpy_min": KERNEL_TARGET, "allow_all_extra_cost_max":
                    MODULE_BUDGET},
        "meets_targets": kernel_ratio >= KERNEL_TARGET and module_cost <= MODULE_BUDGET,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="round trips per run")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median)")
    args = ap.parse_args(argv)
    print(json.dumps(bench(args.n, args.repeat), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
