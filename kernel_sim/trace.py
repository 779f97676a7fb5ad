"""The JSON-lines trace: one event per system call and per LSM hook decision.

Only built when tracing is on; with it off the syscall path never reaches this module.
Values are rendered deterministically (no object ids), so the same scenario and seed give
byte-identical traces.
"""

from __future__ import annotations

import errno
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_sim.kernel import Kernel
    from kernel_sim.task import Task


def render(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, deterministic rendering of a syscall argument or result."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        text = data[:64].decode("latin-1")
        return text + ("..." if len(data) > 64 else "")
    if depth < 3 and isinstance(value, list | tuple):
        return [render(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): render(v, depth + 1) for k, v in value.items()}
    if depth < 3 and isinstance(value, set | frozenset):
        return sorted(render(v, depth + 1) for v in value)
    name = getattr(value, "__qualname__", None)
    if name is not None:
        return name
    fields = getattr(value, "__attrs_attrs__", None)
    if fields is not None and depth < 3:
        return {f.name: render(getattr(value, f.name), depth + 1) for f in fields}
    return type(value).__name__


class Tracer:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.events: list[dict[str, Any]] = []

    def _now(self) -> float:
        return round(self.kernel.env.now, 9)

    def enter(self, task: Task, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        return None

    def exit(self, task: Task, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             result: Any, err: int) -> None:
        ev: dict[str, Any] = {"t": self._now(), "pid": task.pid, "tid": task.tid,
                              "comm": task.comm, "syscall": name, "args": render(list(args))}
        if kwargs:
            ev["kwargs"] = render(kwargs)
        if err:
            ev["errno"] = errno.errorcode.get(err, str(err))
        else:
            ev["result"] = render(result)
        self.events.append(ev)

    def hook(self, name: str, args: tuple[Any, ...], rc: int, module: str | None) -> None:
        task = self.kernel.security.current
        ev: dict[str, Any] = {"t": self._now(), "hook": name, "result": rc}
        if task is not None:
            ev["pid"], ev["tid"] = task.pid, task.tid
            ev["in"] = task.in_syscall
        if module is not None:
            ev["module"] = module
        self.events.append(ev)

    def lines(self) -> list[str]:
        return [json.dumps(ev, separators=(",", ":")) for ev in self.events]

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for line in self.lines():
                fh.write(line + "\n")
