"""Exceptions shared by the policy compiler, the binary policy reader and the security server.

Hierarchy::

    PolicyError                      any problem with a policy (source, binary or a query on it)
    +-- PolicySyntaxError            source text that does not parse (file, line, col, msg)
    +-- InvalidSymbol (ValueError)   a name the policy does not define, or an ill-formed context
    |   +-- InvalidType
    |   +-- InvalidClass
    |   +-- InvalidPermission
    |   +-- InvalidContext
    +-- BinaryPolicyError (ValueError)  a binary policy.NN that is truncated, corrupt or unsupported

Every exception carries its facts as attributes (so tests and tools need not parse messages) and
renders a one-line, human-readable message with ``str()``.
"""

from __future__ import annotations

from attrs import define, field

__all__ = [
    "BinaryPolicyError",
    "InvalidClass",
    "InvalidContext",
    "InvalidPermission",
    "InvalidSymbol",
    "InvalidType",
    "PolicyError",
    "PolicySyntaxError",
]


class PolicyError(ValueError):
    """Root of every policy-related error."""


@define(str=False)
class PolicySyntaxError(PolicyError, ValueError):
    """The policy source at ``file:line:col`` is not valid policy language (1-based line/col)."""

    file: str
    line: int
    col: int
    msg: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.msg}"


@define(str=False)
class InvalidSymbol(PolicyError, ValueError):
    """A symbol (type, class, permission, user, role, ...) the policy does not define.

    ``kind`` names the symbol space ("type", "class", "permission", "user", "role", "boolean",
    "sensitivity", "category", "context", ...); ``detail`` optionally says more.
    """

    name: str
    kind: str = "symbol"
    detail: str = ""

    def __str__(self) -> str:
        text = f"unknown {self.kind} {self.name!r}"
        return f"{text}: {self.detail}" if self.detail else text


@define(str=False)
class InvalidType(InvalidSymbol):
    """A type or attribute name the policy does not define."""

    kind: str = "type"


@define(str=False)
class InvalidClass(InvalidSymbol):
    """A security class name (or value) the policy does not define."""

    kind: str = "class"


@define(str=False)
class InvalidPermission(InvalidSymbol):
    """A permission the class does not have. ``tclass`` names the class."""

    kind: str = "permission"
    tclass: str = ""

    def __str__(self) -> str:
        where = f" in class {self.tclass!r}" if self.tclass else ""
        text = f"unknown permission {self.name!r}{where}"
        return f"{text}: {self.detail}" if self.detail else text


@define(str=False)
class InvalidContext(InvalidSymbol):
    """A security context that is ill-formed or not valid in the policy.

    ``name`` is the context string as given, ``detail`` the reason (e.g. "role staff_r is not
    authorised for user user_u", "level s9 is not in the user's range").
    """

    kind: str = "context"

    def __str__(self) -> str:
        text = f"invalid security context {self.name!r}"
        return f"{text}: {self.detail}" if self.detail else text


@define(str=False)
class BinaryPolicyError(PolicyError, ValueError):
    """A binary policy that cannot be read.

    ``section`` names the part of the file being read (e.g. "header", "avtab", "symtab types",
    "ocontexts"), ``offset`` is the byte offset in the file where the problem was found.
    """

    section: str
    offset: int
    msg: str = field(default="corrupt policy")

    def __str__(self) -> str:
        return f"binary policy: {self.section} at byte offset {self.offset}: {self.msg}"
