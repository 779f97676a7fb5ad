"""Constraint expressions: evaluation (``constraint_expr_eval``) and printing.

A constraint is a postfix program over two (validatetrans: three) contexts; see
:class:`lsm.selinux.ss.policydb.ConstraintExpr` for the node encoding.
"""

from __future__ import annotations

from lsm.selinux.ss.mls import level_dom, level_eq, level_incomp
from lsm.selinux.ss.policydb import (
    CEXPR_AND,
    CEXPR_ATTR,
    CEXPR_DOM,
    CEXPR_DOMBY,
    CEXPR_EQ,
    CEXPR_H1H2,
    CEXPR_H1L2,
    CEXPR_INCOMP,
    CEXPR_L1H1,
    CEXPR_L1H2,
    CEXPR_L1L2,
    CEXPR_L2H2,
    CEXPR_NAMES,
    CEXPR_NEQ,
    CEXPR_NOT,
    CEXPR_OR,
    CEXPR_ROLE,
    CEXPR_TARGET,
    CEXPR_TYPE,
    CEXPR_USER,
    CEXPR_XTARGET,
    Constraint,
    ConstraintExpr,
    Context,
    MlsLevel,
    PolicyDB,
    bits,
)

_EMPTY = MlsLevel(0, 0)


def _levels(attr: int, s: Context, t: Context) -> tuple[MlsLevel, MlsLevel] | None:
    sr, tr = s.range, t.range
    if sr is None or tr is None:
        return None
    if attr == CEXPR_L1L2:
        return sr.low, tr.low
    if attr == CEXPR_L1H2:
        return sr.low, tr.high
    if attr == CEXPR_H1L2:
        return sr.high, tr.low
    if attr == CEXPR_H1H2:
        return sr.high, tr.high
    if attr == CEXPR_L1H1:
        return sr.low, sr.high
    if attr == CEXPR_L2H2:
        return tr.low, tr.high
    return None


def _eval_node(p: PolicyDB, e: ConstraintExpr, s: Context, t: Context, x: Context | None) -> bool:
    """Value of one leaf (ATTR or NAMES) node."""
    if e.expr_type == CEXPR_NAMES:
        c = s
        if e.attr & CEXPR_TARGET:
            c = t
        elif e.attr & CEXPR_XTARGET:
            if x is None:
                return False
            c = x
        if e.attr & CEXPR_USER:
            v = c.user
        elif e.attr & CEXPR_ROLE:
            v = c.role
        elif e.attr & CEXPR_TYPE:
            v = c.type
        else:
            return False
        hit = bool((e.names >> (v - 1)) & 1)
        if e.op == CEXPR_EQ:
            return hit
        if e.op == CEXPR_NEQ:
            return not hit
        return False
    attr, op = e.attr, e.op
    if attr == CEXPR_USER:
        v1, v2 = s.user, t.user
    elif attr == CEXPR_TYPE:
        v1, v2 = s.type, t.type
    elif attr == CEXPR_ROLE:
        v1, v2 = s.role, t.role
        if op in (CEXPR_DOM, CEXPR_DOMBY, CEXPR_INCOMP):
            r1, r2 = p.roles.at(v1), p.roles.at(v2)
            if r1 is None or r2 is None:
                return False
            d12 = bool((r1.dominates >> (v2 - 1)) & 1)
            d21 = bool((r2.dominates >> (v1 - 1)) & 1)
            if op == CEXPR_DOM:
                return d12
            if op == CEXPR_DOMBY:
                return d21
            return not d12 and not d21
    else:
        pair = _levels(attr, s, t)
        if pair is None:
            return False
        l1, l2 = pair
        if op == CEXPR_EQ:
            return level_eq(l1, l2)
        if op == CEXPR_NEQ:
            return not level_eq(l1, l2)
        if op == CEXPR_DOM:
            return level_dom(l1, l2)
        if op == CEXPR_DOMBY:
            return level_dom(l2, l1)
        if op == CEXPR_INCOMP:
            return level_incomp(l2, l1)
        return False
    if op == CEXPR_EQ:
        return v1 == v2
    if op == CEXPR_NEQ:
        return v1 != v2
    return False


