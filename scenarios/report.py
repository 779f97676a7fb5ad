"""``kernel-sim run --report FILE.html``: one self-contained page telling a run at a glance.

A sequence diagram (inline SVG, no script, no network): a lifeline per process and per IPC
object, each system call that touches an object or another process an arrow, denials in
red with the deciding module and rule, secret-carrying steps highlighted.  Below it: the
expectations, the information-flow verdicts, the audit log and the AVC statistics.  Built
from the trace (``Kernel(trace=True)``), the audit log and the flow tracker only.
"""

from __future__ import annotations

import html
from typing import Any

from attrs import define, field

from scenarios.base import RunResult, Scenario
from scenarios.runner import Decision, avc_rule, decisions, unattributed_avcs

#: syscalls whose first argument names a file-system object
PATH_CALLS = {"open", "mkfifo", "unlink", "stat", "chmod", "chown", "execve", "mkdir",
              "mq_open", "mq_unlink", "shm_open", "shm_unlink", "link", "chdir", "getfilecon"}
#: syscalls whose first argument is an fd (the object is what the fd refers to)
FD_CALLS = {"read", "write", "send", "recv", "sendto", "recvfrom", "sendmsg", "recvmsg",
            "close", "listen", "accept", "accept4", "getsockopt", "setsockopt", "getpeercon",
            "shutdown", "mq_send", "mq_receive", "mq_close", "mq_notify", "mq_getattr",
            "ftruncate", "fstat", "mmap", "dup", "fcntl", "getsockname", "getpeername"}
IPC_GET = {"msgget": "msgq", "shmget": "shm", "semget": "sem"}
IPC_USE = {"msgsnd": "msgq", "msgrcv": "msgq", "msgctl": "msgq", "shmat": "shm",
           "shmctl": "shm", "semop": "sem", "semctl": "sem"}
MAX_STEPS = 300
COL_W, ROW_H, TOP, LEFT = 150, 26, 70, 90


@define
class _Step:
    d: Decision
    src: str
    dst: str | None
    label: str
    secret: str = ""


@define
class _Objects:
    """Resolves syscall arguments to participants, following fds and IPC ids per process."""

    fds: dict[tuple[int, Any], str] = field(factory=dict)
    ids: dict[tuple[str, Any], str] = field(factory=dict)

    def target(self, d: Decision, result: Any) -> str | None:
        call, args = d.syscall, d.args
        name: str | None
        if call in ("kill", "tgkill", "ptrace"):
            pid = args[1] if call == "ptrace" and len(args) > 1 else args[0] if args else None
            return f"pid:{pid}"
        if call in {"fork", "clone_thread"}:
            if call == "fork" and isinstance(result, int):
                for (pid, fd), obj in list(self.fds.items()):  # the child's copy of the fds
                    if pid == d.pid:
                        self.fds[(result, fd)] = obj
                return f"pid:{result}"
            return None
        if call in IPC_GET and args:
            name = f"{IPC_GET[call]} key {_hex(args[0])}"
            if isinstance(result, int):
                self.ids[(IPC_GET[call], result)] = name
            return name
        if call in IPC_USE and args:
            return self.ids.get((IPC_USE[call], args[0]), f"{IPC_USE[call]} id {args[0]}")
        if call == "sem_open" or (call in PATH_CALLS and args and isinstance(args[0], str)):
            name = str(args[0])
            if call == "mq_open":
                name = "mq " + name
            if call in ("open", "mq_open", "shm_open") and isinstance(result, int):
                self.fds[(d.pid, result)] = name
            return name
        if call in ("pipe", "pipe2"):
            if isinstance(result, list | tuple):
                for fd in result:
                    self.fds[(d.pid, fd)] = f"pipe ({d.comm}[{d.pid}])"
            return f"pipe ({d.comm}[{d.pid}])"
        if call in ("bind", "connect") and len(args) > 1:
            name = _addr(args[1])
            self.fds[(d.pid, args[0])] = name
            return name
        if call == "socketpair" and isinstance(result, list | tuple):
            for fd in result:
                self.fds[(d.pid, fd)] = f"socketpair ({d.comm}[{d.pid}])"
            return None
        if call in FD_CALLS and args:
            name = self.fds.get((d.pid, args[0]))
            if call in ("accept", "accept4") and name and isinstance(result, list | tuple):
                self.fds[(d.pid, result[0])] = name
            if call == "sendmsg" and name is None and len(args) > 4 and args[4]:
                name = _addr(args[4])
            if call == "recvmsg" and isinstance(result, list | tuple) and len(result) > 1:
                for fd in result[1] or ():  # descriptors received with SCM_RIGHTS
                    self.fds[(d.pid, fd)] = f"fd passed via {name or 'a socket'}"
            return name
        return None


