"""The security server on the small MLS test policy (policies/small_mls.conf).

Each test names the policy statements it exercises; expected values follow the kernel's
``services.c`` (context_struct_compute_av, security_compute_sid, ...).
"""

from __future__ import annotations

import pytest

from lsm.selinux.policy.errors import InvalidClass, InvalidContext, InvalidPermission
from lsm.selinux.ss.avd import ALL_PERMS, AVD_FLAGS_PERMISSIVE
from lsm.selinux.ss.policydb import (
    HANDLE_UNKNOWN_ALLOW,
    SECURITY_FS_USE_GENFS,
    SECURITY_FS_USE_NONE,
    SECURITY_FS_USE_TRANS,
    SECURITY_FS_USE_XATTR,
    PolicyDB,
)
from lsm.selinux.ss.services import (
    REASON_ALLOW,
    REASON_BOOLEAN,
    REASON_BOUNDS,
    REASON_CONSTRAINT,
    REASON_DONTAUDIT,
    REASON_RBAC,
    REASON_TERULE,
    ClassMapping,
    SecurityServer,
)

KERNEL = "system_u:system_r:kernel_t:s0-s2:c0.c4"
USER = "user_u:user_r:user_t:s0"
CHILD = "user_u:user_r:child_t:s0"
STAFF = "staff_u:staff_r:staff_t:s0"
PERM = "system_u:system_r:perm_t:s0"


def obj(t: str, level: str = "s0", user: str = "system_u") -> str:
    return f"{user}:object_r:{t}:{level}"


def allowed(srv: SecurityServer, s: str, t: str, tclass: str) -> set[str]:
    d = srv.compute_av(srv.context_to_sid(s), srv.context_to_sid(t), tclass)
    return set(srv.perm_names(tclass, d.allowed))


# -- contexts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("staff_u:staff_r:staff_t:s0-s2:c0.c4", "staff_u:staff_r:staff_t:s0-s2:c0.c4"),
        ("staff_u:staff_r:staff_t:s1:c0,c1", "staff_u:staff_r:staff_t:s1:c0,c1"),
        ("staff_u:staff_r:staff_t:s1:c0,c1,c2", "staff_u:staff_r:staff_t:s1:c0.c2"),
        ("staff_u:staff_r:staff_t:s1:c0,c2.c4", "staff_u:staff_r:staff_t:s1:c0,c2.c4"),
        ("staff_u:staff_r:staff_t:s0-s0", "staff_u:staff_r:staff_t:s0"),
        ("system_u:object_r:etc_alias_t:secret:blue", "system_u:object_r:etc_t:s2:c2"),
        ("user_u:object_r:kernel_t:s0", "user_u:object_r:kernel_t:s0"),
    ],
)
def test_context_roundtrip(srv: SecurityServer, given: str, canonical: str) -> None:
    """Aliases resolve, categories print in the kernel's canonical form, object_r takes any
    type."""
    assert srv.sid_to_context(srv.context_to_sid(given)) == canonical


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("nobody_u:user_r:user_t:s0", "unknown user"),
        ("user_u:staff_r:staff_t:s0", "not authorised for user"),
        ("user_u:user_r:staff_t:s0", "not authorised for role"),
        ("user_u:user_r:user_t:s2", "not within user"),
        ("staff_u:staff_r:staff_t:s1-s0", "not valid"),
        ("staff_u:staff_r:staff_t:s0:c2.c1", "not ascending"),
        ("staff_u:staff_r:domain:s0", "unknown type"),
        ("staff_u:staff_r:staff_t", "no range"),
        ("staff_u:staff_r:staff_t:s9", "unknown sensitivity"),
        ("staff_u:staff_r:staff_t:s0:c99", "unknown category"),
        ("staff_u:staff_r", "expected user:role:type"),
        ("", "empty"),
    ],
)
def test_invalid_contexts(srv: SecurityServer, bad: str, why: str) -> None:
    """Contexts are validated as the kernel does: user->role->type authorisation and ranges."""
    with pytest.raises(InvalidContext, match=why):
        srv.context_to_sid(bad)


def test_sids_are_stable_and_initial_sids_known(srv: SecurityServer) -> None:
    """Initial SIDs keep their numbers; new contexts get new SIDs once."""
    assert srv.sid_to_context(1) == KERNEL
    assert srv.initial_sid("unlabeled") == 3
    a = srv.context_to_sid(USER)
    assert a > 27 and srv.context_to_sid(USER) == a
    assert srv.context_to_sid(KERNEL) == 1


# -- access vectors ---------------------------------------------------------------------------


