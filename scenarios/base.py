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
from kernel_sim.flow import FlowTracker
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
    #: the variant being run ("vulnerable", "hardened", or a mode name)
    variant: str = ""
    #: declared secrets by name (their bytes), followed by ``kernel.flow``
    secrets: dict[str, bytes] = field(factory=dict)

    def secret(self, name: str) -> bytes:
        return self.secrets[name]

    def pid(self, name: str) -> int:
        return self.pids[name]

    @property
    def flow(self) -> FlowTracker:
        assert self.kernel.flow is not None
        return self.kernel.flow

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


@frozen
class Variant:
    """How one side of a scenario runs: the mode and, optionally, its own policy."""

    name: str
    mode: str
    #: policy fragments (relative to the scenario's folder); None: the scenario's own
    policy: tuple[str, ...] | None = None
    booleans: tuple[tuple[str, bool], ...] = ()


@define(slots=True)
class RunResult:
    scenario: str
    seed: int
    checks: list[Check]
    context: Context
    variant: str = ""
    mode: str = "dac"

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
    #: named variants; a Python scenario gets vulnerable = DAC, hardened = enforcing
    variants: dict[str, Variant] = field(factory=dict)
    #: secrets followed by the flow tracker: name -> (bytes, owner comm)
    secrets: dict[str, tuple[bytes, str]] = field(factory=dict)
    #: where the scenario was defined (the .toml or .py file)
    source: str = ""
    #: policy fragments are relative to this folder
    base_dir: Path = _HERE
    #: expectations read the trace (syscall outcomes), so every run traces
    needs_trace: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.variants:
            self.variants = {"vulnerable": Variant("vulnerable", "dac"),
                             "hardened": Variant("hardened", "enforcing")}

    def resolve(self, variant: str | None, mode: str | None) -> Variant:
        """The variant a run uses: named, else the one running in ``mode``, else the
        default mode's; a mode no variant names runs the hardened policy in that mode."""
        if variant:
            if variant not in self.variants:
                raise ValueError(f"unknown variant {variant!r}; this scenario has "
                                 f"{', '.join(self.variants)}")
            v = self.variants[variant]
            return Variant(v.name, mode or v.mode, v.policy, v.booleans)
        want = mode or self.default_mode
        for v in self.variants.values():
            if v.mode == want:
                return v
        hard = self.variants.get("hardened")
        return Variant(want, want, hard.policy if hard else None, hard.booleans if hard else ())

    def modules(self, mode: str, policy_files: Sequence[str] = (),
                fragments: Sequence[str] | None = None) -> list[LsmModule]:
        """The LSM stack for ``mode``: nothing for DAC, else SELinux with the policy."""
        if mode in ("dac", "disabled"):
            return []
        from lsm.selinux import SELinux, load_policy

        files = list(policy_files) or self.default_policy(fragments)
        return [SELinux(load_policy(*files), mode=mode)]

    def default_policy(self, fragments: Sequence[str] | None = None) -> list[str]:
        """The scenario's own policy: the base plus its fragments, or a binary policy."""
        from lsm.selinux import BASE_CONF

        if self.binary_policy is not None:
            if not Path(self.binary_policy).exists():
                raise FileNotFoundError(
                    f"scenario {self.name} runs on {self.binary_policy}, which is not "
                    "installed (Debian package selinux-policy-default)")
            return [self.binary_policy]
        frags = self.policy if fragments is None else fragments
        return [str(BASE_CONF)] + [str(self.base_dir / f) for f in frags]

    def run(self, seed: int = 0, trace: bool = False,
            options: dict[str, Any] | None = None) -> RunResult:
        """Run on a fresh kernel.  ``options``: ``variant``, ``mode``, ``policy`` (files
        replacing the scenario's policy; without a mode or variant they are enforced)."""
        options = options or {}
        policy_files = options.get("policy") or ()
        mode = options.get("mode")
        if policy_files and mode is None and not options.get("variant"):
            mode = "enforcing"  # a policy handed to a run is meant to apply
        v = self.resolve(options.get("variant"), mode)
        if policy_files and v.mode in ("dac", "disabled"):
            raise ValueError(f"a policy was given but the run is in {v.mode} mode, where no "
                             "policy applies: use --mode enforcing or --mode permissive")
        k = Kernel(lsms=self.modules(v.mode, policy_files, v.policy),
                   seed=seed, trace=trace or self.needs_trace)
        k.flow = FlowTracker(k)
        ctx = Context(k, v.mode, variant=v.name)
        for name, (value, owner) in self.secrets.items():
            k.flow.declare(name, value, owner)
            ctx.secrets[name] = value
        se = ctx.selinux
        if se is not None and v.booleans:
            se.setsebool(dict(v.booleans))
        self.setup(k, ctx)
        progress = options.get("progress")
        if progress is None:
            k.run()
        else:
            _run_with_progress(k, progress)
        return RunResult(self.name, seed, self.expect(ctx), ctx, v.name, v.mode)


def _run_with_progress(k: Kernel, progress: Callable[[float, int], None],
                       every: int = 5000) -> None:
    """``k.run()`` one event at a time, calling ``progress(sim_time, events)`` now and then
    (same events in the same order: the run is identical)."""
    import simpy

    env, n = k.env, 0
    try:
        while True:
            env.step()
            n += 1
            if n % every == 0:
                progress(env.now, n)
    except simpy.core.EmptySchedule:
        pass
    progress(env.now, n)
