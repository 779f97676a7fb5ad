"""Symbol tables while compiling: declarations, name resolution and set expansion.

Builds the :class:`PolicyDB` symbol tables directly (values first in declaration order, then
renumbered to checkpolicy's order by :func:`renumber`) and remembers where each name was
declared, so redeclarations and unknown names are reported at the source position.

Set expansion follows libsepol's ``type_set_expand``: a plain set keeps its attributes (the
kernel expands them at decision time through ``type_attr_map``), while ``*``, ``~`` and
``-`` exclusions force full expansion to types.
"""

from __future__ import annotations

from attrs import define, field

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.compile_errors import InvalidLevel, Redeclaration, error, unknown
from lsm.selinux.ss.policydb import (
    CatDatum,
    ClassDatum,
    CommonDatum,
    MlsLevel,
    MlsRange,
    PolicyDB,
    RoleDatum,
    SensDatum,
    TypeDatum,
    UserDatum,
)


def bit(value: int) -> int:
    """The bitmap bit of a 1-based symbol value."""
    return 1 << (value - 1)


def members(bitmap: int) -> list[int]:
    """1-based values set in ``bitmap`` (one step per set bit, not per bit position)."""
    out = []
    while bitmap:
        low = bitmap & -bitmap
        out.append(low.bit_length())
        bitmap ^= low
    return out


#: checkpolicy's keywords (its scanner matches them in lower or upper case); a name spelled
#: like one is a syntax error there, so it is refused here too
_KEYWORDS = """
    clone common class constrain validatetrans inherits sid role roleattribute attribute_role
    roles typealias typeattribute typebounds type types alias attribute expandattribute bool
    tunable if else true false allow allowxperm auditallow auditallowxperm auditdeny
    dontaudit dontauditxperm neverallow neverallowxperm type_transition type_member
    type_change role_transition range_transition sensitivity dominance category level range
    mlsconstrain mlsvalidatetrans user not and or xor eq dom domby incomp self fscon portcon
    netifcon nodecon pirqcon iomemcon ioportcon pcidevicecon devicetreecon fs_use_xattr
    fs_use_task fs_use_trans genfscon u1 u2 u3 r1 r2 r3 t1 t2 t3 l1 l2 h1 h2 policycap
    permissive default_user default_role default_type default_range low-high high low
    glblub module require optional ibpkeycon ibendportcon source target
"""
RESERVED: frozenset[str] = frozenset(_KEYWORDS.split())


