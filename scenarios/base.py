"""What a scenario is: a named set-up of programs and objects, run on a fresh kernel, with
expectations checked afterwards.

A scenario module defines ``SCENARIO = Scenario(...)``.  Its ``setup(k, ctx)`` installs files
and spawns processes; programs report what happened with ``ctx.note(event, **fields)`` (e.g.
"the attacker read the secret").  ``expect(ctx)`` returns :class:`Check` results; a run
passes exactly when every check holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from attrs import define, field, frozen

from kernel_sim import Kernel
from lsm.module import LsmModule


@frozen
class Check:
    """One expectation: what was expected, whether it held, and what was seen."""

    what: str
    ok: bool
    seen: str = ""


@define(slots=True)
class Context:
    """Shared notebook of a run: programs write notes, expectations read them."""

    kernel: Kernel
    notes: list[dict[str, Any]] = field(factory=list)
    pids: dict[str, int] = field(factory=dict)

    def note(self, event: str, **fields: Any) -> None:
        self.notes.append({"t": round(self.kernel.now, 9), "event": event, **fields})

    def find(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [n for n in self.notes if n["event"] == event
                and all(n.get(k) == v for k, v in match.items())]

    def status(self, name: str) -> int | None:
        return self.kernel.exit_status(self.pids[name])


@define(slots=True)
class RunResult:
    scenario: str
    seed: int
    checks: list[Check]
    context: Context

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


@define(slots=True)
class Scenario:
    name: str
    summary: str
    primitives: Sequence[str]
    story: str
    setup: Callable[[Kernel, Context], None]
    expect: Callable[[Context], list[Check]]
    #: builds the LSM modules for a run (None: DAC and capabilities only)
    lsms: Callable[[dict[str, Any]], list[LsmModule]] | None = None

    def run(self, seed: int = 0, trace: bool = False,
            options: dict[str, Any] | None = None) -> RunResult:
        modules = self.lsms(options or {}) if self.lsms is not None else []
        k = Kernel(lsms=modules, seed=seed, trace=trace)
        ctx = Context(k)
        self.setup(k, ctx)
        k.run()
        return RunResult(self.name, seed, self.expect(ctx), ctx)
