"""The flow tracker follows a secret through every primitive and reports the path it took."""

from __future__ import annotations

from typing import Any

from kernel_sim import (
    AF_UNIX,
    IPC_CREAT,
    MAP_SHARED,
    O_CREAT,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PROT_READ,
    PROT_WRITE,
    PTRACE_ATTACH,
    PTRACE_DETACH,
    PTRACE_PEEKDATA,
    SOCK_DGRAM,
    SOCK_STREAM,
    Kernel,
)
from kernel_sim.flow import FlowTracker

SECRET = b"pw=relay-me"


def _kernel() -> tuple[Kernel, FlowTracker]:
    k = Kernel(seed=0)
    k.flow = FlowTracker(k)
    k.flow.declare("pw", SECRET, "owner")
    return k, k.flow


def test_relay_through_pipe_msgq_socket_mq_file_and_shm() -> None:
    """owner -pipe-> a -SysV msg-> b -UNIX stream-> c -POSIX mq-> d -file-> e -POSIX shm-> f."""
    k, flow = _kernel()

    def owner(p: Any) -> Any:
        r, w = yield from p.pipe()
        yield from p.write(w, b"<" + SECRET + b">")
        yield from p.fork(relay_a, r)
        yield from p.waitpid(-1, 0)

    def relay_a(p: Any, r: int) -> Any:
        p.comm = "a"
        data = yield from p.read(r, 64)
        q = yield from p.msgget(0x77, IPC_CREAT | 0o600)
        yield from p.msgsnd(q, 1, data)
        yield from p.fork(relay_b, q)
        yield from p.waitpid(-1, 0)

    def relay_b(p: Any, q: int) -> Any:
        p.comm = "b"
        _t, data = yield from p.msgrcv(q, 64)
        s1, s2 = yield from p.socketpair(AF_UNIX, SOCK_STREAM)
        yield from p.send(s1, data)
        yield from p.fork(relay_c, s2)
        yield from p.waitpid(-1, 0)

    def relay_c(p: Any, s: int) -> Any:
        p.comm = "c"
        data = yield from p.recv(s, 64)
        mq = yield from p.mq_open("/relay", O_RDWR | O_CREAT, 0o600)
        yield from p.mq_send(mq, data)
        yield from p.fork(relay_d)
        yield from p.waitpid(-1, 0)

    def relay_d(p: Any) -> Any:
        p.comm = "d"
        mq = yield from p.mq_open("/relay", O_RDONLY)
        data, _ = yield from p.mq_receive(mq, 8192)
        fd = yield from p.open("/tmp/drop", O_WRONLY | O_CREAT, 0o600)
        yield from p.write(fd, data)
        yield from p.close(fd)
        yield from p.fork(relay_e)
        yield from p.waitpid(-1, 0)

    def relay_e(p: Any) -> Any:
        p.comm = "e"
        fd = yield from p.open("/tmp/drop", O_RDONLY)
        data = yield from p.read(fd, 64)
        shm = yield from p.shm_open("/relay", O_RDWR | O_CREAT, 0o600)
        yield from p.ftruncate(shm, 4096)
        addr = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm)
        p.mem_write(addr, 0, data)
        yield from p.fork(relay_f, addr)
        yield from p.waitpid(-1, 0)

    def relay_f(p: Any, addr: int) -> Any:
        p.comm = "f"
        p.mem_read(addr, 0, 32)
        yield from p.getpid()

    k.spawn(owner, comm="owner")
    k.run()
    assert flow.holders("pw") == ["a", "b", "c", "d", "e", "f"]
    path = [(h.comm, h.syscall, h.direction) for h in flow.path("pw", "f")]
    assert path == [("owner", "write", "in"), ("a", "read", "out"), ("a", "msgsnd", "in"),
                    ("b", "msgrcv", "out"), ("b", "send", "in"), ("c", "recv", "out"),
                    ("c", "mq_send", "in"), ("d", "mq_receive", "out"), ("d", "write", "in"),
                    ("e", "read", "out"), ("e", "mmap+store", "in"), ("f", "mem_read", "out")]
    objs = [h.obj for h in flow.path("pw", "f")]
    assert objs[0].startswith("pipe:[") and objs[2].startswith("sysv msgq id=")
    assert objs[4].startswith("unix_stream_socket") and objs[6] == "posix mq /dev/mqueue/relay"
    assert objs[8] == "/tmp/drop" and objs[10] == objs[11] == "file /dev/shm/relay"


