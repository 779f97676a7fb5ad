"""Differential tests of the hook fast paths (:mod:`lsm.selinux.hooks.fast`).

Every workload runs twice on identical kernels: once with the module as shipped (the memo
closures in the hook table) and once with :class:`FullHooks`, whose table holds the full hook
methods only.  A memo hit must be exactly an AVC hit, so both runs must agree on every
operation's outcome (and its simulated time), the audit log and the AVC statistics.  Each
test also checks that the fast path was really taken (fewer calls into the full methods) and
something about the workload itself, so that none can pass vacuously.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import pytest

from kernel_sim import (
    AF_UNIX,
    EACCES,
    F_SETFL,
    IPC_CREAT,
    IPC_NOWAIT,
    IPC_PRIVATE,
    O_APPEND,
    O_RDWR,
    O_WRONLY,
    SOCK_STREAM,
    Kernel,
    SyscallError,
)
from lsm.hookdefs import HOOKS
from lsm.module import LsmModule
from lsm.selinux import BASE_CONF, SELinux, load_policy

A = "system_u:system_r:a_t:s0"
B = "system_u:system_r:b_t:s0"
P = "system_u:system_r:p_t:s0"
PM = "system_u:object_r:p_t:s0"  # p_t's messages (a msg takes its queue's type)
M = "system_u:object_r:m_t:s0"
M2 = "system_u:object_r:m2_t:s0"  # a_t's messages to b_t's queues while msgs2 is on
W = "system_u:object_r:w_t:s0"  # a_t may write but not append
RO = "system_u:object_r:ro_t:s0"  # a_t may only read

#: the rules the ``flow`` boolean controls (the narrower policy drops them)
FLOW_RULES = """
    allow a_t self:fifo_file write;
    allow a_t self:unix_stream_socket write;
    allow a_t b_t:msgq write;
"""
TE = """
type a_t, domain;
type b_t, domain;
type p_t, domain;
type m_t, file_type;
type m2_t, file_type;
type w_t, file_type;
type ro_t, file_type;
role system_r types { a_t b_t p_t };
permissive p_t;
bool flow true;
bool knob false;

allow { a_t b_t p_t } self:process { fork sigchld setcurrent };
allow a_t b_t:process dyntransition;
allow { a_t b_t p_t } { root_t tmp_t }:dir { search getattr };

allow { a_t b_t } self:fifo_file { read getattr };
allow b_t self:fifo_file write;
allow b_t a_t:fd use;
allow b_t a_t:fifo_file { read write };
allow { a_t b_t } self:unix_stream_socket { create read getattr };
allow b_t self:unix_stream_socket write;
allow b_t a_t:unix_stream_socket { read write };

allow b_t self:msgq { create associate unix_read unix_write read write enqueue destroy };
allow b_t self:msg { send receive };
allow a_t b_t:msgq { associate unix_read unix_write read };
allow a_t b_t:msg receive;
bool msgs2 false;
if (msgs2) { type_transition a_t b_t:msg m2_t; } else { type_transition a_t b_t:msg m_t; }
allow a_t { m_t m2_t }:msg send;
allow { m_t m2_t } b_t:msgq enqueue;
allow b_t m_t:msg receive;

allow a_t { w_t ro_t }:fifo_file { open read getattr };
allow a_t w_t:fifo_file write;
allow a_t { w_t ro_t }:file { open read getattr };
allow a_t w_t:file write;

