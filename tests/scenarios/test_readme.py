"""The README's scenario list is complete and its "Writing a scenario" example runs."""

from __future__ import annotations

import re
from pathlib import Path

from scenarios import all_scenarios, load

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_scenario_is_listed_once() -> None:
    section = README.split("## Scenarios", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)
    assert sorted(listed) == sorted(all_scenarios())


def test_writing_a_scenario_example_is_short_and_works(tmp_path: Path) -> None:
    section = README.split("## Writing a scenario", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert len(example.splitlines()) < 30
    (tmp_path / "policies").symlink_to(ROOT / "scenarios" / "policies")
    path = tmp_path / "my_queue.toml"
    path.write_text(example)
    sc = load(path)
    for variant in ("vulnerable", "hardened"):
        result = sc.run(options={"variant": variant})
        assert result.ok, [c for c in result.checks if not c.ok]
