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
the fields and call :meth:`PolicyDB.index` once, which builds the name lookups and derived
tables and checks internal consistency.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from attrs import define, field, frozen

from lsm.selinux.policy.errors import (
    InvalidClass,
    InvalidPermission,
    InvalidSymbol,
    InvalidType,
)

# --------------------------------------------------------------------------------------------
# Constants (values as in the kernel headers: policydb.h, avtab.h, constraint.h, conditional.h)

POLICYDB_MAGIC = 0xF97CFF8C
POLICYDB_STRING = "SE Linux"

#: policy versions (``POLICYDB_VERSION_*``)
POLICYDB_VERSION_BOOL = 16
POLICYDB_VERSION_IPV6 = 17
POLICYDB_VERSION_NLCLASS = 18
POLICYDB_VERSION_VALIDATETRANS = 19
POLICYDB_VERSION_MLS = 19
POLICYDB_VERSION_AVTAB = 20
POLICYDB_VERSION_RANGETRANS = 21
POLICYDB_VERSION_POLCAP = 22
POLICYDB_VERSION_PERMISSIVE = 23
POLICYDB_VERSION_BOUNDARY = 24
POLICYDB_VERSION_FILENAME_TRANS = 25
POLICYDB_VERSION_ROLETRANS = 26
POLICYDB_VERSION_NEW_OBJECT_DEFAULTS = 27
POLICYDB_VERSION_DEFAULT_TYPE = 28
POLICYDB_VERSION_CONSTRAINT_NAMES = 29
POLICYDB_VERSION_XPERMS_IOCTL = 30
POLICYDB_VERSION_INFINIBAND = 31
POLICYDB_VERSION_GLBLUB = 32
POLICYDB_VERSION_COMP_FTRANS = 33
POLICYDB_VERSION_MIN = 20
POLICYDB_VERSION_MAX = 33

#: header ``config`` bits
POLICYDB_CONFIG_MLS = 1
HANDLE_UNKNOWN_DENY = 0
HANDLE_UNKNOWN_REJECT = 2
HANDLE_UNKNOWN_ALLOW = 4
HANDLE_UNKNOWN_MASK = 6

#: avtab ``specified`` kinds
AVTAB_ALLOWED = 0x0001
AVTAB_AUDITALLOW = 0x0002
AVTAB_AUDITDENY = 0x0004
AVTAB_AV = AVTAB_ALLOWED | AVTAB_AUDITALLOW | AVTAB_AUDITDENY
AVTAB_TRANSITION = 0x0010
AVTAB_MEMBER = 0x0020
AVTAB_CHANGE = 0x0040
AVTAB_TYPE = AVTAB_TRANSITION | AVTAB_MEMBER | AVTAB_CHANGE
AVTAB_XPERMS_ALLOWED = 0x0100
AVTAB_XPERMS_AUDITALLOW = 0x0200
AVTAB_XPERMS_DONTAUDIT = 0x0400
AVTAB_XPERMS = AVTAB_XPERMS_ALLOWED | AVTAB_XPERMS_AUDITALLOW | AVTAB_XPERMS_DONTAUDIT
#: set on conditional rules in the binary file when the rule is in the currently enabled branch
AVTAB_ENABLED_OLD = 0x80000000
AVTAB_ENABLED = 0x8000

#: extended permission kinds (``avtab_extended_perms.specified``)
AVTAB_XPERMS_IOCTLFUNCTION = 0x01
AVTAB_XPERMS_IOCTLDRIVER = 0x02
AVTAB_XPERMS_NLMSG = 0x03

#: constraint expression node types (``constraint_expr.expr_type``)
CEXPR_NOT = 1
CEXPR_AND = 2
CEXPR_OR = 3
CEXPR_ATTR = 4
CEXPR_NAMES = 5
#: constraint attributes (``constraint_expr.attr``)
CEXPR_USER = 1
CEXPR_ROLE = 2
CEXPR_TYPE = 4
CEXPR_TARGET = 8
CEXPR_XTARGET = 16
CEXPR_L1L2 = 32
CEXPR_L1H2 = 64
CEXPR_H1L2 = 128
CEXPR_H1H2 = 256
CEXPR_L1H1 = 512
CEXPR_L2H2 = 1024
#: constraint operators (``constraint_expr.op``)
CEXPR_EQ = 1
CEXPR_NEQ = 2
CEXPR_DOM = 3
CEXPR_DOMBY = 4
CEXPR_INCOMP = 5
#: the kernel's evaluation stack depth for constraint expressions
CEXPR_MAXDEPTH = 5