def constraint_eval(
    p: PolicyDB, expr: tuple[ConstraintExpr, ...], s: Context, t: Context, x: Context | None = None
) -> bool:
    """Evaluate a postfix constraint expression for source ``s``, target ``t`` (and, for
    validatetrans, the task ``x``)."""
    stack: list[bool] = []
    for e in expr:
        et = e.expr_type
        if et == CEXPR_NOT:
            stack[-1] = not stack[-1]
        elif et == CEXPR_AND:
            b = stack.pop()
            stack[-1] = stack[-1] and b
        elif et == CEXPR_OR:
            b = stack.pop()
            stack[-1] = stack[-1] or b
        elif et in (CEXPR_ATTR, CEXPR_NAMES):
            stack.append(_eval_node(p, e, s, t, x))
        else:
            return False
    return bool(stack) and stack[-1]


# -- printing ---------------------------------------------------------------------------------

_OPS = {CEXPR_EQ: "==", CEXPR_NEQ: "!=", CEXPR_DOM: "dom", CEXPR_DOMBY: "domby",
        CEXPR_INCOMP: "incomp"}  # fmt: skip
_LEVEL_ATTRS = {CEXPR_L1L2: ("l1", "l2"), CEXPR_L1H2: ("l1", "h2"), CEXPR_H1L2: ("h1", "l2"),
                CEXPR_H1H2: ("h1", "h2"), CEXPR_L1H1: ("l1", "h1"),
                CEXPR_L2H2: ("l2", "h2")}  # fmt: skip


def _leaf_text(p: PolicyDB, e: ConstraintExpr) -> str:
    op = _OPS.get(e.op, "?")
    if e.expr_type == CEXPR_NAMES:
        n = "3" if e.attr & CEXPR_XTARGET else "2" if e.attr & CEXPR_TARGET else "1"
        if e.attr & CEXPR_USER:
            letter, names = "u", [p.user_name(v + 1) for v in bits(e.names)]
        elif e.attr & CEXPR_ROLE:
            letter, names = "r", [p.role_name(v + 1) for v in bits(e.names)]
        else:
            letter = "t"
            src = e.type_names.types if e.type_names is not None else e.names
            names = [p.type_name(v + 1) for v in bits(src)]
        body = names[0] if len(names) == 1 else "{ " + " ".join(names) + " }"
        return f"{letter}{n} {op} {body}"
    if e.attr in _LEVEL_ATTRS:
        a, b = _LEVEL_ATTRS[e.attr]
        op = {CEXPR_EQ: "eq", CEXPR_NEQ: "neq"}.get(e.op, op)  # level comparisons spell eq/neq
        return f"{a} {op} {b}"
    letter = {CEXPR_USER: "u", CEXPR_ROLE: "r", CEXPR_TYPE: "t"}.get(e.attr, "?")
    return f"{letter}1 {op} {letter}2"


def constraint_text(
    p: PolicyDB,
    cons: Constraint,
    tclass: int,
    s: Context | None = None,
    t: Context | None = None,
    *,
    mls: bool = False,
) -> str:
    """The constraint in policy syntax; with contexts, failing leaves are marked ``-Fail-``.

    Every test is parenthesised, as libsepol prints it; chains of the same operator are
    written flat (``(a) or (b) or (c)``) and mixed operators keep their grouping.
    """
    # each stack item: (text, operator of its top node or "" for a leaf/not)
    parts: list[tuple[str, str]] = []
    for e in cons.expr:
        if e.expr_type == CEXPR_NOT:
            text, _ = parts[-1]
            parts[-1] = (f"not ({text})" if not text.startswith("(") else f"not {text}", "")
        elif e.expr_type in (CEXPR_AND, CEXPR_OR):
            word = "and" if e.expr_type == CEXPR_AND else "or"
            right, rop = parts.pop()
            left, lop = parts[-1]
            lt = left[1:-1] if lop == word else left
            rt = right[1:-1] if rop == word else right
            parts[-1] = (f"({lt} {word} {rt})", word)
        else:
            leaf = _leaf_text(p, e)
            if s is not None and t is not None and not _eval_node(p, e, s, t, None):
                leaf += " -Fail-"
            parts.append((f"({leaf})", ""))
    cls = p.classes.at(tclass)
    perms = p.perm_names_of(tclass, cons.permissions) if cls is not None else []
    kw = "mlsconstrain" if mls else "constrain"
    body = parts[-1][0] if parts else ""
    return f"{kw} {p.class_name(tclass)} {{ {' '.join(perms)} }} {body};"


def is_mls_constraint(cons: Constraint) -> bool:
    """True if the expression looks at MLS levels (so it came from ``mlsconstrain``)."""
    return any(e.expr_type == CEXPR_ATTR and e.attr >= CEXPR_L1L2 for e in cons.expr)
