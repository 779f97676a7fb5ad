"""Tell the story of a run: which operations were refused, by whom, and where secrets went.

Everything here is read back from the run's trace (syscall and hook events), its audit log and
the flow tracker, so it works the same for TOML and Python scenarios.  ``decisions`` is also
the basis of ``--compare`` (a behavioural policy diff) and of the HTML report.
"""

from __future__ import annotations

import errno as errno_mod
import re
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from scenarios.base import RunResult, Scenario

#: the capability a failed capable() most likely concerned, by syscall (for the story only)
CAP_OF = {"kill": "CAP_KILL", "tgkill": "CAP_KILL", "ptrace": "CAP_SYS_PTRACE",
          "bind": "CAP_NET_BIND_SERVICE", "setuid": "CAP_SETUID", "setgid": "CAP_SETGID",
          "chown": "CAP_CHOWN", "chmod": "CAP_FOWNER", "open": "CAP_DAC_OVERRIDE",
          "unlink": "CAP_DAC_OVERRIDE", "shmctl": "CAP_IPC_OWNER/CAP_SYS_ADMIN",
          "msgctl": "CAP_SYS_ADMIN", "semctl": "CAP_SYS_ADMIN"}
#: errnos that mean "refused" (as opposed to "no such object", "would block", ...)
DENIALS = {"EACCES", "EPERM"}
_AVC_TIME = re.compile(r"audit\((\d+)\.(\d+):(\d+)\)")


@frozen
class Decision:
    """One system call and what decided its fate."""

    t: float
    pid: int
    tid: int
    comm: str
    syscall: str
    args: tuple[Any, ...]
    outcome: str  # "ok" or the errno name
    by: str  # "" when allowed; "DAC", "capability (CAP_X)", "selinux", "kernel"
    rule: str = ""  # for selinux: the denied access as the AVC states it
    avc: str = ""

    @property
    def denied(self) -> bool:
        return self.outcome in DENIALS

    @property
    def refused_inside(self) -> bool:
        """The call succeeded but a module refused part of it (e.g. a passed fd)."""
        return self.outcome == "ok" and bool(self.by)

    def key(self) -> tuple[str, str, str]:
        """Identity of the operation across two runs of the same scenario: pids are
        deterministic (same spawns, same order) while a comm changes at execve."""
        return (str(self.pid), self.syscall, _short_args(self.args))

    def line(self) -> str:
        call = f"{self.comm}[{self.pid}] {self.syscall}({_short_args(self.args)})"
        if self.outcome == "ok":
            inside = f", but {self.by} refused part: {self.rule}" if self.by else ""
            return f"t={self.t:.6f}s {call} = ok{inside}"
        who = f"by {self.by}" + (f": {self.rule}" if self.rule else "")
        return f"t={self.t:.6f}s {call} = {self.outcome} {who}"


def _short_args(args: Sequence[Any]) -> str:
    out = []
    for arg in args:
        a = [x if isinstance(x, str | int) else "..." for x in arg] if isinstance(
            arg, list) else arg
        s = repr(a) if isinstance(a, str) else "{...}" if isinstance(a, dict) else str(a)
        out.append(s if len(s) <= 24 else s[:21] + "...")
    return ", ".join(out)


def avc_rule(line: str) -> str:
    """``denied { read } httpd_t -> mysqld_t:shm`` from an AVC record."""
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    perms = line.split("{ ")[1].split(" }", maxsplit=1)[0] if "{ " in line else "?"
    st = fields.get("scontext", "?").split(":")
    tt = fields.get("tcontext", "?").split(":")
    sty = st[2] if len(st) > 2 else st[0]
    tty = tt[2] if len(tt) > 2 else tt[0]
    slev = ":".join(st[3:]) if len(st) > 3 else ""
    tlev = ":".join(tt[3:]) if len(tt) > 3 else ""
    lev = f" [{slev} -> {tlev}]" if slev != tlev else ""
    return f"denied {{ {perms} }} {sty} -> {tty}:{fields.get('tclass', '?')}{lev}"


def decisions(result: RunResult) -> list[Decision]:
    """Every traced system call with the module that refused it, if any."""
    return _attribute(result)[0]


def unattributed_avcs(result: RunResult) -> list[str]:
    """AVC denials no failed or partly refused call accounts for (e.g. descriptors revoked
    during a successful execve, or the checks of a permissive run)."""
    return _attribute(result)[1]


