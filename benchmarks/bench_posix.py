"""POSIX message-queue ping-pong between two simulated processes vs a bare SimPy Store
ping-pong, in the same run.

Both sides do the same thing: A sends, B receives and answers, A receives; N round trips.  The
kernel side goes through everything a program pays for: the syscall wrapper, fd lookup, the
mqueue checks, blocking on a wait queue, the per-syscall simulated cost.  The baseline is two
SimPy processes passing items through two ``simpy.Store``s.  The figure of merit is wall-clock
round trips per second; the target is a ratio kernel/bare >= 0.4.  Prints one JSON document:
``python3 benchmarks/bench_posix.py [--n N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simpy

from kernel_sim import O_CREAT, O_RDWR, Kernel


def _best(fn: Any, repeat: int = 5) -> float:
    """Best-of-N wall seconds of ``fn()`` (benchmark code only: the simulator reads no clock)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mq_pingpong(n: int) -> None:
    k = Kernel(seed=0)

    def pong(p: Any) -> Any:
        ping_q = yield from p.mq_open("/ping", O_RDWR)
        pong_q = yield from p.mq_open("/pong", O_RDWR)
        recv, send = p.mq_receive, p.mq_send
        for _ in range(n):
            data, _prio = yield from recv(ping_q, 64)
            yield from send(pong_q, data)
        return 0

    def ping(p: Any) -> Any:
        attr = {"mq_maxmsg": 1, "mq_msgsize": 64}
        ping_q = yield from p.mq_open("/ping", O_CREAT | O_RDWR, 0o600, attr)
        pong_q = yield from p.mq_open("/pong", O_CREAT | O_RDWR, 0o600, attr)
        yield from p.fork(pong)
        recv, send = p.mq_receive, p.mq_send
        for _ in range(n):
            yield from send(ping_q, b"ball")
            yield from recv(pong_q, 64)
        return 0

    pid = k.spawn(ping, uid=1000, gid=1000)
    k.run()
    assert k.exit_status(pid) == 0


def store_pingpong(n: int) -> None:
    env = simpy.Environment()
    ping_q, pong_q = simpy.Store(env, capacity=1), simpy.Store(env, capacity=1)

    def pong() -> Any:
        for _ in range(n):
            data = yield ping_q.get()
            yield pong_q.put(data)

    def ping() -> Any:
        for _ in range(n):
            yield ping_q.put(b"ball")
            yield pong_q.get()

    env.process(pong())
    env.process(ping())
    env.run()


def bench(n: int) -> dict[str, Any]:
    t_mq = _best(lambda: mq_pingpong(n))
    t_store = _best(lambda: store_pingpong(n))
    mq_rate = n / t_mq
    store_rate = n / t_store
    return {
        "round_trips": n,
        "posix_mq_round_trips_per_s": round(mq_rate),
        "simpy_store_round_trips_per_s": round(store_rate),
        "ratio_mq_over_store": round(mq_rate / store_rate, 3),
        "target_ratio": 0.4,
        "meets_target": mq_rate / store_rate >= 0.4,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000, help="round trips per run")
    args = ap.parse_args()
    print(json.dumps(bench(args.n), indent=2))


if __name__ == "__main__":
    main()
