"""Bad policies fail with one clear, located error of the right class, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsm.selinux.policy.base import BASE_CONF
from lsm.selinux.policy.compile_errors import (
    CompileError,
    InvalidLevel,
    NeverallowViolation,
    Redeclaration,
)
from lsm.selinux.policy.compiler import compile_files, compile_text
from lsm.selinux.policy.errors import (
    InvalidClass,
    InvalidPermission,
    InvalidSymbol,
    InvalidType,
    PolicyError,
    PolicySyntaxError,
)
from tests.selinux_policy.helpers import MINI_DECLS, MINI_HEAD, MINI_TAIL, mini, with_base


def test_syntax_error_names_file_line_col(tmp_path: Path) -> None:
    local = tmp_path / "local.te"
    local.write_text("type web_t;\nallow web_t self:file { read\n")
    with pytest.raises(PolicySyntaxError) as exc:
        compile_files([BASE_CONF, local])
    assert str(exc.value).startswith(f"{local}:3:1: syntax error")


def test_unknown_type_is_named_at_its_position() -> None:
    with pytest.raises(InvalidType) as exc:
        with_base("type httpd_t;\nallow httpd_t httpd_tt:file read;\n")
    assert str(exc.value) == "local.te:2:15: unknown type 'httpd_tt'"
    assert exc.value.name == "httpd_tt"


@pytest.mark.parametrize(
    ("body", "cls", "message"),
    [
        ("allow a_t b_t:fil read;", InvalidClass, "mini.conf:18:15: unknown class 'fil'"),
        ("allow a_t b_t:file reed;", InvalidPermission,
         "mini.conf:18:20: unknown permission 'reed' in class 'file'"),
        ("allow a_t b_t:{ file dir } search;", InvalidPermission,
         "mini.conf:18:28: unknown permission 'search' in class 'file'"),
        ("role_transition nobody_r a_t:process sys_r;", InvalidSymbol,
         "mini.conf:18:17: unknown role 'nobody_r'"),
        ("if (nobool) { allow a_t b_t:file read; }", InvalidSymbol,
         "mini.conf:18:5: unknown boolean 'nobool'"),
        ("constrain file read (u1 == { ghost_u });", InvalidSymbol,
         "mini.conf:18:30: unknown user 'ghost_u'"),
    ],
)
def test_unknown_symbols(body: str, cls: type[Exception], message: str) -> None:
    with pytest.raises(cls) as exc:
        mini(body)
    assert str(exc.value) == message


def test_unknown_user_in_a_context() -> None:
    tail = MINI_TAIL.replace("sid kernel sys_u:", "sid kernel nouser_u:")
    with pytest.raises(InvalidSymbol) as exc:
        compile_text(("mini.conf", MINI_HEAD + MINI_DECLS + tail))
    assert "unknown user 'nouser_u'" in str(exc.value)


@pytest.mark.parametrize(
    ("body", "first", "again"),
    [
        ("type a_t;", "mini.conf:18:6", "type 'a_t'"),
        ("attribute doms;", "mini.conf:18:11", "attribute 'doms'"),
        ("type z_t alias b_t;", "mini.conf:18:16", "type alias 'b_t'"),
        ("bool x true;\nbool x false;", "mini.conf:19:6", "boolean 'x'"),
    ],
)
def test_redeclaration_names_both_places(body: str, first: str, again: str) -> None:
    with pytest.raises(Redeclaration) as exc:
        mini(body)
    assert str(exc.value).startswith(f"{first}: duplicate declaration of {again}")
    assert "(first declared at mini.conf:" in str(exc.value)


def test_user_redeclared() -> None:
    tail = MINI_TAIL + "user sys_u roles sys_r;\n"
    with pytest.raises(Redeclaration, match="duplicate declaration of user 'sys_u'"):
        compile_text(("mini.conf", MINI_HEAD + MINI_DECLS + tail))


def test_neverallow_violation_names_both_rules(tmp_path: Path) -> None:
    local = tmp_path / "local.te"
    local.write_text("type secret_t, file_type;\n"
                     "neverallow user_t secret_t:file { write append };\n"
                     "allow user_t secret_t:file { read getattr };\n"
                     "allow domain secret_t:file { write };\n")
    with pytest.raises(NeverallowViolation) as exc:
        compile_files([BASE_CONF, local])
    text = str(exc.value)
    assert text.startswith(f"{local}:2:1: neverallow violated")
    assert f"the allow rule at {local}:4:1" in text and "file { write }" in text
    assert exc.value.allow_at == f"{local}:4:1"


def test_neverallow_with_self_and_attributes() -> None:
    """``self`` in a neverallow means "a type to itself"; like libsepol 3.4, the other
    targets of such a neverallow are not checked (checkpolicy accepts the last policy)."""
    with pytest.raises(NeverallowViolation):
        mini("neverallow doms self:process ptrace;\nallow a_t a_t:process ptrace;")
    with pytest.raises(NeverallowViolation):
        mini("neverallow a_t c_t:process ptrace;\nallow doms c_t:process ptrace;")
    mini("neverallow doms self:process ptrace;\nallow a_t b_t:process ptrace;")  # not self
    mini("neverallow a_t { b_t self }:process ptrace;\nallow a_t b_t:process ptrace;")


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("type x_t;\nrange_transition user_t x_t:process s99;", "unknown sensitivity 's99'"),
        ("type x_t;\nrange_transition user_t x_t:process s0:c2000;",
         "unknown category 'c2000'"),
        ("type x_t;\nrange_transition user_t x_t:process s3 - s1;",
         "the high level does not dominate the low level"),
        ("type x_t;\nrange_transition user_t x_t:process s0:c9.c2;", "is reversed"),
    ],
)
def test_bad_mls_levels(fragment: str, message: str) -> None:
    with pytest.raises((InvalidLevel, InvalidSymbol)) as exc:
        with_base(fragment)
    assert message in str(exc.value)
    assert str(exc.value).startswith("local.te:2:")


def test_category_not_valid_at_sensitivity() -> None:
    head = MINI_HEAD + "sensitivity s0;\nsensitivity s1;\ndominance { s0 s1 }\n" \
        "category c0;\ncategory c1;\nlevel s0:c0;\nlevel s1:c0,c1;\n"
    tail = "user sys_u roles { sys_r } level s0 range s0 - s1:c0,c1;\n" \
        "sid kernel sys_u:sys_r:a_t:s0:c1\nsid unlabeled sys_u:object_r:a_t:s0\n"
    with pytest.raises(InvalidLevel, match="category c1 is not associated with sensitivity s0"):
        compile_text(("mls.conf", head + MINI_DECLS + tail))


def test_other_compile_errors() -> None:
    with pytest.raises(CompileError, match="conflicting type_transition"):
        mini("type_transition a_t c_t:file a_t;\ntype_transition a_t c_t:file b_t;")
    with pytest.raises(CompileError, match="exceeds the bounds of its parent"):
        mini("typebounds a_t b_t;\nallow b_t c_t:file read;")
    with pytest.raises(CompileError, match="not allowed in this type of rule"):
        mini("allow a_t *:file read;")
    with pytest.raises(CompileError, match="not authorised for user"):
        compile_text(("m.conf", MINI_HEAD + MINI_DECLS + "role other_r;\n"
                      + MINI_TAIL.replace("sys_u:sys_r:a_t", "sys_u:other_r:a_t")))
    with pytest.raises(CompileError, match="'dom' is a reserved word"):
        mini("type dom;")
    with pytest.raises(CompileError, match="'LOW' is a reserved word"):
        mini("bool LOW true;")
    mini("type Low;\nrole Source;")  # keywords are all-lower or all-upper only
    with pytest.raises(InvalidSymbol, match="unknown policy capability 'no_such_cap'"):
        mini("policycap no_such_cap;")
    with pytest.raises(CompileError, match="no security classes declared"):
        compile_text(("frag.te", "type x_t;\n"))
    with pytest.raises(CompileError, match="a module needs a base policy"):
        compile_text(("m.te", "module m 1.0;\ntype x_t;\n"))
    with pytest.raises(InvalidType, match="unknown type 'httpd_t'"):
        with_base("module m 1.0;\nrequire { type httpd_t; }\n")
    with pytest.raises(CompileError, match="tunables and booleans cannot be mixed"):
        mini("tunable t true;\nbool b true;\nif (t && b) { allow a_t b_t:file read; }")
    with pytest.raises(CompileError, match="- is not allowed in permission sets"):
        mini("allow a_t b_t:file { read -write };")
    with pytest.raises(PolicySyntaxError, match="empty set"):
        mini("allow a_t b_t:file { };")
    with pytest.raises(CompileError, match="range_transition in a policy without MLS"):
        mini("range_transition a_t b_t s0;")
    with pytest.raises(CompileError, match=r"MLS levels .* in a policy without MLS"):
        mini("constrain file read (l1 dom l2);")
    with pytest.raises(CompileError, match="~ not allowed in constraint names"):
        mini("constrain file read (t1 == ~a_t);")
    with pytest.raises(CompileError, match="u3, r3 and t3 are only valid in validatetrans"):
        mini("constrain file read (t3 == a_t);")


def test_expressions_deeper_than_the_kernel_evaluates_are_refused() -> None:
    """The kernel evaluates constraints on a 5-slot stack and conditionals on a 10-slot one;
    checkpolicy refuses deeper expressions, and so do we (with no Python recursion error)."""
    nested = "u1 == u2"
    for _ in range(5):
        nested = f"u1 == u2 and ({nested})"
    with pytest.raises(CompileError, match="constraint expression is too deep"):
        mini(f"constrain file read ({nested});")
    flat = " and ".join(["u1 == u2"] * 3000)
    with pytest.raises(CompileError, match="constraint expression is too deep"):
        mini(f"constrain file read ({flat});")
    bools = "".join(f"bool b{i} true;\n" for i in range(11))
    cond = "b0"
    for i in range(1, 11):
        cond = f"b{i} && ({cond})"
    with pytest.raises(CompileError, match="conditional expression is too deep"):
        mini(bools + f"if ({cond}) {{ allow a_t b_t:file read; }}")


def test_unreadable_and_binary_input_are_clean_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        compile_files([tmp_path / "missing.conf"])
    binary = tmp_path / "latin1.te"
    binary.write_bytes(b"type caf\xe9_t;\n")
    with pytest.raises(PolicySyntaxError, match="not UTF-8"):
        compile_files([BASE_CONF, binary])
    with pytest.raises(PolicyError, match="handle_unknown"):
        compile_files([BASE_CONF], handle_unknown="maybe")