def _attribute(result: RunResult) -> tuple[list[Decision], list[str]]:
    k = result.context.kernel
    if k.tracer is None:
        return [], []
    # denied AVC records by pid, in order, with their millisecond timestamps
    avcs: dict[str, list[tuple[int, str]]] = {}
    for line in k.audit_log():
        if "type=AVC" not in line or "avc:  denied" not in line:
            continue
        m = _AVC_TIME.search(line)
        pid = re.search(r" pid=(\d+) comm=\"([^\"]*)\"", line)
        if m and pid:
            avcs.setdefault(f"{pid.group(1)}/{pid.group(2)}", []).append((int(m.group(2)),
                                                                            line))
    out: list[Decision] = []
    refused: dict[int, tuple[str, float, Any]] = {}  # tid -> (module, time, syscall)
    hook_name: dict[int, str] = {}
    for ev in k.tracer.events:
        if "hook" in ev:
            rc = ev.get("result", 0)
            if isinstance(rc, int) and rc < 0 and "tid" in ev and ev.get("module"):
                refused[ev["tid"]] = (ev["module"], ev["t"], ev.get("in"))
                hook_name[ev["tid"]] = ev["hook"]
            continue
        if "syscall" not in ev:
            continue
        tid = ev["tid"]
        outcome = ev.get("errno", "ok")
        by, rule, avc = "", "", ""
        mod = refused.pop(tid, None)
        hook = hook_name.pop(tid, "")
        if mod is not None and mod[2] != ev["syscall"]:
            mod = None  # refused inside a call that never returned (a successful execve)
        if outcome in DENIALS:
            if mod is None:
                by = "DAC"
            elif mod[0] == "capability":
                by = f"DAC (no {CAP_OF.get(ev['syscall'], 'capability')})"
            else:
                by = mod[0]
                ms = int(round(mod[1] * 1000, 6))
                queue = avcs.get(f"{ev['pid']}/{ev.get('comm', '')}", [])
                avc = _take(queue, ms, enforced=True)
                rule = avc_rule(avc) if avc else ""
                if not rule:
                    rule = f"{hook} refused (no AVC record: dontaudit?)"
        elif outcome != "ok":
            by = "kernel"
        elif mod is not None and mod[0] != "capability":
            # refused inside a call that went on (e.g. an SCM_RIGHTS fd dropped by recvmsg)
            by = mod[0]
            queue = avcs.get(f"{ev['pid']}/{ev.get('comm', '')}", [])
            avc = _take(queue, int(round(mod[1] * 1000, 6)), enforced=False)
            rule = avc_rule(avc) if avc else ""
        out.append(Decision(ev["t"], ev["pid"], tid, ev.get("comm", "?"), ev["syscall"],
                            tuple(ev.get("args", ())), outcome, by, rule, avc))
    left = sorted((line for q in avcs.values() for _t, line in q), key=_serial)
    return out, left


def _take(queue: list[tuple[int, str]], ms: int, enforced: bool) -> str:
    """Remove and return the AVC record of a refusal at millisecond ``ms``: one logged in
    that millisecond if any, else the latest earlier one (records of a failed call are
    enforced ones)."""
    best = -1
    for i, (t_ms, line) in enumerate(queue):
        if t_ms > ms:
            break
        if enforced and "permissive=1" in line:
            continue
        if t_ms == ms:
            best = i
            break
        best = i
    return queue.pop(best)[1] if best >= 0 else ""


def _serial(line: str) -> int:
    m = _AVC_TIME.search(line)
    return int(m.group(3)) if m else 0


def story(scenario: Scenario, result: RunResult, max_lines: int = 12) -> list[str]:
    """The few lines a person reads: attempts refused, by whom, and the secrets' fate."""
    lines = []
    ds = [d for d in decisions(result) if (d.denied or d.refused_inside) and d.comm != "init"]
    if ds:
        lines.append(f"blocked ({len(ds)}):")
        for d in ds[:max_lines]:
            lines.append("  " + d.line())
        if len(ds) > max_lines:
            lines.append(f"  ... {len(ds) - max_lines} more")
    else:
        lines.append("blocked: nothing (every security check allowed what was tried)")
    left = unattributed_avcs(result)
    if left:
        lines.append(f"AVC denials while calls went on ({len(left)}):")
        for line in left[:max_lines]:
            comm = re.search(r'comm="([^"]*)"', line)
            perm = "permissive, allowed" if "permissive=1" in line else "enforced"
            lines.append(f"  {comm.group(1) if comm else '?'}: {avc_rule(line)} ({perm})")
    k = result.context.kernel
    if k.flow is not None:
        for s in k.flow.secrets:
            holders = [c for c in k.flow.holders(s.name) if c != s.owner]
            if not holders:
                lines.append(f"secret {s.name} (held by {s.owner}): did not leave its owner")
                continue
            for comm in holders:
                chain = k.flow.path(s.name, comm)
                lines.append(f"secret {s.name} (held by {s.owner}) REACHED {comm}:")
                lines.extend("  " + h.describe() for h in chain)
    return lines


