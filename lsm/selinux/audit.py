"""The audit subsystem: records in the real Linux text format, stamped with simulated time.

Shape follows ``kernel/audit.c`` and ``kernel/auditsc.c``: each task owns an
:class:`AuditContext`; every record logged while that task is inside a syscall shares the
syscall's ``msg=audit(SECONDS.MILLIS:SERIAL)`` stamp (time of syscall entry, serial taken at the
first record), and a syscall that produced any record gets its ``type=SYSCALL`` record at exit.
Records logged outside a syscall get a fresh serial each.  ``SECONDS`` is ``epoch`` plus the
simulated clock, so runs are reproducible and the log is accepted by ``ausearch``/``audit2allow``.

The log is kept twice: ``lines`` (what ``/var/log/audit/audit.log`` would hold) and ``records``
(frozen :class:`AuditRecord` objects, the structured source of truth for labs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from attrs import define, field, frozen

from lsm.selinux.audit_fields import AuditData, syscall_nr, untrusted

__all__ = [
    "AUDIT_ARCH_X86_64",
    "AUDIT_AVC",
    "AUDIT_MAC_CONFIG_CHANGE",
    "AUDIT_MAC_POLICY_LOAD",
    "AUDIT_MAC_STATUS",
    "AUDIT_SELINUX_ERR",
    "AUDIT_SYSCALL",
    "AUDIT_UNSET",
    "DEFAULT_EPOCH",
    "AuditContext",
    "AuditLog",
    "AuditRecord",
    "AuditTaskInfo",
    "AvcInfo",
    "format_avc",
]

# record numbers, include/uapi/linux/audit.h
AUDIT_SYSCALL = 1300
AUDIT_PATH = 1302
AUDIT_IPC = 1303
AUDIT_SOCKADDR = 1306
AUDIT_CWD = 1307
AUDIT_OBJ_PID = 1318
AUDIT_PROCTITLE = 1327
AUDIT_AVC = 1400
AUDIT_SELINUX_ERR = 1401
AUDIT_MAC_POLICY_LOAD = 1403
AUDIT_MAC_STATUS = 1404
AUDIT_MAC_CONFIG_CHANGE = 1405

RECORD_NAMES: dict[int, str] = {
    AUDIT_SYSCALL: "SYSCALL",
    AUDIT_PATH: "PATH",
    AUDIT_IPC: "IPC",
    AUDIT_SOCKADDR: "SOCKADDR",
    AUDIT_CWD: "CWD",
    AUDIT_OBJ_PID: "OBJ_PID",
    AUDIT_PROCTITLE: "PROCTITLE",
    AUDIT_AVC: "AVC",
    AUDIT_SELINUX_ERR: "SELINUX_ERR",
    AUDIT_MAC_POLICY_LOAD: "MAC_POLICY_LOAD",
    AUDIT_MAC_STATUS: "MAC_STATUS",
    AUDIT_MAC_CONFIG_CHANGE: "MAC_CONFIG_CHANGE",
}

AUDIT_ARCH_X86_64 = 0xC000003E
#: auid / ses of a task that never logged in ((u32)-1)
AUDIT_UNSET = 4294967295
#: default base for timestamps: 2023-11-14 22:13:20 UTC, plus simulated seconds
DEFAULT_EPOCH = 1700000000

_U64 = (1 << 64) - 1
#: stand-in user-space address printed for pointer arguments (paths, buffers) in a0..a3
_FAKE_USER_PTR = 0x7FFC_0000_1000


@frozen
class AvcInfo:
    """The decoded content of one AVC record (for labs and tests; the text is in the record)."""

    denied: bool
    perms: tuple[str, ...]
    pid: int
    comm: str
    scontext: str | None
    tcontext: str | None
    tclass: str
    permissive: int | None


@frozen
class AuditRecord:
    """One audit record: ``type=<TYPE> msg=audit(<stamp>:<serial>): <body>``."""

    type: str
    serial: int
    stamp: str
    body: str
    avc: AvcInfo | None = None

    @property
    def line(self) -> str:
        """The record as auditd writes it to audit.log."""
        return f"type={self.type} msg=audit({self.stamp}:{self.serial}): {self.body}"


@frozen
class AuditTaskInfo:
    """What ``audit_log_task_info`` prints for the calling task at syscall exit."""

    pid: int
    ppid: int
    comm: str
    exe: str | None = None
    subj: str | None = None
    uid: int = 0
    gid: int = 0
    euid: int | None = None
    suid: int | None = None
    fsuid: int | None = None
    egid: int | None = None
    sgid: int | None = None
    fsgid: int | None = None
    auid: int = AUDIT_UNSET
    ses: int = AUDIT_UNSET
    tty: str = "(none)"


@define(slots=True)
class AuditContext:
    """Per-task audit state, like ``struct audit_context``: allocate one per task and reuse it."""

    in_syscall: bool = False
    serial: int = 0
    #: simulated time at syscall entry; formatted into ``stamp`` only when a record needs it
    entry_time: float = 0.0
    stamp: str = ""
    dirty: bool = False
    pid: int = 0
    comm: str = ""


def format_avc(
    *,
    denied: bool,
    perms: Sequence[str],
    unknown_bits: int = 0,
    pid: int,
    comm: str,
    auditdata: AuditData | None = None,
    scontext: str | None,
    tcontext: str | None,
    tclass: str,
    ssid: int = 0,
    tsid: int = 0,
    permissive: int | None = None,
    srawcon: str | None = None,
    trawcon: str | None = None,
) -> str:
    """The AVC body exactly as ``avc_audit_pre/post_callback`` + ``common_lsm_audit`` print it.

    ``perms`` are the audited permission names, already in the class's kernel order; bits the
    class map cannot name are passed as ``unknown_bits`` and printed as `` 0x..``.
    ``scontext``/``tcontext`` None means the SID has no context (``ssid=``/``tsid=`` instead).
    ``permissive`` is printed only on denials.
    """
    parts = ["avc:  ", "denied" if denied else "granted", " "]
    if not perms and not unknown_bits:
        parts.append(" null")  # the kernel returns before " for " here
    else:
        parts.append(" {")
        for p in perms:
            parts.append(" ")
            parts.append(p)
        if unknown_bits:
            parts.append(f" 0x{unknown_bits:x}")
        parts.append(" } for ")
    parts.append(f" pid={pid} comm=")
    parts.append(untrusted(comm))
    if auditdata is not None:
        parts.append(auditdata.render())
    parts.append(f" scontext={scontext}" if scontext is not None else f" ssid={ssid}")
    parts.append(f" tcontext={tcontext}" if tcontext is not None else f" tsid={tsid}")
    parts.append(f" tclass={tclass}")
    if denied:
        parts.append(f" permissive={1 if permissive else 0}")
    if srawcon is not None:
        parts.append(" srawcon=" + untrusted(srawcon))
    if trawcon is not None:
        parts.append(" trawcon=" + untrusted(trawcon))
    return "".join(parts)


def _arg_hex(value: object, index: int) -> str:
    if value is None:
        return "0"
    if isinstance(value, bool | int):
        return f"{int(value) & _U64:x}"
    # the simulator passes paths and buffers by value; print a plausible user pointer
    return f"{_FAKE_USER_PTR + 0x100 * index:x}"


def _id(value: int | None, default: int) -> int:
    return default if value is None else value


@define
class AuditLog:
    """In-memory audit trail (``lines`` + ``records``) with Linux's serial/stamp rules.

    ``clock`` returns simulated seconds (pass ``env.now``'s getter); ``epoch`` is added to it.
    The kernel sets :attr:`current` to the running task's context whenever it resumes a task,
    as Linux's ``current``; :meth:`begin_syscall` does that too.  Without per-task contexts
    everything goes through one default context, which suits single-task tests.
    """

    clock: Callable[[], float] = field(default=lambda: 0.0)
    epoch: int = DEFAULT_EPOCH
    first_serial: int = 1
    lines: list[str] = field(factory=list)
    records: list[AuditRecord] = field(factory=list)
    current: AuditContext = field(factory=AuditContext)
    #: called before each record is stamped, to select the running task's context; lets a
    #: kernel prepare contexts lazily instead of on every syscall entry
    refresh: Callable[[], None] | None = None
    _next_serial: int = field(init=False, default=0)
    _listeners: list[Callable[[AuditRecord], None]] = field(init=False, factory=list)

    def __attrs_post_init__(self) -> None:
        self._next_serial = self.first_serial

    # -- stamps --------------------------------------------------------------------------
    def _format_stamp(self, now: float) -> str:
        ms = int(now * 1000 + 1e-6)
        return f"{self.epoch + ms // 1000}.{ms % 1000:03d}"

    def _now_stamp(self) -> str:
        return self._format_stamp(self.clock())

    def _take_serial(self) -> int:
        serial = self._next_serial
        self._next_serial = serial + 1
        return serial

    def _stamp_for_record(self) -> tuple[str, int]:
        """``audit_get_stamp``: the syscall's stamp and serial, or a fresh pair outside one."""
        if self.refresh is not None:
            self.refresh()  # let the kernel glue point ``current`` at the running task
        ctx = self.current
        if ctx.in_syscall:
            if not ctx.serial:
                ctx.serial = self._take_serial()
                ctx.stamp = self._format_stamp(ctx.entry_time)
            ctx.dirty = True
            return ctx.stamp, ctx.serial
        return self._now_stamp(), self._take_serial()

    # -- syscall bracket -----------------------------------------------------------------
    def alloc_context(self) -> AuditContext:
        """A context for a new task (``audit_alloc`` at fork)."""
        return AuditContext()

    def begin_syscall(self, pid: int, comm: str, ctx: AuditContext | None = None) -> None:
        """``__audit_syscall_entry``: stamp the syscall now; no record, no allocation.

        ``pid`` is the thread-group id and ``comm`` the task's name, as AVC records print them.
        """
        if ctx is None:
            ctx = self.current
        else:
            self.current = ctx
        ctx.in_syscall = True
        ctx.serial = 0
        ctx.dirty = False
        ctx.entry_time = self.clock()
        ctx.pid = pid
        ctx.comm = comm

    def end_syscall(
        self,
        name: str | int,
        result: int,
        args: Sequence[object] | Callable[[], Sequence[object]] = (),
        task_info: AuditTaskInfo | Callable[[], AuditTaskInfo] | None = None,
        ctx: AuditContext | None = None,
        aux: Callable[[], Sequence[tuple[int, str]]] | None = None,
    ) -> AuditRecord | None:
        """``__audit_syscall_exit``: emit SYSCALL only if the syscall logged a record.

        ``result`` is the return value or ``-errno``.  ``args`` and ``task_info`` may be callables
        so nothing is built for the (usual) syscall that logged nothing.  Without ``task_info``
        the SYSCALL record uses the pid/comm given at entry and zero ids.  ``aux`` returns the
        auxiliary records (type, body) that follow SYSCALL with the same stamp and serial.
        """
        if ctx is None:
            ctx = self.current
        was_dirty = ctx.dirty
        ctx.in_syscall = False
        ctx.dirty = False
        if not was_dirty:
            return None
        if callable(args):
            args = args()
        if callable(task_info):
            task_info = task_info()
        if task_info is None:
            task_info = AuditTaskInfo(pid=ctx.pid, ppid=0, comm=ctx.comm)
        records = aux() if aux is not None else ()
        items = sum(1 for rtype, _ in records if rtype == AUDIT_PATH)
        body = self.format_syscall(name, result, args, task_info, items)
        rec = self._emit(AUDIT_SYSCALL, ctx.stamp, ctx.serial, body)
        for rtype, aux_body in records:
            self._emit(rtype, ctx.stamp, ctx.serial, aux_body)
        return rec

    @staticmethod
    def format_syscall(
        name: str | int, result: int, args: Sequence[object], t: AuditTaskInfo, items: int = 0
    ) -> str:
        """The SYSCALL body as ``audit_log_exit`` + ``audit_log_task_info`` print it
        (``items``: how many PATH records follow)."""
        a = [_arg_hex(args[i] if i < len(args) else 0, i) for i in range(4)]
        euid, egid = _id(t.euid, t.uid), _id(t.egid, t.gid)
        return (
            f"arch={AUDIT_ARCH_X86_64:x} syscall={syscall_nr(name)}"
            f" success={'yes' if result >= 0 else 'no'} exit={result}"
            f" a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} items={items}"
            f" ppid={t.ppid} pid={t.pid} auid={t.auid} uid={t.uid} gid={t.gid}"
            f" euid={euid} suid={_id(t.suid, euid)} fsuid={_id(t.fsuid, euid)}"
            f" egid={egid} sgid={_id(t.sgid, egid)} fsgid={_id(t.fsgid, egid)}"
            f" tty={t.tty} ses={t.ses} comm={untrusted(t.comm)}"
            f" exe={untrusted(t.exe) if t.exe is not None else '(null)'}"
            + (f" subj={t.subj}" if t.subj is not None else "")
            + " key=(null)"
        )

    # -- emitting ------------------------------------------------------------------------
    def _emit(
        self, rtype: int, stamp: str, serial: int, body: str, avc: AvcInfo | None = None
    ) -> AuditRecord:
        rec = AuditRecord(RECORD_NAMES[rtype], serial, stamp, body, avc)
        self.records.append(rec)
        self.lines.append(rec.line)
        for fn in self._listeners:
            fn(rec)
        return rec

    def log(self, rtype: int, body: str, avc: AvcInfo | None = None) -> AuditRecord:
        """``audit_log``: one record in the current task's context (if in a syscall)."""
        stamp, serial = self._stamp_for_record()
        return self._emit(rtype, stamp, serial, body, avc)

    def subscribe(self, fn: Callable[[AuditRecord], None]) -> None:
        """Call ``fn`` for each new record (trace writers, live lab views)."""
        self._listeners.append(fn)

    def log_avc(
        self,
        *,
        denied: bool,
        perms: Sequence[str],
        tclass: str,
        scontext: str | None,
        tcontext: str | None,
        auditdata: AuditData | None = None,
        permissive: int | None = None,
        unknown_bits: int = 0,
        ssid: int = 0,
        tsid: int = 0,
        srawcon: str | None = None,
        trawcon: str | None = None,
        pid: int | None = None,
        comm: str | None = None,
    ) -> AuditRecord:
        """One ``type=AVC`` record; pid/comm default to the current task's (tgid, comm)."""
        if self.refresh is not None:
            self.refresh()
        ctx = self.current
        pid = ctx.pid if pid is None else pid
        comm = ctx.comm if comm is None else comm
        body = format_avc(
            denied=denied, perms=perms, unknown_bits=unknown_bits, pid=pid, comm=comm,
            auditdata=auditdata, scontext=scontext, tcontext=tcontext, tclass=tclass,
            ssid=ssid, tsid=tsid, permissive=permissive, srawcon=srawcon, trawcon=trawcon,
        )
        info = AvcInfo(
            denied, tuple(perms), pid, comm, scontext, tcontext, tclass,
            permissive if denied else None,
        )
        return self.log(AUDIT_AVC, body, info)

    # -- other SELinux records (kernel text, current kernels) ------------------------------
    def log_selinux_err(self, body: str) -> AuditRecord:
        """A ``SELINUX_ERR`` whose text the security server already formatted.

        Pass this bound method as ``SecurityServer(audit=...)``.
        """
        return self.log(AUDIT_SELINUX_ERR, body)

    def log_bounds(
        self, scontext: str, tcontext: str, tclass: str, perms: Iterable[str]
    ) -> AuditRecord:
        """``security_dump_masked_av``: typebounds removed permissions from a decision."""
        return self.log(
            AUDIT_SELINUX_ERR,
            f"op=security_compute_av reason=bounds scontext={scontext} tcontext={tcontext}"
            f" tclass={tclass} perms={','.join(perms)}",
        )

    def log_invalid_context(
        self, invalid_context: str, scontext: str, tcontext: str, tclass: str
    ) -> AuditRecord:
        """``compute_sid_handle_invalid_context``: a computed context is not valid."""
        return self.log(
            AUDIT_SELINUX_ERR,
            f"op=security_compute_sid invalid_context={untrusted(invalid_context)}"
            f" scontext={scontext} tcontext={tcontext} tclass={tclass}",
        )

    def log_invalid_user_context(self, op: str, invalid_context: str) -> AuditRecord:
        """``op=setxattr``/``op=fscreate``: a user-supplied context is not valid."""
        return self.log(AUDIT_SELINUX_ERR, f"op={op} invalid_context={untrusted(invalid_context)}")

    def log_bounded_transition(self, oldcontext: str, newcontext: str) -> AuditRecord:
        """``security_bounded_transition``: the new domain is not bounded by the old one."""
        return self.log(
            AUDIT_SELINUX_ERR,
            f"op=security_bounded_transition seresult=denied oldcontext={oldcontext}"
            f" newcontext={newcontext}",
        )

    def log_validatetrans(
        self, oldcontext: str, newcontext: str, taskcontext: str, tclass: str
    ) -> AuditRecord:
        """``security_validate_transition``: a validatetrans constraint failed."""
        return self.log(
            AUDIT_SELINUX_ERR,
            f"op=security_validate_transition seresult=denied oldcontext={oldcontext}"
            f" newcontext={newcontext} taskcontext={taskcontext} tclass={tclass}",
        )

    def log_policy_load(self, auid: int = AUDIT_UNSET, ses: int = AUDIT_UNSET) -> AuditRecord:
        """``MAC_POLICY_LOAD`` as written by ``sel_write_load`` (current form)."""
        return self.log(AUDIT_MAC_POLICY_LOAD, f"auid={auid} ses={ses} lsm=selinux res=1")

    def log_mac_status(
        self, enforcing: int, old_enforcing: int, auid: int = AUDIT_UNSET, ses: int = AUDIT_UNSET
    ) -> AuditRecord:
        """``MAC_STATUS`` as written by ``sel_write_enforce`` (current form)."""
        return self.log(
            AUDIT_MAC_STATUS,
            f"enforcing={int(enforcing)} old_enforcing={int(old_enforcing)} auid={auid}"
            f" ses={ses} enabled=1 old-enabled=1 lsm=selinux res=1",
        )

    def log_config_change(
        self, boolean: str, val: int, old_val: int, auid: int = AUDIT_UNSET, ses: int = AUDIT_UNSET
    ) -> AuditRecord:
        """``MAC_CONFIG_CHANGE``: one per boolean changed by a commit."""
        return self.log(
            AUDIT_MAC_CONFIG_CHANGE,
            f"bool={boolean} val={int(val)} old_val={int(old_val)} auid={auid} ses={ses}",
        )

    # -- output --------------------------------------------------------------------------
    def text(self) -> str:
        """The whole log as audit.log text (one record a line)."""
        return "".join(line + "\n" for line in self.lines)

    def write(self, path: str | Path) -> None:
        """Write the log where ``ausearch -if``/``audit2allow -i`` can read it."""
        Path(path).write_text(self.text(), encoding="utf-8")

    def clear(self) -> None:
        """Drop the records (serials keep counting, as auditd rotation does)."""
        self.lines.clear()
        self.records.clear()
