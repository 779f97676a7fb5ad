"""``kernel-sim policy info``: seinfo's statistics for source and binary policies."""

from __future__ import annotations

import json
from pathlib import Path

from lsm.selinux.tools.info import STAT_ORDER, policy_stats, source_neverallows

from .conftest import SOURCES, TOOLS_TE, Run


def test_counts_of_the_tools_policy(tools_policy: object) -> None:
    stats = policy_stats(tools_policy.policydb)  # type: ignore[attr-defined]
    assert [k for k, _ in STAT_ORDER] == list(stats)
    # values checked against seinfo on the checkpolicy-built binary (see test_interop.py)
    assert stats["booleans"] == 3 and stats["cond_exprs"] == 3
    assert stats["permissives"] == 1 and stats["typebounds"] == 1
    assert stats["type_change"] == 1 and stats["type_member"] == 1
    # web_t -> web_cgi_t, one in the web_log conditional, one named transition
    assert stats["type_trans"] == 3
    assert stats["auditallow"] == 1
    assert stats["neverallow"] == 0  # only the CLI adds source neverallows
    assert stats["initial_sids"] == 27 and stats["polcap"] == 3


def test_source_neverallows_are_counted(cli: Run) -> None:
    assert len(source_neverallows([TOOLS_TE])) == 2
    rc, out, err = cli("policy", "info", *SOURCES, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["binary"] is False and doc["mls"] is True
    assert doc["stats"]["neverallow"] == 2


def test_human_layout_is_seinfos(cli: Run) -> None:
    rc, out, _ = cli("policy", "info", *SOURCES)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == f"Statistics for policy file: {' '.join(SOURCES)}"
    assert lines[1] == "Policy Version:             33 (MLS enabled)"
    assert lines[3] == "Handle unknown classes:     deny"
    assert lines[4].startswith("  Classes:              97    Permissions:         244")
    assert len(lines) == 4 + len(STAT_ORDER) // 2


def test_unreadable_policy_is_exit_2(cli: Run, tmp_path: Path) -> None:
    rc, out, err = cli("policy", "info", str(tmp_path / "nope.conf"))
    assert rc == 2 and out == ""
    assert err.startswith("kernel-sim policy info: ") and "nope.conf" in err
    assert "Traceback" not in err


def test_syntax_error_is_exit_2(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.te"
    bad.write_text("type x_t\nallow x_t;\n")
    rc, _, err = cli("policy", "info", SOURCES[0], str(bad))
    assert rc == 2 and "bad.te" in err and "Traceback" not in err
