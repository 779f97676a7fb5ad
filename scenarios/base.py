"""What a scenario is: a named set-up of programs and objects, run on a fresh kernel, with
expectations checked afterwards.

A scenario module defines ``SCENARIO = Scenario(...)``.  Its ``setup(k, ctx)`` installs files
and spawns processes; programs report what happened with ``ctx.note(event, **fields)`` (e.g.
"the attacker read the secret").  ``expect(ctx)`` returns :class:`Check` results; a run
passes exactly when every check holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from kernel_sim import Kernel
from lsm.module import LsmModule

_HERE = Path(__file__).parent


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
    #: "dac" (no MAC module), "enforcing", "permissive" or "disabled" (SELinux off)
    mode: str = "dac"
    notes: list[dict[str, Any]] = field(factory=list)
    pids: dict[str, int] = field(factory=dict)

    def note(self, event: str, **fields: Any) -> None:
        self.notes.append({"t": round(self.kernel.now, 9), "event": event, **fields})

    def find(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [n for n in self.notes if n["event"] == event
                and all(n.get(k) == v for k, v in match.items())]

    def status(self, name: str) -> int | None:
        return self.kernel.exit_status(self.pids[name])

    def avc(self, denied: bool = True, **fields: str) -> list[str]:
        """AVC lines of the audit log whose fields match (e.g. ``tclass="fifo_file"``)."""
        word = "denied" if denied else "granted"
        out = []
        for line in self.kernel.audit_log():
            if "type=AVC" not in line or f"avc:  {word}" not in line:
                continue
            if all(f"{k}={v}" in line or f'{k}="{v}"' in line for k, v in fields.items()):
                out.append(line)
        return out

    @property
    def selinux(self) -> Any:
        """The running SELinux module, or None under DAC only."""
        return self.kernel.security.module("selinux")

    def at(self, when: float, action: Callable[[], None], what: str = "") -> None:
        """Run an administrator's action (setsebool, setenforce, load_policy) at sim time."""
        env = self.kernel.env

        def admin() -> Any:
            yield env.timeout(max(0.0, when - env.now))
            action()
            if what:
                self.note("admin", action=what)

        env.process(admin())

    @property
    def mac(self) -> bool:
        """Whether an SELinux module decides (enforcing or permissive)."""
        return self.mode in ("enforcing", "permissive")


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
    #: policy files (relative to scenarios/) used when SELinux is on and --policy is not given
    policy: Sequence[str] = ()
    #: the mode a plain ``kernel-sim run NAME`` uses
    default_mode: str = "dac"
    #: a distribution's binary policy the scenario runs on instead of base + fragments
    binary_policy: str | None = None

    def modules(self, mode: str, policy_files: Sequence[str] = ()) -> list[LsmModule]:
        """The LSM stack for ``mode``: nothing for DAC, else SELinux with the policy."""
        if mode in ("dac", "disabled"):
            return []
        from lsm.selinux import SELinux, load_policy

        files = list(policy_files) or self.default_policy()
        return [SELinux(load_policy(*files), mode=mode)]

    def default_policy(self) -> list[str]:
        """The scenario's own policy: the base plus its fragments, or a binary policy."""
        from lsm.selinux import BASE_CONF

        if self.binary_policy is not None:
            if not Path(self.binary_policy).exists():
                raise FileNotFoundError(
                    f"scenario {self.name} runs on {self.binary_policy}, which is not "
                    "installed (Debian package selinux-policy-default)")
            return [self.binary_policy]
        return [str(BASE_CONF)] + [str(_HERE / f) for f in self.policy]

    def run(self, seed: int = 0, trace: bool = False,
            options: dict[str, Any] | None = None) -> RunResult:
        options = options or {}
        mode = options.get("mode") or self.default_mode
        k = Kernel(lsms=self.modules(mode, options.get("policy") or ()), seed=seed, trace=trace)
        ctx = Context(k, mode)
        self.setup(k, ctx)
        k.run()
        return RunResult(self.name, seed, self.expect(ctx), ctx)