if (flow) {@FLOW@}
if (knob) { allow p_t self:process signull; }
"""

KEY = 0x5157
DT = 0.01  # one tick of the tick-driven workloads (simulated seconds)
TICKS = 9

#: the full methods the fast closures fall back to (wrapped to count the fallbacks)
FULL_METHODS = ("file_permission", "_sock_rw", "ipc_permission", "msg_queue_msgsnd",
                "msg_queue_msgrcv")
FAST_HOOKS = ("file_permission", "socket_sendmsg", "socket_recvmsg", "ipc_permission",
              "msg_queue_msgsnd", "msg_queue_msgrcv")


class FullHooks(SELinux):
    """The same module with the memo fast paths left out: every check is the full method."""

    def hook_table(self) -> dict[str, Callable[..., Any]]:
        return {} if self.disabled else LsmModule.hook_table(self)


def _policy(tmp: Any, name: str, flow_rules: str) -> Any:
    te = tmp / f"{name}.te"
    te.write_text(TE.replace("@FLOW@", flow_rules))
    return load_policy(BASE_CONF, te)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("fast")
    return {"wide": _policy(tmp, "wide", FLOW_RULES), "narrow": _policy(tmp, "narrow", "")}


@pytest.fixture(scope="module")
def policy(policies: dict[str, Any]) -> Any:
    return policies["wide"]


# -- the differential harness ------------------------------------------------------------------

Setup = Callable[[Kernel, SELinux, list[Any]], None]


@dataclass
class Run:
    outcomes: list[Any]
    audit: list[str]
    stats: dict[str, int]
    #: calls into the full hook methods (for the fast variant: checks the memo did not answer)
    full_calls: Counter[str]
    se: SELinux

    def avc(self) -> list[str]:
        return [line for line in self.audit if line.startswith("type=AVC")]


def _count_full_calls(se: SELinux, counter: Counter[str]) -> None:
    """Wrap the full methods on the instance, before boot, so both the fast closures and the
    plain hook table call the wrappers."""
    for name in FULL_METHODS:
        fn = getattr(se, name)

        def wrapper(*args: Any, _fn: Callable[..., Any] = fn, _name: str = name) -> Any:
            counter[_name] += 1
            return _fn(*args)

        setattr(se, name, wrapper)


def run_both(policy: Any, setup: Setup, *, mode: str = "enforcing",
             tune: Callable[[SELinux], None] | None = None) -> tuple[Run, Run]:
    """Run the workload with the fast paths and with the full hooks; assert both agree."""
    runs = []
    for cls in (SELinux, FullHooks):
        se = cls(policy, mode=mode)
        if tune is not None:
            tune(se)
        calls: Counter[str] = Counter()
        _count_full_calls(se, calls)
        k = Kernel(lsms=[se])
        out: list[Any] = []
        setup(k, se, out)
        k.run()
        runs.append(Run(out, k.audit_log(), se.avc_stats(), calls, se))
    fast, full = runs
    assert fast.outcomes == full.outcomes
    assert fast.audit == full.audit
    assert fast.stats == full.stats
    return fast, full


def tiny_cache(se: SELinux) -> None:
    se.avc.cache_threshold = 2
    se.avc.reclaim_count = 1


CACHES: dict[str, Callable[[SELinux], None] | None] = {"default": None, "tiny": tiny_cache}


def _at(k: Kernel, when: float, fn: Callable[[], None]) -> Any:
    yield k.env.timeout(when)
    fn()


def _schedule(k: Kernel, actions: list[tuple[float, Callable[[], None]]]) -> None:
    for when, fn in actions:
        k.env.process(_at(k, when, fn))


def _try(p: Any, out: list[Any], tag: str, call: Generator[Any, Any, Any]) -> Any:
    """Run one system call; record ``(time, tag, errno or 0)``; return whether it worked."""
    try:
        yield from call
    except SyscallError as e:
        out.append((p.kernel.env.now, tag, e.errno))
        return False
    out.append((p.kernel.env.now, tag, 0))
    return True


def _tick(p: Any, i: int, phase: float) -> Any:
    """Sleep until tick ``i`` (plus ``phase`` of a tick)."""
    delay = (i + phase) * DT - p.kernel.env.now
    if delay > 0:
        yield from p.nanosleep(delay)


def _results(run: Run, tag: str) -> list[int]:
    return [o[2] for o in run.outcomes if o[1] == tag]


def _sid(se: SELinux, ctx: str) -> int:
    return se.server.context_to_sid(ctx)


# -- 0. the FullHooks variant ------------------------------------------------------------------

def test_full_hooks_variant_differs_only_by_the_fast_closures(policy: Any) -> None:
    fast_se, full_se = SELinux(policy), FullHooks(policy)
    fast_k, full_k = Kernel(lsms=[fast_se]), Kernel(lsms=[full_se])
    for spec in HOOKS:
        f = getattr(fast_k.security, spec.name)
        g = getattr(full_k.security, spec.name)
        if spec.name in FAST_HOOKS:
            assert f.__qualname__.startswith("fast_hooks.<locals>.")
            assert getattr(f, "__self__", None) is None
            assert getattr(g, "__self__", None) is full_se
            assert g.__func__ is getattr(SELinux, spec.name)
        else:
            assert getattr(f, "__func__", f).__qualname__ == \
                getattr(g, "__func__", g).__qualname__, spec.name
            if getattr(g, "__self__", None) is full_se:
                assert f.__self__ is fast_se


# -- 1. pipe ping-pong -------------------------------------------------------------------------


def _runs_of(policy: Any, cache: str, *spawns: tuple[Any, str, Any]) -> dict[int, Any]:
    """The workload run both ways with 20 and 40 rounds (their difference is the per-round
    cost); ``spawns`` are (program, context, extra args after n)."""
    runs = {}
    for n in (20, 40):
        def setup(k: Kernel, se: SELinux, out: list[Any], n: int = n) -> None:
            for prog, ctx, extra in spawns:
                k.spawn(prog, n, *extra, out, context=ctx)

        runs[n] = run_both(policy, setup, tune=CACHES[cache])
    return runs

def _pipe_ping(p: Any, n: int, child_ctx: str | None, out: list[Any]) -> Any:
    r1, w1 = yield from p.pipe()
    r2, w2 = yield from p.pipe()
    yield from p.fork(_pipe_pong, r1, w2, n, child_ctx, out)
    for i in range(n):
        yield from p.write(w1, b"x")
        got = yield from p.read(r2, 1)
        out.append((p.kernel.env.now, "ping", i, got))


def _pipe_pong(p: Any, r: int, w: int, n: int, ctx: str | None, out: list[Any]) -> Any:
    if ctx is not None:
        yield from p.setcon(ctx)
    for i in range(n):
        got = yield from p.read(r, 1)
        yield from p.write(w, got.upper())
        out.append((p.kernel.env.now, "pong", i, got))


@pytest.mark.parametrize("cache", sorted(CACHES))
@pytest.mark.parametrize("child", ["same-domain", "other-domain"])
def test_pipe_pingpong(policy: Any, child: str, cache: str) -> None:
    child_ctx = B if child == "other-domain" else None
    runs = _runs_of(policy, cache, (_pipe_ping, A, (child_ctx,)))
    fast, full = runs[40]
    assert [o[3] for o in fast.outcomes if o[1] == "ping"] == [b"X"] * 40
    assert fast.avc() == []
    # Linux checks a pipe on every read and write; the other domain also needs fd:use
    per_round = 6 if child_ctx else 4
    assert fast.stats["lookups"] - runs[20][0].stats["lookups"] == 20 * per_round
    assert full.full_calls["file_permission"] == 4 * 40
    # the opener's checks are answered by the memo after the first of each (file, mask);
    # the other domain's never are (they need fd:use)
    memo_misses = fast.full_calls["file_permission"]
    if cache == "default":
        assert memo_misses == (2 * 40 + 2 if child_ctx else 4)
        se = fast.se
        fd_node = se.avc.lookup(_sid(se, B), _sid(se, A), se.cls("fd"))
        assert (fd_node is not None) == bool(child_ctx)
    elif child_ctx:  # (b, a, fd), (b, a, fifo_file), (a, a, fifo_file) in a cache of 2:
        # the opener's memo'd node is reclaimed every round, so every check is a full one
        assert memo_misses == 4 * 40
        assert fast.stats["reclaims"] >= 2 * 40
    else:  # one triple in the loop: nothing to reclaim, the memo answers as by default
        assert memo_misses == 4


# -- 2. AF_UNIX socketpair and System V queue ping-pong ----------------------------------------

def _unix_ping(p: Any, n: int, child_ctx: str | None, out: list[Any]) -> Any:
    a, b = yield from p.socketpair(AF_UNIX, SOCK_STREAM)
    yield from p.fork(_unix_pong, b, n, child_ctx, out)
    for i in range(n):
        yield from p.send(a, b"x")
        got = yield from p.recv(a, 1)
        out.append((p.kernel.env.now, "ping", i, got))


def _unix_pong(p: Any, s: int, n: int, ctx: str | None, out: list[Any]) -> Any:
    if ctx is not None:
        yield from p.setcon(ctx)
    for i in range(n):
        got = yield from p.recv(s, 1)
        yield from p.send(s, got.upper())
        out.append((p.kernel.env.now, "pong", i, got))


@pytest.mark.parametrize("cache", sorted(CACHES))
@pytest.mark.parametrize("child", ["same-domain", "other-domain"])
def test_unix_socketpair_pingpong(policy: Any, child: str, cache: str) -> None:
    child_ctx = B if child == "other-domain" else None
    runs = _runs_of(policy, cache, (_unix_ping, A, (child_ctx,)))
    fast, full = runs[40]
    assert [o[3] for o in fast.outcomes if o[1] == "ping"] == [b"X"] * 40
    assert fast.avc() == []
    assert fast.stats["lookups"] - runs[20][0].stats["lookups"] == 20 * 4
    assert full.full_calls["_sock_rw"] == 4 * 40
    if cache == "default":  # one miss per (socket, operation, subject)
        assert fast.full_calls["_sock_rw"] == 4
        se = fast.se
        assert (se.avc.lookup(_sid(se, B), _sid(se, A), se.cls("unix_stream_socket"))
                is not None) == bool(child_ctx)
    elif child_ctx:  # (a, a) and (b, a) unix_stream_socket, and the AVC holds two
        assert fast.full_calls["_sock_rw"] < 4 * 40
        assert fast.stats["reclaims"] > 0
    else:
        assert fast.full_calls["_sock_rw"] == 4


def _msg_server(p: Any, n: int, out: list[Any]) -> Any:
    q = yield from p.msgget(KEY, IPC_CREAT | 0o600)
    for i in range(n):
        mtype, data = yield from p.msgrcv(q, 8, 1)
        yield from p.msgsnd(q, 2, data.upper())
        out.append((p.kernel.env.now, "server", i, mtype, data))


def _msg_client(p: Any, n: int, out: list[Any]) -> Any:
    yield from p.nanosleep(0.001)
    q = yield from p.msgget(KEY, 0)
    for i in range(n):
        yield from p.msgsnd(q, 1, b"x")
        mtype, data = yield from p.msgrcv(q, 8, 2)
        out.append((p.kernel.env.now, "client", i, mtype, data))


@pytest.mark.parametrize("cache", sorted(CACHES))
def test_sysv_msg_pingpong_across_domains(policy: Any, cache: str) -> None:
    runs = _runs_of(policy, cache, (_msg_server, B, ()), (_msg_client, A, ()))
    fast, full = runs[40]
    assert [o[3:] for o in fast.outcomes if o[1] == "client"] == [(2, b"X")] * 40
    assert fast.avc() == []
    # per message: ipcperms + 3 msgsnd checks, ipcperms + 2 msgrcv checks; two per round
    assert fast.stats["lookups"] - runs[20][0].stats["lookups"] == 20 * 2 * (4 + 3)
    full_total = sum(full.full_calls.values())
    # per round: ipc_permission, msgsnd, ipc_permission, msgrcv, twice; msgget's ipcperms
    assert full_total == 40 * 2 * 4 + 1
    fast_total = sum(fast.full_calls.values())
    se = fast.se
    a, b, m = _sid(se, A), _sid(se, B), _sid(se, M)
    if cache == "default":
        assert fast_total <= 9  # each (queue, operation, subject) misses once
        # the client's messages carry m_t (type_transition), not the sender's SID
        assert se.avc.lookup(a, m, se.cls("msg")) is not None
        assert se.avc.lookup(m, b, se.cls("msgq")) is not None
        assert se.avc.lookup(b, m, se.cls("msg")) is not None
    else:  # ~7 triples per round in a cache of 2: every memo'd node is reclaimed first
        assert fast_total == full_total
        assert fast.stats["reclaims"] > 40 * 7


def _big_sender(p: Any, out: list[Any]) -> Any:
    """Fills b_t's queue (16384 bytes) and blocks on a third message until b_t makes room."""
    yield from _tick(p, 1, 0)
    q = yield from p.msgget(KEY, 0)
    yield from _try(p, out, "send 1", p.msgsnd(q, 1, b"s"))
    yield from _try(p, out, "send 2", p.msgsnd(q, 2, bytes(8192)))
    yield from _try(p, out, "send 3 (blocks, then retried)", p.msgsnd(q, 3, bytes(8192)))


