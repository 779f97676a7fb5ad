"""Our compiler against the real toolchain: same binary structure, same decisions.

Each policy is compiled twice: by ``checkpolicy`` (or checkmodule + semodule_link/expand for
modules) and by us.  The binary is read back with our binary reader and compared field by
field with our PolicyDB; then libsepol (``audit2why.analyze``) and our security server must
agree on every permission for every (source type, target type, class) and for a sample of
process-like contexts with other users, roles and MLS levels.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lsm.selinux.policy.base import BASE_CONF
from lsm.selinux.policy.binary import read_policy_file
from lsm.selinux.policy.compiler import compile_files
from lsm.selinux.ss.policydb import PolicyDB
from tests.oracles import require
from tests.selinux_policy.helpers import (
    POLICIES,
    checkmodule_link,
    checkpolicy,
    checkpolicy_fragment,
    compare_decisions,
    object_contexts,
    sampled_contexts,
)

pytestmark = pytest.mark.interop

#: classes compared for policies built on the base (the base has 97; these are the ones the
#: test fragments use, plus a few more)
_BASE_CLASSES = ("process", "file", "dir", "fd", "msgq", "msg", "sem", "shm", "sock_file",
                 "unix_stream_socket", "capability", "filesystem")  # fmt: skip


def _symbols(db: PolicyDB, table: str) -> dict[str, int]:
    return {name: getattr(d, "value", 0) for name, d in getattr(db, table).names.items()}


def assert_same_structure(ours: PolicyDB, ref: PolicyDB) -> None:
    """Symbol values, avtab, conditionals, RBAC, MLS and labeling statements all equal."""
    for table in ("commons", "classes", "roles", "types", "users", "bools", "cats"):
        assert _symbols(ours, table) == _symbols(ref, table), table
    for table, fields in (("types", ("attribute", "bounds")),
                          ("roles", ("types", "dominates")),
                          ("users", ("roles", "range", "dfltlevel")),
                          ("levels", ("level", "isalias")),
                          ("bools", ("state",))):  # fmt: skip
        for name, datum in getattr(ref, table).names.items():
            mine = getattr(ours, table).get(name)
            for f in fields:
                assert getattr(mine, f) == getattr(datum, f), (table, name, f)
    for cls in ref.classes:
        mine = ours.lookup_class(cls.name)
        for f in ("perms", "constraints", "validatetrans", "default_user", "default_role",
                  "default_type", "default_range"):
            assert getattr(mine, f) == getattr(cls, f), (cls.name, f)
    assert ours.avtab == ref.avtab
    for f in ("role_allow", "role_trans", "filename_trans", "range_trans", "type_attr_map",
              "permissive_map", "policycaps", "mls", "handle_unknown", "isids", "fs_uses",
              "portcons", "netifcons", "nodecons", "genfs", "ibpkeycons", "ibendportcons"):
        assert getattr(ours, f) == getattr(ref, f), f
    assert len(ours.cond_list) == len(ref.cond_list)
    for mine, theirs in zip(ours.cond_list, ref.cond_list, strict=True):
        assert mine.expr == theirs.expr
        assert sorted(mine.true_list) == sorted(theirs.true_list)
        assert sorted(mine.false_list) == sorted(theirs.false_list)
        assert mine.cur_state == theirs.cur_state


def _triples(db: PolicyDB, classes: tuple[str, ...] | None,
             seed: int) -> list[tuple[str, str, str]]:
    ctx = object_contexts(db)
    names = list(classes) if classes else [c.name for c in db.classes]
    triples = [(ctx[s], ctx[t], c) for s in ctx for t in ctx for c in names]
    rng = random.Random(seed)
    pool = sampled_contexts(db, rng, 80)
    triples += [(rng.choice(pool), rng.choice(pool), rng.choice(names)) for _ in range(300)]
    return triples


def _check(ours: PolicyDB, binary: Path, classes: tuple[str, ...] | None,
           structure: bool = True) -> None:
    if structure:
        assert_same_structure(ours, read_policy_file(binary))
    require("audit2why")
    total, disagreements = compare_decisions(ours, binary, _triples(ours, classes, 1))
    assert total > 300
    assert disagreements == []


def test_base_policy_matches_checkpolicy(tmp_path: Path) -> None:
    require("checkpolicy")
    binary = checkpolicy(BASE_CONF.read_text(), tmp_path)
    _check(compile_files([BASE_CONF]), binary, _BASE_CLASSES)


def test_small_mls_policy_every_statement(tmp_path: Path) -> None:
    """Every (type, type, class) of a complete MLS policy using the whole language."""
    require("checkpolicy")
    src = POLICIES / "small_mls.conf"
    binary = checkpolicy(src.read_text(), tmp_path)
    _check(compile_files([src]), binary, None)


def test_role_attributes_decisions(tmp_path: Path) -> None:
    """Role attributes leave holes in the role values, which our binary reader refuses
    (nprim > entries), so this one compares decisions and role values only."""
    require("checkpolicy")
    src = POLICIES / "small_roleattr.conf"
    binary = checkpolicy(src.read_text(), tmp_path)
    ours = compile_files([src])
    assert ours.roles.nprim == 6 and len(list(ours.roles)) == 5
    _check(ours, binary, None, structure=False)


def test_fragment_on_base(tmp_path: Path) -> None:
    """A TE fragment: checkpolicy needs it spliced into base.conf, we take two files."""
    require("checkpolicy")
    frag = POLICIES / "frag_ipc.te"
    binary = checkpolicy_fragment(frag.read_text(), tmp_path)
    _check(compile_files([BASE_CONF, frag]), binary, _BASE_CLASSES)


def test_module_on_base(tmp_path: Path) -> None:
    """A checkmodule module linked and expanded with the base, as semodule would."""
    require("checkmodule", "semodule_link", "semodule_expand", "semodule_package")
    mod = POLICIES / "mod_local.te"
    binary = checkmodule_link(mod, tmp_path, "local")
    _check(compile_files([BASE_CONF, mod]), binary, _BASE_CLASSES)


def test_many_types_use_checkpolicys_value_order(tmp_path: Path) -> None:
    """Past 512 types (16 booleans, 16 roles) libsepol's hash tables grow; values still
    match checkpolicy's."""
    require("checkpolicy")
    rng = random.Random(3)
    names = [f"t{rng.randint(0, 10**6)}_{i}_t" for i in range(600)]
    frag = "".join(f"type {n};\nrole user_r types {n};\n" for n in names)
    frag += f"typealias {names[0]} alias {{ first_alias_t other_alias_t }};\n"
    frag += "".join(f"bool b_{n}_{i} true;\n" for i in range(7) for n in ("zeta", "alpha", "x"))
    frag += "".join(f"role r_{i}_r;\n" for i in range(20))
    binary = checkpolicy_fragment(frag, tmp_path)
    (tmp_path / "many.te").write_text(frag)
    ours = compile_files([BASE_CONF, tmp_path / "many.te"])
    ref = read_policy_file(binary)
    for table in ("types", "roles", "users", "bools"):
        assert _symbols(ours, table) == _symbols(ref, table), table


