"""``kernel-sim audit2why``: each reason audit2why knows, in its words."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import CLIENT, CONTENT, SECRET, SOURCES, WEB, Run, avc

ROOT_CLIENT = "root:user_r:client_t:s0"
ROOT_WEB = "root:system_r:web_t:s0"


def why(cli: Run, tmp_path: Path, *lines: str, json_out: bool = False) -> str:
    log = tmp_path / "audit.log"
    log.write_text("".join(line + "\n" for line in lines))
    rc, out, err = cli("audit2why", "-i", str(log), "-p", *SOURCES,
                       *(["--json"] if json_out else []))
    assert rc == 0, err
    return out


def test_missing_te_rule(cli: Run, tmp_path: Path) -> None:
    line = avc("write", WEB, SECRET, "file")
    assert why(cli, tmp_path, line) == (
        f"{line}\n\n\tWas caused by:\n\t\tMissing type enforcement (TE) allow rule.\n\n"
        "\t\tYou can use audit2allow to generate a loadable module to allow this access.\n\n"
    )


def test_boolean_name_and_value(cli: Run, tmp_path: Path) -> None:
    out = why(cli, tmp_path, avc("read", WEB, CONTENT, "file"))
    assert "\tThe boolean web_read_content was set incorrectly. \n" in out
    assert "\tAllow access by executing:\n\t# setsebool -P web_read_content 1\n" in out


def test_constraint_text(cli: Run, tmp_path: Path) -> None:
    out = why(cli, tmp_path, avc("read", CLIENT, CONTENT + ":c1", "file"))
    assert "#Constraint rule:\n\n#\tmlsconstrain file { read" in out
    assert "l1 dom l2 -Fail-" in out  # the security server's constraint text
    assert "#\tPossible cause is the source level (s0) and target level (s0:c1) are different." \
        in out


def test_rbac_and_dontaudit(cli: Run, tmp_path: Path) -> None:
    out = why(cli, tmp_path, avc("transition", ROOT_CLIENT, ROOT_WEB, "process"),
              avc("getattr", WEB, SECRET, "file"))
    rbac, dontaudit = out.split("type=AVC")[1:]
    assert "\t\tMissing role allow rule.\n\n\t\tAdd an allow rule for the role pair.\n" in rbac
    assert "\t\tUnknown - should be dontaudit'd by active policy" in dontaudit


def test_json(cli: Run, tmp_path: Path) -> None:
    out = why(cli, tmp_path, avc("read", WEB, CONTENT, "file", serial=5),
              avc("read", WEB, WEB, "file"), json_out=True)
    doc = json.loads(out)
    assert [d["reason"] for d in doc] == ["BOOLEAN", "TERULE"]
    assert doc[0]["booleans"] == [{"name": "web_read_content", "value": True}]
    assert doc[0]["serial"] == 5 and doc[0]["perms"] == ["read"]


def test_unknown_type_is_exit_2(cli: Run, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc("read", "system_u:system_r:ghost_t:s0", SECRET, "file") + "\n")
    rc, out, err = cli("audit2why", "-i", str(log), "-p", *SOURCES)
    assert rc == 2 and out == ""
    assert err.startswith(f"kernel-sim audit2why: {log}:1: ") and "ghost_t" in err
    assert "Traceback" not in err


def test_malformed_and_unreadable_logs_are_exit_2(cli: Run, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("type=AVC msg=audit(1.0:1): avc:  denied  { read } for pid=1\n")
    rc, _, err = cli("audit2why", "-i", str(log), "-p", *SOURCES)
    assert rc == 2 and "audit.log:1: malformed AVC record" in err
    rc, _, err = cli("audit2why", "-i", str(tmp_path / "none.log"), "-p", *SOURCES)
    assert rc == 2 and "cannot read audit log" in err
    rc, _, err = cli("audit2why", "-i", str(log))
    assert rc == 2 and "--policy" in err  # argparse: the policy is required
