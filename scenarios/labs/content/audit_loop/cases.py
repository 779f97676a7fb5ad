"""audit_loop: a semaphore-counted job queue, every process root, SELinux the only barrier."""

from __future__ import annotations

from typing import Any

from kernel_sim import GETVAL, IPC_CREAT, IPC_NOWAIT, IPC_RMID, SETVAL, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

KEY = 0x4A4F42


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def jobd(p: Any, ctx: CaseCtx, jobs: int) -> Any:
    try:
        semid = yield from p.semget(KEY, 1, IPC_CREAT | 0o600)
        yield from p.semctl(semid, 0, SETVAL, 0)
        ctx.done("created")
        for _ in range(jobs):
            yield from p.semop(semid, [(0, -1, 0)])
        left = yield from p.semctl(semid, 0, GETVAL)
        if left == 0:
            ctx.done("jobs taken")
    except SyscallError as e:
        ctx.fail("jobd", e)
    return 0


def client(p: Any, ctx: CaseCtx) -> Any:
    yield from p.nanosleep(0.001)
    try:
        semid = yield from p.semget(KEY, 0, 0)
        yield from p.semop(semid, [(0, 1, 0)])
        ctx.done("job queued")
    except SyscallError as e:
        ctx.fail("client", e)
    return 0


def legit(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(jobd, ctx, 2, comm="jobd", context=ctx_of("jobd_t"))
    k.spawn(client, ctx, comm="jobcli", context=ctx_of("jobcli_t"))
    k.spawn(client, ctx, comm="jobcli", context=ctx_of("jobcli_t"))


def remove(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(jobd, ctx, 1, comm="jobd", context=ctx_of("jobd_t"))

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            semid = yield from p.semget(KEY, 0, 0)
            yield from p.semctl(semid, 0, IPC_RMID)
            ctx.breach("the intruder removed the job semaphore (IPC_RMID)")
        except SyscallError:
            pass
        return 0

    k.spawn(intruder, comm="intruder", context=ctx_of("intruder_t"))


def steal(k: Kernel, ctx: CaseCtx) -> None:
    k.spawn(jobd, ctx, 0, comm="jobd", context=ctx_of("jobd_t"))
    k.spawn(client, ctx, comm="jobcli", context=ctx_of("jobcli_t"))

    def intruder(p: Any) -> Any:
        yield from p.nanosleep(0.0015)
        try:
            semid = yield from p.semget(KEY, 0, 0)
            yield from p.semop(semid, [(0, -1, IPC_NOWAIT)])
            ctx.breach("the intruder took a job token (semop -1)")
        except SyscallError:
            pass
        return 0

    k.spawn(intruder, comm="intruder", context=ctx_of("intruder_t"))


def client_takes(k: Kernel, ctx: CaseCtx) -> None:
    """A client that takes jobs itself instead of adding them: clients only add."""
    k.spawn(jobd, ctx, 1, comm="jobd", context=ctx_of("jobd_t"))
    k.spawn(client, ctx, comm="jobcli", context=ctx_of("jobcli_t"))

    def greedy(p: Any) -> Any:
        yield from p.nanosleep(0.002)
        try:
            semid = yield from p.semget(KEY, 0, 0)
            yield from p.semctl(semid, 0, IPC_RMID)
            ctx.breach("a job client removed the daemon's semaphore set")
        except SyscallError:
            pass
        return 0

    k.spawn(greedy, comm="jobcli", context=ctx_of("jobcli_t"))


CASES = [
    Case("jobs-flow", "legit", "two clients queue a job each; the daemon takes both",
         legit, goals=("created", "job queued", "jobs taken"),
         hint="compare with DIR/audit.log from `kernel-sim lab start`: the permissive run shows "
              "every denial of the flow at once"),
    Case("intruder-removes", "attack", "a root intruder (intruder_t) removes the set",
         remove, hint="nothing in your policy should name intruder_t"),
    Case("intruder-steals", "attack", "a root intruder decrements the count", steal,
         visible=False),
    Case("client-removes", "attack", "a job client removes the daemon's set", client_takes,
         visible=False),
]
