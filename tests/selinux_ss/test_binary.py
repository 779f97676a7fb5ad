"""The binary policy reader: real policies load, bad ones fail with BinaryPolicyError.

A truncated or corrupt file must raise :class:`BinaryPolicyError` (naming the section and byte
offset), never another exception and never hang.
"""

from __future__ import annotations

import json
import struct
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsm.selinux.policy.binary import (
    read_policy,
    read_policy_file,
    section_offsets,
    set_boolean_defaults,
)
from lsm.selinux.policy.errors import BinaryPolicyError, InvalidSymbol, PolicyError
from lsm.selinux.policy.loader import load_policy
from lsm.selinux.ss.policydb import PolicyDB
from lsm.selinux.ss.services import SecurityServer
from tests.oracles import DEBIAN_POLICY, SYSTEM_PYTHON, require
from tests.selinux_ss.conftest import SMALL, SMALL_MLS

SMALL_MLS_BYTES = SMALL_MLS.read_bytes()
SMALL_BYTES = SMALL.read_bytes()


def test_small_policies_load(small_mls_db: PolicyDB) -> None:
    """Symbols, aliases, rules and object contexts of the small policy are all there."""
    p = small_mls_db
    assert p.version == 33 and p.mls
    assert p.lookup_type("etc_alias_t") is p.lookup_type("etc_t")
    assert p.lookup_type("domain").attribute
    assert p.lookup_type("child_t").bounds == p.lookup_type("user_t").value
    assert p.permissive_types == {p.lookup_type("perm_t").value}
    assert [b.name for b in p.bools] and p.lookup_bool("allow_tmp").state
    assert p.levels.get("secret") is not None and p.cats.get("blue").value == 3
    assert len(p.cond_list) == 6 and len(p.range_trans) == 2
    assert ("user_t", "special") in {(p.type_name(k[0]), k[3]) for k in p.filename_trans}
    assert len(p.portcons) == 2 and len(p.nodecons) == 3 and len(p.genfs["proc"]) == 3
    assert p.lookup_class("file").perm_bit("open") == 1 << 16
    assert p.policycap_names == ["network_peer_controls", "open_perms"]
    assert p.has_policycap("open_perms") and not p.has_policycap("extended_socket_class")
    non_mls = read_policy(SMALL_BYTES)
    assert not non_mls.mls and non_mls.users.at(1).range is None


def test_debian_policy_loads_fast(debian_db: PolicyDB) -> None:
    """The 2 MB distribution policy loads within the 1.5 s budget."""
    data = DEBIAN_POLICY.read_bytes()
    start = time.perf_counter()
    p = read_policy(data)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5, elapsed
    assert p.version == 33 and p.mls and p.type_count > 4000 - 100


@pytest.mark.interop
def test_debian_counts_match_setools(debian_db: PolicyDB) -> None:
    """Symbol and rule counts agree with setools' reading of the same file."""
    require("policy.33")
    script = (
        "import json, sys, setools; p = setools.SELinuxPolicy(sys.argv[1]); print(json.dumps(["
        "p.type_count, p.type_attribute_count, p.role_count, p.user_count, p.boolean_count,"
        " p.class_count, p.common_count, p.category_count, p.level_count,"
        " p.range_transition_count, p.portcon_count, p.initialsids_count, p.fs_use_count,"
        " p.genfscon_count]))"
    )
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", script, str(DEBIAN_POLICY)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"setools unavailable: {proc.stderr.strip()[-200:]}")
    want = json.loads(proc.stdout)
    p = debian_db
    got = [
        p.type_count,
        p.attribute_count,
        sum(1 for _ in p.roles),
        sum(1 for _ in p.users),
        sum(1 for _ in p.bools),
        p.classes.nprim,
        p.commons.nprim,
        sum(1 for c in p.cats.names.values() if not c.isalias),
        sum(1 for s in p.levels.names.values() if not s.isalias),
        len(p.range_trans),
        len(p.portcons),
        len(p.isids),
        len(p.fs_uses),
        sum(len(v) for v in p.genfs.values()),
    ]
    assert got == want


# -- bad input ----------------------------------------------------------------------------------


def _expect_error(data: bytes) -> BinaryPolicyError:
    with pytest.raises(BinaryPolicyError) as info:
        read_policy(data)
    return info.value


@pytest.mark.parametrize("data", [SMALL_MLS_BYTES, SMALL_BYTES], ids=["mls", "nonmls"])
def test_truncated_at_every_section_boundary(data: bytes) -> None:
    """Cutting the file at (and just around) each section start names a section and offset."""
    marks = section_offsets(data)
    assert [m[0] for m in marks][:3] == ["header", "policy capabilities", "permissive map"]
    for _section, offset in marks:
        for cut in (offset - 1, offset, offset + 1, offset + 5):
            if 0 <= cut < len(data):
                err = _expect_error(data[:cut])
                assert err.offset <= cut and err.section
                assert "truncated" in err.msg or "exceeds" in err.msg or "bad" in err.msg


def test_truncated_at_every_byte() -> None:
    """Every proper prefix of the small policy is rejected with BinaryPolicyError."""
    data = SMALL_MLS_BYTES
    for cut in range(0, len(data), 3):
        _expect_error(data[:cut])


@pytest.mark.slow
def test_debian_truncated_at_section_boundaries(debian_db: PolicyDB) -> None:
    """The same for the big policy (each section start, and mid-avtab)."""
    data = DEBIAN_POLICY.read_bytes()
    for section, offset in section_offsets(data):
        if offset < len(data):
            err = _expect_error(data[: offset + 3])
            assert err.section in (section, *[m[0] for m in section_offsets(data)])


