"""Each statement parses to its AST node; malformed ones fail at the offending token."""

from __future__ import annotations

import pytest

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.errors import PolicySyntaxError
from lsm.selinux.policy.parser import parse_text


def one(text: str) -> A.Stmt:
    stmts = parse_text(text, "p.conf")
    assert len(stmts) == 1, stmts
    return stmts[0]


def names(ns: A.NameSet) -> list[str]:
    return [n.text for n in ns.names]


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("class file", A.ClassDecl),
        ("class file inherits file", A.ClassPerms),
        ("class fd { use }", A.ClassPerms),
        ("common ipc { create destroy }", A.CommonDef),
        ("sid kernel", A.InitialSidDecl),
        ("sid kernel u:r:t:s0 - s1:c0.c3", A.SidContext),
        ("default_user file source;", A.DefaultRule),
        ("default_range { file dir } target low-high;", A.DefaultRule),
        ("default_range process glblub;", A.DefaultRule),
        ("sensitivity s0 alias unclassified;", A.SensitivityDecl),
        ("dominance { s0 s1 }", A.Dominance),
        ("category c0 alias { red crimson };", A.CategoryDecl),
        ("level s0:c0.c3,c7;", A.LevelDecl),
        ("mlsconstrain file read (l1 dom l2);", A.ConstrainDef),
        ("mlsvalidatetrans file (l1 eq l2 or t3 == x_t);", A.ConstrainDef),
        ("constrain process transition (u1 == u2 or not r1 == r2);", A.ConstrainDef),
        ("validatetrans file (u1 == u2);", A.ConstrainDef),
        ("policycap open_perms;", A.PolicyCap),
        ("attribute domain;", A.AttributeDecl),
        ("type a_t alias { b_t c_t }, domain, file_type;", A.TypeDecl),
        ("typealias a_t alias d_t;", A.TypeAlias),
        ("typeattribute a_t domain, other;", A.TypeAttribute),
        ("typebounds a_t b_t, c_t;", A.TypeBounds),
        ("permissive a_t;", A.Permissive),
        ("bool web_on true;", A.BoolDecl),
        ("tunable web_tun false;", A.BoolDecl),
        ("if (a && !b) { allow x y:file read; } else { dontaudit x y:file read; }",
         A.CondBlock),
        ("allow { a -b } self:{ file dir } *;", A.AvRule),
        ("auditallow a b:file ~{ read };", A.AvRule),
        ("auditdeny a b:file read;", A.AvRule),
        ("dontaudit a b:file read;", A.AvRule),
        ("neverallow ~a * : file *;", A.AvRule),
        ("allowxperm a b:file ioctl { 0x5401 0x5402-0x5410 };", A.XpermRule),
        ("dontauditxperm a b:file ioctl ~0x8927;", A.XpermRule),
        ('type_transition a b:file c "name.log";', A.TypeRule),
        ("type_change a b:file c;", A.TypeRule),
        ("type_member a b:dir c;", A.TypeRule),
        ("range_transition a b:process s0 - s1:c0;", A.RangeTransition),
        ("range_transition a b s0;", A.RangeTransition),
        ("role r;", A.RoleDecl),
        ("role r types { a b };", A.RoleDecl),
        ("role r, ra;", A.RoleDecl),
        ("attribute_role ra;", A.AttributeRoleDecl),
        ("roleattribute r ra;", A.RoleAttribute),
        ("allow r1 { r2 r3 };", A.RoleAllow),
        ("role_transition r a:process r2;", A.RoleTransition),
        ("role_transition r a r2;", A.RoleTransition),
        ("user u roles { r object_r } level s0 range s0 - s1:c0.c3;", A.UserDecl),
        ("user u roles r;", A.UserDecl),
        ("fs_use_xattr ext4 u:object_r:fs_t:s0;", A.FsUse),
        ("fs_use_task pipefs u:object_r:fs_t:s0;", A.FsUse),
        ("fs_use_trans tmpfs u:object_r:tmpfs_t:s0;", A.FsUse),
        ("genfscon proc /sys -d u:object_r:proc_t:s0", A.GenfsCon),
        ("portcon tcp 8000-8080 u:object_r:http_port_t:s0", A.PortCon),
        ("netifcon eth0 u:object_r:if_t:s0 u:object_r:msg_t:s0", A.NetifCon),
        ("nodecon ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff u:object_r:node_t:s0", A.NodeCon),
        ("ibpkeycon fe80:: 0x10-0x20 u:object_r:t:s0", A.IbPkeyCon),
        ("ibendportcon mlx4_0 1 u:object_r:t:s0", A.IbEndportCon),
        ("module local 1.0;", A.ModuleDecl),
        ("require { type a, b; class file { read write }; role r; bool x; }", A.Require),
        ("optional { require { type a; } allow a a:file read; } else { }", A.Optional),
    ],
)
def test_statement_parses(text: str, node: type) -> None:
    assert isinstance(one(text), node)