def _late_sender(p: Any, out: list[Any]) -> Any:
    yield from _tick(p, 3, 0)
    q = yield from p.msgget(KEY, 0)
    yield from _try(p, out, "send 4", p.msgsnd(q, 4, b"t", IPC_NOWAIT))


def _draining_owner(p: Any, out: list[Any]) -> Any:
    q = yield from p.msgget(KEY, IPC_CREAT | 0o600)
    yield from _tick(p, 5, 0)
    mtype, _ = yield from p.msgrcv(q, 8192, 2)
    out.append((p.kernel.env.now, "made room", mtype))
    yield from _tick(p, 6, 0)
    while True:
        try:
            mtype, data = yield from p.msgrcv(q, 8192, 0, IPC_NOWAIT)
        except SyscallError as e:
            out.append((p.kernel.env.now, "drained", e.errno))
            return
        out.append((p.kernel.env.now, "received", mtype, len(data)))


@pytest.mark.parametrize("flip", [False, True], ids=["same-label", "relabelled-meanwhile"])
def test_retried_msgsnd_keeps_the_label_of_its_first_attempt(policy: Any, flip: bool) -> None:
    """A send that slept on a full queue is checked again with the label its message got on
    the first attempt.  With ``msgs2`` turned on meanwhile, another a_t sender's message is
    labelled m2_t (b_t may not receive it) and the queue's memo holds m2_t: the retried m_t
    message must not take it."""
    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        k.spawn(_draining_owner, out, context=B)
        k.spawn(_big_sender, out, context=A)
        if flip:
            k.spawn(_late_sender, out, context=A)
            _schedule(k, [(2.5 * DT, lambda: se.setsebool("msgs2", True))])

    fast, full = run_both(policy, setup)
    sends = [o[1:] for o in fast.outcomes if str(o[1]).startswith("send")]
    assert sends == [("send 1", 0), ("send 2", 0), *([("send 4", 0)] if flip else []),
                     ("send 3 (blocks, then retried)", 0)]
    received = [o[2:] for o in fast.outcomes if o[1] == "received"]
    # the retried message kept m_t: b_t receives it; the late m2_t message is skipped
    assert received == [(1, 1), (3, 8192)]
    avc = fast.avc()
    if flip:
        assert avc and all(f"tcontext={M2} tclass=msg" in line and "{ receive }" in line
                           for line in avc)
        # the flush voided the memo: send 4 is a full check and re-remembers with m2_t; the
        # retry's m_t message does not match it, so the retry is a full check too
        assert fast.full_calls["msg_queue_msgsnd"] == 3
        assert full.full_calls["msg_queue_msgsnd"] == 5
    else:
        assert avc == []
        # first send labels and remembers; the next two and the retry are memo hits
        assert fast.full_calls["msg_queue_msgsnd"] == 1
        assert full.full_calls["msg_queue_msgsnd"] == 4


