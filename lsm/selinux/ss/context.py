"""Security context strings <-> :class:`Context` values, and context validity.

Mirrors ``string_to_context_struct``/``context_struct_to_string`` and
``policydb_context_isvalid`` of ``security/selinux/ss/services.c`` and ``policydb.c``.
"""

from __future__ import annotations

from lsm.selinux.policy.errors import InvalidContext
from lsm.selinux.ss.mls import (
    MlsSyntaxError,
    format_range,
    parse_range,
    range_contains,
    range_isvalid,
)
from lsm.selinux.ss.policydb import OBJECT_R_VAL, Context, PolicyDB


def context_invalid_reason(p: PolicyDB, c: Context) -> str | None:
    """Why ``c`` is not a valid context in ``p`` (None if it is valid)."""
    role = p.roles.at(c.role)
    if role is None:
        return f"role value {c.role} is not defined"
    t = p.types.at(c.type)
    if t is None or t.attribute:
        return f"type value {c.type} is not a type"
    user = p.users.at(c.user)
    if user is None:
        return f"user value {c.user} is not defined"
    if c.role != OBJECT_R_VAL:
        if not (role.types >> (c.type - 1)) & 1:
            return f"type {t.name} is not authorised for role {role.name}"
        if not (user.roles >> (c.role - 1)) & 1:
            return f"role {role.name} is not authorised for user {user.name}"
    if p.mls:
        if c.range is None:
            return "the policy is MLS but the context has no range"
        if not range_isvalid(p, c.range):
            return f"range {format_range(p, c.range)} is not valid"
        # the user's clearance bounds subjects only: object_r contexts are exempt (as in
        # the kernel's and libsepol's mls_context_isvalid)
        if (
            c.role != OBJECT_R_VAL
            and user.range is not None
            and not range_contains(user.range, c.range)
        ):
            return (
                f"range {format_range(p, c.range)} is not within user {user.name}'s range "
                f"{format_range(p, user.range)}"
            )
    elif c.range is not None:
        return "the policy is not MLS but the context has a range"
    return None


def context_isvalid(p: PolicyDB, c: Context) -> bool:
    """``policydb_context_isvalid``."""
    return context_invalid_reason(p, c) is None


def parse_context(p: PolicyDB, text: str, *, validate: bool = True) -> Context:
    """Parse ``user:role:type[:range]``; raise :class:`InvalidContext` saying why it is bad."""
    if not isinstance(text, str) or not text or "\0" in text.rstrip("\0"):
        raise InvalidContext(str(text), detail="empty or malformed context")
    text = text.rstrip("\0")
    parts = text.split(":", 3)
    if len(parts) < 3:
        raise InvalidContext(text, detail="expected user:role:type[:range]")
    uname, rname, tname = parts[0], parts[1], parts[2]
    user = p.users.get(uname)
    if user is None:
        raise InvalidContext(text, detail=f"unknown user {uname!r}")
    role = p.roles.get(rname)
    if role is None:
        raise InvalidContext(text, detail=f"unknown role {rname!r}")
    t = p.types.get(tname)
    if t is None or t.attribute:
        raise InvalidContext(text, detail=f"unknown type {tname!r}")
    rng = None
    if len(parts) == 4:
        if not p.mls:
            raise InvalidContext(text, detail="MLS field given but the policy is not MLS")
        try:
            rng = parse_range(p, parts[3])
        except MlsSyntaxError as e:
            raise InvalidContext(text, detail=str(e)) from None
    elif p.mls:
        raise InvalidContext(text, detail="the policy is MLS and the context has no range")
    ctx = Context(user.value, role.value, t.value, rng)
    if validate:
        why = context_invalid_reason(p, ctx)
        if why is not None:
            raise InvalidContext(text, detail=why)
    return ctx


def format_context(p: PolicyDB, c: Context) -> str:
    """``user:role:type[:range]`` with the kernel's canonical range spelling."""
    base = f"{p.user_name(c.user)}:{p.role_name(c.role)}:{p.type_name(c.type)}"
    if p.mls and c.range is not None:
        return f"{base}:{format_range(p, c.range)}"
    return base
