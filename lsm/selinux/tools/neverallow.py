"""Check proposed allow rules against a source policy's ``neverallow`` statements.

The kernel (binary) policy format keeps no neverallow rules, so only source policies can be
checked.  A neverallow's type sets are expanded on the compiled :class:`PolicyDB`: names are
types or attributes (attributes stand for their member types), ``-name`` excludes, ``*`` is
every type, ``~`` complements, ``self`` in the target means "the source type itself".
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.namesets import NameSetExpander, names_of
from lsm.selinux.ss import policydb as P

__all__ = ["Violation", "check", "rule_text"]


@frozen
class Violation:
    """A proposed rule, the neverallow it breaks and the forbidden permissions."""

    rule: str
    neverallow: str
    where: str
    perms: tuple[str, ...]


def _ns_text(ns: A.NameSet) -> str:
    if ns.star:
        return "*"
    items = [n.text for n in ns.names] + [f"-{n.text}" for n in ns.neg]
    body = items[0] if len(items) == 1 and not ns.comp else "{ " + " ".join(items) + " }"
    return f"~{body}" if ns.comp else body


def rule_text(rule: A.AvRule) -> str:
    """The neverallow statement as policy source."""
    return (f"{rule.kind} {_ns_text(rule.src)} {_ns_text(rule.tgt)}:{_ns_text(rule.classes)} "
            f"{_ns_text(rule.perms)};")


def check(db: P.PolicyDB, neverallows: Sequence[A.AvRule],
          proposals: Sequence[tuple[str, str, str, tuple[str, ...]]]) -> list[Violation]:
    """Violations of ``neverallows`` by proposed ``(stype, ttype, tclass, perms)`` allows.

    ``ttype`` may be ``self``.
    """
    sets = NameSetExpander(db)
    classes = [c.name for c in db.classes]
    out: list[Violation] = []
    for rule in neverallows:
        src, _ = sets.types(rule.src)
        tgt, tself = sets.types(rule.tgt)
        cnames = names_of(rule.classes, classes)
        for stype, ttype, tclass, perms in proposals:
            if tclass not in cnames:
                continue
            s = sets.one(stype)
            t = s if ttype == "self" else sets.one(ttype)
            if not s & src:
                continue
            if not (t & tgt or (tself and (ttype == "self" or s == t))):
                continue
            cls = db.classes.get(tclass)
            universe = sorted(cls.all_perms) if cls is not None else list(perms)
            hit = tuple(p for p in perms if p in names_of(rule.perms, universe))
            if hit:
                pl = perms[0] if len(perms) == 1 else "{ " + " ".join(perms) + " }"
                out.append(Violation(f"allow {stype} {ttype}:{tclass} {pl};", rule_text(rule),
                                     str(rule.pos), hit))
    return out