def test_name_sets() -> None:
    rule = one("allow { a { b c } -d } self:{ file } { read write };")
    assert isinstance(rule, A.AvRule)
    assert names(rule.src) == ["a", "b", "c"] and [n.text for n in rule.src.neg] == ["d"]
    assert names(rule.tgt) == ["self"]
    star = one("neverallow ~{ a b } *:file *;")
    assert isinstance(star, A.AvRule)
    assert star.src.comp and star.tgt.star and star.perms.star
    bare = one("allow domain -web_t x_t:file read;")
    assert isinstance(bare, A.AvRule)
    assert names(bare.src) == ["domain"] and [n.text for n in bare.src.neg] == ["web_t"]


def test_constraint_expression_tree() -> None:
    c = one("constrain file write (u1 == u2 or (t1 == { a b } and not r1 dom r2));")
    assert isinstance(c, A.ConstrainDef)
    op, left, right = c.expr
    assert op == "or" and isinstance(left[0], A.CExprAttr) and left[0].right == "u2"
    assert right[0] == "and" and right[2][0] == "not"
    leaf = right[1][0]
    assert isinstance(leaf, A.CExprAttr) and leaf.left == "t1" and names(leaf.right) == ["a", "b"]


def test_boolean_expression_precedence() -> None:
    """``a || b && !c == d`` reads as ``a || (b && !(c == d))``, as in checkpolicy's grammar."""
    block = one("if (a || b && !c == d) { allow x y:file read; }")
    assert isinstance(block, A.CondBlock)
    op, _, rhs = block.expr
    assert op == "or" and rhs[0] == "and" and rhs[2][0] == "not" and rhs[2][1][0] == "=="


def test_context_and_ranges() -> None:
    sid = one("sid kernel system_u:system_r:kernel_t:s0 - s15:c0.c1023")
    assert isinstance(sid, A.SidContext)
    rng = sid.context.range
    assert rng is not None and rng.high is not None
    assert rng.low.sens.text == "s0" and rng.high.sens.text == "s15"
    assert [c.text for c in rng.high.cats] == ["c0.c1023"]


def test_named_transition_and_genfs_regular_file() -> None:
    tt = one('type_transition a_t tmp_t:file log_t "access.log";')
    assert isinstance(tt, A.TypeRule) and tt.filename == "access.log"
    g = one("genfscon proc /kmsg -- u:object_r:proc_t:s0")
    assert isinstance(g, A.GenfsCon) and g.filetype == "-"


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("type a_t", "p.conf:1:9", "expected ';'"),
        ("allow a b:file { read write ;", "p.conf:1:29", "expected a name or '}'"),
        ("type a_t;\nallow a_t b_t file read;", "p.conf:2:15", "expected ':'"),
        ("bogus_statement x;", "p.conf:1:1", "unknown statement 'bogus_statement'"),
        ("bool b maybe;", "p.conf:1:8", "expected true or false"),
        ("if (a) { allow x y:file read;", "p.conf:1:30", "missing '}'"),
        ("constrain file read (u1 ~ u2);", "p.conf:1:25", "expected a comparison"),
        ("constrain file read (x1 == u2);", "p.conf:1:22", "constraint operand"),
        ("type a_t;\nmodule m 1.0;", "p.conf:2:1", "module statement must come first"),
        ('type_change a b:file c "x";', "p.conf:1:24", "takes no object name"),
        ("genfscon proc /x -q u:r:t", "p.conf:1:19", "invalid genfscon file type"),
        ("nodecon 1.2.3.4 ::1 u:r:t", "p.conf:1:17", "same IP version"),
    ],
)
def test_syntax_errors_are_located(text: str, where: str, fragment: str) -> None:
    with pytest.raises(PolicySyntaxError) as exc:
        parse_text(text, "p.conf")
    assert str(exc.value).startswith(where + ": "), str(exc.value)
    assert fragment in str(exc.value)


def test_absurd_nesting_is_a_syntax_error() -> None:
    with pytest.raises(PolicySyntaxError, match="nested too deeply"):
        parse_text("if (" + "(" * 5000 + "a" + ")" * 5000 + ") { }", "deep.conf")
