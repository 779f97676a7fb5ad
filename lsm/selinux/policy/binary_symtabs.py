"""Symbol-table section of the binary policy reader (commons, classes with their constraints,
roles, types, users, booleans, sensitivities, categories).

:class:`_SymtabReader` reads the eight symbol tables in order, then checks that every value the
tables cross-reference (role dominance and types, user roles and ranges, constraint names,
bounds) names a symbol that exists.  It only adds methods to :class:`_Cursor`; the top-level
reader in ``binary`` mixes it in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lsm.selinux.policy.binary_cursor import _Cursor
from lsm.selinux.ss.policydb import (
    CEXPR_AND,
    CEXPR_ATTR,
    CEXPR_MAXDEPTH,
    CEXPR_NAMES,
    CEXPR_NOT,
    CEXPR_OR,
    CEXPR_XTARGET,
    POLICYDB_VERSION_BOUNDARY,
    POLICYDB_VERSION_CONSTRAINT_NAMES,
    POLICYDB_VERSION_DEFAULT_TYPE,
    POLICYDB_VERSION_NEW_OBJECT_DEFAULTS,
    POLICYDB_VERSION_VALIDATETRANS,
    TYPEDATUM_PROPERTY_ATTRIBUTE,
    TYPEDATUM_PROPERTY_PRIMARY,
    BoolDatum,
    CatDatum,
    ClassDatum,
    CommonDatum,
    Constraint,
    ConstraintExpr,
    MlsRange,
    RoleDatum,
    SensDatum,
    SymTab,
    TypeDatum,
    TypeSet,
    UserDatum,
)


class _SymtabReader(_Cursor):
    """The symbol tables and their cross-reference checks."""

    __slots__ = ()

    def symtabs(self) -> None:
        p = self.p
        names = ("commons", "classes", "roles", "types", "users", "booleans", "sensitivities",
                 "categories")  # fmt: skip
        readers: tuple[Callable[[Any], None], ...] = (
            self.common, self.klass, self.role, self.type_, self.user, self.boolean, self.sens,
            self.cat,
        )  # fmt: skip
        tables: tuple[SymTab, ...] = (p.commons, p.classes, p.roles, p.types, p.users, p.bools,
                                      p.levels, p.cats)  # fmt: skip
        for name, reader, table in zip(names, readers, tables, strict=True):
            self.enter(f"symtab {name}")
            nprim, nel = self.u32x2()
            self.count(nel, 8, name)
            old_types = name == "types" and self.version < POLICYDB_VERSION_BOUNDARY
            # role attributes take role values but are not written: the kernel accepts the holes
            if nprim > nel and name not in ("sensitivities", "roles") and not old_types:
                raise self.fail(f"{nprim} primary values but only {nel} entries")
            if name == "types":
                self.count(nprim, 12, "type")  # each type has a type_attr_map ebitmap at the end
            table.nprim = nprim
            for _ in range(nel):
                reader(table)
            if not self.mls and name in ("sensitivities", "categories") and nel:
                raise self.fail("MLS symbols in a non-MLS policy")
            if name == "types":
                for alias, value in self.aliases:
                    primary = table.at(value)
                    if primary is None:
                        raise self.fail(f"type alias {alias} of undefined value {value}")
                    table.names[alias] = primary
            if name == "types" and self.version < POLICYDB_VERSION_BOUNDARY:
                # before v24 attributes are not written out: their values are holes
                for v in range(1, nprim + 1):
                    if table.at(v) is None:
                        if v > len(table.by_value):
                            table.by_value.extend([None] * (v - len(table.by_value)))
                        table.by_value[v - 1] = TypeDatum(f"<attribute {v}>", v, attribute=True)
            if name == "roles" and nprim > nel:
                # role attributes take values but are not written (the kernel keeps the holes)
                from lsm.selinux.ss.policydb import RoleDatum

                for v in range(1, nprim + 1):
                    if table.at(v) is None:
                        if v > len(table.by_value):
                            table.by_value.extend([None] * (v - len(table.by_value)))
                        table.by_value[v - 1] = RoleDatum(f"<role attribute {v}>", v)
            # every primary value must be defined exactly once
            # (the sensitivity table's nprim counts aliases too, as libsepol writes it)
            if name in ("sensitivities", "categories"):
                if any(d is None for d in table.by_value):
                    raise self.fail(f"the {name} values are not contiguous")
            elif len(table.by_value) != nprim or any(d is None for d in table.by_value):
                raise self.fail(f"the {name} values are not 1..{nprim}")
        self.enter("symbol table consistency")
        # sensitivities: check levels name categories that exist
        ncats = p.cats.nprim
        for s in p.levels.names.values():
            self.check_values(s.level.cats, ncats, f"sensitivity {s.name}")
        nroles, ntypes = p.roles.nprim, p.types.nprim
        for r in p.roles:
            self.check_values(r.dominates, nroles, f"role {r.name} dominance")
            self.check_values(r.types, ntypes, f"role {r.name} types")
            if r.bounds > nroles:
                raise self.fail(f"role {r.name} bounded by unknown role {r.bounds}")
        for t in p.types:
            if t.bounds > ntypes:
                raise self.fail(f"type {t.name} bounded by unknown type {t.bounds}")
        for u in p.users:
            self.check_values(u.roles, nroles, f"user {u.name} roles")
            if u.bounds > p.users.nprim:
                raise self.fail(f"user {u.name} bounded by unknown user {u.bounds}")
            if u.range is not None:
                self.check_range(u.range)
            if u.dfltlevel is not None:
                self.check_range(MlsRange(u.dfltlevel, u.dfltlevel))
        for c in p.classes:
            for cons in c.constraints + c.validatetrans:
                for e in cons.expr:
                    if e.expr_type == CEXPR_NAMES:
                        limit = ntypes
                        if e.attr & 1:
                            limit = p.users.nprim
                        elif e.attr & 2:
                            limit = nroles
                        self.check_values(e.names, limit, f"constraint on class {c.name}")

    def _key(self, length: int) -> str:
        return self.string(length)

    def _perms(self, nel: int, limit: int) -> dict[str, int]:
        self.count(nel, 8, "permission")
        perms: dict[str, int] = {}
        for _ in range(nel):
            length, value = self.u32x2()
            name = self.string(length, "permission name")
            if not 0 < value <= limit or value > 32:
                raise self.fail(f"permission {name} has value {value}")
            perms[name] = value
        return perms

    def common(self, table: SymTab[CommonDatum]) -> None:
        length, value, nprim, nel = self.u32x4()
        name = self._key(length)
        perms = self._perms(nel, nprim)
        if not 0 < value <= table.nprim:
            raise self.fail(f"common {name} has value {value}")
        table.add(name, value, CommonDatum(name, value, perms))

    def constraints(self, n: int, allow_xtarget: bool) -> list[Constraint]:
        out: list[Constraint] = []
        self.count(n, 8, "constraint")
        for _ in range(n):
            perms, nexpr = self.u32x2()
            self.count(nexpr, 12, "constraint expression")
            exprs: list[ConstraintExpr] = []
            depth = 0
            for _ in range(nexpr):
                epos = self.pos
                etype, attr, op = self.u32x3()
                names = 0
                tset = None
                if etype == CEXPR_NOT:
                    if depth < 1:
                        raise self.fail("constraint expression stack underflow", epos)
                elif etype in (CEXPR_AND, CEXPR_OR):
                    if depth < 2:
                        raise self.fail("constraint expression stack underflow", epos)
                    depth -= 1
                elif etype == CEXPR_ATTR:
                    if depth == CEXPR_MAXDEPTH:
                        raise self.fail("constraint expression too deep", epos)
                    depth += 1
                elif etype == CEXPR_NAMES:
                    if not allow_xtarget and attr & CEXPR_XTARGET:
                        raise self.fail("u3/r3/t3 in a constraint", epos)
                    if depth == CEXPR_MAXDEPTH:
                        raise self.fail("constraint expression too deep", epos)
                    depth += 1
                    names = self.ebitmap()
                    if self.version >= POLICYDB_VERSION_CONSTRAINT_NAMES:
                        types = self.ebitmap()
                        negset = self.ebitmap()
                        flags = self.u32()
                        tset = TypeSet(types, negset, flags)
                else:
                    raise self.fail(f"unknown constraint expression type {etype}", epos)
                exprs.append(ConstraintExpr(etype, attr, op, names, tset))
            if depth != 1:
                raise self.fail("constraint expression does not reduce to one value")
            out.append(Constraint(perms, tuple(exprs)))
        return out

    def klass(self, table: SymTab[ClassDatum]) -> None:
        length, length2, value, nprim = self.u32x4()
        nel, ncons = self.u32x2()
        name = self._key(length)
        common = None
        if length2:
            cname = self.string(length2, "common name")
            common = self.p.commons.get(cname)
            if common is None:
                raise self.fail(f"class {name} inherits unknown common {cname}")
        if nprim > 32:
            raise self.fail(f"class {name} has {nprim} permissions (at most 32)")
        perms = self._perms(nel, nprim)
        if not 0 < value <= table.nprim:
            raise self.fail(f"class {name} has value {value}")
        cons = self.constraints(ncons, False)
        vtrans: list[Constraint] = []
        if self.version >= POLICYDB_VERSION_VALIDATETRANS:
            vtrans = self.constraints(self.u32(), True)
        cls = ClassDatum(name, value, common, perms, cons, vtrans)
        if self.version >= POLICYDB_VERSION_NEW_OBJECT_DEFAULTS:
            cls.default_user, cls.default_role, cls.default_range = self.u32x3()
        if self.version >= POLICYDB_VERSION_DEFAULT_TYPE:
            cls.default_type = self.u32()
        table.add(name, value, cls)

    def _bounded_head(self) -> tuple[int, int, int]:
        """A role's or user's (name length, value, bounds): bounds exist from version 24."""
        if self.version >= POLICYDB_VERSION_BOUNDARY:
            return self.u32x3()
        length, value = self.u32x2()
        return length, value, 0

    def role(self, table: SymTab[RoleDatum]) -> None:
        length, value, bounds = self._bounded_head()
        name = self._key(length)
        dominates = self.ebitmap()
        types = self.ebitmap()
        if not 0 < value <= table.nprim:
            raise self.fail(f"role {name} has value {value}")
        if (name == "object_r") != (value == 1):
            raise self.fail(f"role {name} has value {value} (object_r must be 1)")
        table.add(name, value, RoleDatum(name, value, bounds, dominates, types))

    def type_(self, table: SymTab[TypeDatum]) -> None:
        if self.version >= POLICYDB_VERSION_BOUNDARY:
            length, value, props, bounds = self.u32x4()
            primary = bool(props & TYPEDATUM_PROPERTY_PRIMARY)
            attribute = bool(props & TYPEDATUM_PROPERTY_ATTRIBUTE)
        else:
            length, value, prim = self.u32x3()
            primary, attribute, bounds = bool(prim), False, 0
        name = self._key(length)
        if not 0 < value <= table.nprim:
            raise self.fail(f"type {name} has value {value}")
        if primary:
            table.add(name, value, TypeDatum(name, value, True, attribute, bounds))
        else:
            # an alias: bind the name to the primary's datum once it is known
            self.aliases.append((name, value))

    def user(self, table: SymTab[UserDatum]) -> None:
        length, value, bounds = self._bounded_head()
        name = self._key(length)
        roles = self.ebitmap()
        rng = self.mls_range()
        dflt = self.mls_level()
        if not 0 < value <= table.nprim:
            raise self.fail(f"user {name} has value {value}")
        if not self.mls:
            rng, dflt = None, None  # type: ignore[assignment]
        table.add(name, value, UserDatum(name, value, bounds, roles, rng, dflt))

    def boolean(self, table: SymTab[BoolDatum]) -> None:
        start = self.pos
        value, state, length = self.u32x3()
        if self.layout is not None:
            self.layout.bool_state[value] = start + 4
        name = self._key(length)
        if state > 1:
            raise self.fail(f"boolean {name} has state {state}")
        if not 0 < value <= table.nprim:
            raise self.fail(f"boolean {name} has value {value}")
        table.add(name, value, BoolDatum(name, value, bool(state)))

    def sens(self, table: SymTab[SensDatum]) -> None:
        length, isalias = self.u32x2()
        name = self._key(length)
        level = self.mls_level()
        if not 0 < level.sens <= table.nprim:
            raise self.fail(f"sensitivity {name} has value {level.sens}")
        table.add(name, level.sens, SensDatum(name, level, bool(isalias)), primary=not isalias)

    def cat(self, table: SymTab[CatDatum]) -> None:
        length, value, isalias = self.u32x3()
        name = self._key(length)
        if not 0 < value <= table.nprim:
            raise self.fail(f"category {name} has value {value}")
        table.add(name, value, CatDatum(name, value, bool(isalias)), primary=not isalias)