def test_audit2allow_module_compiles_and_grants_the_denials(tmp_path: Path) -> None:
    """``audit2allow -m`` output is a module our compiler takes as is, with checkmodule's
    result, and it grants exactly what the logged denials asked for."""
    require("checkpolicy", "audit2allow", "checkmodule", "semodule_link", "semodule_expand",
            "semodule_package")
    import subprocess

    from lsm.selinux.policy.loader import Policy

    base_bin = checkpolicy(BASE_CONF.read_text(), tmp_path)
    proc = subprocess.run(
        ["audit2allow", "-p", str(base_bin), "-i", str(POLICIES / "denials.log"), "-m", "local"],
        capture_output=True, text=True, check=True,
    )
    module = tmp_path / "local.te"
    module.write_text(proc.stdout)
    ours = compile_files([BASE_CONF, module])
    policy = Policy(ours)
    user = "user_u:user_r:user_t:s0"
    assert "write" in policy.compute_av(user, "system_u:object_r:etc_t:s0", "file").allowed
    init = "system_u:system_r:init_t:s0"
    assert "enqueue" in policy.compute_av(user, init, "msgq").allowed
    assert "connectto" in policy.compute_av(user, init, "unix_stream_socket").allowed
    _check(ours, checkmodule_link(module, tmp_path, "local"), _BASE_CLASSES)


