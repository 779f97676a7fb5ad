"""Reading AVC denials from audit logs in the formats users paste."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsm.selinux.tools import ToolError
from lsm.selinux.tools.audit_parse import parse_lines, read_log

from .conftest import SECRET, WEB, avc

SYSCALL = ("type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=2 success=no "
           "exit=-13 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=7 comm=\"web\" key=(null)")


def test_simulator_record_and_its_syscall() -> None:
    (d,) = parse_lines([avc("read write", WEB, SECRET, "file", serial=9), SYSCALL])
    assert (d.scontext, d.tcontext, d.tclass, d.perms) == (WEB, SECRET, "file", ("read", "write"))
    assert (d.stype, d.ttype, d.serial, d.lineno, d.comm, d.permissive) == \
        ("web_t", "secret_t", 9, 1, "web", False)


def test_dmesg_and_bare_lines_and_permissive() -> None:
    body = (f'avc:  denied  {{ getattr }} for  pid=1 comm="x" path="/a b" scontext={WEB} '
            f"tcontext={SECRET} tclass=file permissive=1")
    lines = [f"[  12.5] audit: type=1400 audit(1700000000.123:4): {body}", body]
    a, b = parse_lines(lines)
    assert a.serial == 4 and a.permissive and b.serial == 0 and b.perms == ("getattr",)


def test_granted_and_other_records_are_skipped() -> None:
    granted = avc("read", WEB, SECRET, "file").replace("denied", "granted")
    other = "type=SELINUX_ERR msg=audit(1.0:2): op=security_compute_av reason=bounds"
    assert parse_lines([granted, other, SYSCALL, "", "random text"]) == []


@pytest.mark.parametrize("line", [
    "type=AVC msg=audit(1.0:1): avc:  denied  read for pid=1",
    avc("read", WEB, SECRET, "file").replace(" tclass=file", ""),
    avc("", WEB, SECRET, "file").replace("{  }", "{ }"),
    avc("read", "web_t", SECRET, "file"),
])
def test_malformed_records_name_file_and_line(line: str) -> None:
    with pytest.raises(ToolError, match=r"^audit\.log:2: malformed AVC record"):
        parse_lines([SYSCALL, line], "audit.log")


def test_unreadable_log(tmp_path: object) -> None:
    with pytest.raises(ToolError, match=r"cannot read audit log .*missing\.log"):
        read_log(f"{tmp_path}/missing.log")


@given(st.lists(st.text(max_size=80) | st.sampled_from([
    avc("read", WEB, SECRET, "file"), "type=AVC msg=audit(1.0:1): avc:  denied  {", "avc:",
])))
@settings(max_examples=200, deadline=None)
def test_any_text_parses_or_fails_cleanly(lines: list[str]) -> None:
    try:
        denials = parse_lines(lines)
    except ToolError as e:
        assert "malformed AVC record" in str(e)
    else:
        assert all(d.scontext.count(":") >= 2 for d in denials)
