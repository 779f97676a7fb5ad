"""Compiler diagnostics: the shared error classes (``errors.py``) plus a source position.

Each class subclasses the matching :mod:`lsm.selinux.policy.errors` class, so callers may
catch ``InvalidType`` or ``PolicyError`` without knowing the compiler; ``str()`` starts with
``file:line:col:`` as checkpolicy users expect.
"""

from __future__ import annotations

from attrs import define

from lsm.selinux.policy.ast import Pos
from lsm.selinux.policy.errors import (
    InvalidClass,
    InvalidPermission,
    InvalidSymbol,
    InvalidType,
    PolicyError,
)


def _where(file: str, line: int, col: int) -> str:
    return f"{file}:{line}:{col}: " if file else ""


@define(str=False)
class UnknownSymbol(InvalidSymbol):
    """A role, user, boolean, sensitivity, category, ... the policy does not declare."""

    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return _where(self.file, self.line, self.col) + InvalidSymbol.__str__(self)


@define(str=False)
class UnknownType(InvalidType):
    """A type or attribute name used but never declared."""

    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return _where(self.file, self.line, self.col) + InvalidSymbol.__str__(self)


@define(str=False)
class UnknownClass(InvalidClass):
    """A class name used but never declared."""

    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return _where(self.file, self.line, self.col) + InvalidSymbol.__str__(self)


@define(str=False)
class UnknownPermission(InvalidPermission):
    """A permission the named class does not have."""

    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return _where(self.file, self.line, self.col) + InvalidPermission.__str__(self)


@define(str=False)
class CompileError(PolicyError, ValueError):
    """A policy that parses but is not valid (redeclaration, bad MLS level, conflicts)."""

    file: str
    line: int
    col: int
    msg: str

    def __str__(self) -> str:
        return _where(self.file, self.line, self.col) + self.msg


@define(str=False)
class Redeclaration(CompileError):
    """A symbol declared twice; ``previous`` is where it was first declared."""

    previous: str = ""


@define(str=False)
class InvalidLevel(CompileError):
    """An MLS level or range that the policy's sensitivities and categories do not allow."""


@define(str=False)
class NeverallowViolation(CompileError):
    """An allow rule grants what a neverallow forbids; ``file:line:col`` is the neverallow,
    ``allow_at`` the allow rule."""

    allow_at: str = ""


def unknown(kind: str, name: str, pos: Pos, *, tclass: str = "", detail: str = "") -> PolicyError:
    """The located "unknown <kind> 'name'" error for ``kind``."""
    f, line, col = pos.file, pos.line, pos.col
    if kind == "type":
        return UnknownType(name, detail=detail, file=f, line=line, col=col)
    if kind == "class":
        return UnknownClass(name, detail=detail, file=f, line=line, col=col)
    if kind == "permission":
        return UnknownPermission(name, detail=detail, tclass=tclass, file=f, line=line, col=col)
    return UnknownSymbol(name, kind=kind, detail=detail, file=f, line=line, col=col)


def error(pos: Pos, msg: str) -> CompileError:
    """A located :class:`CompileError`."""
    return CompileError(pos.file, pos.line, pos.col, msg)