@define(slots=True)
class Symbols:
    """The policy being built plus compile-time facts the kernel policy does not keep."""

    db: PolicyDB = field(factory=PolicyDB)
    declared: dict[tuple[str, str], A.Pos] = field(factory=dict)
    #: attribute value -> bitmap of member types
    attr_types: dict[int, int] = field(factory=dict)
    #: role attribute name -> (pseudo value, member role bitmap); not part of the kernel policy
    role_attrs: dict[str, int] = field(factory=dict)
    sid_order: list[str] = field(factory=list)
    #: tunable name -> value; resolved at compile time, never part of the kernel policy
    tunables: dict[str, bool] = field(factory=dict)
    #: sensitivity name -> declaration position, before dominance assigns values
    sens_decl: dict[str, tuple[A.Pos, tuple[A.Name, ...]]] = field(factory=dict)

    # -- declarations

    def declare(self, space: str, name: A.Name, *, kind: str | None = None) -> None:
        """Record ``name`` in ``space``; a second declaration is an error naming the first."""
        if name.text in RESERVED or (name.text.lower() in RESERVED and name.text.isupper()):
            raise error(name.pos, f"'{name.text}' is a reserved word of the policy language "
                                  f"and cannot name a {kind or space}")
        key = (space, name.text)
        prev = self.declared.get(key)
        if prev is not None:
            raise Redeclaration(name.pos.file, name.pos.line, name.pos.col,
                                f"duplicate declaration of {kind or space} '{name.text}' "
                                f"(first declared at {prev})", previous=str(prev))
        self.declared[key] = name.pos

    def add_type(self, name: A.Name, *, attribute: bool) -> TypeDatum:
        """Declare a type or attribute (types and attributes share one name space)."""
        self.declare("type", name, kind="attribute" if attribute else "type")
        tdb = self.db.types
        tdb.nprim += 1
        datum = TypeDatum(name.text, tdb.nprim, primary=True, attribute=attribute)
        tdb.add(name.text, tdb.nprim, datum)
        if attribute:
            self.attr_types[datum.value] = 0
        return datum

    def add_alias(self, target: TypeDatum, alias: A.Name) -> None:
        """``typealias`` / ``alias``: another name for a type (never for an attribute)."""
        self.declare("type", alias, kind="type alias")
        self.db.types.names[alias.text] = target

    def add_role(self, name: A.Name) -> RoleDatum:
        """Declare a role, or return the existing one (``role`` statements may repeat)."""
        role = self.db.roles.get(name.text)
        if role is not None:
            return role
        if name.text in self.role_attrs:
            raise error(name.pos, f"'{name.text}' is a role attribute, not a role")
        if name.text != "object_r":
            self.declare("role", name)
        rdb = self.db.roles
        rdb.nprim += 1
        role = RoleDatum(name.text, rdb.nprim, dominates=bit(rdb.nprim))
        rdb.add(name.text, rdb.nprim, role)
        return role

    def add_user(self, name: A.Name) -> UserDatum:
        """Declare a user (declaring it again is an error, as in checkpolicy)."""
        self.declare("user", name)
        udb = self.db.users
        udb.nprim += 1
        user = UserDatum(name.text, udb.nprim)
        udb.add(name.text, udb.nprim, user)
        return user

    def add_common(self, name: A.Name, perms: tuple[A.Name, ...]) -> None:
        """``common name { perms }``."""
        self.declare("common", name)
        cdb = self.db.commons
        cdb.nprim += 1
        common = CommonDatum(name.text, cdb.nprim)
        self._add_perms(common.perms, perms, name.text)
        cdb.add(name.text, cdb.nprim, common)

    def add_class(self, name: A.Name) -> None:
        """``class name`` (the flask declaration; permissions come later)."""
        self.declare("class", name)
        cdb = self.db.classes
        cdb.nprim += 1
        cdb.add(name.text, cdb.nprim, ClassDatum(name.text, cdb.nprim))

    def class_perms(self, stmt: A.ClassPerms) -> None:
        """``class name [inherits common] { perms }``: fill in a declared class."""
        cls = self.lookup_class(stmt.name)
        self.declare("class perms", stmt.name, kind="access vector for class")
        first = 1
        if stmt.inherits is not None:
            common = self.db.commons.get(stmt.inherits.text)
            if common is None:
                raise unknown("common", stmt.inherits.text, stmt.inherits.pos)
            cls.common = common
            first = len(common.perms) + 1
            for p in stmt.perms:
                if p.text in common.perms:
                    raise error(p.pos, f"permission '{p.text}' of class '{cls.name}' "
                                       f"duplicates one inherited from common '{common.name}'")
        self._add_perms(cls.perms, stmt.perms, cls.name, first)
        if first - 1 + len(cls.perms) > 32:
            raise error(stmt.pos, f"class '{cls.name}' has more than 32 permissions")

    @staticmethod
    def _add_perms(table: dict[str, int], perms: tuple[A.Name, ...], owner: str,
                   first: int = 1) -> None:
        for p in perms:
            if p.text in table:
                raise error(p.pos, f"duplicate permission '{p.text}' in '{owner}'")
            table[p.text] = first + len(table)

    # -- lookups (each raises a located "unknown ..." error)

    def lookup_type(self, name: A.Name) -> TypeDatum:
        """A type, alias or attribute."""
        t = self.db.types.get(name.text)
        if t is None:
            raise unknown("type", name.text, name.pos)
        return t

    def lookup_class(self, name: A.Name) -> ClassDatum:
        """A declared class."""
        c = self.db.classes.get(name.text)
        if c is None:
            raise unknown("class", name.text, name.pos)
        return c

    def lookup_role(self, name: A.Name) -> RoleDatum:
        """A declared role."""
        r = self.db.roles.get(name.text)
        if r is None:
            raise unknown("role", name.text, name.pos)
        return r

    def lookup_user(self, name: A.Name) -> UserDatum:
        """A declared user."""
        u = self.db.users.get(name.text)
        if u is None:
            raise unknown("user", name.text, name.pos)
        return u

    def lookup_bool(self, name: A.Name) -> int:
        """A declared boolean's value."""
        b = self.db.bools.get(name.text)
        if b is None:
            raise unknown("boolean", name.text, name.pos)
        return b.value

    # -- sets

    def type_value_bits(self, names: tuple[A.Name, ...], expand: bool) -> int:
        """Bitmap of the named types; attributes are expanded to their types if ``expand``."""
        out = 0
        for n in names:
            t = self.lookup_type(n)
            if t.attribute and expand:
                out |= self.attr_types[t.value]
            else:
                out |= bit(t.value)
        return out

    def all_types(self) -> int:
        """Bitmap of every type (attributes excluded)."""
        out = 0
        for t in self.db.types:
            if not t.attribute:
                out |= bit(t.value)
        return out

    def type_set(self, ns: A.NameSet, *, always_expand: bool = False,
                 allow_self: bool = False) -> tuple[int, bool]:
        """Evaluate a type set as libsepol does; returns (bitmap, whether ``self`` was named)."""
        has_self = False
        pos_names = []
        for n in ns.names:
            if n.text == "self" and allow_self:
                has_self = True
            else:
                pos_names.append(n)
        expand = always_expand or bool(ns.neg) or ns.star or ns.comp
        if ns.star:
            result = self.all_types()
        else:
            result = self.type_value_bits(tuple(pos_names), expand)
        if ns.neg:
            result &= ~self.type_value_bits(ns.neg, True)
        if ns.comp:
            result = self.all_types() & ~result
        return result, has_self

    def expand_types(self, bitmap: int) -> int:
        """Replace every attribute in ``bitmap`` by its member types."""
        out = 0
        for v in members(bitmap):
            if v in self.attr_types:
                out |= self.attr_types[v]
            else:
                out |= bit(v)
        return out

    def role_set(self, ns: A.NameSet) -> int:
        """Bitmap of roles (role attributes expanded, ``*`` and ``~`` honoured)."""
        def one(n: A.Name) -> int:
            if n.text in self.role_attrs:
                return self.role_attrs[n.text]
            return bit(self.lookup_role(n).value)

        if ns.star:
            raise error(ns.pos, "* is not allowed for role sets")
        everything = (1 << self.db.roles.nprim) - 1
        result = 0
        for n in ns.names:
            result |= one(n)
        for n in ns.neg:
            result &= ~one(n)
        return everything & ~result if ns.comp else result

    def class_set(self, ns: A.NameSet) -> list[ClassDatum]:
        """The named classes, in the order written (``*`` = all)."""
        if ns.neg:
            raise error(ns.neg[0].pos, "- is not allowed in class sets")
        if ns.star:
            return list(self.db.classes)
        chosen = [self.lookup_class(n) for n in ns.names]
        excluded = {self.lookup_class(n).value for n in ns.neg}
        if ns.comp:
            excluded |= {c.value for c in chosen}
            return [c for c in self.db.classes if c.value not in excluded]
        return [c for c in chosen if c.value not in excluded]

    def perm_mask(self, cls: ClassDatum, ns: A.NameSet) -> int:
        """Permission bits of ``ns`` in ``cls``; ``*`` is every permission, ``~`` complements."""
        all_perms = dict(cls.common.perms) if cls.common else {}
        all_perms.update(cls.perms)
        if ns.neg:
            raise error(ns.neg[0].pos, "- is not allowed in permission sets")
        if ns.star:
            return 0xFFFFFFFF  # checkpolicy stores '*' as every bit, not just the class's
        mask = 0
        for n in ns.names:
            if n.text not in all_perms:
                raise unknown("permission", n.text, n.pos, tclass=cls.name)
            mask |= bit(all_perms[n.text])
        return ~mask & 0xFFFFFFFF if ns.comp else mask  # '~' also sets the unused high bits

    @staticmethod
    def perm_names(tclass: ClassDatum, mask: int) -> list[str]:
        """Names of the permissions of ``tclass`` whose bits are set in ``mask``."""
        table = dict(tclass.common.perms) if tclass.common else {}
        table.update(tclass.perms)
        return [n for n, v in sorted(table.items(), key=lambda kv: kv[1]) if mask & bit(v)]

    # -- MLS

    def level(self, ref: A.LevelRef) -> MlsLevel:
        """Resolve ``sens:cats``; categories must be allowed for the sensitivity (``level``)."""
        sens = self.db.levels.get(ref.sens.text)
        if sens is None:
            raise unknown("sensitivity", ref.sens.text, ref.sens.pos)
        cats = 0
        for item in ref.cats:
            cats |= self._cat_item(item)
        if cats & ~sens.level.cats:
            bad = [self.db.cat_name(v) for v in members(cats & ~sens.level.cats)]
            raise InvalidLevel(ref.pos.file, ref.pos.line, ref.pos.col,
                               f"bad MLS level: category {bad[0]} is not associated with "
                               f"sensitivity {ref.sens.text}")
        return MlsLevel(sens.level.sens, cats)

    def _cat_item(self, item: A.Name) -> int:
        if "." in item.text:
            lo_name, _, hi_name = item.text.partition(".")
            lo, hi = self.db.cats.get(lo_name), self.db.cats.get(hi_name)
            for nm, c in ((lo_name, lo), (hi_name, hi)):
                if c is None:
                    raise unknown("category", nm, item.pos)
            assert lo is not None and hi is not None
            if lo.value > hi.value:
                raise InvalidLevel(item.pos.file, item.pos.line, item.pos.col,
                                   f"bad MLS level: category range {item.text} is reversed")
            return ((1 << hi.value) - 1) & ~((1 << (lo.value - 1)) - 1)
        c = self.db.cats.get(item.text)
        if c is None:
            raise unknown("category", item.text, item.pos)
        return bit(c.value)

    def range(self, ref: A.RangeRef) -> MlsRange:
        """Resolve ``low [- high]``; the high level must dominate the low one."""
        low = self.level(ref.low)
        high = self.level(ref.high) if ref.high is not None else low
        if not high.dominates(low):
            raise InvalidLevel(ref.pos.file, ref.pos.line, ref.pos.col,
                               "bad MLS range: the high level does not dominate the low level")
        return MlsRange(low, high)

    def declare_sensitivities(self, dom: A.Dominance) -> None:
        """``dominance { ... }`` fixes sensitivity values, lowest first."""
        if self.db.levels.nprim:
            raise error(dom.pos, "duplicate dominance statement")
        for i, name in enumerate(dom.names, 1):
            decl = self.sens_decl.get(name.text)
            if decl is None:
                raise unknown("sensitivity", name.text, name.pos)
            datum = SensDatum(name.text, MlsLevel(i, 0))
            self.db.levels.add(name.text, i, datum)
            for alias in decl[1]:
                self.db.levels.add(alias.text, i, SensDatum(alias.text, datum.level, True),
                                   primary=False)
        self.db.levels.nprim = len(dom.names)
        missing = set(self.sens_decl) - {n.text for n in dom.names}
        if missing:
            raise error(dom.pos, f"sensitivity '{sorted(missing)[0]}' missing from dominance")

    def add_category(self, stmt: A.CategoryDecl) -> None:
        """``category cN [alias ...];``: values in declaration order."""
        self.declare("category", stmt.name)
        cdb = self.db.cats
        cdb.nprim += 1
        cdb.add(stmt.name.text, cdb.nprim, CatDatum(stmt.name.text, cdb.nprim))
        for alias in stmt.aliases:
            self.declare("category", alias, kind="category alias")
            cdb.add(alias.text, cdb.nprim, CatDatum(alias.text, cdb.nprim, True), primary=False)

    def define_level(self, stmt: A.LevelDecl) -> None:
        """``level sN:cats;`` says which categories go with a sensitivity."""
        ref = stmt.level
        sens = self.db.levels.get(ref.sens.text)
        if sens is None:
            raise unknown("sensitivity", ref.sens.text, ref.sens.pos)
        cats = 0
        for item in ref.cats:
            cats |= self._cat_item(item)
        primary = self.db.levels.at(sens.level.sens)
        assert primary is not None
        if primary.level.cats:
            raise error(stmt.pos, f"duplicate level definition for '{ref.sens.text}'")
        new = MlsLevel(sens.level.sens, cats)
        for name, datum in list(self.db.levels.names.items()):
            if datum.level.sens == new.sens:
                datum.level = new
                self.db.levels.names[name] = datum