def _hex(v: Any) -> str:
    return hex(v) if isinstance(v, int) else str(v)


def _addr(a: Any) -> str:
    if isinstance(a, str):
        return "unix @" + a[1:] if a.startswith("\0") else "unix " + a
    if isinstance(a, list | tuple) and len(a) >= 2:
        return f"inet {a[0]}:{a[1]}"
    return str(a)


def _steps(result: RunResult) -> tuple[list[str], list[_Step], int, set[str]]:
    k = result.context.kernel
    assert k.tracer is not None
    results = [ev.get("result") for ev in k.tracer.events if "syscall" in ev]
    objs = _Objects()
    procs: dict[int, str] = {}
    steps: list[_Step] = []
    # a hop is recorded at the syscall's exit, the trace event after its cost: match in order
    pending: dict[tuple[int, str], list[Any]] = {}
    for h in (k.flow.hops if k.flow else []):
        pending.setdefault((h.pid, h.syscall), []).append(h)
    for d, res in zip(decisions(result), results, strict=True):
        if d.comm == "init":
            continue
        procs.setdefault(d.pid, f"{d.comm}[{d.pid}]")
        dst = objs.target(d, res)
        if dst is None and not (d.denied or d.refused_inside):
            continue
        label = f"{d.syscall}" + (f" = {d.outcome}" if d.outcome != "ok" else "")
        queue = pending.get((d.pid, d.syscall))
        secret = ""
        if queue and queue[0].t <= d.t:
            secret = queue.pop(0).secret
        steps.append(_Step(d, f"pid:{d.pid}", dst, label, secret))
    # memory reads of secrets are steps too (no system call: drawn dashed)
    for h in (k.flow.hops if k.flow else []):
        if h.syscall == "mem_read":
            procs.setdefault(h.pid, f"{h.comm}[{h.pid}]")
            d = Decision(h.t, h.pid, h.pid, h.comm, "mem_read", (), "ok", "")
            steps.append(_Step(d, f"pid:{h.pid}", h.obj, "mem_read", h.secret))
    steps.sort(key=lambda s: s.d.t)
    total = len(steps)
    if total > MAX_STEPS:  # keep every denial and secret, then the earliest others
        keep = [s for s in steps if s.d.denied or s.secret]
        rest = [s for s in steps if not (s.d.denied or s.secret)]
        steps = sorted(keep + rest[: max(0, MAX_STEPS - len(keep))], key=lambda s: s.d.t)
    parts = [f"pid:{pid}" for pid in procs]
    for s in steps:
        for p in (s.src, s.dst):
            if p is not None and p not in parts:
                parts.append(p)
    names = {f"pid:{pid}": label for pid, label in procs.items()}
    for p in parts:  # a process seen only as a target (e.g. a signalled daemon)
        if p.startswith("pid:") and p not in names:
            task = result.context.kernel.processes.get(int(p[4:]))
            names[p] = f"{task.comm if task else '?'}[{p[4:]}]"
    return ([names.get(p, p) for p in parts], _renamed(steps, parts, names), total,
            set(names.values()))


def _renamed(steps: list[_Step], parts: list[str], names: dict[str, str]) -> list[_Step]:
    for s in steps:
        s.src = names.get(s.src, s.src)
        s.dst = names.get(s.dst, s.dst) if s.dst is not None else None
    return steps


