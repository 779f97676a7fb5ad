"""Futexes and the userspace Mutex/Cond built on them (Linux ``kernel/futex/``, glibc lowlevellock).

futex_wait(addr, val) sleeps only while the word still holds ``val`` (EAGAIN otherwise),
returns on futex_wake or fails with EINTR when a handler without SA_RESTART runs; futex_wake
returns how many it woke.  Private memory is keyed by (mm, address), so the threads of a
process meet; shared mappings by (object, offset), so processes meet even at different
addresses.  Threads share their process's memory.
"""

from __future__ import annotations

import errno

from kernel_sim import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CREAT,
    O_RDWR,
    PROT_READ,
    PROT_WRITE,
    SA_RESTART,
    SIGUSR1,
    Kernel,
)
from kernel_sim.posix import Cond, Mutex
from kernel_sim.posix.futex import fetch_add32, load32, store32
from tests.kernel.helpers import check_ok, err, run

RW = PROT_READ | PROT_WRITE
INT_MAX = 0x7FFFFFFF


def _done(p, addr):
    """Thread exit: count ourselves done and wake the joiner (CLONE_CHILD_CLEARTID-like)."""
    fetch_add32(p, addr, 1)
    yield from p.futex_wake(addr, INT_MAX)


def _join(p, addr, n):
    while (cur := load32(p, addr)) != n:
        yield from err(p.futex_wait(addr, cur))


# ---------------------------------------------------------------- futex_wait / futex_wake
def test_futex_wait_argument_rules() -> None:
    def prog(p):
        a = p.mem_alloc(64)
        store32(p, a, 5)
        assert (yield from err(p.futex_wait(a, 4))) == errno.EAGAIN  # value changed
        assert (yield from err(p.futex_wait(a + 2, 5))) == errno.EINVAL  # unaligned
        assert (yield from err(p.futex_wait(0x1000, 0))) == errno.EFAULT  # unmapped
        assert (yield from p.futex_wake(a, 1)) == 0  # nobody waits
        assert (yield from err(p.futex_wake(0x1000, 1))) == errno.EFAULT
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_futex_wake_counts() -> None:
    woke = []

    def waiter(p, word, done, i):
        yield from p.futex_wait(word, 0)
        woke.append(i)
        yield from _done(p, done)

    def prog(p):
        word = p.mem_alloc(8)
        done = word + 4
        for i in range(3):
            yield from p.clone_thread(waiter, word, done, i)
        yield from p.nanosleep(0.001)  # all three are asleep
        assert (yield from p.futex_wake(word, 2)) == 2
        yield from p.nanosleep(0.001)
        assert woke == [0, 1]  # FIFO
        assert (yield from p.futex_wake(word, 5)) == 1
        yield from _join(p, done, 3)
        assert (yield from p.futex_wake(word, 5)) == 0
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_futex_wait_and_signals() -> None:
    res = {}

    def handler(p, sig):
        return
        yield

    def prog(p, flags):
        yield from p.sigaction(SIGUSR1, handler, flags)
        word = p.mem_alloc(4)

        def sender(t):
            yield from t.nanosleep(0.001)
            yield from t.tgkill(t.pid, t.pid, SIGUSR1)
            yield from t.nanosleep(0.001)
            res["wake"] = yield from t.futex_wake(word, 1)

        yield from p.clone_thread(sender)
        res[flags] = yield from err(p.futex_wait(word, 0))
        yield from p.nanosleep(0.01)
        return 0

    k, pid = run(prog, 0, uid=1000, gid=1000)
    check_ok(k, pid)
    assert res[0] == errno.EINTR and res["wake"] == 0  # the waiter left the queue
    k, pid = run(prog, SA_RESTART, uid=1000, gid=1000)
    check_ok(k, pid)
    assert res[SA_RESTART] == 0 and res["wake"] == 1  # restarted, then woken


def test_shared_futex_across_processes_at_different_addresses() -> None:
    """MAP_SHARED keys by (object, offset): the child's second mapping of the same file sits
    at another address and still meets the parent's waiter; a private page does not."""
    seen = {}

    def child(p, fd, private):
        a2 = yield from p.mmap(0, 4096, RW, MAP_SHARED, fd)
        yield from p.nanosleep(0.001)
        seen["private"] = yield from p.futex_wake(private, 1)  # the child's own copy
        store32(p, a2 + 8, 1)
        seen["shared"] = yield from p.futex_wake(a2 + 8, 1)
        seen["addr"] = a2
        return 0

    def parent(p):
        fd = yield from p.shm_open("/fx", O_CREAT | O_RDWR, 0o600)
        yield from p.ftruncate(fd, 4096)
        a = yield from p.mmap(0, 4096, RW, MAP_SHARED, fd)
        private = yield from p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        pid = yield from p.fork(child, fd, private)
        yield from p.futex_wait(a + 8, 0)
        yield from p.waitpid(pid, 0)
        assert seen["addr"] != a
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)
    assert seen == {"private": 0, "shared": 1, "addr": seen["addr"]}


