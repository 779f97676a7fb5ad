"""Syntax tree of a policy source: one frozen class per statement, each with its position.

The parser only checks the *shape* of statements; names are resolved by the compiler, which
is why every name keeps the :class:`Pos` it was written at (errors point at the name).
"""

from __future__ import annotations

from attrs import frozen


@frozen
class Pos:
    """Where something was written (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@frozen
class Name:
    """An identifier as written."""

    text: str
    pos: Pos


@frozen
class NameSet:
    """A set of names: ``a``, ``{ a b -c }``, ``*`` or ``~{ a b }``.

    ``neg`` holds the ``-name`` exclusions; ``star`` and ``comp`` are the two flags.
    """

    names: tuple[Name, ...]
    pos: Pos
    neg: tuple[Name, ...] = ()
    star: bool = False
    comp: bool = False


# -- MLS and contexts


@frozen
class LevelRef:
    """``sens[:cat,cat.cat,...]`` (a category item containing '.' is a range)."""

    sens: Name
    cats: tuple[Name, ...]
    pos: Pos


@frozen
class RangeRef:
    """``low [- high]``; a single level is its own high."""

    low: LevelRef
    high: LevelRef | None
    pos: Pos


@frozen
class ContextRef:
    """``user:role:type[:range]``."""

    user: Name
    role: Name
    type: Name
    range: RangeRef | None
    pos: Pos


# -- expressions

#: boolean/constraint tree node: ("not", e) | ("and"|"or"|"xor"|"==", a, b) | leaf
CondTree = tuple


@frozen
class CondLeaf:
    """A boolean name inside an ``if`` expression."""

    name: Name


@frozen
class CExprAttr:
    """A constraint leaf ``left op right``: ``right`` is an operand keyword or a name set."""

    left: str
    op: str
    right: str | NameSet
    pos: Pos


# -- statements


@frozen
class Stmt:
    """Base of all statements: where the statement starts."""

    pos: Pos


@frozen
class ClassDecl(Stmt):
    name: Name


@frozen
class InitialSidDecl(Stmt):
    name: Name


@frozen
class CommonDef(Stmt):
    name: Name
    perms: tuple[Name, ...]


@frozen
class ClassPerms(Stmt):
    name: Name
    inherits: Name | None
    perms: tuple[Name, ...]


@frozen
class DefaultRule(Stmt):
    kind: str  # default_user | default_role | default_type | default_range
    classes: NameSet
    which: str  # source | target | glblub
    part: str  # low | high | low-high | ""


@frozen
class SensitivityDecl(Stmt):
    name: Name
    aliases: tuple[Name, ...]


@frozen
class Dominance(Stmt):
    names: tuple[Name, ...]


@frozen
class CategoryDecl(Stmt):
    name: Name
    aliases: tuple[Name, ...]


@frozen
class LevelDecl(Stmt):
    level: LevelRef


@frozen
class ConstrainDef(Stmt):
    """``constrain``/``mlsconstrain`` (perms set) or ``validatetrans``/``mlsvalidatetrans``."""

    kind: str
    classes: NameSet
    perms: NameSet | None
    expr: CondTree


@frozen
class PolicyCap(Stmt):
    name: Name


@frozen
class AttributeDecl(Stmt):
    name: Name


@frozen
class TypeDecl(Stmt):
    name: Name
    aliases: tuple[Name, ...]
    attrs: tuple[Name, ...]


@frozen
class TypeAttribute(Stmt):
    type: Name
    attrs: tuple[Name, ...]


@frozen
class TypeAlias(Stmt):
    type: Name
    aliases: tuple[Name, ...]


@frozen
class TypeBounds(Stmt):
    parent: Name
    children: tuple[Name, ...]


@frozen
class Permissive(Stmt):
    type: Name


@frozen
class BoolDecl(Stmt):
    name: Name
    value: bool
    tunable: bool = False


@frozen
class AvRule(Stmt):
    """allow, auditallow, dontaudit, neverallow (``auditdeny`` is stored as dontaudit)."""

    kind: str
    src: NameSet
    tgt: NameSet
    classes: NameSet
    perms: NameSet


@frozen
class XpermRule(Stmt):
    """allowxperm and friends; ``xperms`` are (low, high) ranges, ``comp`` for ``~``."""

    kind: str
    src: NameSet
    tgt: NameSet
    classes: NameSet
    op: Name
    xperms: tuple[tuple[int, int], ...]
    comp: bool


@frozen
class TypeRule(Stmt):
    """type_transition / type_change / type_member; ``filename`` for named transitions."""

    kind: str
    src: NameSet
    tgt: NameSet
    classes: NameSet
    new: Name
    filename: str | None = None


@frozen
class RangeTransition(Stmt):
    src: NameSet
    tgt: NameSet
    classes: NameSet | None
    range: RangeRef


@frozen
class CondBlock(Stmt):
    expr: CondTree
    true_rules: tuple[Stmt, ...]
    false_rules: tuple[Stmt, ...]


@frozen
class RoleDecl(Stmt):
    name: Name
    types: NameSet | None
    attrs: tuple[Name, ...] = ()


@frozen
class AttributeRoleDecl(Stmt):
    name: Name


@frozen
class RoleAttribute(Stmt):
    role: Name
    attrs: tuple[Name, ...]


@frozen
class RoleAllow(Stmt):
    src: NameSet
    tgt: NameSet


@frozen
class RoleTransition(Stmt):
    roles: NameSet
    types: NameSet
    classes: NameSet | None
    new: Name


@frozen
class UserDecl(Stmt):
    name: Name
    roles: NameSet
    level: LevelRef | None
    range: RangeRef | None


@frozen
class SidContext(Stmt):
    name: Name
    context: ContextRef


@frozen
class FsUse(Stmt):
    kind: str
    fstype: Name
    context: ContextRef


@frozen
class GenfsCon(Stmt):
    fstype: Name
    path: str
    filetype: str
    context: ContextRef


@frozen
class PortCon(Stmt):
    proto: Name
    low: int
    high: int
    context: ContextRef


@frozen
class NetifCon(Stmt):
    name: Name
    if_context: ContextRef
    msg_context: ContextRef


@frozen
class NodeCon(Stmt):
    addr: str
    mask: str
    context: ContextRef
    ipv6: bool


@frozen
class IbPkeyCon(Stmt):
    subnet_prefix: str
    low: int
    high: int
    context: ContextRef


@frozen
class IbEndportCon(Stmt):
    device: Name
    port: int
    context: ContextRef


@frozen
class ModuleDecl(Stmt):
    name: Name
    version: str


@frozen
class Require(Stmt):
    """``require { ... }`` (or ``gen_require``): (kind, name, perms for classes)."""

    items: tuple[tuple[str, Name, tuple[Name, ...]], ...]


@frozen
class Optional(Stmt):
    """``optional { ... } [else { ... }]``: enabled when its requires are all satisfied."""

    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