def test_te_allow_with_attributes_and_complement(srv: SecurityServer) -> None:
    """``allow user_t tmp_t:file ~{execute relabelto}`` plus ``allow domain file_type:file``;
    ``constrain file append (t1 != user_t)`` removes append."""
    got = allowed(srv, USER, obj("tmp_t"), "file")
    every = set(srv.policydb.lookup_class("file").all_perms)
    assert got == every - {"execute", "relabelto", "append"}


def test_auditallow_and_dontaudit(srv: SecurityServer) -> None:
    """auditallow sets auditallow bits; dontaudit clears auditdeny bits."""
    d = srv.compute_av(srv.context_to_sid(USER), srv.context_to_sid(obj("etc_t")), "file")
    assert srv.perm_names("file", d.auditallow) == ["read"]
    d = srv.compute_av(srv.context_to_sid(USER), srv.context_to_sid(obj("secret_t")), "file")
    read_write = srv.perm_bits("file", ["read", "write"])
    assert d.auditdeny & read_write == 0
    assert d.auditdeny | read_write == ALL_PERMS


def test_boolean_commit_changes_decisions_and_seqno(srv: SecurityServer) -> None:
    """``if (allow_home) {allow ...} else {dontaudit ...}``: a commit flips the branches."""
    s, t = srv.context_to_sid(USER), srv.context_to_sid(obj("home_t", user="user_u"))
    write = srv.perm_bits("file", ["write"])
    before = srv.compute_av(s, t, "file")
    assert not before.allowed & write and not before.auditdeny & write
    seq = srv.seqno
    assert srv.set_bool("allow_home", True) == [("allow_home", True, False)]
    assert srv.seqno == seq + 1 and srv.get_bool("allow_home")
    after = srv.compute_av(s, t, "file")
    assert after.allowed & write and after.auditdeny & write


@pytest.mark.parametrize(
    ("settings", "etc_write", "home_write"),
    [({}, False, True), ({"b": True}, True, False), ({"a": False}, True, False)],
)
def test_boolean_operators(
    srv: SecurityServer, settings: dict[str, bool], etc_write: bool, home_write: bool
) -> None:
    """``a == b`` guards staff_t etc_t write, ``a ^ b`` guards staff_t home_t write."""
    srv.set_bools(settings)
    assert ("write" in allowed(srv, STAFF, obj("etc_t"), "file")) == etc_write
    assert ("write" in allowed(srv, STAFF, obj("home_t"), "file")) == home_write


def test_constraint_with_names_and_attribute(srv: SecurityServer) -> None:
    """``constrain file write (u1 == u2 or ... or t2 != home_t)`` removes write for another
    user's home_t file."""
    srv.set_bool("allow_home", True)
    assert "write" not in allowed(srv, USER, obj("home_t"), "file")
    assert "write" in allowed(srv, USER, obj("home_t", user="user_u"), "file")


def test_mls_constraints(srv: SecurityServer) -> None:
    """``mlsconstrain file read (l1 dom l2 or t1 == mlstrusted)`` and friends."""
    assert "read" not in allowed(srv, USER, obj("etc_t", "s1"), "file")
    assert "read" in allowed(srv, "staff_u:staff_r:staff_t:s1:c0.c4", obj("etc_t", "s1:c1"), "file")
    assert "read" not in allowed(srv, "staff_u:staff_r:staff_t:s1", obj("etc_t", "s1:c1"), "file")
    # h1 dom h2 and l1 domby l2
    assert "signal" in allowed(srv, "staff_u:staff_r:staff_t:s0-s1", STAFF, "process")
    assert "signal" not in allowed(srv, "staff_u:staff_r:staff_t:s1", STAFF, "process")
    # incomparable levels: s1:c0 vs s1:c1
    a, b = "staff_u:staff_r:staff_t:s1:c0", "staff_u:object_r:home_t:s1:c1"
    assert "search" in allowed(srv, a, b, "dir")


def test_role_allow_check_for_transitions(srv: SecurityServer) -> None:
    """No ``allow staff_r sudo_r``: transition to another role is removed, same role kept."""
    assert "transition" not in allowed(srv, STAFF, "staff_u:sudo_r:sudo_t:s0", "process")
    assert "transition" in allowed(srv, STAFF, "staff_u:staff_r:sudo_t:s0", "process")
    assert "transition" in allowed(srv, STAFF, "staff_u:user_r:user_t:s0", "process")


