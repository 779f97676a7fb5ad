"""``kernel-sim policy search``: sesearch's rule text and default (indirect) matching."""

from __future__ import annotations

import json

from lsm.selinux.ss import policydb as P
from lsm.selinux.tools.search import cond_text

from .conftest import SOURCES, Run


def search(cli: Run, *args: str) -> list[str]:
    rc, out, err = cli("policy", "search", *SOURCES, *args)
    assert rc == 0, err
    return out.splitlines()


def test_allow_rules_with_conditional_suffix(cli: Run) -> None:
    assert search(cli, "--allow", "-s", "web_t", "-t", "web_content_t") == [
        "allow web_t web_content_t:dir { getattr search };",
        "allow web_t web_content_t:file ioctl;",
        "allow web_t web_content_t:file { getattr open read }; [ web_read_content ]:True",
    ]


def test_xperm_rules_print_command_ranges_and_a_counts_them_as_allow(cli: Run) -> None:
    assert search(cli, "-A", "-s", "web_t", "-t", "web_content_t", "-c", "file") == [
        "allow web_t web_content_t:file ioctl;",
        "allow web_t web_content_t:file { getattr open read }; [ web_read_content ]:True",
        "allowxperm web_t web_content_t:file ioctl 0x8900-0x89ff;",
        "allowxperm web_t web_content_t:file ioctl { 0x5401-0x5402 0x5410 };",
    ]
    assert search(cli, "--dontauditxperm", "--auditallowxperm") == [
        "auditallowxperm web_t web_content_t:file ioctl 0x5401;",
        "dontauditxperm web_domain web_content_t:file ioctl 0x5404;",
    ]


def test_false_branch_and_single_permission(cli: Run) -> None:
    assert search(cli, "--dontaudit", "-s", "web_t", "-t", "web_content_t") == [
        "dontaudit web_t web_content_t:file read; [ web_read_content ]:False",
    ]


def test_source_type_matches_rules_on_its_attributes(cli: Run) -> None:
    # web_t is in web_domain: the attribute rule matches a query for the type ...
    assert "dontaudit web_domain etc_t:dir write;" in search(cli, "--dontaudit", "-s", "web_t")
    # ... and a query for the attribute matches rules written for its member types
    rules = search(cli, "-A", "-s", "web_domain", "-c", "process", "-p", "transition")
    assert rules == ["allow web_t web_cgi_t:process transition;"]


def test_type_transitions_named_and_conditional(cli: Run) -> None:
    assert search(cli, "-T", "-s", "web_t", "-t", "tmp_t") == [
        "type_transition web_t tmp_t:file web_log_t access.log;",
        "type_transition web_t tmp_t:file web_log_t; [ web_log ]:True",
    ]
    assert search(cli, "--type_change", "--type_member", "-s", "web_t") == [
        "type_change web_t web_content_t:file web_log_t;",
        "type_member web_t tmp_t:dir web_content_t;",
    ]


def test_boolean_and_permission_filters(cli: Run) -> None:
    assert search(cli, "-A", "-b", "web_debug") == [
        "allow web_t debug_t:process signal; [ ! web_log && web_debug ]:True",
    ]
    assert search(cli, "-A", "-s", "web_t", "-c", "file", "-p", "append,entrypoint") == [
        "allow web_t web_exec_t:file { entrypoint execute getattr map open read };",
        "allow web_t web_log_t:file { append open }; [ web_log ]:True",
    ]


def test_json_output(cli: Run) -> None:
    rc, out, _ = cli("policy", "search", *SOURCES, "--auditallow", "--json")
    assert rc == 0
    assert json.loads(out) == {"rules": ["auditallow web_t client_t:unix_stream_socket connectto;"]}


def test_cond_text_follows_setools_operand_order() -> None:
    db = P.PolicyDB()
    for i, name in enumerate(("a", "b", "c"), 1):
        db.bools.add(name, i, P.BoolDatum(name, i))
    b = [P.CondExpr(P.COND_BOOL, i) for i in (1, 2, 3)]
    and_, or_ = P.CondExpr(P.COND_AND), P.CondExpr(P.COND_OR)
    assert cond_text(db, (b[0], b[1], and_)) == "b && a"
    assert cond_text(db, (b[0], b[1], and_, b[2], and_)) == "( c && b && a )"
    # setools parenthesises by the previous operator only (its quirk, kept)
    assert cond_text(db, (b[0], b[1], or_, b[2], and_)) == "( c && b || a )"
    assert cond_text(db, (b[0], b[1], or_, P.CondExpr(P.COND_NOT))) == "! ( b || a )"


def test_errors_are_exit_2(cli: Run) -> None:
    rc, out, err = cli("policy", "search", *SOURCES, "-A", "-s", "nosuch_t")
    assert (rc, out) == (2, "")
    assert err == "kernel-sim policy search: nosuch_t is not a valid type or attribute\n"
    rc, _, err = cli("policy", "search", *SOURCES, "-A", "-c", "nosuchclass")
    assert rc == 2 and "nosuchclass is not a valid class" in err
    rc, _, err = cli("policy", "search", *SOURCES, "-s", "web_t")
    assert rc == 2 and "one or more rule types must be specified" in err
