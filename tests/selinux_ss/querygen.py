"""Random *valid* access queries drawn from a policy, for differential tests and benchmarks.

A query is ``(scontext, tcontext, tclass, [perm, ...])`` with contexts the policy accepts
(user authorised for the role, role for the type, levels within the user's range).  Half the
queries are guided by real allow rules (so a good share is allowed or only partly denied), half
are uniform over users/roles/types/classes (mostly TE denials).
"""

from __future__ import annotations

import random

from lsm.selinux.ss.policydb import (
    AVTAB_ALLOWED,
    AVTAB_CHANGE,
    AVTAB_MEMBER,
    AVTAB_TRANSITION,
    OBJECT_R_VAL,
    MlsLevel,
    MlsRange,
    PolicyDB,
    UserDatum,
    values,
)

Query = tuple[str, str, str, list[str]]


class QueryGen:
    """Seeded generator of valid queries for ``policydb``."""

    def __init__(self, p: PolicyDB, seed: int = 0) -> None:
        self.p = p
        self.rng = random.Random(seed)
        self.users = list(p.users)
        # (user, role value, [type values]) for every authorised user/role pair
        self.holders: dict[int, list[tuple[UserDatum, int]]] = {}
        self.triples: list[tuple[UserDatum, int, list[int]]] = []
        for u in self.users:
            for r in values(u.roles):
                if r == OBJECT_R_VAL:
                    continue
                role = p.roles.at(r)
                assert role is not None
                types = [t for t in values(role.types) if not p.types.at(t).attribute]
                if types:
                    self.triples.append((u, r, types))
                    for t in types:
                        self.holders.setdefault(t, []).append((u, r))
        self.types = [t.value for t in p.types if not t.attribute]
        members: dict[int, list[int]] = {}
        for t in self.types:
            for a in values(p.type_attr_map[t - 1]):
                members.setdefault(a, []).append(t)
        self.members = members
        self.rules = [
            (s, t, c, d)
            for (s, t, c, k), d in p.avtab.items()
            if k == AVTAB_ALLOWED and isinstance(d, int)
        ]
        for node in p.cond_list:
            for (s, t, c, k), d in node.true_list + node.false_list:
                if k == AVTAB_ALLOWED and isinstance(d, int):
                    self.rules.append((s, t, c, d))
        self.classes = [c for c in p.classes if c.all_perms]
        kinds = {AVTAB_TRANSITION: "transition", AVTAB_MEMBER: "member", AVTAB_CHANGE: "change"}
        #: type rules (stype, ttype, tclass, kind name), unconditional and conditional
        self.type_rules = [(s, t, c, kinds[k]) for (s, t, c, k) in p.avtab if k in kinds] + [
            (s, t, c, kinds[k])
            for node in p.cond_list
            for (s, t, c, k), _d in node.true_list + node.false_list
            if k in kinds
        ]
        self._values_cache: dict[int, list[int]] = {}
        # every level the policy allows, for objects (object_r ignores the user's clearance)
        self.full_range: MlsRange | None = None
        if p.mls and p.levels.by_value:
            top = p.levels.by_value[-1]
            assert top is not None
            self.full_range = MlsRange(MlsLevel(1, 0), top.level)

    def _values(self, bitmap: int) -> list[int]:
        got = self._values_cache.get(bitmap)
        if got is None:
            got = self._values_cache[bitmap] = values(bitmap)
        return got

    # -- pieces ---------------------------------------------------------------------------

    def _cats(self, allowed: int, must: int) -> int:
        cats = must
        k = self.rng.choice((0, 0, 0, 1, 1, 2, 3, 5))
        choices = self._values(allowed & ~must) if k else []
        if choices:
            for v in self.rng.sample(choices, min(k, len(choices))):
                cats |= 1 << (v - 1)
        return cats

    def _level(self, rng: MlsRange) -> MlsLevel:
        p = self.p
        sens = self.rng.randint(rng.low.sens, rng.high.sens)
        sd = p.levels.at(sens)
        allowed = (sd.level.cats if sd is not None else 0) & rng.high.cats
        must = rng.low.cats
        return MlsLevel(sens, self._cats(allowed, must & allowed))

    def _mls(self, u: UserDatum, *, any_level: bool = False) -> str:
        p = self.p
        if not p.mls or u.range is None:
            return ""
        rng = self.full_range if any_level and self.full_range is not None else u.range
        a = self._level(rng)
        text = self._level_text(a)
        if self.rng.random() < 0.3:
            b = self._level(rng)
            lo, hi = (a, b) if b.dominates(a) else (b, a) if a.dominates(b) else (a, a)
            if hi != lo:
                text = f"{self._level_text(lo)}-{self._level_text(hi)}"
        return ":" + text

    def _level_text(self, lvl: MlsLevel) -> str:
        p = self.p
        name = p.sens_name(lvl.sens)
        if not lvl.cats:
            return name
        return name + ":" + ",".join(p.cat_name(v) for v in values(lvl.cats))

    def subject(self, t: int | None = None) -> str:
        """A process-like context (optionally of type ``t``, which must have a holder)."""
        p = self.p
        if t is None:
            u, r, types = self.rng.choice(self.triples)
            t = self.rng.choice(types)
        else:
            u, r = self.rng.choice(self.holders[t])
        return f"{u.name}:{p.role_name(r)}:{p.type_name(t)}{self._mls(u)}"

    def obj(self, t: int) -> str:
        """A context for type ``t``: a process context if possible (30%), else object_r."""
        if t in self.holders and self.rng.random() < 0.3:
            return self.subject(t)
        u = self.rng.choice(self.users)
        mls = self._mls(u, any_level=self.rng.random() < 0.3)
        return f"{u.name}:object_r:{self.p.type_name(t)}{mls}"

    def _perms(self, tclass: int, prefer: int = 0) -> list[str]:
        cls = self.p.classes.at(tclass)
        assert cls is not None
        names = sorted(cls.all_perms)
        pool = [cls.perm_names[b] for b in range(32) if (prefer >> b) & 1 and b in cls.perm_names]
        out: set[str] = set()
        if pool:
            out.update(self.rng.sample(pool, min(len(pool), self.rng.choice((1, 1, 2, 3)))))
        if not out or self.rng.random() < 0.2:
            out.add(self.rng.choice(names))
        return sorted(out)

    # -- queries --------------------------------------------------------------------------

    def guided(self) -> Query:
        """A query along a real allow rule (attributes resolved to member types)."""
        for _ in range(50):
            s_attr, t_attr, c, perms = self.rng.choice(self.rules)
            sources = [t for t in self.members.get(s_attr, ()) if t in self.holders]
            targets = self.members.get(t_attr, ())
            if sources and targets:
                s = self.rng.choice(sources)
                t = self.rng.choice(targets)
                cls = self.p.classes.at(c)
                assert cls is not None
                return (self.subject(s), self.obj(t), cls.name, self._perms(c, perms))
        return self.uniform()

    def uniform(self) -> Query:
        """A query over random subject, target type, class and permissions."""
        cls = self.rng.choice(self.classes)
        return (
            self.subject(),
            self.obj(self.rng.choice(self.types)),
            cls.name,
            self._perms(cls.value),
        )

    def label_requests(self, n: int, skip_class: object = None) -> list[tuple[str, str, str, str]]:
        """``n`` (kind, scontext, tcontext, class) requests for compute_sid: half along real
        type rules (so rules, role and range transitions fire), half random.  Classes for which
        ``skip_class(name)`` is true are avoided."""
        out: list[tuple[str, str, str, str]] = []
        kinds = ("transition", "member", "change")
        while len(out) < n:
            if len(out) % 2 == 0 and self.type_rules:
                s, t, c, kind = self.rng.choice(self.type_rules)
                if s not in self.holders:
                    continue
                scon, tcon = self.subject(s), self.obj(t)
                cname = self.p.class_name(c)
            else:
                scon, tcon, cname, _ = self.uniform()
                kind = self.rng.choice(kinds)
            if skip_class is not None and skip_class(cname):  # type: ignore[operator]
                continue
            out.append((kind, scon, tcon, cname))
        return out

    def queries(self, n: int) -> list[Query]:
        """``n`` queries, alternating guided and uniform."""
        return [self.guided() if i % 2 == 0 else self.uniform() for i in range(n)]