# ---------------------------------------------------------------- Mutex
def _counter_prog(nthreads, iters, use_lock, out):
    def worker(p, m, counter, done):
        for _ in range(iters):
            if use_lock:
                yield from m.lock(p)
            v = load32(p, counter)
            yield from p.nanosleep(1e-6)  # a preemption point inside the critical section
            store32(p, counter, v + 1)
            if use_lock:
                yield from m.unlock(p)
        yield from _done(p, done)

    def prog(p):
        base = p.mem_alloc(16)
        m = Mutex(p, base)
        counter, done = base + 4, base + 8
        for _ in range(nthreads):
            yield from p.clone_thread(worker, m, counter, done)
        yield from _join(p, done, nthreads)
        out["count"] = load32(p, counter)
        return 0

    return prog


def test_mutex_protects_a_counter_from_lost_updates() -> None:
    out = {}
    k, pid = run(_counter_prog(5, 40, True, out), uid=1000, gid=1000)
    check_ok(k, pid)
    assert out["count"] == 200


def test_without_the_mutex_updates_are_lost() -> None:
    """The control experiment: the same workers without the lock lose increments."""
    out = {}
    k, pid = run(_counter_prog(5, 40, False, out), uid=1000, gid=1000)
    check_ok(k, pid)
    assert out["count"] < 200


def test_mutex_word_states() -> None:
    """0 unlocked, 1 locked, 2 locked with (possible) waiters; unlock of 2 wakes one."""
    states = []

    def contender(p, m, done):
        yield from m.lock(p)
        states.append(("contender-has-it", m.value(p)))
        yield from m.unlock(p)
        yield from _done(p, done)

    def prog(p):
        base = p.mem_alloc(8)
        m = Mutex(p, base)
        assert m.value(p) == 0
        assert m.trylock(p) and m.value(p) == 1
        assert not m.trylock(p)
        yield from p.clone_thread(contender, m, base + 4)
        yield from p.nanosleep(0.001)
        assert m.value(p) == 2  # the contender marked it contended and sleeps
        yield from m.unlock(p)
        yield from _join(p, base + 4, 1)
        assert m.value(p) == 0
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert states == [("contender-has-it", 2)]  # it relocks with 2: waiters may remain


def test_uncontended_mutex_makes_no_system_call() -> None:
    def prog(p):
        m = Mutex(p, p.mem_alloc(4))
        t0 = p.kernel.now
        for _ in range(10):
            yield from m.lock(p)
            yield from m.unlock(p)
        assert p.kernel.now == t0  # no syscall: no simulated time
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)


def test_process_shared_mutex_in_shared_memory() -> None:
    def worker(p, a, n):
        m = Mutex.attach(a)
        for _ in range(n):
            yield from m.lock(p)
            v = load32(p, a + 4)
            yield from p.nanosleep(1e-6)
            store32(p, a + 4, v + 1)
            yield from m.unlock(p)
        return 0

    def parent(p):
        a = yield from p.mmap(0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS)
        Mutex(p, a)
        pids = []
        for _ in range(3):
            pids.append((yield from p.fork(worker, a, 30)))
        for pid in pids:
            yield from p.waitpid(pid, 0)
        assert load32(p, a + 4) == 90
        return 0

    k, pid = run(parent, uid=1000, gid=1000)
    check_ok(k, pid)