# -- the tick-driven workload: every hot object kind, several domains, admin actions -----------

def _mixed_a(p: Any, ticks: int, out: list[Any]) -> Any:
    """a_t: a pipe, a socketpair and a b_t queue; a b_t child using the same pipe and
    socketpair files (so a_t's memos sit on files b_t uses too).  One attempt of each
    operation per tick; a failure is recorded, not fatal."""
    yield from _tick(p, 0, 0.1)  # the queue owner creates the queue first
    r, w = yield from p.pipe()
    s1, s2 = yield from p.socketpair(AF_UNIX, SOCK_STREAM)
    q = yield from p.msgget(KEY, 0)
    yield from p.fork(_mixed_child, r, w, s1, s2, ticks, out)
    for i in range(1, ticks + 1):
        yield from _tick(p, i, 0)
        if (yield from _try(p, out, "a.pipe.write", p.write(w, b"a"))):
            yield from _try(p, out, "a.pipe.read", p.read(r, 1))
        if (yield from _try(p, out, "a.sock.send", p.send(s1, b"a"))):
            yield from _try(p, out, "a.sock.recv", p.recv(s2, 1))
        yield from _try(p, out, "a.msgsnd", p.msgsnd(q, 1, b"a", IPC_NOWAIT))
        yield from _try(p, out, "a.msgrcv", p.msgrcv(q, 8, 2, IPC_NOWAIT))


