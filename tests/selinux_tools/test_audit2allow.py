"""``kernel-sim audit2allow``: audit2allow's module layout, smallest grant, neverallow check."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsm.selinux import BASE_CONF, load_policy

from .conftest import CLIENT, CONTENT, SECRET, SOURCES, TOOLS_TE, WEB, Run, avc

CLIENT_IPC = [
    avc("connectto", CLIENT, WEB, "unix_stream_socket", serial=1, comm="client"),
    avc("read write", CLIENT, "system_u:object_r:tmp_t:s0", "file", serial=2),
    avc("signull", CLIENT, CLIENT, "process", serial=3),
    avc("write", CLIENT, "system_u:object_r:tmp_t:s0", "file", serial=4),
    avc("append", WEB, "system_u:object_r:etc_t:s0", "file", serial=5),
]


def write_log(tmp_path: Path, lines: list[str]) -> Path:
    log = tmp_path / "audit.log"
    log.write_text("".join(line + "\n" for line in lines))
    return log


def test_without_policy_layout_is_audit2allows(cli: Run, tmp_path: Path) -> None:
    log = write_log(tmp_path, CLIENT_IPC)
    rc, out, err = cli("audit2allow", "-i", str(log), "-m", "local")
    assert rc == 0, err
    assert out == (
        "\nmodule local 1.0;\n\n"
        "require {\n\ttype client_t;\n\ttype etc_t;\n\ttype tmp_t;\n\ttype web_t;\n"
        "\tclass file { append read write };\n\tclass process signull;\n"
        "\tclass unix_stream_socket connectto;\n}\n\n"
        "#============= client_t ==============\n"
        "allow client_t self:process signull;\n"
        "allow client_t tmp_t:file { read write };\n"
        "allow client_t web_t:unix_stream_socket connectto;\n\n"
        "#============= web_t ==============\n"
        "allow web_t etc_t:file append;\n"
    )
    rc, out, _ = cli("audit2allow", "-i", str(log))
    assert out.startswith("#============= client_t ==============\n")  # no -m: rules only


def test_smallest_grant_boolean_constraint_dontaudit(cli: Run, tmp_path: Path) -> None:
    log = write_log(tmp_path, [
        avc("search write", WEB, CONTENT, "dir"),          # search is already allowed
        avc("read", WEB, CONTENT, "file"),                 # the boolean web_read_content
        avc("read", CLIENT, CONTENT + ":c1", "file"),      # TE allows, MLS forbids
        avc("getattr", WEB, SECRET, "file"),               # dontaudit'ed, allowed by no rule
    ])
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *SOURCES)
    assert rc == 0, err
    rules = [line for line in out.splitlines() if line.startswith("allow ")]
    assert rules == ["allow web_t secret_t:file getattr;", "allow web_t web_content_t:dir write;"]
    assert "#!!!! This avc can be allowed using the boolean 'web_read_content'" in out
    assert "#allow web_t web_content_t:file read;" in out
    assert "#!!!! This avc is a constraint violation." in out
    assert "#!!!! Allow rules cannot fix it; none is proposed." in out
    assert "#allow client_t web_content_t:file read;" in out
    assert "#!!!! This avc has a dontaudit rule in the current policy" in out
    assert "#!!!! This avc is allowed in the current policy" in out


def test_neverallow_refuses_and_force_warns(cli: Run, tmp_path: Path) -> None:
    log = write_log(tmp_path, [avc("read write", WEB, SECRET, "file"),
                               avc("signal", WEB, CLIENT, "process")])
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *SOURCES, "-m", "local")
    assert rc == 1 and out == ""
    assert "allow web_t secret_t:file { read write }; violates the neverallow rule at " \
        f"{TOOLS_TE}:" in err
    assert "neverallow { domain -secret_reader -unconfined_domain } secret_t:file read;" in err
    assert "neverallow web_domain secret_t:file { write append };" in err
    assert "refusing" in err
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *SOURCES, "-m", "local", "--force")
    assert rc == 0
    assert "allow web_t secret_t:file { read write };" in out
    assert "#!!!! WARNING: violates neverallow web_domain secret_t:file { write append };" in out


def test_module_file_loads_on_the_base(cli: Run, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = write_log(tmp_path, CLIENT_IPC)
    rc, out, _ = cli("audit2allow", "-i", str(log), "-p", *SOURCES, "-M", "fixup")
    assert rc == 0 and "fixup.te" in out
    module = tmp_path / "fixup.te"
    policy = load_policy(BASE_CONF, TOOLS_TE, module)
    d = policy.compute_av(CLIENT, "system_u:object_r:tmp_t:s0", "file")
    assert {"read", "write"} <= d.allowed
    # -o appends
    rc, _, _ = cli("audit2allow", "-i", str(log), "-o", str(tmp_path / "out.te"))
    rc, _, _ = cli("audit2allow", "-i", str(log), "-o", str(tmp_path / "out.te"))
    assert (tmp_path / "out.te").read_text().count("#============= web_t") == 2


def test_bad_input_is_exit_2(cli: Run, tmp_path: Path) -> None:
    rc, out, err = cli("audit2allow", "-i", str(tmp_path / "none.log"))
    assert (rc, out) == (2, "") and err.startswith("kernel-sim audit2allow: cannot read")
    log = write_log(tmp_path, [avc("read", WEB, "system_u:object_r:ghost_t:s0", "file")])
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *SOURCES)
    assert rc == 2 and "ghost_t" in err and "Traceback" not in err
    log = write_log(tmp_path, ["type=AVC msg=audit(1.0:1): avc:  denied  { read } for x"])
    rc, _, err = cli("audit2allow", "-i", str(log))
    assert rc == 2 and "malformed AVC record" in err


def test_ioctl_commands_become_allowxperm_with_x(cli: Run, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("".join(
        avc("ioctl", WEB, CONTENT, "file", serial=i).replace(
            " scontext=", f" ioctlcmd={cmd:#x} scontext=") + "\n"
        for i, cmd in enumerate((0x5403, 0x5404), 1)))
    rc, out, err = cli("audit2allow", "-x", "-i", str(log))
    assert rc == 0, err
    assert out.splitlines()[-2:] == ["allow web_t web_content_t:file ioctl;",
                                     "allowxperm web_t web_content_t:file ioctl { 0x5403-0x5404 };"]
    rc, out, err = cli("audit2allow", "-i", str(log))
    assert "allowxperm" not in out