def test_typebounds_masks_and_reports(srv: SecurityServer) -> None:
    """child_t may append to etc_t but its parent user_t is denied append by a constraint:
    the kernel masks it and logs SELINUX_ERR reason=bounds."""
    assert allowed(srv, CHILD, obj("etc_t"), "file") == {"read", "getattr", "open"}
    assert srv.errors and "reason=bounds" in srv.errors[-1]
    assert srv.errors[-1].endswith("tclass=file perms=append")


def test_permissive_flag(srv: SecurityServer) -> None:
    """``permissive perm_t``: the decision carries AVD_FLAGS_PERMISSIVE."""
    d = srv.compute_av(srv.context_to_sid(PERM), srv.context_to_sid(obj("etc_t")), "file")
    assert d.flags & AVD_FLAGS_PERMISSIVE
    d = srv.compute_av(srv.context_to_sid(USER), srv.context_to_sid(obj("etc_t")), "file")
    assert not d.flags & AVD_FLAGS_PERMISSIVE


def test_unknown_class_and_perm(srv: SecurityServer) -> None:
    """Names the policy lacks raise; handle_unknown decides for mapped kernel classes."""
    with pytest.raises(InvalidClass):
        srv.class_value("nosuchclass")
    with pytest.raises(InvalidPermission):
        srv.perm_bits("file", ["nosuchperm"])
    p = srv.policydb
    cmap = ClassMapping(p, [("file", ["read", "frobnicate"]), ("msgq", ["enqueue"])])
    assert cmap.unknown == ["file:frobnicate", "msgq"]
    d = srv.compute_av(srv.context_to_sid(USER), srv.context_to_sid(obj("etc_t")), "file")
    kd = cmap.map_decision(0, d)
    assert kd.allowed == 0b01 and kd.auditdeny & 0b10  # deny_unknown: frobnicate denied
    assert cmap.map_decision(1, d).allowed == 0
    assert p.handle_unknown != HANDLE_UNKNOWN_ALLOW


def test_handle_unknown_allow(small_mls_db: PolicyDB) -> None:
    """With ``handle_unknown allow`` unknown classes and permissions are granted."""
    from attrs import evolve

    p = evolve(small_mls_db, handle_unknown=HANDLE_UNKNOWN_ALLOW)
    srv = SecurityServer(p)
    cmap = ClassMapping(p, [("file", ["read", "frobnicate"]), ("msgq", ["enqueue"])])
    d = srv.compute_av(srv.context_to_sid(USER), srv.context_to_sid(obj("etc_t")), "file")
    assert cmap.map_decision(0, d).allowed == 0b11
    assert cmap.map_decision(1, d).allowed == ALL_PERMS
    assert srv.compute_av(1, 1, "msgq").allowed == ALL_PERMS


# -- new SIDs ---------------------------------------------------------------------------------


def new(srv: SecurityServer, kind: str, s: str, t: str, tclass: str, name: str | None = None):
    ssid, tsid = srv.context_to_sid(s), srv.context_to_sid(t)
    if kind == "transition":
        return srv.sid_to_context(srv.transition_sid(ssid, tsid, tclass, name))
    if kind == "member":
        return srv.sid_to_context(srv.member_sid(ssid, tsid, tclass))
    return srv.sid_to_context(srv.change_sid(ssid, tsid, tclass))


