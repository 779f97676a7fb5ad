"""The scenario library: attack/defense stories run on the simulated kernel."""

from __future__ import annotations

import importlib
import pkgutil

from scenarios.base import Check, Context, RunResult, Scenario

__all__ = ["Check", "Context", "RunResult", "Scenario", "all_scenarios", "get"]


def all_scenarios() -> dict[str, Scenario]:
    """Every module under ``scenarios/`` that defines ``SCENARIO``, by name."""
    found: dict[str, Scenario] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in ("base", "programs"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        sc = getattr(mod, "SCENARIO", None)
        if isinstance(sc, Scenario):
            found[sc.name] = sc
    return found


def get(name: str) -> Scenario:
    scenarios = all_scenarios()
    if name not in scenarios:
        known = ", ".join(sorted(scenarios))
        raise KeyError(f"unknown scenario {name!r}; known: {known}")
    return scenarios[name]