def test_non_mls_policy(tmp_path: Path) -> None:
    """A policy without MLS (checkpolicy without -M): no ranges anywhere."""
    require("checkpolicy")
    from lsm.selinux.policy.compiler import compile_text
    from tests.selinux_policy.helpers import MINI_DECLS, MINI_HEAD, MINI_TAIL

    body = """
bool flag false;
allow doms self:process { fork signal };
allow a_t b_t:process { signal sigkill transition };
allow a_t c_t:{ file dir } { read getattr open };
allow a_t c_t:dir search;
allow b_t c_t:msgq { create enqueue write };
dontaudit b_t a_t:process ptrace;
type_transition a_t c_t:file b_t;
type_transition a_t c_t:dir b_t "sub";
if (!flag) { allow b_t a_t:process signal; } else { allow a_t b_t:process ptrace; }
"""
    constraints = """
constrain process transition (u1 == u2 or r1 == r2);
constrain file { read } (t1 == doms and t2 != a_t);
"""
    user, sids = MINI_TAIL.split("\n", 1)
    text = MINI_HEAD + MINI_DECLS + body + user + "\n" + constraints + sids
    binary = checkpolicy(text, tmp_path, mls=False)
    ours = compile_text(("nomls.conf", text))
    assert not ours.mls
    _check(ours, binary, None)


@pytest.mark.parametrize("seed", range(12))
def test_random_policies_agree_with_checkpolicy(seed: int, tmp_path: Path) -> None:
    """Random policies (see randpolicy.py): checkpolicy and we accept the same ones and build
    the same kernel policy with the same decisions.  (Checked offline for seeds 0-400.)"""
    require("checkpolicy")
    import subprocess

    from lsm.selinux.policy.compiler import compile_text
    from lsm.selinux.policy.errors import PolicyError
    from tests.selinux_policy.randpolicy import random_policy

    text = random_policy(seed)
    (tmp_path / "p.conf").write_text(text)
    proc = subprocess.run(["checkpolicy", "-M", "-c", "33", "-o", str(tmp_path / "p.33"),
                           str(tmp_path / "p.conf")], capture_output=True, text=True,
                          check=False)
    try:
        ours = compile_text(("p.conf", text))
    except PolicyError as exc:
        assert proc.returncode != 0, f"we refused what checkpolicy accepts: {exc}"
        return
    assert proc.returncode == 0, f"checkpolicy refused what we accept: {proc.stderr[-400:]}"
    _check(ours, tmp_path / "p.33", None)


def test_handle_unknown_matches_checkpolicy_U(tmp_path: Path) -> None:
    """``compile_files(..., handle_unknown=...)`` is checkpolicy's ``-U``."""
    require("checkpolicy")
    import subprocess

    for mode in ("allow", "reject"):
        out = tmp_path / f"{mode}.33"
        subprocess.run(["checkpolicy", "-M", "-U", mode, "-c", "33", "-o", str(out),
                        str(BASE_CONF)], check=True, capture_output=True)
        ours = compile_files([BASE_CONF], handle_unknown=mode)
        assert ours.handle_unknown == read_policy_file(out).handle_unknown


def test_large_policy(tmp_path: Path) -> None:
    """2000 types in 50 attributes and 20 000 rules: same avtab as checkpolicy, in seconds."""
    require("checkpolicy")
    import time

    rng = random.Random(5)
    types = [f"big{i}_t" for i in range(2000)]
    attrs = [f"bigattr{i}" for i in range(50)]
    lines = [f"attribute {a};" for a in attrs]
    for t in types:
        lines.append(f"type {t}, domain, {', '.join(rng.sample(attrs, 3))};")
    for _ in range(20000):
        s, t = rng.choice(types + attrs), rng.choice([*types, *attrs, "self"])
        tclass = rng.choice(["file", "dir", "msgq", "unix_stream_socket"])
        lines.append(f"allow {s} {t}:{tclass} {{ getattr }};")
    frag = "\n".join(lines) + "\n"
    (tmp_path / "big.te").write_text(frag)
    start = time.monotonic()
    ours = compile_files([BASE_CONF, tmp_path / "big.te"])
    elapsed = time.monotonic() - start
    ref = read_policy_file(checkpolicy_fragment(frag, tmp_path))
    assert ours.avtab == ref.avtab and len(ours.avtab) > 15000
    assert _symbols(ours, "types") == _symbols(ref, "types")
    assert elapsed < 20


@pytest.mark.parametrize("seed", range(4))
def test_random_modules_agree_with_checkmodule(seed: int, tmp_path: Path) -> None:
    """Random modules on the base (see randpolicy.random_module) against the real module
    pipeline.  (Checked offline for seeds 0-100.)"""
    require("checkmodule", "semodule_link", "semodule_expand", "semodule_package")
    from tests.selinux_policy.randpolicy import random_module

    module = tmp_path / f"rand{seed}.te"
    module.write_text(random_module(seed))
    binary = checkmodule_link(module, tmp_path, f"rand{seed}")
    _check(compile_files([BASE_CONF, module]), binary, _BASE_CLASSES)