@pytest.mark.parametrize(
    ("kind", "s", "t", "tclass", "name", "expected"),
    [
        # type_transition user_t tmp_t:file home_t; object_r; source low level
        ("transition", USER, obj("tmp_t"), "file", None, "user_u:object_r:home_t:s0"),
        # named transition overrides
        ("transition", USER, obj("tmp_t"), "file", "special", "user_u:object_r:secret_t:s0"),
        ("transition", USER, obj("tmp_t"), "file", "other", "user_u:object_r:home_t:s0"),
        # no rule: the parent's type
        ("transition", USER, obj("etc_t"), "file", None, "user_u:object_r:etc_t:s0"),
        # dir: default_user target, default_range target low, named rule for dirs
        ("transition", USER, obj("tmp_t", "s1-s2"), "dir", "special", "system_u:object_r:etc_t:s1"),
        # exec: role_transition + type_transition + range_transition
        ("transition", STAFF, obj("user_exec_t"), "process", None,
         "staff_u:user_r:user_t:s1-s2:c0.c4"),
        ("transition", STAFF, obj("bin_t"), "process", None, "staff_u:sudo_r:sudo_t:s0"),
        # conditional type_transition + range_transition on a file
        ("transition", STAFF, obj("tmp_t"), "file", None, "staff_u:object_r:etc_t:s2:c1"),
        # sockets: default_role/default_type target; full source range
        ("transition", "staff_u:staff_r:staff_t:s0-s1", USER, "unix_stream_socket", None,
         "staff_u:user_r:user_t:s0-s1"),
        # plain socket class (no class defaults): the creator's role, type and full range
        # (a kernel rule libsepol does not have)
        ("transition", "staff_u:staff_r:staff_t:s0-s1", obj("tmp_t"), "tcp_socket", None,
         "staff_u:staff_r:staff_t:s0-s1"),
        # default_type sem source, overridden by a type rule
        ("transition", STAFF, obj("etc_t"), "sem", None, "staff_u:object_r:staff_t:s0"),
        ("transition", USER, obj("tmp_t"), "sem", None, "user_u:object_r:tmp_t:s0"),
        # type_member: the target's user
        ("member", USER, obj("tmp_t"), "dir", None, "system_u:object_r:home_t:s0"),
        # type_change
        ("change", USER, obj("tmp_t"), "file", None, "user_u:object_r:etc_t:s0"),
        ("change", "staff_u:staff_r:staff_t:s0-s1", obj("tmp_t"), "process", None,
         "staff_u:staff_r:staff_t:s0-s1"),
    ],
)  # fmt: skip
def test_compute_sid(
    srv: SecurityServer, kind: str, s: str, t: str, tclass: str, name: str | None, expected: str
) -> None:
    """security_compute_sid: defaults, rules, named transitions, role/range transitions."""
    assert new(srv, kind, s, t, tclass, name) == expected


def test_compute_sid_returns_existing_sids(srv: SecurityServer) -> None:
    """A result equal to the source (or target) context is that SID."""
    ssid = srv.context_to_sid(USER)
    assert srv.transition_sid(ssid, ssid, "process") == ssid


def test_compute_sid_follows_booleans(srv: SecurityServer) -> None:
    """``if (a != b || allow_home) { type_transition staff_t tmp_t:file etc_t; }``."""
    srv.set_bool("b", True)
    assert new(srv, "transition", STAFF, obj("tmp_t"), "file") == "staff_u:object_r:tmp_t:s2:c1"


def test_compute_sid_invalid_result(srv: SecurityServer) -> None:
    """A computed context the policy forbids raises and is reported as SELINUX_ERR."""
    with pytest.raises(InvalidContext):
        new(srv, "transition", "user_u:user_r:user_t:s0", STAFF, "unix_stream_socket")
    assert "op=security_compute_sid invalid_context=" in srv.errors[-1]


def test_bounded_and_validated_transitions(srv: SecurityServer) -> None:
    """typebounds user_t child_t; validatetrans/mlsvalidatetrans on files."""
    u, c = srv.context_to_sid(USER), srv.context_to_sid(CHILD)
    assert srv.bounded_transition(u, c) and srv.bounded_transition(u, u)
    assert not srv.bounded_transition(c, u)
    assert "security_bounded_transition" in srv.errors[-1]
    old = srv.context_to_sid(obj("tmp_t"))
    same_user = srv.context_to_sid(obj("etc_t"))
    other_user = srv.context_to_sid(obj("tmp_t", user="user_u"))
    higher = srv.context_to_sid(obj("tmp_t", "s1"))
    assert srv.validate_transition(old, same_user, u, "file")
    assert not srv.validate_transition(old, other_user, u, "file")
    assert srv.validate_transition(old, other_user, 1, "file")
    assert not srv.validate_transition(old, higher, u, "file")
    assert srv.validate_transition(old, higher, 1, "file")


# -- labelling lookups ------------------------------------------------------------------------


def test_object_context_lookups(srv: SecurityServer) -> None:
    """portcon ranges, nodecon masks (IPv4/IPv6), netifcon, fs_use, genfscon."""
    ctx = srv.sid_to_context
    assert ctx(srv.port_sid(6, 80)) == obj("http_port_t")
    assert ctx(srv.port_sid(6, 8050)) == obj("http_port_t")
    assert srv.port_sid(6, 22) == 9 and srv.port_sid(17, 80) == 9
    assert ctx(srv.node_sid("127.0.0.1")) == obj("lo_node_t")
    assert ctx(srv.node_sid("10.1.2.3")) == obj("node_t", "s0:c1")
    assert srv.node_sid("192.168.0.1") == 12
    assert ctx(srv.node_sid("::1")) == obj("lo_node_t")
    assert srv.node_sid("::2") == 12
    assert ctx(srv.netif_sid("lo")) == obj("netif_t") and srv.netif_sid("eth0") == 10
    behavior, sid = srv.fs_use("ext4")
    assert behavior == SECURITY_FS_USE_XATTR and ctx(sid) == obj("file_t")
    assert srv.fs_use("tmpfs")[0] == SECURITY_FS_USE_TRANS
    assert srv.fs_use("proc")[0] == SECURITY_FS_USE_GENFS
    assert srv.fs_use("nfs") == (SECURITY_FS_USE_NONE, 3)
    assert ctx(srv.genfs_sid("proc", "/sys/kernel/x", "dir")) == obj("tmp_t")
    assert ctx(srv.genfs_sid("proc", "/sys/kernel/x", "file")) == obj("etc_t")
    assert ctx(srv.genfs_sid("proc", "/self", "file")) == obj("file_t")
    assert srv.genfs_sid("sysfs", "/", "file") is None


