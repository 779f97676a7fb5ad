"""Our tools against the real ones: seinfo, sesearch, audit2why, audit2allow (setools,
policycoreutils) on the Debian refpolicy binary and on checkpolicy builds of the tools policy.

Known, documented differences (not tested for equality):

* ``Neverallow``: seinfo reads binaries, which keep no neverallow rules (always 0); for source
  policies we count the neverallow statements.
* The text of a failing constraint comes from our security server and is laid out differently
  from libsepol's (``((l1 dom l2 -Fail-)  or (...) ); Constraint DENIED``).
* Real audit2why adds a boolean's ``Description:`` from ``sepolicy``; we print none.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pytest

from lsm.selinux import load_policy
from lsm.selinux.tools.search import Query, search
from tests.oracles import DEBIAN_POLICY, require

from .conftest import CLIENT, CONTENT, SECRET, SOURCES, TOOLS_TE, WEB, Run, avc, checkpolicy_binary

pytestmark = pytest.mark.interop


def tool(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def tools_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("checkpolicy")
    return checkpolicy_binary(tmp_path_factory.mktemp("bin"), TOOLS_TE.read_text())


@pytest.fixture(scope="module")
def debian() -> object:
    require("policy.33")
    return load_policy(DEBIAN_POLICY)


def _stats(text: str) -> list[str]:
    return text.splitlines()[1:]  # the first line names the file


def test_info_equals_seinfo_on_debian_policy(cli: Run) -> None:
    require("seinfo", "policy.33")
    rc, out, err = cli("policy", "info", str(DEBIAN_POLICY))
    assert rc == 0, err
    assert out == tool("seinfo", str(DEBIAN_POLICY))


def test_info_equals_seinfo_on_checkpolicy_build(cli: Run, tools_binary: Path) -> None:
    require("seinfo")
    theirs = _stats(tool("seinfo", str(tools_binary)))
    rc, out, _ = cli("policy", "info", str(tools_binary))
    assert rc == 0 and _stats(out) == theirs
    # the source gives the same counts, except neverallow rules (binaries keep none)
    rc, out, _ = cli("policy", "info", *SOURCES)
    ours = _stats(out)
    never = [i for i, line in enumerate(theirs) if "Neverallow:" in line and "Allow:" in line]
    assert [x for i, x in enumerate(ours) if i not in never] == \
        [x for i, x in enumerate(theirs) if i not in never]
    assert ours[never[0]].endswith("Neverallow:            2")


DEBIAN_QUERIES = [
    ["-A", "-s", "httpd_t", "-t", "mysqld_t"],
    ["-A", "-s", "httpd_t", "-c", "file", "-p", "read"],
    ["-T", "-s", "httpd_t", "-t", "tmp_t"],
    ["--dontaudit", "-s", "httpd_t", "-c", "file"],
    ["-A", "-s", "mysqld_t", "-c", "process", "-p", "fork"],  # rules on its attributes
    ["-A", "--auditallow", "-b", "httpd_can_network_connect_db"],
]


def _query(args: list[str]) -> Query:
    kinds = {"-A": "allow", "--auditallow": "auditallow", "--dontaudit": "dontaudit",
             "-T": "type_transition"}
    opts = dict(itertools.pairwise(args))
    return Query(frozenset(kinds[a] for a in args if a in kinds), opts.get("-s"), opts.get("-t"),
                 tuple(opts.get("-c", "").split(",")) if "-c" in opts else (),
                 tuple(opts.get("-p", "").split(",")) if "-p" in opts else (),
                 tuple(opts.get("-b", "").split(",")) if "-b" in opts else ())


@pytest.mark.parametrize("args", DEBIAN_QUERIES, ids=" ".join)
def test_search_equals_sesearch_on_debian_policy(debian: object, args: list[str]) -> None:
    require("sesearch")
    theirs = tool("sesearch", *args, str(DEBIAN_POLICY)).splitlines()
    ours = search(debian.policydb, _query(args))  # type: ignore[attr-defined]
    assert ours and sorted(ours) == sorted(theirs)


@pytest.mark.parametrize("args", [
    ["-A", "-s", "web_t"], ["-A", "-b", "web_debug"], ["--dontaudit", "-s", "web_domain"],
    ["-T", "-s", "web_t"], ["--type_change", "--type_member"], ["-A", "-t", "web_domain"],
    ["--allowxperm", "--auditallowxperm", "--dontauditxperm"],
    ["--allowxperm", "-s", "web_domain", "-c", "file"],
], ids=" ".join)
def test_search_equals_sesearch_on_checkpolicy_build(cli: Run, tools_binary: Path,
                                                     args: list[str]) -> None:
    require("sesearch")
    theirs = sorted(tool("sesearch", *args, str(tools_binary)).splitlines())
    for policy in ([str(tools_binary)], SOURCES):
        rc, out, err = cli("policy", "search", *policy, *args)
        assert rc == 0, err
        assert sorted(out.splitlines()) == theirs


def _no_descriptions(text: str) -> str:
    return re.sub(r"\tDescription:\n\t[^\n]*\n\n", "", text)


def test_audit2why_equals_real_audit2why(cli: Run, tools_binary: Path, tmp_path: Path) -> None:
    require("audit2why")
    log = tmp_path / "audit.log"
    log.write_text("".join(line + "\n" for line in [
        avc("write", WEB, SECRET, "file", serial=1),
        avc("read", WEB, CONTENT, "file", serial=2),
        avc("transition", "root:user_r:client_t:s0", "root:system_r:web_t:s0", "process", 3),
        avc("getattr", WEB, SECRET, "file", serial=4),
        avc("connectto", WEB, CLIENT, "unix_stream_socket", serial=5),
    ]))
    theirs = _no_descriptions(tool("audit2why", "-i", str(log), "-p", str(tools_binary)))
    for policy in ([str(tools_binary)], SOURCES):
        rc, out, err = cli("audit2why", "-i", str(log), "-p", *policy)
        assert rc == 0, err
        assert out == theirs


def test_naive_grant_violates_neverallow(cli: Run, tools_binary: Path, tmp_path: Path) -> None:
    """Real audit2allow proposes the rule a neverallow forbids; we refuse it."""
    require("audit2allow")
    log = tmp_path / "audit.log"
    log.write_text(avc("read", WEB, SECRET, "file") + "\n")
    theirs = tool("audit2allow", "-i", str(log), "-p", str(tools_binary))
    assert "allow web_t secret_t:file read;" in theirs.splitlines()
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", *SOURCES)
    assert rc == 1 and out == ""
    assert "neverallow { domain -secret_reader -unconfined_domain } secret_t:file read;" in err
    # the binary has no neverallow rules left to check: we say so and propose the rule
    rc, out, err = cli("audit2allow", "-i", str(log), "-p", str(tools_binary))
    assert rc == 0 and "keeps no neverallow rules" in err
    assert "allow web_t secret_t:file read;" in out


def test_audit2allow_xperms_equals_real_audit2allow_x(cli: Run, tools_binary: Path,
                                                       tmp_path: Path) -> None:
    """ioctl denials that extended permissions caused: the plain rule is already there, and
    -x asks for the commands in allowxperm (runs as ranges), as the real tool does."""
    require("audit2allow")
    log = tmp_path / "audit.log"
    log.write_text("".join(
        avc("ioctl", WEB, CONTENT, "file", serial=i).replace(
            " scontext=", f" ioctlcmd={cmd:#x} scontext=") + "\n"
        for i, cmd in enumerate((0x5403, 0x5405, 0x5406, 0x8a01), 1)))
    for flags in ([], ["-x"]):
        theirs = tool("audit2allow", *flags, "-i", str(log), "-p", str(tools_binary))
        rc, out, err = cli("audit2allow", *flags, "-i", str(log), "-p", str(tools_binary))
        assert rc == 0, err
        assert [x for x in out.splitlines() if x] == [x for x in theirs.splitlines() if x]
    assert "allowxperm web_t web_content_t:file ioctl { 0x5403 0x5405-0x5406 0x8a01 };" in out