def human(scenario: Scenario, result: RunResult) -> str:
    """The human output of ``kernel-sim run``."""
    ctx = result.context
    k = ctx.kernel
    out = [f"== {scenario.name} [{result.variant}: {result.mode}]: {scenario.summary}"]
    text = scenario.story.strip().split("\n\n")[0].replace("\n", " ")
    if text:
        out.append("   " + text)
    for n in ctx.notes:
        fields = " ".join(f"{key}={_errname(v) if key == 'errno' else _short(v)}"
                          for key, v in n.items() if key not in ("t", "event"))
        out.append(f"  [{n['t']:.6f}s] {n['event']:<10} {fields}")
    out.extend("  " + line for line in story(scenario, result))
    audit = k.audit_log()
    avc = [a for a in audit if a.startswith("type=AVC")]
    if audit:
        out.append(f"  audit: {len(audit)} record(s), {len(avc)} AVC")
    for c in result.checks:
        out.append(f"  {'PASS' if c.ok else 'FAIL'}  {c.what}  (seen: {c.seen})")
    out.append(f"== {'all expectations hold' if result.ok else 'EXPECTATIONS FAILED'}")
    return "\n".join(out) + "\n"


def as_json(scenario: Scenario, result: RunResult) -> dict[str, Any]:
    k = result.context.kernel
    flows = []
    if k.flow is not None:
        for s in k.flow.secrets:
            for comm in k.flow.holders(s.name):
                flows.append({"secret": s.name, "owner": s.owner, "reached": comm,
                              "path": [h.describe() for h in k.flow.path(s.name, comm)]})
    return {"scenario": scenario.name, "variant": result.variant, "mode": result.mode,
            "seed": result.seed, "ok": result.ok,
            "checks": [{"what": c.what, "ok": c.ok, "seen": c.seen} for c in result.checks],
            "denials": [{"t": d.t, "pid": d.pid, "comm": d.comm, "syscall": d.syscall,
                         "errno": d.outcome, "by": d.by, "rule": d.rule}
                        for d in decisions(result) if d.denied],
            "flows": flows, "notes": _jsonable(result.context.notes), "audit": k.audit_log(),
            "avc_stats": k.avc_stats(), "sim_time": k.now}


@frozen
class Flip:
    key: tuple[str, str, str]
    before: Decision | None
    after: Decision | None

    def line(self) -> str:
        pid, call, args = self.key
        d0 = self.before or self.after
        comm = f"{d0.comm}[{pid}]" if d0 is not None else pid

        def show(d: Decision | None) -> str:
            if d is None:
                return "not attempted"
            return d.outcome + (f" ({d.by}: {d.rule})" if d.rule else
                                f" ({d.by})" if d.by else "")
        return f"{comm} {call}({args}): {show(self.before)} -> {show(self.after)}"


def compare(a: RunResult, b: RunResult) -> list[Flip]:
    """Operations whose decision differs between two runs of the same scenario.

    Operations are matched by (process, syscall, arguments) and occurrence number, so the
    n-th identical call in one run is compared with the n-th in the other.
    """
    def index(r: RunResult) -> dict[tuple[Any, ...], Decision]:
        seen: dict[tuple[str, str, str], int] = {}
        out = {}
        for d in decisions(r):
            if d.comm == "init":
                continue
            n = seen.get(d.key(), 0)
            seen[d.key()] = n + 1
            out[(*d.key(), n)] = d
        return out

    ia, ib = index(a), index(b)
    flips = []
    for key in list(ia) + [k for k in ib if k not in ia]:
        da, db = ia.get(key), ib.get(key)
        oa = da.outcome if da else None
        ob = db.outcome if db else None
        if oa == ob:
            continue
        if oa not in DENIALS and ob not in DENIALS:
            continue  # not a security decision (e.g. a follow-up call now fails otherwise)
        flips.append(Flip((str(key[0]), str(key[1]), str(key[2])), da, db))
    return flips


def _errname(v: Any) -> str:
    return errno_mod.errorcode.get(v, str(v)) if isinstance(v, int) else str(v)


def _short(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    s = repr(v) if isinstance(v, str) else str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