# -- explanations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "t", "tclass", "perms", "code"),
    [
        (USER, obj("tmp_t"), "file", ["read", "write"], REASON_ALLOW),
        (USER, obj("tmp_t"), "file", ["execute"], REASON_TERULE),
        (USER, obj("secret_t"), "file", ["write"], REASON_DONTAUDIT),
        (USER, obj("secret_t"), "file", ["lock"], REASON_BOOLEAN),
        (USER, obj("etc_t", "s1"), "file", ["read"], REASON_CONSTRAINT),
        (STAFF, "staff_u:sudo_r:sudo_t:s0", "process", ["transition"], REASON_RBAC),
        (CHILD, obj("etc_t"), "file", ["read"], REASON_BOUNDS),
    ],
)
def test_explain(
    srv: SecurityServer, s: str, t: str, tclass: str, perms: list[str], code: int
) -> None:
    """audit2why's categories (libsepol precedence: TE > constraint > RBAC > bounds)."""
    assert srv.explain(s, t, tclass, perms).code == code


def test_explain_details(srv: SecurityServer) -> None:
    """BOOLEAN lists every single boolean that would allow it; CONSTRAINT shows the text."""
    r = srv.explain(USER, obj("secret_t"), "file", ["lock"])
    assert r.booleans == (("b", True), ("allow_home", True))  # boolean value order
    r = srv.explain(USER, obj("etc_t", "s1"), "file", ["read"])
    assert r.constraint is not None  # every failed constraint, as libsepol lists them
    assert r.constraint.splitlines() == [
        "constrain file { append } (t1 != user_t -Fail-);",
        "mlsconstrain file { read } ((l1 dom l2 -Fail-) or (t1 == mlstrusted -Fail-));",
    ]


# -- policy reload ----------------------------------------------------------------------------


def test_reload_keeps_sids_booleans_and_bumps_seqno(srv: SecurityServer) -> None:
    """security_load_policy: SIDs keep their numbers, booleans their values by name."""
    from lsm.selinux.policy.binary import read_policy_file
    from tests.selinux_ss.conftest import SMALL, SMALL_MLS

    u, c = srv.context_to_sid(USER), srv.context_to_sid(CHILD)
    srv.set_bool("allow_home", True)
    seq = srv.seqno
    srv.load_policy(read_policy_file(SMALL_MLS))
    assert srv.seqno == seq + 1 and srv.get_bool("allow_home")
    assert srv.sid_to_context(u) == USER and srv.sid_to_context(c) == CHILD
    assert srv.context_to_sid(USER) == u and srv.context_to_sid(STAFF) > c
    # MLS -> non-MLS: ranges are dropped
    srv.load_policy(read_policy_file(SMALL))
    assert srv.sid_to_context(u) == "user_u:user_r:user_t"
    assert srv.get_bool("allow_home") and srv.sid_to_context(1) == "system_u:system_r:kernel_t"
    # non-MLS -> MLS: contexts take the unlabeled initial SID's range
    srv.load_policy(read_policy_file(SMALL_MLS))
    assert srv.sid_to_context(u) == USER


def test_reload_into_a_policy_that_rejects_a_context(
    srv: SecurityServer, debian_db: PolicyDB
) -> None:
    """A context the new policy does not accept keeps its SID and text but is decided as
    unlabeled (the kernel's invalid-context handling)."""
    c, s = srv.context_to_sid(CHILD), srv.context_to_sid(STAFF)
    srv.load_policy(debian_db)
    assert srv.sid_to_context(c) == CHILD and srv.sid_to_context_inval(c) == CHILD
    assert srv.sid_to_context(s) == STAFF and srv.sid_to_context_inval(s) is None
    unlabeled = srv.initial_sid("unlabeled")
    assert srv.compute_av(s, c, "file") == srv.compute_av(s, unlabeled, "file")
