"""Shared benchmark helpers: a bare SimPy Store ping-pong (the baseline every kernel IPC
ping-pong is compared with) and an interleaved timer that reports medians.

The machine running benchmarks is noisy, so variants are not timed one after the other:
each repetition runs every variant once, in turn, and the median per variant is reported.
Times are CPU seconds of this process (``time.process_time``); benchmark code is the only
place that reads a clock, the simulator itself never does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import simpy


def simpy_store_pingpong(n: int, payload: bytes = b"x") -> float:
    """CPU seconds for ``n`` round trips between two SimPy processes over two Stores."""
    env = simpy.Environment()
    to_pong, to_ping = simpy.Store(env), simpy.Store(env)

    def pong() -> Generator[Any, Any, None]:
        for _ in range(n):
            data = yield to_pong.get()
            yield to_ping.put(data)

    def ping() -> Generator[Any, Any, None]:
        for _ in range(n):
            yield to_pong.put(payload)
            yield to_ping.get()

    env.process(pong())
    env.process(ping())
    t0 = time.process_time()
    env.run()
    return time.process_time() - t0


def run_timed(k: Any, pid: int) -> float:
    """CPU seconds of ``k.run()``; raises if the benchmark's program ``pid`` did not exit 0
    (a failed run must not pass for a fast one)."""
    t0 = time.process_time()
    k.run()
    elapsed = time.process_time() - t0
    if k.exit_status(pid) != 0:
        raise RuntimeError(f"benchmark program failed: {k.diagnostics}")
    return elapsed


def timed(fn: Callable[[], Any]) -> float:
    """CPU seconds of ``fn()``; if ``fn`` returns a float it is taken as its own timing
    (so a variant can leave its set-up, e.g. booting a kernel, out of the measurement)."""
    t0 = time.process_time()
    out = fn()
    elapsed = time.process_time() - t0
    return float(out) if isinstance(out, float) else elapsed


def interleaved(variants: Mapping[str, Callable[[], Any]], repeat: int = 5,
                warmup: bool = True) -> dict[str, float]:
    """Median CPU seconds per variant over ``repeat`` interleaved rounds (A B C, A B C, ...)."""
    if warmup:
        for fn in variants.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def rates(n: int, seconds: Mapping[str, float]) -> dict[str, float]:
    """Operations per second for ``n`` operations from median seconds."""
    return {name: n / s if s > 0 else float("inf") for name, s in seconds.items()}