#: conditional expression node types (``cond_expr_node.expr_type``)
COND_BOOL = 1
COND_NOT = 2
COND_OR = 3
COND_AND = 4
COND_XOR = 5
COND_EQ = 6
COND_NEQ = 7
COND_LAST = COND_NEQ
#: the kernel's evaluation stack depth for conditional expressions
COND_EXPR_MAXDEPTH = 10

#: ``default_user/role/type/range`` values of a class (0 = not set)
DEFAULT_SOURCE = 1
DEFAULT_TARGET = 2
DEFAULT_SOURCE_LOW = 1
DEFAULT_SOURCE_HIGH = 2
DEFAULT_SOURCE_LOW_HIGH = 3
DEFAULT_TARGET_LOW = 4
DEFAULT_TARGET_HIGH = 5
DEFAULT_TARGET_LOW_HIGH = 6
DEFAULT_GLBLUB = 7

#: type datum ``properties`` bits (policy version >= 24)
TYPEDATUM_PROPERTY_PRIMARY = 0x0001
TYPEDATUM_PROPERTY_ATTRIBUTE = 0x0002

#: ocontext kinds (indices of ``policydb.ocontexts``)
OCON_ISID = 0
OCON_FS = 1
OCON_PORT = 2
OCON_NETIF = 3
OCON_NODE = 4
OCON_FSUSE = 5
OCON_NODE6 = 6
OCON_IBPKEY = 7
OCON_IBENDPORT = 8
OCON_NUM = 9

#: fs_use behaviours
SECURITY_FS_USE_XATTR = 1
SECURITY_FS_USE_TRANS = 2
SECURITY_FS_USE_TASK = 3
SECURITY_FS_USE_GENFS = 4
SECURITY_FS_USE_NONE = 5
SECURITY_FS_USE_MNTPOINT = 6
SECURITY_FS_USE_NATIVE = 7
FS_USE_NAMES = {
    SECURITY_FS_USE_XATTR: "fs_use_xattr",
    SECURITY_FS_USE_TRANS: "fs_use_trans",
    SECURITY_FS_USE_TASK: "fs_use_task",
}

#: the symbol tables, in file order
SYM_COMMONS = 0
SYM_CLASSES = 1
SYM_ROLES = 2
SYM_TYPES = 3
SYM_USERS = 4
SYM_BOOLS = 5
SYM_LEVELS = 6
SYM_CATS = 7
SYM_NUM = 8

#: the role every object carries; always value 1
OBJECT_R = "object_r"
OBJECT_R_VAL = 1

#: initial SID names by SID number (``initial_sid_to_string``; the binary stores only numbers)
INITIAL_SID_NAMES: dict[int, str] = {
    1: "kernel", 2: "security", 3: "unlabeled", 4: "fs", 5: "file", 6: "file_labels",
    7: "init", 8: "any_socket", 9: "port", 10: "netif", 11: "netmsg", 12: "node",
    13: "igmp_packet", 14: "icmp_socket", 15: "tcp_socket", 16: "sysctl_modprobe",
    17: "sysctl", 18: "sysctl_fs", 19: "sysctl_kernel", 20: "sysctl_net",
    21: "sysctl_net_unix", 22: "sysctl_vm", 23: "sysctl_dev", 24: "kmod", 25: "policy",
    26: "scmp_packet", 27: "devnull",
}  # fmt: skip

