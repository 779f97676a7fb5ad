"""The policy database: the in-memory form of a kernel binary policy (``struct policydb``).

This module is the *data model* shared by the two producers of policies (the source compiler in
``lsm.selinux.policy.compiler`` and the binary reader in ``lsm.selinux.policy.binary``) and by the
security server (``lsm.selinux.ss.services``).  It mirrors what Linux's
``security/selinux/ss/policydb.h`` keeps after ``policydb_read()``, i.e. a *kernel* policy:
attributes are already expanded where the kernel expects them expanded (role types, constraint
names, ``type_attr_map``), and every rule refers to symbols by their values.

Conventions (the same as the binary format and the kernel):

* **Values are 1-based.**  Type, role, user, class, boolean, sensitivity and category values start
  at 1; value 0 means "none" (e.g. ``TypeDatum.bounds == 0``: no bounding type).
* **Bitmaps ("ebitmaps") are Python ints**: symbol value ``v`` is bit ``v - 1``.  Two historical
  exceptions, kept as in the kernel and documented where they occur: ``policycaps`` is indexed by
  capability number (bit ``n`` = capability ``n``), ``permissive_map`` by type value (bit ``v``).
* **Permission sets are ints** in the class's bit order: a permission with value ``p`` is bit
  ``p - 1``; common permissions come first (their values are 1..n), the class's own follow.
* The access vector table ``avtab`` is a dict keyed ``(source_type, target_type, tclass,
  specified)`` with ``specified`` one of the ``AVTAB_*`` kinds below.  For the AV kinds the value is
  a permission mask; for ``AVTAB_AUDITDENY`` it is the mask of perms that *stay audited* (the
  complement of the dontaudit rule, exactly as stored); for the type kinds it is the new type
  value; for the xperm kinds it is a tuple of :class:`ExtendedPerms`.
* Conditional rules live in :attr:`PolicyDB.cond_list`: each :class:`CondNode` holds a postfix
  boolean expression and the rules that apply when it is true / false.  The security server
  decides which branch is enabled (booleans are runtime state, not part of this read-only model).

A :class:`PolicyDB` is built once (by a producer) and then treated as read-only.  Producers fill
the fields and call :meth:`PolicyDB.index` once, which builds the derived tables (merged
permission maps, the role transition map, ...); the name lookups are kept by :class:`SymTab`
as entries are added.

Layout: this module holds the container (:class:`SymTab`, :class:`PolicyDB` with its lookups and
derived indexes); the numeric constants live in :mod:`.policydb_consts`, the record types in
:mod:`.policydb_records` and the bitmap helpers in :mod:`.ebitmap`.  Every one of those names is
re-exported here, so ``from lsm.selinux.ss.policydb import ...`` (or ``policydb as P``) reaches
the whole data model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from attrs import define, field

from lsm.selinux.policy.errors import InvalidClass, InvalidSymbol, InvalidType
from lsm.selinux.ss.ebitmap import *  # noqa: F403 - re-exported: part of the data model's API
from lsm.selinux.ss.ebitmap import bits
from lsm.selinux.ss.policydb_consts import *  # noqa: F403 - re-exported (as above)
from lsm.selinux.ss.policydb_consts import (
    HANDLE_UNKNOWN_DENY,
    POLICYCAP_NAMES,
    POLICYDB_VERSION_MAX,
)
from lsm.selinux.ss.policydb_records import *  # noqa: F403 - re-exported (as above)
from lsm.selinux.ss.policydb_records import (
    AvtabData,
    AvtabKey,
    BoolDatum,
    CatDatum,
    ClassDatum,
    CommonDatum,
    CondNode,
    FsCon,
    FsUse,
    Genfs,
    IbEndportCon,
    IbPkeyCon,
    InitialSid,
    MlsRange,
    NetifCon,
    NodeCon,
    PortCon,
    RoleDatum,
    RoleTrans,
    SensDatum,
    TypeDatum,
    UserDatum,
)

D = TypeVar("D")


@define(slots=True)
class SymTab(Generic[D]):
    """A symbol table: name -> datum (aliases included) and value -> primary datum.

    ``nprim`` is the number of primary values, as stored in the binary header of the table.
    """

    nprim: int = 0
    names: dict[str, D] = field(factory=dict)
    by_value: list[D | None] = field(factory=list)

    def add(self, name: str, value: int, datum: D, *, primary: bool = True) -> None:
        """Register ``datum`` under ``name``; primaries also under ``value``."""
        self.names[name] = datum
        if primary:
            if value > len(self.by_value):
                self.by_value.extend([None] * (value - len(self.by_value)))
            self.by_value[value - 1] = datum

    def get(self, name: str) -> D | None:
        """The datum named ``name`` (aliases resolve to the primary's datum) or None."""
        return self.names.get(name)

    def at(self, value: int) -> D | None:
        """The primary datum with ``value`` (1-based) or None."""
        if 0 < value <= len(self.by_value):
            return self.by_value[value - 1]
        return None

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[D]:
        """Iterate the primary datums in value order."""
        return (d for d in self.by_value if d is not None)


# --------------------------------------------------------------------------------------------
# The database


@define(slots=True)
class PolicyDB:
    """A kernel policy.  See the module docstring for conventions.

    Producers fill the fields below, then call :meth:`index`.  Users look symbols up with the
    ``lookup_*`` methods (which raise :class:`InvalidSymbol` subclasses) and read rules from the
    public fields.
    """

    # -- header
    version: int = POLICYDB_VERSION_MAX
    mls: bool = False
    handle_unknown: int = HANDLE_UNKNOWN_DENY
    #: policy capabilities: bit n = capability n (see :data:`POLICYCAP_NAMES`)
    policycaps: int = 0
    #: permissive types: bit v = type value v (NOT v - 1; as the kernel's permissive_map)
    permissive_map: int = 0

    # -- symbol tables
    commons: SymTab[CommonDatum] = field(factory=SymTab)
    classes: SymTab[ClassDatum] = field(factory=SymTab)
    roles: SymTab[RoleDatum] = field(factory=SymTab)
    types: SymTab[TypeDatum] = field(factory=SymTab)
    users: SymTab[UserDatum] = field(factory=SymTab)
    bools: SymTab[BoolDatum] = field(factory=SymTab)
    #: sensitivities; ``by_value`` is ordered by sensitivity value (dominance order)
    levels: SymTab[SensDatum] = field(factory=SymTab)
    cats: SymTab[CatDatum] = field(factory=SymTab)

    # -- rules
    #: unconditional TE rules, see module docstring
    avtab: dict[AvtabKey, AvtabData] = field(factory=dict)
    #: conditional TE rules
    cond_list: list[CondNode] = field(factory=list)
    role_trans: list[RoleTrans] = field(factory=list)
    #: ``allow r1 r2`` pairs
    role_allow: set[tuple[int, int]] = field(factory=set)
    #: named type transitions: (stype, ttype, tclass, name) -> new type
    filename_trans: dict[tuple[int, int, int, str], int] = field(factory=dict)
    #: range transitions: (stype, ttype, tclass) -> range
    range_trans: dict[tuple[int, int, int], MlsRange] = field(factory=dict)
    #: per type value - 1: bitmap of the type itself and every attribute it has
    type_attr_map: list[int] = field(factory=list)

    # -- object contexts
    isids: dict[int, InitialSid] = field(factory=dict)
    fscons: list[FsCon] = field(factory=list)
    portcons: list[PortCon] = field(factory=list)
    netifcons: list[NetifCon] = field(factory=list)
    nodecons: list[NodeCon] = field(factory=list)
    fs_uses: list[FsUse] = field(factory=list)
    ibpkeycons: list[IbPkeyCon] = field(factory=list)
    ibendportcons: list[IbEndportCon] = field(factory=list)
    #: genfscon entries per fstype, in policy order (the compiler sorts by path specificity)
    genfs: dict[str, list[Genfs]] = field(factory=dict)

    # -- derived by index()
    #: role_trans lookup: (role, type, tclass) -> new role
    role_trans_map: dict[tuple[int, int, int], int] = field(factory=dict)
    #: target types that appear in some filename transition (the kernel's fast filter)
    filename_trans_ttypes: set[int] = field(factory=set)
    #: the ``process`` class value (0 if absent) and its transition|dyntransition mask
    process_class: int = 0
    process_trans_perms: int = 0

    # ---------------------------------------------------------------------------------------
    # building

    def index(self) -> PolicyDB:
        """Build derived tables (permission maps, role transition map, ...); return self.

        Called once by the producer after every field is filled.
        """
        for cls in self.classes:
            merged: dict[str, int] = {}
            if cls.common is not None:
                merged.update(cls.common.perms)
            merged.update(cls.perms)
            cls.all_perms = merged
            cls.perm_names = {v - 1: n for n, v in merged.items()}
        self.role_trans_map = {}
        for rt in self.role_trans:
            self.role_trans_map.setdefault((rt.role, rt.type, rt.tclass), rt.new_role)
        self.filename_trans_ttypes = {k[1] for k in self.filename_trans}
        proc = self.classes.get("process")
        if proc is not None:
            self.process_class = proc.value
            self.process_trans_perms = 0
            for name in ("transition", "dyntransition"):
                if name in proc.all_perms:
                    self.process_trans_perms |= 1 << (proc.all_perms[name] - 1)
        # the type itself is always part of its own attribute set
        ntypes = self.types.nprim
        if len(self.type_attr_map) < ntypes:
            self.type_attr_map.extend([0] * (ntypes - len(self.type_attr_map)))
        for v in range(1, ntypes + 1):
            self.type_attr_map[v - 1] |= 1 << (v - 1)
        return self

    # ---------------------------------------------------------------------------------------
    # lookups

    def lookup_class(self, name: str) -> ClassDatum:
        """The class named ``name``; raises :class:`InvalidClass`."""
        cls = self.classes.get(name)
        if cls is None:
            raise InvalidClass(name)
        return cls

    def class_by_value(self, value: int) -> ClassDatum:
        """The class with ``value``; raises :class:`InvalidClass`."""
        cls = self.classes.at(value)
        if cls is None:
            raise InvalidClass(str(value), detail="no class has this value")
        return cls

    def lookup_type(self, name: str) -> TypeDatum:
        """The type or attribute named ``name`` (aliases resolve); raises :class:`InvalidType`."""
        t = self.types.get(name)
        if t is None:
            raise InvalidType(name)
        return t

    def lookup_role(self, name: str) -> RoleDatum:
        """The role named ``name``; raises :class:`InvalidSymbol` (kind "role")."""
        r = self.roles.get(name)
        if r is None:
            raise InvalidSymbol(name, kind="role")
        return r

    def lookup_user(self, name: str) -> UserDatum:
        """The user named ``name``; raises :class:`InvalidSymbol` (kind "user")."""
        u = self.users.get(name)
        if u is None:
            raise InvalidSymbol(name, kind="user")
        return u

    def lookup_bool(self, name: str) -> BoolDatum:
        """The boolean named ``name``; raises :class:`InvalidSymbol` (kind "boolean")."""
        b = self.bools.get(name)
        if b is None:
            raise InvalidSymbol(name, kind="boolean")
        return b

    def perm_mask(self, tclass: str | int, perms: Iterator[str] | list[str] | set[str]) -> int:
        """Bit mask of permission names in class ``tclass`` (name or value)."""
        cls = self.lookup_class(tclass) if isinstance(tclass, str) else self.class_by_value(tclass)
        mask = 0
        for p in perms:
            mask |= cls.perm_bit(p)
        return mask

    def perm_names_of(self, tclass: str | int, mask: int) -> list[str]:
        """Permission names for the set bits of ``mask`` in class ``tclass`` (unknown bits are
        skipped)."""
        cls = self.lookup_class(tclass) if isinstance(tclass, str) else self.class_by_value(tclass)
        return [cls.perm_names[b] for b in bits(mask) if b in cls.perm_names]

    # names by value (for printing)

    def type_name(self, value: int) -> str:
        """Name of the type with ``value`` (or ``"<type N>"``)."""
        t = self.types.at(value)
        return t.name if t is not None else f"<type {value}>"

    def role_name(self, value: int) -> str:
        """Name of the role with ``value``."""
        r = self.roles.at(value)
        return r.name if r is not None else f"<role {value}>"

    def user_name(self, value: int) -> str:
        """Name of the user with ``value``."""
        u = self.users.at(value)
        return u.name if u is not None else f"<user {value}>"

    def class_name(self, value: int) -> str:
        """Name of the class with ``value``."""
        c = self.classes.at(value)
        return c.name if c is not None else f"<class {value}>"

    def sens_name(self, value: int) -> str:
        """Name of the sensitivity with ``value``."""
        s = self.levels.at(value)
        return s.name if s is not None else f"<sens {value}>"

    def cat_name(self, value: int) -> str:
        """Name of the category with ``value``."""
        c = self.cats.at(value)
        return c.name if c is not None else f"<cat {value}>"

    def bool_name(self, value: int) -> str:
        """Name of the boolean with ``value``."""
        b = self.bools.at(value)
        return b.name if b is not None else f"<bool {value}>"

    def has_policycap(self, name: str) -> bool:
        """Is policy capability ``name`` (e.g. ``"open_perms"``) enabled?"""
        try:
            return bool((self.policycaps >> POLICYCAP_NAMES.index(name)) & 1)
        except ValueError:
            return False

    @property
    def policycap_names(self) -> list[str]:
        """The enabled policy capabilities by name (unknown bits as ``"capN"``)."""
        return [
            POLICYCAP_NAMES[b] if b < len(POLICYCAP_NAMES) else f"cap{b}"
            for b in bits(self.policycaps)
        ]

    # counts (setools style)

    @property
    def type_count(self) -> int:
        """Number of primary types (attributes excluded)."""
        return sum(1 for t in self.types if not t.attribute)

    @property
    def attribute_count(self) -> int:
        """Number of type attributes."""
        return sum(1 for t in self.types if t.attribute)

    @property
    def permissive_types(self) -> frozenset[int]:
        """Type values declared ``permissive``."""
        return frozenset(b for b in bits(self.permissive_map))
