"""The shipped base policy and the kernel class table agree, and the base is usable."""

from __future__ import annotations

from lsm.selinux import classmap
from lsm.selinux.policy.base import BASE_CONF, MARKER, splice
from lsm.selinux.policy.compiler import compile_files
from lsm.selinux.ss import policydb as P


def test_classmap_shape() -> None:
    assert len(classmap.CLASS_TABLE) == len(classmap.SECCLASS_MAP) == 97
    assert classmap.CAPABILITY_NAMES[21] == "sys_admin"  # CAP_SYS_ADMIN is 21
    assert classmap.CAPABILITY_NAMES[40] == "checkpoint_restore"
    assert classmap.class_perms("msgq")[-1] == "enqueue"
    assert classmap.perm_bit("file", "read") == 2
    assert all(len(p) <= 32 for p in classmap.SECCLASS_MAP.values())
    assert classmap.INITIAL_SIDS[:3] == ("kernel", "security", "unlabeled")
    assert classmap.INITIAL_SIDS[-1] == "devnull" and len(classmap.INITIAL_SIDS) == 27
    assert set(classmap.USED_INITIAL_SIDS) <= set(classmap.INITIAL_SIDS)


def test_base_declares_exactly_the_kernel_classes_in_order() -> None:
    """Every class with every permission, in the kernel's bit order (commons first)."""
    db = compile_files([BASE_CONF])
    assert [c.name for c in db.classes] == [name for name, _, _ in classmap.CLASS_TABLE]
    for name, perms in classmap.SECCLASS_MAP.items():
        cls = db.lookup_class(name)
        assert [cls.perm_names[i] for i in range(len(perms))] == list(perms), name
        assert cls.nprim == len(perms)
    assert {c.name: dict(c.perms) for c in db.commons} == {
        n: {p: i for i, p in enumerate(perms, 1)} for n, perms in classmap.COMMONS.items()
    }


def test_base_initial_sids_follow_the_kernel_numbering() -> None:
    db = compile_files([BASE_CONF])
    assert {n: i.name for n, i in db.isids.items()} == dict(enumerate(classmap.INITIAL_SIDS, 1))
    assert db.isids[1].context.type == db.lookup_type("kernel_t").value


def test_base_mls_users_roles_and_labeling() -> None:
    db = compile_files([BASE_CONF])
    assert db.mls and db.levels.nprim == 16 and db.cats.nprim == 1024
    assert db.roles.at(1).name == "object_r"
    assert {u.name for u in db.users} == {"system_u", "unconfined_u", "user_u", "root"}
    assert {r.name for r in db.roles} == {"object_r", "system_r", "unconfined_r", "user_r"}
    user_u = db.lookup_user("user_u")
    assert user_u.range is not None and user_u.range.high.sens == 1
    behaviours = {f.fstype: f.behavior for f in db.fs_uses}
    assert behaviours["pipefs"] == behaviours["sockfs"] == P.SECURITY_FS_USE_TASK
    assert behaviours["mqueue"] == behaviours["tmpfs"] == P.SECURITY_FS_USE_TRANS
    assert behaviours["ext4"] == P.SECURITY_FS_USE_XATTR
    assert db.policycaps == 0b111


def test_splice_places_fragments_before_the_users() -> None:
    text = splice("type frag_t;")
    assert text.index("type frag_t;") > text.index(MARKER)
    assert text.index("type frag_t;") < text.index("user system_u")
