"""``kernel-sim policy compute-av``: the decision in permission names."""

from __future__ import annotations

import json

from .conftest import CLIENT, SECRET, SOURCES, WEB, Run


def test_allowed_and_audit_sets(cli: Run) -> None:
    rc, out, err = cli("policy", "compute-av", *SOURCES, WEB, CLIENT, "unix_stream_socket")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "allowed: { connectto }"
    assert lines[1] == "auditallow: { connectto }"
    assert lines[2].startswith("auditdeny: { ") and " connectto " in lines[2]
    assert lines[3] == "permissive: 0"


def test_dontaudit_removes_from_auditdeny_and_permissive_flag(cli: Run) -> None:
    rc, out, _ = cli("policy", "compute-av", *SOURCES, WEB, SECRET, "file", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["allowed"] == [] and doc["permissive"] is False
    assert "getattr" not in doc["auditdeny"] and "read" in doc["auditdeny"]
    debug = "system_u:system_r:debug_t:s0"
    rc, out, _ = cli("policy", "compute-av", *SOURCES, debug, SECRET, "file", "--json")
    assert json.loads(out)["permissive"] is True


def test_bad_context_and_class_are_exit_2(cli: Run) -> None:
    rc, out, err = cli("policy", "compute-av", *SOURCES, "system_u:system_r:nosuch_t:s0",
                       SECRET, "file")
    assert rc == 2 and out == "" and "nosuch_t" in err and "Traceback" not in err
    rc, _, err = cli("policy", "compute-av", *SOURCES, WEB, SECRET, "nosuchclass")
    assert rc == 2 and "nosuchclass" in err