# ---------------------------------------------------------------- Cond
def test_condition_variable_producer_consumer() -> None:
    """A bounded buffer (4 slots) with one mutex and two condition variables; two producers
    and two consumers move 60 items; every item arrives exactly once, in per-producer order."""
    consumed = []
    cap = 4

    def producer(p, s, pid_, n):
        m, not_full, not_empty, buf, count, done = s
        for i in range(n):
            yield from m.lock(p)
            while load32(p, count) == cap:
                yield from not_full.wait(p, m)
            c = load32(p, count)
            store32(p, buf + 4 * c, pid_ * 1000 + i)
            store32(p, count, c + 1)
            yield from not_empty.signal(p)
            yield from m.unlock(p)
            yield from p.nanosleep(1e-6)
        yield from _done(p, done)

    def consumer(p, s, n):
        m, not_full, not_empty, buf, count, done = s
        for _ in range(n):
            yield from m.lock(p)
            while load32(p, count) == 0:
                yield from not_empty.wait(p, m)
            item = load32(p, buf)  # FIFO: take slot 0, shift the rest
            c = load32(p, count)
            for j in range(1, c):
                store32(p, buf + 4 * (j - 1), load32(p, buf + 4 * j))
            store32(p, count, c - 1)
            consumed.append(item)
            yield from not_full.signal(p)
            yield from m.unlock(p)
        yield from _done(p, done)

    def prog(p):
        base = p.mem_alloc(64)
        m, not_full, not_empty = Mutex(p, base), Cond(p, base + 4), Cond(p, base + 8)
        buf, count, done = base + 16, base + 12, base + 40
        s = (m, not_full, not_empty, buf, count, done)
        yield from p.clone_thread(consumer, s, 30)
        yield from p.clone_thread(consumer, s, 30)
        yield from p.clone_thread(producer, s, 1, 30)
        yield from p.clone_thread(producer, s, 2, 30)
        yield from _join(p, done, 4)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert sorted(consumed) == sorted([1000 + i for i in range(30)] +
                                      [2000 + i for i in range(30)])
    for who in (1, 2):
        mine = [x for x in consumed if x // 1000 == who]
        assert mine == sorted(mine)


def test_cond_broadcast_wakes_every_waiter() -> None:
    woke = []

    def waiter(p, m, cv, flag, done, i):
        yield from m.lock(p)
        while not load32(p, flag):
            yield from cv.wait(p, m)
        woke.append(i)
        yield from m.unlock(p)
        yield from _done(p, done)

    def prog(p):
        base = p.mem_alloc(16)
        m, cv = Mutex(p, base), Cond(p, base + 4)
        for i in range(4):
            yield from p.clone_thread(waiter, m, cv, base + 8, base + 12, i)
        yield from p.nanosleep(0.001)
        assert woke == []
        yield from m.lock(p)
        store32(p, base + 8, 1)
        yield from cv.broadcast(p)
        yield from m.unlock(p)
        yield from _join(p, base + 12, 4)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert sorted(woke) == [0, 1, 2, 3]


def test_threads_share_memory_and_futexes_have_no_hooks() -> None:
    from lsm.hookdefs import HOOKS
    from lsm.module import BpfLsm

    calls = []
    lsm = BpfLsm("rec")
    armed = {"on": False}
    for spec in HOOKS:
        lsm.attach(spec.name, lambda *a, _n=spec.name: calls.append(_n) if armed["on"] else None)

    def thread(p, a):
        yield from p.nanosleep(0.001)
        p.mem_write(a, 0, b"from thread")
        yield from p.futex_wake(a + 16, 1)
        yield from p.nanosleep(0.001)  # exit (task_free) after the window

    def prog(p):
        a = p.mem_alloc(32)
        yield from p.clone_thread(thread, a)
        armed["on"] = True
        yield from err(p.futex_wait(a + 16, 0))
        armed["on"] = False
        assert p.mem_read(a, 0, 11) == b"from thread"
        yield from p.nanosleep(0.01)
        return 0

    k = Kernel(lsms=[lsm], seed=0)
    k, pid = run(prog, kernel=k, uid=1000, gid=1000)
    check_ok(k, pid)
    assert calls == []


def test_futex_wake_zero_still_wakes_one() -> None:
    """Linux's wake loop breaks after ``++ret >= nr_wake``: nr_wake 0 wakes one waiter."""
    res = {}

    def waiter(p, word, done):
        yield from p.futex_wait(word, 0)
        yield from _done(p, done)

    def prog(p):
        word = p.mem_alloc(8)
        for _ in range(2):
            yield from p.clone_thread(waiter, word, word + 4)
        yield from p.nanosleep(0.001)
        res["zero"] = yield from p.futex_wake(word, 0)
        res["rest"] = yield from p.futex_wake(word, 10)
        yield from _join(p, word + 4, 2)
        return 0

    k, pid = run(prog, uid=1000, gid=1000)
    check_ok(k, pid)
    assert res == {"zero": 1, "rest": 1}