def _mixed_child(p: Any, r: int, w: int, s: int, t: int, ticks: int, out: list[Any]) -> Any:
    yield from p.setcon(B)
    for i in range(1, ticks + 1):
        yield from _tick(p, i, 0.25)
        if (yield from _try(p, out, "b.pipe.write", p.write(w, b"b"))):
            yield from _try(p, out, "b.pipe.read", p.read(r, 1))
        if (yield from _try(p, out, "b.sock.send", p.send(s, b"b"))):
            yield from _try(p, out, "b.sock.recv", p.recv(t, 1))


def _mixed_queue_owner(p: Any, ticks: int, out: list[Any]) -> Any:
    q = yield from p.msgget(KEY, IPC_CREAT | 0o600)
    for i in range(1, ticks + 1):
        yield from _tick(p, i, 0.5)
        if (yield from _try(p, out, "q.msgrcv", p.msgrcv(q, 8, 1, IPC_NOWAIT))):
            yield from _try(p, out, "q.msgsnd", p.msgsnd(q, 2, b"q", IPC_NOWAIT))


def mixed(actions: Callable[[Kernel, SELinux, list[Any]], list[tuple[float, Callable[[], None]]]]
          | None = None, ticks: int = TICKS) -> Setup:
    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        k.spawn(_mixed_queue_owner, ticks, out, context=B)
        k.spawn(_mixed_a, ticks, out, context=A)
        if actions is not None:
            _schedule(k, actions(k, se, out))

    return setup


A_WRITES = ("a.pipe.write", "a.sock.send", "a.msgsnd")
B_OPS = ("b.pipe.write", "b.pipe.read", "b.sock.send", "b.sock.recv")


def _all_ok(run: Run, tags: tuple[str, ...], ticks: int = TICKS) -> None:
    for tag in tags:
        assert _results(run, tag) == [0] * ticks, tag


def _denied_write_records(run: Run) -> list[str]:
    return [line for line in run.avc() if "denied  { write }" in line]


# -- 3. policy changes mid-run -------------------------------------------------------------------

def test_setsebool_turns_a_conditional_allow_off_and_on(policy: Any) -> None:
    def actions(k: Kernel, se: SELinux, out: list[Any]) -> list[tuple[float, Any]]:
        return [(3.5 * DT, lambda: se.setsebool("flow", False)),
                (6.5 * DT, lambda: se.setsebool("flow", True))]

    fast, full = run_both(policy, mixed(actions))
    expected = [0, 0, 0, EACCES, EACCES, EACCES, 0, 0, 0]
    for tag in A_WRITES:
        assert _results(fast, tag) == expected, tag
    _all_ok(fast, B_OPS)
    denied = _denied_write_records(fast)
    assert len(denied) == 3 * 3  # enforcing denials are audited every time
    for tclass in ("fifo_file", "unix_stream_socket", "msgq"):
        assert sum(f"tclass={tclass} permissive=0" in line for line in denied) == 3
    assert sum("MAC_CONFIG_CHANGE" in line for line in fast.audit) == 2
    assert sum(fast.full_calls.values()) < sum(full.full_calls.values())


