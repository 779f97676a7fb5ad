"""The HTML report: self-contained, and rendered by a real headless Chromium with the
diagram, a lifeline per process and the denied steps marked (screenshots kept in build/)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kernel_sim.cli import main
from scenarios import all_scenarios, get
from scenarios.report import render
from scenarios.runner import decisions
from tests.oracles import require

BUILD = Path(__file__).resolve().parents[2] / "build"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    require("chromium")  # Debian packages chromium and chromium-driver (.ci/run)
    exe = shutil.which("chromium")
    assert exe is not None
    return exe


def _render_in_chromium(html_file: Path, shot: Path) -> str:
    """``chromium --headless --screenshot --dump-dom``: the DOM after rendering."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--screenshot={shot}", "--window-size=1400,1000", "--dump-dom",
               html_file.as_uri()]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_report_is_self_contained() -> None:
    sc = get("unix-socket-impersonation")
    page = render(sc, sc.run(trace=True, options={"variant": "hardened"}))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched
    assert "<script" not in page
    assert 'id="sequence"' in page and "class=\"step denied\"" in page


@pytest.mark.interop
@pytest.mark.parametrize("name,variant", [("tcp-labeled-ports", "hardened"),
                                          ("fd-revocation-on-exec", "vulnerable")])
def test_report_renders_in_headless_chromium(name: str, variant: str) -> None:
    _chromium()
    BUILD.mkdir(exist_ok=True)
    html_file = BUILD / f"report-{name}-{variant}.html"
    assert main(["run", name, "--variant", variant, "--report", str(html_file)]) == 0
    shot = BUILD / f"report-{name}-{variant}.png"
    dom = _render_in_chromium(html_file, shot)
    assert shot.exists() and shot.stat().st_size > 10_000
    assert '<svg id="sequence"' in dom
    sc = get(name)
    result = sc.run(trace=True, options={"variant": variant})
    k = result.context.kernel
    lifelines = set(re.findall(r'class="lifeline process" data-participant="([^"]+)"', dom))
    for pid, proc in k.processes.items():
        if pid != 1:
            assert any(lf.endswith(f"[{pid}]") for lf in lifelines), (proc.comm, lifelines)
    denied_steps = re.findall(r'<g class="step denied[^"]*" data-by="([^"]+)"', dom)

    expected = [d for d in decisions(result) if d.denied and d.comm != "init"]
    assert len(denied_steps) == len(expected)
    assert all(by == "selinux" or by.startswith("DAC") for by in denied_steps)
    if expected:
        assert "\u2716" in dom and "denied {" in dom  # the cross and the rule are shown
    assert 'id="audit"' in dom and 'id="flows"' in dom and 'id="checks"' in dom


@pytest.mark.parametrize("variant", ["vulnerable", "hardened"])
def test_every_scenario_renders_with_a_lifeline_per_process(variant: str) -> None:
    for name, sc in all_scenarios().items():
        if sc.binary_policy is not None and not Path(sc.binary_policy).exists():
            continue
        result = sc.run(trace=True, options={"variant": variant})
        page = render(sc, result)
        lifelines = set(re.findall(r'class="lifeline process" data-participant="([^"]+)"',
                                   page))
        tracer = result.context.kernel.tracer
        assert tracer is not None
        made_calls = {ev["pid"] for ev in tracer.events if "syscall" in ev and ev["pid"] != 1}
        for pid in made_calls:
            assert any(lf.endswith(f"[{pid}]") for lf in lifelines), (name, pid, lifelines)
        assert page.count('class="step denied') == sum(
            1 for d in decisions(result) if d.denied and d.comm != "init"), name
