"""``audit2why``: why each denial in an audit log happened, in real ``audit2why``'s words.

Each denial goes through :meth:`SecurityServer.explain` (libsepol's
``sepol_compute_av_reason``): a missing TE allow rule, a boolean that would allow it (name and
the value it needs), a failing constraint (its text with ``-Fail-`` markers), a missing role
allow rule, typebounds, or a dontaudit rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from attrs import frozen

from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.policy.loader import Policy
from lsm.selinux.ss.services import (
    REASON_ALLOW,
    REASON_BOOLEAN,
    REASON_BOUNDS,
    REASON_CONSTRAINT,
    REASON_DONTAUDIT,
    REASON_RBAC,
    REASON_TERULE,
    AvReason,
)
from lsm.selinux.tools import ToolError
from lsm.selinux.tools.audit_parse import AvcDenial

__all__ = ["Why", "constraint_causes", "explain", "explain_all", "format_why", "why_json"]


@frozen
class Why:
    """A denial and its explanation."""

    denial: AvcDenial
    reason: AvReason


def explain(policy: Policy, scon: str, tcon: str, tclass: str, perms: Iterable[str],
            where: str = "") -> AvReason:
    """:meth:`Policy.explain`, with bad contexts/classes/permissions as :class:`ToolError`."""
    try:
        return policy.explain(scon, tcon, tclass, list(perms))
    except PolicyError as e:
        raise ToolError(f"{where}{e}") from None


def explain_all(policy: Policy, denials: Sequence[AvcDenial], source: str = "<log>") -> list[Why]:
    """One :class:`Why` per denial, in log order."""
    return [
        Why(d, explain(policy, d.scontext, d.tcontext, d.tclass, d.perms,
                       f"{source}:{d.lineno}: "))
        for d in denials
    ]


def _fields(ctx: str) -> tuple[str, str, str, str]:
    user, role, type_, *rest = ctx.split(":", 3)
    return user, role, type_, rest[0] if rest else ""


def constraint_causes(scon: str, tcon: str) -> list[tuple[str, str]]:
    """sepolgen's "possible cause" pairs: user, role (unless object_r) and level differences."""
    su, sr, _, sl = _fields(scon)
    tu, tr, _, tl = _fields(tcon)
    out = []
    if su != tu:
        out.append((f"user ({su})", f"user ({tu})"))
    if tr not in (sr, "object_r"):
        out.append((f"role ({sr})", f"role ({tr})"))
    if sl != tl:
        out.append((f"level ({sl})", f"level ({tl})"))
    return out


def format_why(w: Why) -> str:
    """The block real ``audit2why`` prints for one denial."""
    r, d = w.reason, w.denial
    out = [f"{d.line}\n\n\tWas caused by:"]
    if r.code == REASON_ALLOW:
        out += ["\t\tUnknown - would be allowed by active policy",
                "\t\tPossible mismatch between this policy and the one under which the audit "
                "message was generated.\n",
                "\t\tPossible mismatch between current in-memory boolean settings vs. "
                "permanent ones.\n"]
    elif r.code == REASON_DONTAUDIT:
        out += ["\t\tUnknown - should be dontaudit'd by active policy",
                "\t\tPossible mismatch between this policy and the one under which the audit "
                "message was generated.\n",
                "\t\tPossible mismatch between current in-memory boolean settings vs. "
                "permanent ones.\n"]
    elif r.code == REASON_BOOLEAN:
        if len(r.booleans) > 1:
            out.append("\tOne of the following booleans was set incorrectly.")
            out += [f"\tAllow access by executing:\n\t# setsebool -P {n} {int(v)}"
                    for n, v in r.booleans]
        else:
            n, v = r.booleans[0]
            out.append(f"\tThe boolean {n} was set incorrectly. ")
            out.append(f"\tAllow access by executing:\n\t# setsebool -P {n} {int(v)}")
    elif r.code == REASON_TERULE:
        out += ["\t\tMissing type enforcement (TE) allow rule.\n",
                "\t\tYou can use audit2allow to generate a loadable module to allow this "
                "access.\n"]
    elif r.code == REASON_CONSTRAINT:
        out += ["", "#Constraint rule:", "\n#\t" + (r.constraint or "")]
        out += [f"#\tPossible cause is the source {a} and target {b} are different.\n"
                for a, b in constraint_causes(d.scontext, d.tcontext)]
    elif r.code == REASON_RBAC:
        out += ["\t\tMissing role allow rule.\n", "\t\tAdd an allow rule for the role pair.\n"]
    elif r.code == REASON_BOUNDS:
        out += ["\t\tTypebounds violation.\n", "\t\tAdd an allow rule for the parent type.\n"]
    return "\n".join(out)


def why_json(w: Why) -> dict[str, Any]:
    """A JSON-friendly form of one explanation."""
    d, r = w.denial, w.reason
    return {
        "line": d.lineno, "serial": d.serial, "scontext": d.scontext, "tcontext": d.tcontext,
        "tclass": d.tclass, "perms": list(d.perms), "permissive": d.permissive,
        "reason": r.name, "text": r.text,
        "booleans": [{"name": n, "value": v} for n, v in r.booleans],
        "constraint": r.constraint,
    }
