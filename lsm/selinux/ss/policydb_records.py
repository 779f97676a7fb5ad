"""The record types a policy database is made of (``struct *_datum``, rules, ``ocontext``).

Symbol datums (classes, roles, types, users, booleans, sensitivities, categories), MLS values
and contexts by value, constraint and conditional expression nodes, TE rule data, role
transitions and object contexts.  They are plain attrs records; the conventions they follow
(1-based values, bitmaps as ints, permission bit order) are described in
:mod:`lsm.selinux.ss.policydb`, which holds the container and re-exports every name here.
"""

from __future__ import annotations

from attrs import define, field, frozen

from lsm.selinux.policy.errors import InvalidPermission

__all__ = [
    "AvtabData",
    "AvtabKey",
    "BoolDatum",
    "CatDatum",
    "ClassDatum",
    "CommonDatum",
    "CondExpr",
    "CondNode",
    "Constraint",
    "ConstraintExpr",
    "Context",
    "ExtendedPerms",
    "FsCon",
    "FsUse",
    "Genfs",
    "IbEndportCon",
    "IbPkeyCon",
    "InitialSid",
    "MlsLevel",
    "MlsRange",
    "NetifCon",
    "NodeCon",
    "PortCon",
    "RoleDatum",
    "RoleTrans",
    "SensDatum",
    "TypeDatum",
    "TypeSet",
    "UserDatum",
]

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
