"""Expanding a source rule's name sets (``{ a b -c }``, ``*``, ``~``, ``self``) on a compiled
policy: shared by the policy tools (search, neverallow checks) and policy coverage."""

from __future__ import annotations

from collections.abc import Sequence

from lsm.selinux.policy import ast as A
from lsm.selinux.ss import policydb as P


class NameSetExpander:
    """Type, attribute, class and permission sets of rules, against one compiled policy."""

    def __init__(self, db: P.PolicyDB) -> None:
        self.db = db
        self.all = {t.value for t in db.types if not t.attribute}
        #: attribute value -> the values of the types that have it
        self.members: dict[int, set[int]] = {}
        for tv in self.all:
            for a in P.values(db.type_attr_map[tv - 1]):
                self.members.setdefault(a, set()).add(tv)

    def expand(self, value: int) -> set[int]:
        """The type values a type or attribute value stands for."""
        td = self.db.types.at(value)
        if td is not None and td.attribute:
            return self.members.get(value, set())
        return {value}

    def one(self, name: str) -> set[int]:
        """The type values a type or attribute name stands for (empty if unknown)."""
        td = self.db.types.get(name)
        if td is None:
            return set()
        return set(self.members.get(td.value, set())) if td.attribute else {td.value}

    def types(self, ns: A.NameSet) -> tuple[set[int], bool]:
        """(type values, whether ``self`` was named)."""
        has_self = any(n.text == "self" for n in ns.names)
        out = set(self.all) if ns.star else set()
        for n in ns.names:
            if n.text != "self":
                out |= self.one(n.text)
        for n in ns.neg:
            out -= self.one(n.text)
        if ns.comp:
            out = self.all - out
        return out, has_self

    def classes(self, ns: A.NameSet) -> list[P.ClassDatum]:
        names = names_of(ns, [c.name for c in self.db.classes])
        return [c for c in self.db.classes if c.name in names]

    @staticmethod
    def perms(cdatum: P.ClassDatum, ns: A.NameSet) -> set[str]:
        universe = set(cdatum.all_perms)
        return names_of(ns, sorted(universe)) & universe


def names_of(ns: A.NameSet, universe: Sequence[str]) -> set[str]:
    """The names a class or permission set selects from ``universe``."""
    chosen = set(universe) if ns.star else {n.text for n in ns.names}
    chosen -= {n.text for n in ns.neg}
    return set(universe) - chosen if ns.comp else chosen
