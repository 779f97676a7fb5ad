"""Determinism: the same programs and seed give a byte-identical trace; another workload
gives another trace.  Nothing in a run may depend on wall time, object ids or hash order."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from kernel_sim import (
    O_CREAT,
    O_RDONLY,
    O_WRONLY,
    SA_RESTART,
    SIGUSR1,
    Kernel,
)
from lsm import BpfLsm

ROOT = Path(__file__).resolve().parents[2]


def _handler(p, sig):
    yield from p.getpid()


def _worker(p, w, n):
    for i in range(n):
        yield from p.write(w, f"w{p.pid}:{i};".encode())
        yield from p.nanosleep(0.001 * (i % 3 + 1))
    return n


def _fifo_reader(p):
    fd = yield from p.open("/tmp/fifo", O_RDONLY)
    data = yield from p.read(fd, 100)
    return len(data)


def _newprog(p, *args):
    yield from p.getpid()
    return len(args)


def workload(p, workers, rounds):
    yield from p.sigaction(SIGUSR1, _handler, SA_RESTART)
    r, w = yield from p.pipe()
    pids = []
    for _ in range(workers):
        pids.append((yield from p.fork(_worker, w, rounds)))
    yield from p.close(w)
    yield from p.mkfifo("/tmp/fifo")
    reader = yield from p.fork(_fifo_reader)
    fd = yield from p.open("/tmp/fifo", O_WRONLY)
    yield from p.write(fd, b"through the fifo")
    yield from p.close(fd)
    yield from p.kill(p.pid, SIGUSR1)
    total = b""
    while chunk := (yield from p.read(r, 7)):
        total += chunk
    for pid in [*pids, reader]:
        yield from p.waitpid(pid, 0)
    yield from p.getpid()
    f = yield from p.open("/tmp/out", O_CREAT | O_WRONLY)
    yield from p.write(f, total)
    yield from p.execve("/usr/bin/newprog", ["newprog", "a", "b"], {})


def run_trace(workers: int = 3, rounds: int = 5, seed: int = 0) -> list[str]:
    audit = BpfLsm("observer", {"file_permission": lambda *a: None,
                                "task_kill": lambda *a: None})
    k = Kernel(lsms=[audit], seed=seed, trace=True)
    k.install("/usr/bin/newprog", _newprog)
    k.spawn(workload, workers, rounds, uid=1000, gid=1000, comm="workload")
    k.spawn(workload, workers, rounds, uid=1001, gid=1001, cwd="/tmp")
    k.run()
    return k.trace_lines()


def test_same_programs_and_seed_give_identical_traces() -> None:
    a = run_trace()
    b = run_trace()
    assert len(a) > 200
    assert "\n".join(a).encode() == "\n".join(b).encode()


def test_trace_content_is_rich_and_free_of_object_ids() -> None:
    lines = run_trace()
    events = [json.loads(line) for line in lines]
    syscalls = {e["syscall"] for e in events if "syscall" in e}
    assert {"fork", "pipe", "read", "write", "mkfifo", "open", "kill", "waitpid",
            "execve", "nanosleep"} <= syscalls
    assert any(e.get("hook") == "file_permission" for e in events)
    assert not any("0x" in line or " at " in line for line in lines)
    times = [e["t"] for e in events]
    assert times == sorted(times)  # simulated time never goes backwards


def test_a_different_workload_gives_a_different_trace() -> None:
    base = run_trace()
    assert run_trace(workers=2) != base
    assert run_trace(rounds=4) != base


def test_trace_does_not_depend_on_the_interpreter_hash_seed() -> None:
    script = (
        "import hashlib, sys; sys.path.insert(0, '.');"
        "from tests.kernel.test_determinism import run_trace;"
        "print(hashlib.sha256('\\n'.join(run_trace()).encode()).hexdigest())"
    )
    digests = set()
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)
        digests.add(out.stdout.strip())
    here = hashlib.sha256("\n".join(run_trace()).encode()).hexdigest()
    assert digests == {here}
