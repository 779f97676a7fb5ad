"""``policy info``: statistics of a policy, counted as ``seinfo`` counts them.

``seinfo`` reads a *kernel* (binary) policy, so rules are counted as the kernel stores them: one
per avtab entry (attributes kept where checkpolicy keeps them, ``self`` and ``*``/``~``/``-``
sets expanded), conditional rules of both branches included, named type transitions counted with
``type_transition``.  Our compiler produces exactly that table, so a source policy gives the same
numbers as its checkpolicy-built binary.  The one difference: ``Neverallow`` is 0 for every binary
policy (the kernel format has no neverallow rules); for source we count the neverallow statements
we parsed (see :func:`source_neverallows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.ss import policydb as P
from lsm.selinux.ss.constraint import is_mls_constraint

__all__ = ["STAT_ORDER", "format_stats", "policy_stats", "source_neverallows"]

#: (key, seinfo label) in the order ``seinfo`` prints them
STAT_ORDER: tuple[tuple[str, str], ...] = (
    ("classes", "Classes"), ("permissions", "Permissions"),
    ("sensitivities", "Sensitivities"), ("categories", "Categories"),
    ("types", "Types"), ("attributes", "Attributes"),
    ("users", "Users"), ("roles", "Roles"),
    ("booleans", "Booleans"), ("cond_exprs", "Cond. Expr."),
    ("allow", "Allow"), ("neverallow", "Neverallow"),
    ("auditallow", "Auditallow"), ("dontaudit", "Dontaudit"),
    ("type_trans", "Type_trans"), ("type_change", "Type_change"),
    ("type_member", "Type_member"), ("range_trans", "Range_trans"),
    ("role_allow", "Role allow"), ("role_trans", "Role_trans"),
    ("constraints", "Constraints"), ("validatetrans", "Validatetrans"),
    ("mlsconstrain", "MLS Constrain"), ("mlsvalidatetrans", "MLS Val. Tran"),
    ("permissives", "Permissives"), ("polcap", "Polcap"),
    ("defaults", "Defaults"), ("typebounds", "Typebounds"),
    ("allowxperm", "Allowxperm"), ("neverallowxperm", "Neverallowxperm"),
    ("auditallowxperm", "Auditallowxperm"), ("dontauditxperm", "Dontauditxperm"),
    ("ibendportcon", "Ibendportcon"), ("ibpkeycon", "Ibpkeycon"),
    ("initial_sids", "Initial SIDs"), ("fs_use", "Fs_use"),
    ("genfscon", "Genfscon"), ("portcon", "Portcon"),
    ("netifcon", "Netifcon"), ("nodecon", "Nodecon"),
)  # fmt: skip

_AV_KEYS = {
    P.AVTAB_ALLOWED: "allow", P.AVTAB_AUDITALLOW: "auditallow", P.AVTAB_AUDITDENY: "dontaudit",
    P.AVTAB_TRANSITION: "type_trans", P.AVTAB_CHANGE: "type_change",
    P.AVTAB_MEMBER: "type_member", P.AVTAB_XPERMS_ALLOWED: "allowxperm",
    P.AVTAB_XPERMS_AUDITALLOW: "auditallowxperm", P.AVTAB_XPERMS_DONTAUDIT: "dontauditxperm",
}  # fmt: skip


def _popcount(x: int) -> int:
    return bin(x).count("1")


def policy_stats(db: P.PolicyDB, neverallow: int = 0) -> dict[str, int]:
    """Every ``seinfo`` statistic of ``db`` keyed as :data:`STAT_ORDER`.

    ``neverallow`` is the number of neverallow rules known from source (0 for binaries).
    """
    s = dict.fromkeys((k for k, _ in STAT_ORDER), 0)
    s["classes"] = sum(1 for _ in db.classes)
    s["permissions"] = sum(len(c.perms) for c in db.commons) + sum(
        len(c.perms) for c in db.classes
    )
    s["sensitivities"] = sum(1 for x in db.levels if not x.isalias)
    s["categories"] = sum(1 for x in db.cats if not x.isalias)
    s["types"] = db.type_count
    s["attributes"] = db.attribute_count
    s["users"] = sum(1 for _ in db.users)
    s["roles"] = sum(1 for _ in db.roles)
    s["booleans"] = sum(1 for _ in db.bools)
    s["cond_exprs"] = len(db.cond_list)
    entries = list(db.avtab.items())
    entries += [e for n in db.cond_list for e in (*n.true_list, *n.false_list)]
    for key, data in entries:
        name = _AV_KEYS.get(key[3])
        if name is not None:  # an xperm key holds one datum per driver/function entry
            s[name] += len(data) if isinstance(data, tuple) else 1
    s["type_trans"] += len(db.filename_trans)
    s["neverallow"] = neverallow
    s["range_trans"] = len(db.range_trans)
    s["role_allow"] = len(db.role_allow)
    s["role_trans"] = len(db.role_trans)
    for cls in db.classes:
        for c in cls.constraints:
            s["mlsconstrain" if is_mls_constraint(c) else "constraints"] += 1
        for c in cls.validatetrans:
            s["mlsvalidatetrans" if is_mls_constraint(c) else "validatetrans"] += 1
        s["defaults"] += sum(
            1 for d in (cls.default_user, cls.default_role, cls.default_type, cls.default_range)
            if d
        )
    s["permissives"] = _popcount(db.permissive_map)
    s["polcap"] = _popcount(db.policycaps)
    s["typebounds"] = sum(1 for t in db.types if t.bounds)
    s["ibendportcon"] = len(db.ibendportcons)
    s["ibpkeycon"] = len(db.ibpkeycons)
    s["initial_sids"] = len(db.isids)
    s["fs_use"] = len(db.fs_uses)
    s["genfscon"] = sum(len(v) for v in db.genfs.values())
    s["portcon"] = len(db.portcons)
    s["netifcon"] = len(db.netifcons)
    s["nodecon"] = len(db.nodecons)
    return s


def source_neverallows(paths: Sequence[str | Path]) -> list[A.AvRule]:
    """The ``neverallow`` statements of policy source files (optional blocks included)."""
    from lsm.selinux.policy.parser import parse_file

    out: list[A.AvRule] = []

    def walk(stmts: Sequence[A.Stmt]) -> None:
        for st in stmts:
            if isinstance(st, A.AvRule) and st.kind == "neverallow":
                out.append(st)
            elif isinstance(st, A.Optional):
                walk(st.body)
                walk(st.orelse)

    for path in paths:
        walk(parse_file(path))
    return out


def format_stats(db: P.PolicyDB, stats: dict[str, int], source: str) -> str:
    """The statistics laid out as ``seinfo`` prints them."""
    hu = {P.HANDLE_UNKNOWN_DENY: "deny", P.HANDLE_UNKNOWN_REJECT: "reject",
          P.HANDLE_UNKNOWN_ALLOW: "allow"}.get(db.handle_unknown, "deny")  # fmt: skip
    lines = [
        f"Statistics for policy file: {source}",
        f"Policy Version:             {db.version} (MLS {'enabled' if db.mls else 'disabled'})",
        "Target Policy:              selinux",
        f"Handle unknown classes:     {hu}",
    ]
    for i in range(0, len(STAT_ORDER), 2):
        (k1, l1), (k2, l2) = STAT_ORDER[i], STAT_ORDER[i + 1]
        lines.append(f"  {l1 + ':':<17}{stats[k1]:7}    {l2 + ':':<17}{stats[k2]:7}")
    return "\n".join(lines)


def raw_role_allow(data: bytes, fallback: int) -> int:
    """The number of role allow entries as stored in a binary policy (duplicates included,
    as ``seinfo`` counts them; the PolicyDB keeps distinct pairs)."""
    import struct

    from lsm.selinux.policy.binary import section_offsets

    try:
        offsets = dict(section_offsets(data))
        return int(struct.unpack_from("<I", data, offsets["role allow"])[0])
    except (KeyError, struct.error, PolicyError):
        return fallback