def test_header_errors() -> None:
    """Bad magic, identifier and versions are named as such."""
    data = bytearray(SMALL_MLS_BYTES)
    assert "magic" in str(_expect_error(b"\x00" * 64))
    bad_ident = bytearray(data)
    bad_ident[8:16] = b"XE Linux"
    assert "identifier" in str(_expect_error(bytes(bad_ident)))
    for version in (34, 19, 0xFFFFFFFF):
        v = bytearray(data)
        v[16:20] = struct.pack("<I", version)
        err = _expect_error(bytes(v))
        assert f"unsupported policy version {version}" in str(err) and err.offset == 16
    assert "unexpected bytes" in str(_expect_error(bytes(data) + b"\x00"))


def test_huge_counts_fail_fast() -> None:
    """A count of 2^32-1 is bounded by the bytes left: immediate error, no allocation."""
    data = SMALL_MLS_BYTES
    for section, offset in section_offsets(data):
        if section in ("avtab", "conditional rules", "role allow", "genfs"):
            bad = data[:offset] + b"\xff\xff\xff\xff" + data[offset + 4 :]
            start = time.perf_counter()
            err = _expect_error(bad)
            assert time.perf_counter() - start < 0.5
            assert err.section == section and err.offset == offset + 4


@settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SMALL_MLS_BYTES) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_random_byte_flips(flips: list[tuple[int, int]]) -> None:
    """Random corruption: either a clean BinaryPolicyError or a policy the server can use."""
    data = bytearray(SMALL_MLS_BYTES)
    for pos, value in flips:
        data[pos] = value
    try:
        db = read_policy(bytes(data))
    except BinaryPolicyError:
        return
    srv = SecurityServer(db)
    for sid in sorted(db.isids):
        for cls in db.classes:
            srv.compute_av(sid, sid, cls.value)


# -- the loader -----------------------------------------------------------------------------------


def test_load_policy_binary_and_errors(tmp_path: Path) -> None:
    """Binaries are recognised by magic; unreadable or mixed inputs are clear errors."""
    pol = load_policy(SMALL_MLS)
    d = pol.compute_av("user_u:user_r:user_t:s0", "system_u:object_r:tmp_t:s0", "file")
    assert {"read", "write"} <= d.allowed and "execute" not in d.allowed
    assert d.denied(["read", "execute"]) == {"execute"}
    assert pol.explain("user_u:user_r:user_t:s0", "system_u:object_r:tmp_t:s0", "file",
                       ["execute"]).name == "TERULE"  # fmt: skip
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.conf")
    with pytest.raises(PolicyError, match="alone"):
        load_policy(SMALL_MLS, SMALL)
    corrupt = tmp_path / "policy.33"
    corrupt.write_bytes(SMALL_MLS_BYTES[:1000])
    with pytest.raises(BinaryPolicyError, match="byte offset"):
        load_policy(corrupt)


def test_read_policy_file(tmp_path: Path) -> None:
    """read_policy_file is read_policy on the file's bytes."""
    assert read_policy_file(SMALL).version == 33


def test_set_boolean_defaults_rewrites_states_and_flags(small_mls_db: PolicyDB) -> None:
    """The rewritten image stores the new defaults; everything else reads back the same."""
    out = set_boolean_defaults(SMALL_MLS_BYTES, {"allow_home": True, "a": False})
    assert len(out) == len(SMALL_MLS_BYTES)
    p = read_policy(out)
    assert p.lookup_bool("allow_home").state and not p.lookup_bool("a").state
    assert [n.cur_state for n in p.cond_list] != [n.cur_state for n in small_mls_db.cond_list]
    assert p.avtab == small_mls_db.avtab
    assert set_boolean_defaults(SMALL_MLS_BYTES, {}) == SMALL_MLS_BYTES
    with pytest.raises(InvalidSymbol):
        set_boolean_defaults(SMALL_MLS_BYTES, {"nosuchbool": True})


def test_huge_bitmaps_are_refused() -> None:
    """An ebitmap claiming a bit far beyond any symbol table is an error, not a giant int."""
    data = SMALL_MLS_BYTES
    offset = dict(section_offsets(data))["policy capabilities"]
    # mapunit 64, highbit 2^32 - 64, one node starting at 2^32 - 128
    bad = struct.pack("<IIIIQ", 64, (1 << 32) - 64, 1, (1 << 32) - 128, 1)
    err = _expect_error(data[:offset] + bad + data[offset + 12 + 12 :])
    assert err.section == "policy capabilities" and "beyond" in err.msg


@pytest.mark.slow
def test_debian_random_corruption(debian_db: PolicyDB) -> None:
    """A few dozen corrupted copies of the big policy: clean errors or usable policies."""
    import random

    data = DEBIAN_POLICY.read_bytes()
    rng = random.Random(4)
    for _ in range(40):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        if rng.random() < 0.25:
            buf = buf[: rng.randrange(len(buf))]
        start = time.perf_counter()
        try:
            db = read_policy(bytes(buf))
        except BinaryPolicyError:
            continue
        finally:
            assert time.perf_counter() - start < 5
        srv = SecurityServer(db)
        for sid in sorted(db.isids)[:3]:
            for cls in list(db.classes)[:20]:
                srv.compute_av(sid, sid, cls.value)
