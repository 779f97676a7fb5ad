"""What each statement becomes in the kernel PolicyDB (the checkpolicy/libsepol layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsm.selinux.policy.compiler import compile_files, compile_text
from lsm.selinux.ss import policydb as P
from tests.selinux_policy.helpers import POLICIES, mini, with_base


def tv(db: P.PolicyDB, name: str) -> int:
    return db.lookup_type(name).value


def cv(db: P.PolicyDB, name: str) -> int:
    return db.lookup_class(name).value


def pm(db: P.PolicyDB, tclass: str, *perms: str) -> int:
    return db.perm_mask(tclass, list(perms))


@pytest.fixture(scope="module")
def small() -> P.PolicyDB:
    return compile_files([POLICIES / "small_mls.conf"])


# -- flask: classes, commons, SIDs


def test_classes_commons_and_permission_values() -> None:
    db = mini()
    assert [c.name for c in db.classes] == ["process", "file", "dir", "msgq"]
    f = db.lookup_class("file")
    assert f.common is not None and f.common.name == "file"
    assert f.all_perms["read"] == 1 and f.all_perms["execute"] == 8
    assert db.lookup_class("process").all_perms["fork"] == 1


def test_initial_sid_contexts() -> None:
    db = mini()
    kernel = db.isids[1]
    assert kernel.name == "kernel"
    assert (kernel.context.user, kernel.context.role) == (db.lookup_user("sys_u").value,
                                                         db.lookup_role("sys_r").value)
    assert db.isids[2].context.role == P.OBJECT_R_VAL


# -- types and attributes


def test_types_aliases_attributes() -> None:
    db = mini("type d_t alias { d_alias_t };\ntypealias c_t alias old_c_t;\n"
              "typeattribute c_t doms;\n")
    assert db.lookup_type("d_alias_t") is db.lookup_type("d_t")
    assert db.lookup_type("old_c_t") is db.lookup_type("c_t")
    dom = db.lookup_type("doms")
    assert dom.attribute and not db.lookup_type("a_t").attribute
    for t in ("a_t", "b_t", "c_t"):
        assert db.type_attr_map[tv(db, t) - 1] >> (dom.value - 1) & 1
    assert db.type_count == 4 and db.attribute_count == 1


def test_allow_keeps_attributes_but_expands_self_and_exclusions() -> None:
    db = mini("allow doms c_t:file read;\nallow doms self:file write;\n"
              "allow { doms -b_t } c_t:dir search;\n")
    dom, a, b, c = (tv(db, n) for n in ("doms", "a_t", "b_t", "c_t"))
    f, d = cv(db, "file"), cv(db, "dir")
    assert db.avtab[(dom, c, f, P.AVTAB_ALLOWED)] == pm(db, "file", "read")
    assert db.avtab[(a, a, f, P.AVTAB_ALLOWED)] == pm(db, "file", "write")
    assert db.avtab[(b, b, f, P.AVTAB_ALLOWED)] == pm(db, "file", "write")
    assert (a, c, d, P.AVTAB_ALLOWED) in db.avtab and (dom, c, d, P.AVTAB_ALLOWED) not in db.avtab
    assert (b, c, d, P.AVTAB_ALLOWED) not in db.avtab


def test_rules_with_one_key_merge_and_dontaudit_stores_what_stays_audited() -> None:
    db = mini("allow a_t c_t:file read;\nallow a_t c_t:{ file dir } write;\n"
              "dontaudit a_t c_t:file read;\ndontaudit a_t c_t:file write;\n"
              "auditallow a_t c_t:file read;\nallow a_t b_t:file *;\n"
              "allow a_t b_t:dir ~{ search };\nneverallow a_t b_t:msgq *;\n")
    a, b, c, f, d = tv(db, "a_t"), tv(db, "b_t"), tv(db, "c_t"), cv(db, "file"), cv(db, "dir")
    assert db.avtab[(a, c, f, P.AVTAB_ALLOWED)] == pm(db, "file", "read", "write")
    assert db.avtab[(a, c, f, P.AVTAB_AUDITDENY)] == 0xFFFFFFFF & ~pm(db, "file", "read", "write")
    assert db.avtab[(a, c, f, P.AVTAB_AUDITALLOW)] == pm(db, "file", "read")
    assert db.avtab[(a, b, f, P.AVTAB_ALLOWED)] == 0xFFFFFFFF  # checkpolicy stores '*' as all bits
    assert db.avtab[(a, b, d, P.AVTAB_ALLOWED)] == 0xFFFFFFFF & ~pm(db, "dir", "search")
    assert not any(k[2] == cv(db, "msgq") for k in db.avtab)  # neverallow is not stored


def test_allowxperm_ioctl_drivers_and_functions() -> None:
    db = mini("allowxperm a_t c_t:file ioctl { 0x5401 0x5403-0x5404 0x8900-0x89ff };\n")
    key = (tv(db, "a_t"), tv(db, "c_t"), cv(db, "file"), P.AVTAB_XPERMS_ALLOWED)
    datums = db.avtab[key]
    assert isinstance(datums, tuple)
    driver = [x for x in datums if x.specified == P.AVTAB_XPERMS_IOCTLDRIVER]
    funcs = [x for x in datums if x.specified == P.AVTAB_XPERMS_IOCTLFUNCTION]
    assert driver[0].perms == 1 << 0x89
    assert funcs[0].driver == 0x54 and funcs[0].perms == 0b11010


def test_type_rules_expand_attributes_and_named_transitions() -> None:
    db = mini('type_transition doms c_t:file c_t;\ntype_transition a_t c_t:dir b_t "sub";\n'
              "type_change a_t c_t:file b_t;\ntype_member a_t c_t:dir a_t;\n")
    a, b, c = tv(db, "a_t"), tv(db, "b_t"), tv(db, "c_t")
    f, d = cv(db, "file"), cv(db, "dir")
    assert db.avtab[(a, c, f, P.AVTAB_TRANSITION)] == c
    assert db.avtab[(b, c, f, P.AVTAB_TRANSITION)] == c
    assert db.filename_trans == {(a, c, d, "sub"): b}
    assert db.avtab[(a, c, f, P.AVTAB_CHANGE)] == b
    assert db.avtab[(a, c, d, P.AVTAB_MEMBER)] == a


def test_booleans_and_conditional_blocks() -> None:
    db = mini("bool on true;\nbool off false;\n"
              "if (on && !off) { allow a_t c_t:file read; } else { allow a_t c_t:file write; }\n"
              "if (on && !off) { type_transition a_t c_t:file b_t; }\n"
              "if (off) { allow a_t c_t:dir search; }\n")
    on, off = db.lookup_bool("on"), db.lookup_bool("off")
    assert on.state and not off.state
    assert len(db.cond_list) == 2  # identical expressions share a node
    node = next(n for n in db.cond_list if len(n.expr) == 4)
    assert node.expr == (P.CondExpr(P.COND_BOOL, on.value), P.CondExpr(P.COND_BOOL, off.value),
                         P.CondExpr(P.COND_NOT), P.CondExpr(P.COND_AND))
    assert node.cur_state is True
    kinds = sorted(k[3] for k, _ in node.true_list)
    assert kinds == [P.AVTAB_ALLOWED, P.AVTAB_TRANSITION]
    assert [k[3] for k, _ in node.false_list] == [P.AVTAB_ALLOWED]
    assert not any(k[2] == cv(db, "dir") for k in db.avtab)


def test_conditionals_merge_like_libsepol() -> None:
    """A final ``not`` is dropped with the branches swapped, and blocks with the same
    booleans and truth table share a node -- including libsepol 3.4's quirk that
    ``a && !b`` equals ``b && !a`` (each table is indexed by its own boolean order)."""
    db = mini("bool x true;\nbool y false;\n"
              "if (!x) { allow a_t c_t:file read; } else { allow a_t c_t:file write; }\n"
              "if (x || x) { allow a_t c_t:file open; }\n"
              "if (x && !y) { allow a_t c_t:dir search; }\n"
              "if (y && !x) { allow a_t c_t:dir add_name; }\n")
    x = db.lookup_bool("x").value
    assert len(db.cond_list) == 2
    plain = next(n for n in db.cond_list if n.expr == (P.CondExpr(P.COND_BOOL, x),))
    a, c, f = tv(db, "a_t"), tv(db, "c_t"), cv(db, "file")
    assert dict(plain.true_list)[(a, c, f, P.AVTAB_ALLOWED)] == pm(db, "file", "write", "open")
    assert dict(plain.false_list)[(a, c, f, P.AVTAB_ALLOWED)] == pm(db, "file", "read")
    quirk = next(n for n in db.cond_list if n is not plain)
    assert dict(quirk.true_list)[(a, c, cv(db, "dir"), P.AVTAB_ALLOWED)] == pm(
        db, "dir", "search", "add_name")


def test_tunables_are_decided_at_compile_time() -> None:
    db = mini("tunable t_on true;\ntunable t_off false;\n"
              "if (t_on && !t_off) { allow a_t c_t:file read; }\n"
              "else { allow a_t c_t:file write; }\n"
              "if (t_off) { allow a_t c_t:dir search; }\n")
    assert db.bools.nprim == 0 and db.cond_list == []
    assert db.avtab[(tv(db, "a_t"), tv(db, "c_t"), cv(db, "file"), P.AVTAB_ALLOWED)] == pm(
        db, "file", "read")
    assert not any(k[2] == cv(db, "dir") for k in db.avtab)


def test_constraints_are_postfix() -> None:
    db = mini("constrain process transition (u1 == u2 or (t1 == doms and not r1 dom r2));\n"
              "validatetrans file (t3 == c_t);\n")
    (con,) = db.lookup_class("process").constraints
    assert con.permissions == pm(db, "process", "transition")
    assert [(e.expr_type, e.attr, e.op) for e in con.expr] == [
        (P.CEXPR_ATTR, P.CEXPR_USER, P.CEXPR_EQ),
        (P.CEXPR_NAMES, P.CEXPR_TYPE, P.CEXPR_EQ),
        (P.CEXPR_ATTR, P.CEXPR_ROLE, P.CEXPR_DOM),
        (P.CEXPR_NOT, 0, 0), (P.CEXPR_AND, 0, 0), (P.CEXPR_OR, 0, 0),
    ]  # fmt: skip
    names = con.expr[1].names  # the attribute expanded to its types
    assert names == (1 << (tv(db, "a_t") - 1)) | (1 << (tv(db, "b_t") - 1))
    (vt,) = db.lookup_class("file").validatetrans
    assert vt.expr[0].attr == P.CEXPR_TYPE | P.CEXPR_XTARGET


def test_mls_symbols_levels_and_constraints(small: P.PolicyDB) -> None:
    db = small
    assert [s.name for s in sorted(db.levels, key=lambda s: s.value)] == ["s0", "s1", "s2"]
    assert db.levels.get("unclassified").isalias and db.levels.get("topsecret").level.sens == 3
    assert db.cats.get("red").value == db.cats.get("c0").value == 1
    assert db.levels.get("s2").level.cats == 0b1111
    mls = db.lookup_class("file").constraints
    assert any(e.attr == P.CEXPR_L1L2 and e.op == P.CEXPR_DOM for c in mls for e in c.expr)
    proc = db.lookup_class("process").constraints
    assert any(e.attr == P.CEXPR_H1H2 for c in proc for e in c.expr)
    assert db.lookup_class("file").validatetrans


def test_users_roles_and_role_rules(small: P.PolicyDB) -> None:
    db = small
    web_r, system_r = db.lookup_role("web_r"), db.lookup_role("system_r")
    assert web_r.types == (1 << (tv(db, "web_t") - 1)) | (1 << (tv(db, "web_child_t") - 1))
    assert (system_r.value, web_r.value) in db.role_allow
    rt = {(r.role, r.type, r.tclass): r.new_role for r in db.role_trans}
    assert rt[(system_r.value, tv(db, "web_exec_t"), cv(db, "process"))] == web_r.value
    web_u = db.lookup_user("web_u")
    assert web_u.roles >> (web_r.value - 1) & 1
    assert web_u.dfltlevel == P.MlsLevel(2, 0)
    assert web_u.range == P.MlsRange(P.MlsLevel(1, 0), P.MlsLevel(3, 0b1111))


def test_range_transitions_bounds_permissive_policycaps_defaults(small: P.PolicyDB) -> None:
    db = small
    proc = cv(db, "process")
    rng = db.range_trans[(tv(db, "web_t"), tv(db, "web_exec_t"), proc)]
    assert rng == P.MlsRange(P.MlsLevel(2, 0), P.MlsLevel(3, 0b1111))
    assert (tv(db, "init_t"), tv(db, "db_data_t"), proc) in db.range_trans  # default class
    assert db.lookup_type("web_child_t").bounds == tv(db, "web_t")
    assert db.permissive_types == {tv(db, "db_t")}
    assert db.policycaps == 0b11
    f, d, m = (db.lookup_class(n) for n in ("file", "dir", "msgq"))
    assert (f.default_user, f.default_role, d.default_type) == (
        P.DEFAULT_SOURCE, P.DEFAULT_TARGET, P.DEFAULT_SOURCE)
    assert m.default_range == P.DEFAULT_TARGET_LOW_HIGH
    assert db.lookup_class("process").default_range == P.DEFAULT_GLBLUB


def test_labeling_statements(small: P.PolicyDB) -> None:
    db = small
    assert [f.fstype for f in db.fs_uses] == ["tmpfs", "pipefs", "ext4"]  # checkpolicy prepends
    assert [g.path for g in db.genfs["proc"]] == ["/sys/kernel", "/sys", "/"]
    assert db.genfs["proc"][0].sclass == cv(db, "dir")
    assert [(p.protocol, p.low, p.high) for p in db.portcons] == [
        (6, 80, 80), (6, 8000, 8100), (17, 1, 1023)]
    assert [n.name for n in db.netifcons] == ["eth0", "lo"]
    v4 = [n for n in db.nodecons if not n.ipv6]
    assert [n.mask for n in v4] == [0xFFFFFFFF, 0xFFFF0000, 0xFF000000]  # most specific first
    assert any(n.ipv6 and n.addr == 1 for n in db.nodecons)
    assert [(p.subnet_prefix, p.low, p.high) for p in db.ibpkeycons] == [
        (0xFE80 << 48, 0xFFFF, 0xFFFF), (0xFE80 << 48, 1, 16)]
    assert [(e.device, e.port) for e in db.ibendportcons] == [("mlx4_0", 2)]


def test_handle_unknown() -> None:
    from tests.selinux_policy.helpers import MINI_DECLS, MINI_HEAD, MINI_TAIL
    text = MINI_HEAD + MINI_DECLS + MINI_TAIL
    assert compile_text(("m.conf", text)).handle_unknown == P.HANDLE_UNKNOWN_DENY
    db = compile_text(("m.conf", text), handle_unknown="allow")
    assert db.handle_unknown == P.HANDLE_UNKNOWN_ALLOW


# -- fragments and modules on the base


def test_fragment_adds_types_after_the_base() -> None:
    db = with_base("type frag_t, domain;\nrole user_r types frag_t;\n"
                   "allow frag_t self:process fork;\n")
    frag = tv(db, "frag_t")
    assert (frag, frag, cv(db, "process"), P.AVTAB_ALLOWED) in db.avtab
    assert db.lookup_role("user_r").types >> (frag - 1) & 1


def test_module_with_requires_and_optional() -> None:
    db = with_base("module m 1.0;\nrequire { type user_t; class file { read }; role user_r; }\n"
                   "type m_t;\nrole user_r types m_t;\nallow user_t m_t:file read;\n"
                   "optional { require { type no_such_t; } allow no_such_t m_t:file read; }\n"
                   "optional { require { type tmp_t; } allow user_t tmp_t:file read; }\n"
                   "else { allow user_t m_t:file write; }\n", "m.te")
    f = cv(db, "file")
    assert db.avtab[(tv(db, "user_t"), tv(db, "m_t"), f, P.AVTAB_ALLOWED)] == pm(db, "file", "read")
    assert (tv(db, "user_t"), tv(db, "tmp_t"), f, P.AVTAB_ALLOWED) in db.avtab


def test_load_policy_takes_base_and_fragment(tmp_path: Path) -> None:
    """The public entry point (``load_policy``) compiles source through compile_files."""
    from lsm.selinux.policy.base import BASE_CONF
    from lsm.selinux.policy.loader import load_policy

    local = tmp_path / "local.te"
    local.write_text("type app_t, domain;\nrole user_r types app_t;\n"
                     "allow app_t self:msgq { create enqueue write read associate };\n")
    policy = load_policy(BASE_CONF, local)
    ctx = "user_u:user_r:app_t:s0"
    assert policy.compute_av(ctx, ctx, "msgq").allowed == {"create", "enqueue", "write", "read",
                                                          "associate"}
    assert policy.compute_av(ctx, "system_u:object_r:etc_t:s0", "file").allowed == set()


def test_role_types_by_attribute_include_later_members() -> None:
    """``role r types attr;`` covers types that get the attribute further down."""
    db = mini("attribute late_a;\nrole sys_r types late_a;\ntype z_t;\ntypeattribute z_t late_a;\n")
    assert db.lookup_role("sys_r").types >> (tv(db, "z_t") - 1) & 1