def _svg(parts: list[str], steps: list[_Step], procs: set[str]) -> str:
    x = {p: LEFT + COL_W // 2 + i * COL_W for i, p in enumerate(parts)}
    width = LEFT + COL_W * max(1, len(parts)) + 420  # room for the rule of the last column
    height = TOP + ROW_H * (len(steps) + 1) + 20
    e = html.escape
    out = [f'<svg id="sequence" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="sequence diagram of the run">',
           '<defs><marker id="arrow" markerWidth="9" markerHeight="9" refX="8" refY="4" '
           'markerUnits="userSpaceOnUse" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
           '<marker id="arrow-denied" markerWidth="9" markerHeight="9" refX="8" refY="4" '
           'markerUnits="userSpaceOnUse" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#c62828"/></marker></defs>']
    for p in parts:
        kind = "process" if p in procs else "object"
        cx = x[p]
        out.append(f'<g class="lifeline {kind}" data-participant="{e(p)}">'
                   f'<rect x="{cx - COL_W // 2 + 6}" y="10" width="{COL_W - 12}" height="30" '
                   f'rx="{4 if kind == "process" else 12}" class="head-{kind}"/>'
                   f'<text x="{cx}" y="30" text-anchor="middle" class="head">'
                   f'{e(_clip(p, 21))}</text><title>{e(p)}</title>'
                   f'<line x1="{cx}" y1="40" x2="{cx}" y2="{height - 10}" class="life"/></g>')
    for i, s in enumerate(steps):
        y = TOP + ROW_H * i
        d = s.d
        cls = "step"
        if d.denied:
            cls += " denied"
        elif d.refused_inside:
            cls += " partial"
        if s.secret:
            cls += " secret"
        tip = d.line() + (f" [carries secret {s.secret}]" if s.secret else "")
        x1 = x[s.src]
        out.append(f'<g class="{cls}" data-by="{e(d.by)}" data-syscall="{e(d.syscall)}">'
                   f'<title>{e(tip)}</title>'
                   f'<text x="8" y="{y + 4}" class="time">{d.t * 1000:.3f} ms</text>')
        if s.dst is None or s.dst == s.src:
            out.append(f'<circle cx="{x1}" cy="{y}" r="5" class="dot"/>'
                       f'<text x="{x1 + 10}" y="{y - 4}" class="label">{e(s.label)}</text>')
        else:
            x2 = x[s.dst]
            marker = "arrow-denied" if d.denied else "arrow"
            dash = ' stroke-dasharray="4 3"' if d.syscall == "mem_read" else ""
            out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" class="arrow"{dash} '
                       f'marker-end="url(#{marker})"/>')
            tx = min(x1, x2) + 6
            out.append(f'<text x="{tx}" y="{y - 5}" class="label">{e(s.label)}</text>')
            if d.denied:
                out.append(f'<text x="{x2 - 14 if x2 > x1 else x2 + 4}" y="{y + 5}" '
                           f'class="cross">\u2716</text>')
        if d.denied or d.refused_inside:
            why = f"{d.by}: {d.rule}" if d.rule else d.by
            out.append(f'<text x="{max(x1, x[s.dst] if s.dst else x1) + 14}" y="{y + 10}" '
                       f'class="why">{e(_clip(why, 110))}</text>')
        if s.secret:
            out.append(f'<text x="{x1 - 22}" y="{y + 5}" class="key">\u25c6</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.summary{color:#555;margin-bottom:8px} .verdict{font-weight:bold;padding:2px 8px;border-radius:4px}
.ok{background:#e8f5e9;color:#1b5e20} .bad{background:#ffebee;color:#b71c1c}
.diagram{overflow-x:auto;border:1px solid #ddd;padding:4px;background:#fcfcfc}
svg text{font-size:11px} .head{font-weight:bold;font-size:12px}
.head-process{fill:#e3f2fd;stroke:#1565c0} .head-object{fill:#fff8e1;stroke:#f9a825}
.life{stroke:#bbb;stroke-dasharray:3 3}
.arrow{stroke:#555;stroke-width:1.3} .step.denied .arrow{stroke:#c62828;stroke-width:2.2}
.step.partial .arrow{stroke:#ef6c00;stroke-width:2}
.step.secret .arrow{stroke:#6a1b9a;stroke-width:3}
.step.denied .label,.why{fill:#c62828;font-weight:bold} .step.partial .why{fill:#ef6c00}
.cross{fill:#c62828;font-size:14px;font-weight:bold} .key{fill:#6a1b9a;font-size:14px}
.time{fill:#777;font-family:monospace} .dot{fill:#555} .step.denied .dot{fill:#c62828}
.legend span{display:inline-block;margin-right:16px} .sw{display:inline-block;width:28px;
height:4px;vertical-align:middle;margin-right:4px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left} pre{background:#f6f6f6;padding:8px;font-size:11px;overflow-x:auto}
.pass{color:#1b5e20;font-weight:bold} .fail{color:#b71c1c;font-weight:bold}
"""


def render(scenario: Scenario, result: RunResult) -> str:
    """The report page as a string."""
    e = html.escape
    k = result.context.kernel
    parts, steps, total, procs = _steps(result)
    denied = [s for s in steps if s.d.denied]
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>kernel-sim: {e(scenario.name)} ({e(result.variant)})</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>{e(scenario.name)} &mdash; {e(result.variant)} ({e(result.mode)})</h1>",
           f"<div class='summary'>{e(scenario.summary)}</div>",
           f"<div>Expectations: <span class='verdict {'ok' if result.ok else 'bad'}' "
           f"id='verdict'>{'all hold' if result.ok else 'FAILED'}</span> &middot; "
           f"{len(denied)} blocked step(s), "
           f"{sum(1 for s in steps if s.d.refused_inside)} partly refused &middot; "
           f"simulated time {k.now * 1000:.3f} ms "
           f"&middot; seed {result.seed}</div>",
           f"<p>{e(scenario.story.split(chr(10) + chr(10))[0])}</p>",
           "<h2>Sequence diagram</h2><div class='legend'>"
           "<span><i class='sw' style='background:#555'></i>allowed</span>"
           "<span><i class='sw' style='background:#c62828'></i>denied (\u2716, with the "
           "deciding module and rule)</span>"
           "<span><i class='sw' style='background:#ef6c00'></i>partly refused</span>"
           "<span><i class='sw' style='background:#6a1b9a'></i>carries a secret "
           "(\u25c6)</span><span>dashed: plain memory read (no system call)</span>"
           "<span>blue boxes: processes &middot; yellow: IPC objects and files</span>"
           "<span>left column: simulated time</span></div>"]
    if total > len(steps):
        out.append(f"<p>Showing {len(steps)} of {total} steps (all denials and secret "
                   "moves kept).</p>")
    out.append(f"<div class='diagram'>{_svg(parts, steps, procs)}</div>")
    out.append("<h2>Blocked steps</h2>")
    if denied:
        out.append("<table id='denials'><tr><th>time</th><th>process</th><th>call</th>"
                   "<th>errno</th><th>decided by</th><th>rule</th></tr>")
        for s in denied:
            d = s.d
            out.append(f"<tr class='denial'><td>{d.t * 1000:.3f} ms</td><td>{e(s.src)}</td>"
                       f"<td>{e(d.syscall)}</td><td>{e(d.outcome)}</td><td>{e(d.by)}</td>"
                       f"<td>{e(d.rule)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>None: every security check allowed what was tried.</p>")
    left = unattributed_avcs(result)
    if left:
        out.append("<p>AVC denials while calls went on:</p><ul>")
        out.extend(f"<li>{e(avc_rule(line))}</li>" for line in left)
        out.append("</ul>")
    out.append("<h2>Expectations</h2><table id='checks'><tr><th></th><th>expected</th>"
               "<th>seen</th></tr>")
    for c in result.checks:
        out.append(f"<tr><td class='{'pass' if c.ok else 'fail'}'>"
                   f"{'PASS' if c.ok else 'FAIL'}</td><td>{e(c.what)}</td>"
                   f"<td>{e(_clip(c.seen, 200))}</td></tr>")
    out.append("</table><h2>Information flow</h2>")
    out.append(_flows(result))
    out.append("<h2>Audit log</h2>")
    audit = k.audit_log()
    out.append(f"<pre id='audit'>{e(chr(10).join(audit)) or '(empty: no MAC module)'}</pre>")
    out.append("<h2>AVC statistics</h2>")
    stats = k.avc_stats()
    if stats:
        out.append("<table id='avc-stats'>" + "".join(
            f"<tr><th>{e(str(key))}</th><td>{e(str(v))}</td></tr>" for key, v in stats.items())
            + "</table>")
    else:
        out.append("<p>No AVC (DAC only).</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _flows(result: RunResult) -> str:
    e = html.escape
    k = result.context.kernel
    if k.flow is None or not k.flow.secrets:
        return "<p>No secrets declared.</p>"
    rows = ["<table id='flows'><tr><th>secret</th><th>owner</th><th>reached</th>"
            "<th>path</th></tr>"]
    for s in k.flow.secrets:
        holders = [c for c in k.flow.holders(s.name) if c != s.owner]
        if not holders:
            rows.append(f"<tr><td>{e(s.name)}</td><td>{e(s.owner)}</td>"
                        "<td class='pass'>nobody else</td><td></td></tr>")
        for comm in holders:
            path = "<br>".join(e(h.describe()) for h in k.flow.path(s.name, comm))
            rows.append(f"<tr class='leak'><td>{e(s.name)}</td><td>{e(s.owner)}</td>"
                        f"<td class='fail'>{e(comm)}</td><td>{path}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def write_report(path: str, scenario: Scenario, result: RunResult) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render(scenario, result))
