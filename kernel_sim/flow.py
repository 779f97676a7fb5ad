"""Information-flow tracking: where did a named secret go, and through which objects?

Content-based, as the scenario runner needs it: a scenario declares secrets (a name and the
bytes), the tracker watches the data-carrying system calls at their exit and plain memory
reads, and records a *hop* whenever a secret's bytes enter an object (write, send, msgsnd,
mq_send, ...) or leave one into a process (read, recv, msgrcv, mq_receive, mem_read, ...,
and PTRACE_PEEKDATA, whose words are put back together so a secret read a word at a time is
recognised).
Because matching is on content, a secret is followed through every primitive alike --
pipes, FIFOs, files, SysV and POSIX queues, shared memory, sockets and fds passed over
SCM_RIGHTS -- without any per-primitive code.

Off by default: ``Kernel.flow`` is None and the syscall path pays one attribute test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from kernel_sim.constants import PROT_WRITE, PTRACE_PEEKDATA, PTRACE_PEEKTEXT

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.process import Mapping
    from kernel_sim.task import Task

#: syscall -> index of the data argument (data flows from the caller into an object)
SINKS: dict[str, int] = {"write": 1, "send": 1, "sendto": 1, "sendmsg": 1, "msgsnd": 2,
                         "mq_send": 1, "mq_timedsend": 1}
#: syscall -> how to find the data in the result (None: the result itself; i: result[i])
SOURCES: dict[str, int | None] = {"read": None, "recv": None, "recvfrom": 0, "recvmsg": 0,
                                  "msgrcv": 1, "mq_receive": 0, "mq_timedreceive": 0}


@frozen
class Secret:
    name: str
    value: bytes
    owner: str  # the comm of the process that holds it first


@frozen
class Hop:
    """One move of a secret: into an object (``direction="in"``) or out into a process."""

    secret: str
    t: float
    pid: int
    comm: str
    syscall: str
    obj: str
    direction: str  # "in" (process -> object) or "out" (object -> process)

    def describe(self) -> str:
        arrow = "->" if self.direction == "in" else "<-"
        return f"t={self.t:.6f}s {self.comm}[{self.pid}] {self.syscall} {arrow} {self.obj}"


@define(slots=True)
class FlowTracker:
    """Records the hops of every declared secret during a run."""

    kernel: Kernel
    secrets: list[Secret] = field(factory=list)
    hops: list[Hop] = field(factory=list)
    #: who mapped which shared object (plain stores into it are not system calls, so a
    #: secret read from memory is traced back to a holder that had it mapped)
    mapped: dict[str, list[tuple[float, int, str, str]]] = field(factory=dict)
    #: words read with PTRACE_PEEKDATA, by (tracer tid, tracee pid) and address: a secret
    #: read a word at a time is matched in the contiguous run the words rebuild
    peeked: dict[tuple[int, int], dict[int, bytes]] = field(factory=dict)

    def declare(self, name: str, value: bytes, owner: str) -> Secret:
        s = Secret(name, bytes(value), owner)
        self.secrets.append(s)
        return s

    # -- called by the kernel ---------------------------------------------------------------
    def syscall_exit(self, task: Task, name: str, args: tuple[Any, ...], result: Any,
                     err: int) -> None:
        """At every syscall exit (only while tracking is on)."""
        if err or not self.secrets:
            return
        if name in ("shmat", "mmap"):
            m = task.process.mm.find(result) if isinstance(result, int) else None
            if m is not None and m.shared and m.prot & PROT_WRITE:  # could store into it
                self.mapped.setdefault(_mapping_name(m), []).append(
                    (round(self.kernel.env.now, 9), task.pid, task.comm, name))
            return
        if name == "ptrace":
            if len(args) >= 3 and args[0] in (PTRACE_PEEKTEXT, PTRACE_PEEKDATA):
                self._peek(task, args[1], args[2], result)
            return
        idx = SINKS.get(name)
        if idx is not None:
            if len(args) > idx:
                self._match(task, name, args[idx], args[0], "in")
            return
        if name in SOURCES:
            where = SOURCES[name]
            data = result if where is None else (
                result[where] if isinstance(result, tuple) and len(result) > where else None)
            self._match(task, name, data, args[0] if args else None, "out")

    def _peek(self, task: Task, pid: int, addr: int, word: Any) -> None:
        if not isinstance(word, int) or not isinstance(addr, int):
            return
        words = self.peeked.setdefault((task.tid, pid), {})
        raw = (word & (2**64 - 1)).to_bytes(8, "little")
        if words.get(addr) == raw:
            return  # read again: nothing new came out
        words[addr] = raw
        start = addr
        while start - 8 in words:
            start -= 8
        end = addr + 8
        while end in words:
            end += 8
        run = b"".join(words[a] for a in range(start, end, 8))
        new = addr - start  # where the word just read sits in the run
        for s in self.secrets:
            at = run.find(s.value) if s.value else -1
            while at >= 0:
                if at < new + 8 and at + len(s.value) > new:  # this word completed a match
                    self.hops.append(Hop(s.name, round(self.kernel.env.now, 9), task.pid,
                                         task.comm, "ptrace", f"memory of pid {pid} (ptrace)",
                                         "out"))
                    break
                at = run.find(s.value, at + 1)

    def mem_read(self, task: Task, m: Mapping, data: bytes) -> None:
        """A plain load from a mapping (SysV/POSIX shared memory, thread-shared memory)."""
        if self.secrets:
            self._match(task, "mem_read", data, m, "out")

    # -- matching and naming ----------------------------------------------------------------
    def _match(self, task: Task, syscall: str, data: Any, handle: Any, direction: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            return
        data = bytes(data)
        for s in self.secrets:
            if s.value and s.value in data:
                self.hops.append(Hop(s.name, round(self.kernel.env.now, 9), task.pid, task.comm,
                                     syscall, self.describe(task, syscall, handle), direction))

    def describe(self, task: Task, syscall: str, handle: Any) -> str:
        """A human name for the object behind an fd, an IPC id or a mapping."""
        if syscall in ("msgsnd", "msgrcv"):
            return f"sysv msgq id={handle}"
        if syscall == "mem_read":
            return _mapping_name(handle)
        file = task.process.files.fds.get(handle) if isinstance(handle, int) else None
        if file is None:
            return f"fd {handle}"
        sock = getattr(file.private, "sk", None)
        if sock is not None:
            return _sock_name(sock)
        if syscall.startswith("mq_"):
            return f"posix mq {file.path()}"
        return file.path()

    # -- queries ----------------------------------------------------------------------------
    def reached(self, secret: str, comm: str) -> list[Hop]:
        """Hops by which ``secret`` came out into a process named ``comm``."""
        return [h for h in self.hops if h.secret == secret and h.comm == comm
                and h.direction == "out"]

    def path(self, secret: str, comm: str) -> list[Hop]:
        """The chain of hops that brought ``secret`` to ``comm`` (empty if it never did).

        Walks back from the first time ``comm`` received it: the latest earlier hop that put
        the secret into an object, then how that writer got it, up to its owner.
        """
        s = next((x for x in self.secrets if x.name == secret), None)
        got = self.reached(secret, comm)
        if s is None or not got:
            return []
        chain = [got[0]]
        seen = {comm}
        while True:
            last = chain[0]
            if last.syscall == "mem_read":
                writer = self._mapper(s, last, seen)
                if writer is None:
                    break
                chain.insert(0, writer)
                if writer.comm == s.owner:
                    break
                seen.add(writer.comm)
                before = [h for h in self.reached(secret, writer.comm) if h.t <= last.t]
                if not before:
                    break
                chain.insert(0, before[-1])
                continue
            into = [h for h in self.hops if h.secret == secret and h.direction == "in"
                    and h.t <= last.t and h is not last]
            if not into:
                break
            writer = into[-1]
            chain.insert(0, writer)
            if writer.comm == s.owner or writer.comm in seen:
                break
            seen.add(writer.comm)
            before = [h for h in self.reached(secret, writer.comm) if h.t <= writer.t]
            if not before:
                break
            chain.insert(0, before[-1])
        return chain

    def _mapper(self, s: Secret, read: Hop, seen: set[str]) -> Hop | None:
        """The latest process that had ``read.obj`` mapped and held the secret by then."""
        for t, pid, comm, call in reversed(self.mapped.get(read.obj, [])):
            if comm in seen or pid == read.pid or t > read.t:
                continue
            if comm == s.owner or any(h.t <= read.t for h in self.reached(s.name, comm)):
                return Hop(s.name, t, pid, comm, f"{call}+store", read.obj, "in")
        return None

    def holders(self, secret: str) -> list[str]:
        """Every process (comm) the secret reached, in order of first arrival."""
        out: list[str] = []
        for h in self.hops:
            if h.secret == secret and h.direction == "out" and h.comm not in out:
                out.append(h.comm)
        return out


def _mapping_name(m: Any) -> str:
    obj = getattr(m, "obj", None)
    perm = getattr(obj, "shm_perm", None)
    if perm is not None:
        return f"sysv shm key={perm.key:#x} id={perm.id}"
    path = getattr(obj, "path", None)
    if callable(path):
        return f"{m.kind} {path()}"
    return f"{getattr(m, 'kind', 'memory')} memory"


def _sock_name(sk: Any) -> str:
    def addr(a: Any) -> str | None:
        if a is None:
            return None
        if isinstance(a, str):
            return "@" + a[1:] if a.startswith("\0") else a
        if isinstance(a, tuple) and len(a) >= 2:
            return f"{a[0]}:{a[1]}"
        return str(a)

    mine = addr(sk.addr)
    peer = sk.peer
    theirs = addr(peer.addr) if peer is not None else addr(getattr(sk, "daddr", None))
    if mine and theirs and mine != theirs:
        return f"{sk.sclass} {mine}<->{theirs}"
    return f"{sk.sclass} {mine or theirs or 'unnamed'}"
