"""The scenario library: attack/defense stories run on the simulated kernel."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from scenarios.base import Check, Context, RunResult, Scenario, Variant
from scenarios.spec import ScenarioFormatError, load

__all__ = ["Check", "Context", "RunResult", "Scenario", "ScenarioFormatError", "Variant",
           "all_scenarios", "get", "load"]


_CACHE: dict[str, Scenario] = {}

#: modules of this package that are machinery, not scenarios
_NOT_SCENARIOS = {"base", "programs", "spec", "runner", "report", "story", "labs"}


def all_scenarios() -> dict[str, Scenario]:
    """Every ``scenarios/*.toml`` file and every module defining ``SCENARIO``, by name."""
    if _CACHE:
        return dict(_CACHE)
    found: dict[str, Scenario] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in _NOT_SCENARIOS:
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        sc = getattr(mod, "SCENARIO", None)
        if isinstance(sc, Scenario):
            sc.source = sc.source or str(getattr(mod, "__file__", ""))
            found[sc.name] = sc
    for path in sorted(Path(__path__[0]).glob("*.toml")):
        sc = load(path)
        if sc.name in found:
            raise ScenarioFormatError(path, "name", f"expected a unique name; {sc.name} is "
                                                    f"also defined in {found[sc.name].source}")
        found[sc.name] = sc
    _CACHE.update(dict(sorted(found.items())))
    return dict(_CACHE)


def get(name: str) -> Scenario:
    scenarios = all_scenarios()
    if name not in scenarios:
        known = ", ".join(sorted(scenarios))
        raise KeyError(f"unknown scenario {name!r}; known: {known}")
    return scenarios[name]