def test_load_policy_narrower_then_wider(policies: dict[str, Any]) -> None:
    def actions(k: Kernel, se: SELinux, out: list[Any]) -> list[tuple[float, Any]]:
        return [(3.5 * DT, lambda: se.load_policy(policies["narrow"])),
                (6.5 * DT, lambda: se.load_policy(policies["wide"]))]

    fast, full = run_both(policies["wide"], mixed(actions))
    expected = [0, 0, 0, EACCES, EACCES, EACCES, 0, 0, 0]
    for tag in A_WRITES:
        assert _results(fast, tag) == expected, tag
    _all_ok(fast, B_OPS)
    assert len(_denied_write_records(fast)) == 3 * 3
    assert sum(line.startswith("type=MAC_POLICY_LOAD") for line in fast.audit) == 2
    assert sum(fast.full_calls.values()) < sum(full.full_calls.values())


def test_setenforce_around_denials(policy: Any) -> None:
    def actions(k: Kernel, se: SELinux, out: list[Any]) -> list[tuple[float, Any]]:
        return [(1.5 * DT, lambda: se.setsebool("flow", False)),
                (3.5 * DT, lambda: se.setenforce(0)),
                (6.5 * DT, lambda: se.setenforce(1))]

    fast, full = run_both(policy, mixed(actions))
    expected = [0, EACCES, EACCES, 0, 0, 0, EACCES, EACCES, EACCES]
    for tag in A_WRITES:
        assert _results(fast, tag) == expected, tag
    _all_ok(fast, B_OPS)
    denied = _denied_write_records(fast)
    # enforcing: every denial; permissive: the first of each, then the cached grant
    assert sum("permissive=0" in line for line in denied) == 3 * (2 + 3)
    assert sum("permissive=1" in line for line in denied) == 3
    assert sum("type=MAC_STATUS" in line for line in fast.audit) == 2
    assert sum(fast.full_calls.values()) < sum(full.full_calls.values())


def _permissive_prog(p: Any, ticks: int, out: list[Any]) -> Any:
    r, w = yield from p.pipe()
    s1, s2 = yield from p.socketpair(AF_UNIX, SOCK_STREAM)
    q = yield from p.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
    for i in range(1, ticks + 1):
        yield from _tick(p, i, 0)
        yield from _try(p, out, "p.pipe.write", p.write(w, b"p"))
        yield from _try(p, out, "p.pipe.read", p.read(r, 1))
        yield from _try(p, out, "p.sock.send", p.send(s1, b"p"))
        yield from _try(p, out, "p.sock.recv", p.recv(s2, 1))
        yield from _try(p, out, "p.msgsnd", p.msgsnd(q, 1, b"p", IPC_NOWAIT))
        yield from _try(p, out, "p.msgrcv", p.msgrcv(q, 8, 1, IPC_NOWAIT))


def _avc_key(line: str) -> tuple[str, ...]:
    perms = line.split("{ ", 1)[1].split(" }", 1)[0]
    fields = dict(f.split("=", 1) for f in line.split() if f.startswith(("scontext=",
                                                                          "tcontext=",
                                                                          "tclass=")))
    return perms, fields["scontext"], fields["tcontext"], fields["tclass"]


@pytest.mark.parametrize("reset", ["setsebool", "load_policy"])
def test_permissive_domain_logs_once_per_check_until_a_reset(policy: Any, reset: str) -> None:
    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        k.spawn(_permissive_prog, 6, out, context=P)
        fn = (lambda: se.setsebool("knob", True)) if reset == "setsebool" else \
            (lambda: se.load_policy(policy))
        _schedule(k, [(3.5 * DT, fn)])

    fast, full = run_both(policy, setup)
    assert all(rc == 0 for _, _, rc in fast.outcomes)  # p_t is permissive: nothing fails
    marker = "type=MAC_CONFIG_CHANGE" if reset == "setsebool" else "type=MAC_POLICY_LOAD"
    cut = next(i for i, line in enumerate(fast.audit) if line.startswith(marker))
    before = [_avc_key(line) for line in fast.audit[:cut] if line.startswith("type=AVC")]
    after = [_avc_key(line) for line in fast.audit[cut:] if line.startswith("type=AVC")]
    assert all("permissive=1" in line for line in fast.avc())
    assert len(set(before)) == len(before) and len(set(after)) == len(after)
    loop = {("write", P, P, "fifo_file"), ("read", P, P, "fifo_file"),
            ("write", P, P, "unix_stream_socket"), ("read", P, P, "unix_stream_socket"),
            ("unix_write", P, P, "msgq"), ("write", P, P, "msgq"), ("send", P, PM, "msg"),
            ("enqueue", PM, P, "msgq"), ("unix_read", P, P, "msgq"), ("read", P, P, "msgq"),
            ("receive", P, PM, "msg")}
    assert loop <= set(before)
    assert set(after) == loop
    assert sum(fast.full_calls.values()) < sum(full.full_calls.values())