def test_scm_rights_passed_fd_and_dgram_and_no_false_positive() -> None:
    k, flow = _kernel()
    k.install("/etc/vault", SECRET, mode=0o600)

    def owner(p: Any) -> Any:
        s1, s2 = yield from p.socketpair(AF_UNIX, SOCK_DGRAM)
        fd = yield from p.open("/etc/vault", O_RDONLY)
        yield from p.fork(receiver, s2)
        yield from p.sendmsg(s1, b"take it", fds=[fd])
        yield from p.send(s1, b"harmless")
        yield from p.waitpid(-1, 0)

    def receiver(p: Any, s: int) -> Any:
        p.comm = "thief"
        _d, fds, _f, _a = yield from p.recvmsg(s, 64, maxfds=1)
        yield from p.recv(s, 64)
        yield from p.read(fds[0], 64)

    k.spawn(owner, comm="owner")
    k.run()
    assert flow.holders("pw") == ["thief"]
    hops = flow.reached("pw", "thief")
    assert len(hops) == 1 and hops[0].syscall == "read" and hops[0].obj == "/etc/vault"
    assert flow.path("pw", "nobody") == []


def test_tracking_off_costs_nothing_and_changes_nothing() -> None:
    def prog(p: Any) -> Any:
        r, w = yield from p.pipe()
        yield from p.write(w, SECRET)
        yield from p.read(r, 64)

    a = Kernel(seed=1, trace=True)
    a.spawn(prog)
    a.run()
    b, _ = _kernel()
    b = Kernel(seed=1, trace=True)
    b.flow = FlowTracker(b)
    b.spawn(prog)
    b.run()
    assert a.flow is None and a.trace_lines() == b.trace_lines()


def test_timed_queue_calls_are_followed_too() -> None:
    k, flow = _kernel()

    def reader(p: Any) -> Any:
        p.comm = "reader"
        mq = yield from p.mq_open("/timed", O_RDONLY)
        yield from p.mq_timedreceive(mq, 8192, 1.0)

    def owner(p: Any) -> Any:
        mq = yield from p.mq_open("/timed", O_RDWR | O_CREAT, 0o600)
        yield from p.mq_timedsend(mq, SECRET, 0, 1.0)
        yield from p.fork(reader)
        yield from p.waitpid(-1, 0)

    k.spawn(owner, comm="owner")
    k.run()
    assert [(h.comm, h.syscall, h.direction) for h in flow.path("pw", "reader")] == [
        ("owner", "mq_timedsend", "in"), ("reader", "mq_timedreceive", "out")]


def test_a_secret_peeked_word_by_word_over_ptrace_is_followed() -> None:
    k, flow = _kernel()
    where: dict[str, int] = {}

    def owner(p: Any) -> Any:
        addr = p.mem_alloc(64)
        p.mem_write(addr, 5, SECRET)  # unaligned: the secret spans three words
        where["addr"] = addr
        yield from p.nanosleep(1.0)

    def spy(p: Any, target: int) -> Any:
        yield from p.nanosleep(0.1)
        yield from p.ptrace(PTRACE_ATTACH, target)
        yield from p.waitpid(target, 0)
        for _ in range(2):  # reading it twice is one leak, not two
            for off in range(0, 24, 8):
                yield from p.ptrace(PTRACE_PEEKDATA, target, where["addr"] + off)
        yield from p.ptrace(PTRACE_DETACH, target, 0, 0)

    t = k.spawn(owner, comm="owner")
    k.spawn(spy, t, comm="spy")
    k.run()
    hops = flow.reached("pw", "spy")
    assert [(h.syscall, h.obj) for h in hops] == [("ptrace", f"memory of pid {t} (ptrace)")]
