"""The lab format: a folder under ``scenarios/labs/content/`` holding

* ``lab.toml``: ``title``, ``order`` (difficulty rank), ``level``, ``summary``, ``objectives``
  (plain words), ``hints`` (revealed on request, in order), optional ``mode``;
* ``world.te``: the lab's fixed types, roles, booleans and neverallow rules (not graded, not
  edited by students);
* ``start.te``: the starting policy the student edits (too loose or too tight);
* ``cases.py``: ``CASES``, a list of :class:`Case` (programs + objects run on a fresh kernel).

Reference solutions live in ``tests/labs/solutions/``, never next to the student material.
Every case runs on its own kernel with base + ``common.te`` + ``world.te`` + the student's
policy.  Programs report with :meth:`CaseCtx.done` (a legitimate goal reached),
:meth:`CaseCtx.breach` (an attack succeeded) and :meth:`CaseCtx.fail` (a step failed).
"""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from kernel_sim import Kernel, SyscallError

__all__ = ["CONTENT", "Case", "CaseCtx", "Lab", "LabError", "all_labs", "get_lab"]

#: the lab material folder
CONTENT = Path(__file__).with_name("content")
#: the policy every lab shares (the ``lab_domain`` attribute and process basics)
COMMON_TE = CONTENT / "common.te"

#: case kinds: legit flows must work, attacks must be blocked, info cases are reported only
KINDS = ("legit", "attack", "info")


class LabError(Exception):
    """Unknown lab or broken lab material."""


@define(slots=True)
class CaseCtx:
    """What a case's programs report, read by the grader afterwards."""

    kernel: Kernel
    goals: list[str] = field(factory=list)
    breaches: list[str] = field(factory=list)
    failures: list[str] = field(factory=list)
    notes: dict[str, Any] = field(factory=dict)

    def done(self, goal: str) -> None:
        self.goals.append(goal)

    def breach(self, what: str) -> None:
        self.breaches.append(what)

    def fail(self, step: str, err: BaseException | int | None = None) -> None:
        if isinstance(err, SyscallError):
            import errno as _errno

            name = _errno.errorcode.get(err.errno or 0, str(err.errno))
            step = f"{step}: {name}"
        elif isinstance(err, int):
            import errno as _errno

            step = f"{step}: {_errno.errorcode.get(err, str(err))}"
        self.failures.append(step)


@frozen
class Case:
    """One run of the lab's world.

    ``legit``: passes when every goal in ``goals`` was reached and nothing failed.
    ``attack``: passes when no breach was reported.  ``info``: reported, never graded.
    Hidden cases (``visible=False``) are graded but their details stay private.
    """

    name: str
    kind: str
    what: str
    setup: Callable[[Kernel, CaseCtx], None]
    goals: tuple[str, ...] = ()
    visible: bool = True
    hint: str = ""
    booleans: tuple[tuple[str, bool], ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LabError(f"case {self.name}: kind must be one of {KINDS}")


@define(slots=True)
class Lab:
    name: str
    title: str
    order: int
    level: str
    summary: str
    objectives: str
    hints: list[str]
    mode: str
    folder: Path
    _cases: list[Case] | None = None

    @property
    def world(self) -> Path:
        return self.folder / "world.te"

    @property
    def start(self) -> Path:
        return self.folder / "start.te"

    @property
    def cases(self) -> list[Case]:
        """The cases, loaded from ``cases.py`` on first use."""
        if self._cases is None:
            path = self.folder / "cases.py"
            spec = importlib.util.spec_from_file_location(f"kernel_sim_lab_{self.name}", path)
            if spec is None or spec.loader is None:
                raise LabError(f"lab {self.name}: cannot load {path}")
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            self._cases = list(mod.CASES)
        return self._cases

    def policy_files(self, student: str | Path) -> list[Path]:
        """Base + common + world + the student's file, in compile order."""
        from lsm.selinux import BASE_CONF

        return [BASE_CONF, COMMON_TE, self.world, Path(student)]

    def show(self) -> str:
        vis = [c for c in self.cases if c.visible]
        hidden = len(self.cases) - len(vis)
        lines = [f"{self.name}: {self.title}  [{self.level}]", "", self.summary.strip(), "",
                 "Objectives:", self.objectives.strip(), "", "Visible checks:"]
        for c in vis:
            lines.append(f"  - [{c.kind}] {c.name}: {c.what}")
        lines += [f"  (+ {hidden} hidden check(s): more legitimate flows and attacks of the "
                  "same family)", "",
                  f"Hints available: {len(self.hints)} (kernel-sim lab check {self.name} "
                  "--policy FILE --hint N)"]
        return "\n".join(lines)


def _load(folder: Path) -> Lab:
    try:
        meta = tomllib.loads((folder / "lab.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LabError(f"{folder}/lab.toml: {e}") from None
    return Lab(folder.name, meta["title"], int(meta["order"]), meta.get("level", ""),
               meta.get("summary", ""), meta.get("objectives", ""), list(meta.get("hints", [])),
               meta.get("mode", "enforcing"), folder)


def all_labs() -> list[Lab]:
    """Every lab, easiest first."""
    labs = [_load(d) for d in sorted(CONTENT.iterdir()) if (d / "lab.toml").exists()]
    return sorted(labs, key=lambda lab: (lab.order, lab.name))


def get_lab(name: str) -> Lab:
    folder = CONTENT / name
    if not (folder / "lab.toml").exists():
        known = ", ".join(lab.name for lab in all_labs())
        raise LabError(f"unknown lab {name!r}; labs: {known}")
    return _load(folder)