# -- 4. AVC reclaim --------------------------------------------------------------------------------

@pytest.mark.parametrize(("threshold", "reclaim"), [(2, 1), (10, 1), (12, 3)])
@pytest.mark.parametrize("with_flip", [False, True], ids=["steady", "setsebool"])
def test_reclaim_of_memoised_nodes(policy: Any, threshold: int, reclaim: int,
                                   with_flip: bool) -> None:
    """The mixed workload keeps about 15 triples busy: a smaller cache reclaims nodes the
    memos hold, and those memos must then miss exactly as the AVC does."""
    def tune(se: SELinux) -> None:
        se.avc.cache_threshold = threshold
        se.avc.reclaim_count = reclaim

    def actions(k: Kernel, se: SELinux, out: list[Any]) -> list[tuple[float, Any]]:
        if not with_flip:
            return []
        return [(3.5 * DT, lambda: se.setsebool("flow", False)),
                (6.5 * DT, lambda: se.setsebool("flow", True))]

    baseline, _ = run_both(policy, mixed(actions))
    fast, full = run_both(policy, mixed(actions), tune=tune)
    assert fast.outcomes == baseline.outcomes and fast.audit == baseline.audit
    _all_ok(fast, B_OPS)
    if not with_flip:
        _all_ok(fast, A_WRITES)
    stats = fast.stats
    assert stats["lookups"] == baseline.stats["lookups"]
    assert stats["reclaims"] > 0 and stats["misses"] > baseline.stats["misses"]
    if with_flip:  # the flushes free whatever the (smaller) cache holds
        assert stats["frees"] > stats["reclaims"]
    else:
        assert stats["frees"] == stats["reclaims"] and baseline.stats["frees"] == 0
    fast_calls, full_calls = sum(fast.full_calls.values()), sum(full.full_calls.values())
    # memos that would have hit with the default cache missed: their nodes were reclaimed
    assert fast_calls > sum(baseline.full_calls.values())
    if threshold == 2:  # every memo'd node is gone before its next use
        assert fast_calls == full_calls
    else:
        assert fast_calls < full_calls


# -- 5. coverage -----------------------------------------------------------------------------------

def test_coverage_set_mid_run_sees_every_check(policy: Any) -> None:
    def actions(k: Kernel, se: SELinux, out: list[Any]) -> list[tuple[float, Any]]:
        calls: list[tuple[int, ...]] = []

        def start() -> None:
            out.append(("coverage on", se.avc.lookups))
            se.coverage = lambda *args: calls.append(args)

        def stop() -> None:
            se.coverage = None
            out.append(("coverage off", se.avc.lookups, len(calls), calls[:]))

        return [(3.5 * DT, start), (6.5 * DT, stop)]

    fast, full = run_both(policy, mixed(actions))
    for run in (fast, full):
        (on,) = [o for o in run.outcomes if o[0] == "coverage on"]
        (off,) = [o for o in run.outcomes if o[0] == "coverage off"]
        seen = off[2]
        assert seen == off[1] - on[1]  # every lookup in the window reached the callback
        assert seen >= 3 * 20  # three ticks of the whole workload
        assert {c[4] for c in off[3]} == {0}
    _all_ok(fast, A_WRITES + B_OPS)
    # the memo is bypassed while coverage is on, used again once it is off
    assert sum(fast.full_calls.values()) < sum(full.full_calls.values())


def test_coverage_from_the_start_leaves_no_memo_hit(policy: Any) -> None:
    def tune(se: SELinux) -> None:
        se.coverage = lambda *args: None

    fast, full = run_both(policy, mixed(), tune=tune)
    _all_ok(fast, A_WRITES + B_OPS)
    assert fast.full_calls == full.full_calls


# -- 6. O_APPEND via fcntl(F_SETFL) ----------------------------------------------------------------