#: policy capability names by bit number (``policycap_names.h``)
POLICYCAP_NAMES: tuple[str, ...] = (
    "network_peer_controls", "open_perms", "extended_socket_class", "always_check_network",
    "cgroup_seclabel", "nnp_nosuid_transition", "genfs_seclabel_symlinks",
    "ioctl_skip_cloexec", "userspace_initial_context", "netlink_xperm", "netif_wildcard",
    "genfs_seclabel_wildcard", "functionfs_seclabel", "memfd_class",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Bitmap helpers


def bits(bitmap: int) -> Iterator[int]:
    """Yield the 0-based positions of the set bits of ``bitmap``, lowest first."""
    while bitmap:
        low = bitmap & -bitmap
        yield low.bit_length() - 1
        bitmap ^= low


def values(bitmap: int) -> list[int]:
    """The 1-based symbol values whose bits (value - 1) are set in ``bitmap``."""
    out: list[int] = []
    while bitmap:
        low = bitmap & -bitmap
        out.append(low.bit_length())
        bitmap ^= low
    return out


# --------------------------------------------------------------------------------------------
# MLS values and contexts


@frozen
class MlsLevel:
    """A sensitivity value (1-based) and a category bitmap (category value ``v`` is bit v-1)."""

    sens: int
    cats: int = 0

    def dominates(self, other: MlsLevel) -> bool:
        """``self dom other``: higher-or-equal sensitivity and a category superset."""
        return self.sens >= other.sens and (other.cats & ~self.cats) == 0


@frozen
class MlsRange:
    """A low and a high level; ``high`` dominates ``low`` in a valid range."""

    low: MlsLevel
    high: MlsLevel

    def contains(self, other: MlsRange) -> bool:
        """``self`` contains ``other`` (the kernel's ``mls_range_contains``)."""
        return other.low.dominates(self.low) and self.high.dominates(other.high)


@frozen
class Context:
    """A security context by values: user, role, type and (MLS policies only) a range."""

    user: int
    role: int
    type: int
    range: MlsRange | None = None


# --------------------------------------------------------------------------------------------
# Symbols


@define(slots=True)
class CommonDatum:
    """A ``common`` permission set shared by several classes; ``perms`` maps name -> value."""

    name: str
    value: int
    perms: dict[str, int] = field(factory=dict)


@frozen
class ConstraintExpr:
    """One node of a postfix constraint expression.

    ``expr_type`` is ``CEXPR_NOT/AND/OR`` (operators on the stack), ``CEXPR_ATTR`` (compare an
    attribute of the two contexts: ``attr`` is ``CEXPR_USER/ROLE/TYPE`` or one of the MLS level
    pairs ``CEXPR_L1L2 ...``, ``op`` is ``CEXPR_EQ ... CEXPR_INCOMP``) or ``CEXPR_NAMES`` (test an
    attribute of one context against the set ``names``: ``attr`` is ``CEXPR_USER/ROLE/TYPE`` ORed
    with ``CEXPR_TARGET`` (t2/r2/u2) or ``CEXPR_XTARGET`` (t3/r3/u3, validatetrans only), ``op`` is
    ``CEXPR_EQ`` or ``CEXPR_NEQ``).  ``names`` is a value bitmap with attributes already expanded
    to types; ``type_names`` keeps the source form (types and attributes, ``negset``, ``flags``)
    for policy versions >= 29, used only to print the constraint.
    """

    expr_type: int
    attr: int = 0
    op: int = 0
    names: int = 0
    type_names: TypeSet | None = None


@frozen
class TypeSet:
    """The source form of a type set in a constraint: ``types``, ``negset`` and ``flags``."""

    types: int = 0
    negset: int = 0
    flags: int = 0


@frozen
class Constraint:
    """``constrain``/``mlsconstrain`` (or validatetrans) rule: perms it guards + postfix expr."""

    permissions: int
    expr: tuple[ConstraintExpr, ...]


@define(slots=True)
class ClassDatum:
    """A security class.

    ``perms`` holds the class's *own* permissions (name -> value); ``common`` the inherited
    common, whose permissions take the low values.  ``constraints`` and ``validatetrans`` are in
    policy order (the kernel evaluates all of them).  ``default_*`` are ``DEFAULT_*`` or 0.
    """

    name: str
    value: int
    common: CommonDatum | None = None
    perms: dict[str, int] = field(factory=dict)
    constraints: list[Constraint] = field(factory=list)
    validatetrans: list[Constraint] = field(factory=list)
    default_user: int = 0
    default_role: int = 0
    default_type: int = 0
    default_range: int = 0
    #: filled by :meth:`PolicyDB.index`: every permission name (common + own) -> value
    all_perms: dict[str, int] = field(factory=dict)
    #: filled by :meth:`PolicyDB.index`: bit position (value - 1) -> permission name
    perm_names: dict[int, str] = field(factory=dict)

    @property
    def nprim(self) -> int:
        """Number of permissions (the highest value)."""
        return max(self.all_perms.values(), default=0)

    def perm_bit(self, name: str) -> int:
        """The permission's bit mask; raises :class:`InvalidPermission`."""
        try:
            return 1 << (self.all_perms[name] - 1)
        except KeyError:
            raise InvalidPermission(name, tclass=self.name) from None


@define(slots=True)
class RoleDatum:
    """A role: ``dominates`` (role bitmap, includes itself) and ``types`` (type bitmap)."""

    name: str
    value: int
    bounds: int = 0
    dominates: int = 0
    types: int = 0


@define(slots=True)
class TypeDatum:
    """A type or (``attribute=True``) a type attribute; ``bounds`` is the parent type value."""

    name: str
    value: int
    primary: bool = True
    attribute: bool = False
    bounds: int = 0


@define(slots=True)
class UserDatum:
    """A user: authorised ``roles`` (bitmap), MLS ``range`` and default level (MLS only)."""

    name: str
    value: int
    bounds: int = 0
    roles: int = 0
    range: MlsRange | None = None
    dfltlevel: MlsLevel | None = None


@define(slots=True)
class BoolDatum:
    """A boolean and its default ``state`` as stored in the policy."""

    name: str
    value: int
    state: bool = False


@define(slots=True)
class SensDatum:
    """A sensitivity (``level`` statement): ``level.sens`` is its value, ``level.cats`` the
    categories that may be combined with it.  Aliases share the primary's level."""

    name: str
    level: MlsLevel
    isalias: bool = False

    @property
    def value(self) -> int:
        """The sensitivity value (its position in the dominance order, 1-based)."""
        return self.level.sens


@define(slots=True)
class CatDatum:
    """A category; aliases share the primary's value."""

    name: str
    value: int
    isalias: bool = False


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
# Rules


@frozen
class ExtendedPerms:
    """One extended-permission datum (``allowxperm`` etc.): ``specified`` is
    ``AVTAB_XPERMS_IOCTLFUNCTION`` (``driver`` + 256-bit function bitmap ``perms``) or
    ``AVTAB_XPERMS_IOCTLDRIVER`` (256-bit driver bitmap)."""

    specified: int
    driver: int
    perms: int


AvtabKey = tuple[int, int, int, int]
"""``(source_type, target_type, tclass, specified)``."""

AvtabData = int | tuple[ExtendedPerms, ...]


@frozen
class CondExpr:
    """A node of a postfix conditional expression: ``COND_BOOL`` (push ``boolean``'s value) or an
    operator ``COND_NOT/OR/AND/XOR/EQ/NEQ``."""

    expr_type: int
    boolean: int = 0


@define(slots=True)
class CondNode:
    """A conditional block: ``expr`` in postfix, the rules of the true and false branches.

    ``cur_state`` is the state the expression had when the policy was written (with the stored
    boolean defaults); the security server recomputes it.  Each rule is ``(key, data)`` with
    ``key[3]`` the plain ``AVTAB_*`` kind (the ``AVTAB_ENABLED`` flag is stripped on load).
    """

    expr: tuple[CondExpr, ...]
    true_list: list[tuple[AvtabKey, AvtabData]] = field(factory=list)
    false_list: list[tuple[AvtabKey, AvtabData]] = field(factory=list)
    cur_state: bool = False


@frozen
class RoleTrans:
    """``role_transition role type:tclass new_role``."""

    role: int
    type: int
    tclass: int
    new_role: int


# --------------------------------------------------------------------------------------------
# Object contexts


@frozen
class InitialSid:
    """``sid NAME context``: ``sid`` is the number, ``name`` from :data:`INITIAL_SID_NAMES`."""

    sid: int
    name: str
    context: Context


@frozen
class FsUse:
    """``fs_use_xattr/trans/task fstype context``; ``behavior`` is ``SECURITY_FS_USE_*``."""

    fstype: str
    behavior: int
    context: Context


@frozen
class Genfs:
    """``genfscon fstype path [-c] context``; ``sclass`` 0 means any class."""

    fstype: str
    path: str
    sclass: int
    context: Context


@frozen
class PortCon:
    """``portcon proto low-high context`` (``protocol`` is the IP protocol number)."""

    protocol: int
    low: int
    high: int
    context: Context


@frozen
class NetifCon:
    """``netifcon name ifcontext msgcontext``."""

    name: str
    if_context: Context
    msg_context: Context


@frozen
class NodeCon:
    """``nodecon addr mask context``; ``addr``/``mask`` are ints (IPv4: 32 bits, IPv6: 128 bits,
    host numbering of the address bytes in network order) and ``ipv6`` says which."""

    addr: int
    mask: int
    context: Context
    ipv6: bool = False


@frozen
class FsCon:
    """``fscon fstype fs_context file_context`` (obsolete but still in the format)."""

    name: str
    fs_context: Context
    file_context: Context


@frozen
class IbPkeyCon:
    """``ibpkeycon subnet_prefix low-high context``."""

    subnet_prefix: int
    low: int
    high: int
    context: Context


@frozen
class IbEndportCon:
    """``ibendportcon device port context``."""

    device: str
    port: int
    context: Context


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