# -- checkpolicy's value order
#
# checkpolicy parses into a module-format policydb and then *expands* it into the kernel
# policy, copying types, roles, users and booleans by walking libsepol's symbol hash tables;
# each copied symbol takes the next value.  Values in a kernel policy from checkpolicy 3.4
# are therefore in hash-table order, not declaration order (classes, commons, categories
# and sensitivities keep theirs).  Reproducing it makes our values equal to the binary's.

#: initial hash table sizes of libsepol's symtabs (``symtab_sizes`` in policydb.c)
_SYMTAB_SIZE = {"types": 512, "roles": 16, "users": 128, "bools": 16}


def _symhash(name: str, size: int) -> int:
    """libsepol 3.4 ``symhash``: rotate left by 4 and xor each byte, masked to the size."""
    v = 0
    for ch in name.encode():
        v = (((v << 4) | (v >> 28)) ^ ch) & 0xFFFFFFFF
    return v & (size - 1)


def hash_order(names: list[str], table: str, extra: int = 0) -> list[str]:
    """``names`` in the order libsepol's ``hashtab_map`` visits them.

    The table doubles while it holds at least as many entries as buckets (``extra`` counts
    entries such as aliases that occupy the table but get no value); chains are sorted by
    ``strcmp``.
    """
    size = _SYMTAB_SIZE[table]
    while size < len(names) + extra:
        size *= 2
    return sorted(names, key=lambda n: (_symhash(n, size), n.encode()))