def _append_prog(p: Any, kind: str, out: list[Any]) -> Any:
    if kind == "pipe":
        _r, fd = yield from p.pipe()
    elif kind == "fifo":
        fd = yield from p.open("/tmp/fifo", O_RDWR)
    else:
        fd = yield from p.open("/tmp/data", O_WRONLY)
    yield from _try(p, out, "write", p.write(fd, b"1"))
    yield from _tick(p, 2, 0)  # after the policy seqno bump (when there is one)
    for _ in range(2):  # the first remembers the check, the second is a memo hit
        yield from _try(p, out, "write", p.write(fd, b"2"))
    yield from _try(p, out, "fcntl", p.fcntl(fd, F_SETFL, O_APPEND))
    yield from _try(p, out, "write", p.write(fd, b"3"))
    yield from _try(p, out, "write", p.write(fd, b"3"))
    yield from _try(p, out, "fcntl", p.fcntl(fd, F_SETFL, 0))
    yield from _try(p, out, "write", p.write(fd, b"4"))


def _file_setup(kind: str, bump: bool, label: str = W) -> Callable[[Kernel, SELinux], None]:
    def setup(k: Kernel, se: SELinux) -> None:
        if kind == "fifo":
            k.mkfifo("/tmp/fifo", label=label)
        elif kind == "file":
            k.install("/tmp/data", b"", label=label)
        if bump:  # the open-time revalidation shortcut fails from now on
            _schedule(k, [(1.5 * DT, lambda: se.setsebool("knob", True))])

    return setup


@pytest.mark.parametrize("kind", ["pipe", "fifo", "file"])
def test_fcntl_o_append_needs_append(policy: Any, kind: str) -> None:
    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        _file_setup(kind, bump=kind != "pipe")(k, se)
        k.spawn(_append_prog, kind, out, context=A)

    fast, full = run_both(policy, setup)
    assert [rc for _, _, rc in fast.outcomes] == [0, 0, 0, 0, EACCES, EACCES, 0, 0]
    avc = fast.avc()
    assert len(avc) == 2
    tclass = "file" if kind == "file" else "fifo_file"
    for line in avc:
        assert "avc:  denied  { append }" in line
        assert f"scontext={A}" in line and f"tclass={tclass} permissive=0" in line
    assert fast.full_calls["file_permission"] < full.full_calls["file_permission"]


@pytest.mark.parametrize("kind", ["fifo", "file"])
def test_o_append_behind_the_open_time_shortcut(policy: Any, kind: str) -> None:
    """Without a policy change since open(), Linux's revalidation shortcut grants the write
    without a lookup even after O_APPEND was set: both variants agree on that too."""
    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        _file_setup(kind, bump=False)(k, se)
        k.spawn(_append_prog, kind, out, context=A)

    fast, full = run_both(policy, setup)
    assert [rc for _, _, rc in fast.outcomes] == [0] * 8
    assert fast.avc() == []
    assert fast.full_calls == full.full_calls


# -- 7. relabel of an inode with open files --------------------------------------------------------

def _relabel_prog(p: Any, kind: str, holder: list[Any], out: list[Any]) -> Any:
    if kind == "pipe":
        _r, fd = yield from p.pipe()
    elif kind == "fifo":
        fd = yield from p.open("/tmp/fifo", O_RDWR)
    else:
        fd = yield from p.open("/tmp/data", O_WRONLY)
    holder.append(p.process.files.fds[fd].inode)
    for i in range(1, 10):
        yield from _tick(p, i, 0)
        yield from _try(p, out, "write", p.write(fd, b"x"))


@pytest.mark.parametrize("kind", ["pipe", "fifo", "file"])
def test_relabel_voids_the_memo(policy: Any, kind: str) -> None:
    original = A if kind == "pipe" else W

    def setup(k: Kernel, se: SELinux, out: list[Any]) -> None:
        holder: list[Any] = []
        _file_setup(kind, bump=kind != "pipe")(k, se)
        k.spawn(_relabel_prog, kind, holder, out, context=A)

        def relabel(ctx: str) -> Callable[[], None]:
            def fn() -> None:
                inode = holder[0]
                inode.xattrs["security.selinux"] = ctx.encode()
                k.security.d_instantiate(k.dentry_of(inode), inode)
                out.append(("relabel", se.context(inode.security[se.slot].sid)))

            return fn

        _schedule(k, [(4.5 * DT, relabel(RO)), (7.5 * DT, relabel(original))])

    fast, full = run_both(policy, setup)
    assert [o for o in fast.outcomes if o[0] == "relabel"] == [("relabel", RO),
                                                              ("relabel", original)]
    writes = [o[2] for o in fast.outcomes if o[0] != "relabel"]
    assert writes == [0, 0, 0, 0, EACCES, EACCES, EACCES, 0, 0]
    avc = fast.avc()
    assert len(avc) == 3
    tclass = "file" if kind == "file" else "fifo_file"
    for line in avc:
        assert "avc:  denied  { write }" in line
        assert f"tcontext={RO} tclass={tclass} permissive=0" in line
    assert fast.full_calls["file_permission"] < full.full_calls["file_permission"]