def renumber(syms: Symbols, type_aliases: int, tunables: int = 0) -> None:
    """Give types, roles, users and booleans checkpolicy's values (call before any rule)."""
    db = syms.db
    types = list(db.types)
    tdb = type(db.types)()
    for value, name in enumerate(hash_order([t.name for t in types], "types", type_aliases), 1):
        datum = db.types.names[name]
        datum.value = value
        tdb.add(name, value, datum)
    tdb.nprim = len(types)
    db.types = tdb
    syms.attr_types = {t.value: 0 for t in types if t.attribute}

    # role attributes take values too (and leave holes: the kernel policy omits them)
    roles = [r for r in db.roles if r.name != "object_r"]
    rdb = type(db.roles)()
    obj = db.roles.names["object_r"]
    obj.dominates = 0  # expand never copies object_r, so the kernel's keeps no dominance
    rdb.add("object_r", 1, obj)
    names = [r.name for r in roles] + list(syms.role_attrs)
    order = hash_order([*names, "object_r"], "roles")
    for value, name in enumerate((n for n in order if n != "object_r"), 2):
        if name in syms.role_attrs:
            continue
        role = db.roles.names[name]
        role.value, role.dominates = value, bit(value)
        rdb.add(name, value, role)
    rdb.nprim = len(names) + 1
    db.roles = rdb

    for attr_name in ("users", "bools"):
        old = getattr(db, attr_name)
        new = type(old)()
        extra = tunables if attr_name == "bools" else 0
        for value, name in enumerate(hash_order([d.name for d in old], attr_name, extra), 1):
            datum = old.names[name]
            datum.value = value
            new.add(name, value, datum)
        new.nprim = old.nprim
        setattr(db, attr_name, new)
