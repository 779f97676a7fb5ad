"""``policy search``: TE rules of a policy printed as ``sesearch`` prints them.

The rules are the kernel policy's (one per avtab entry, conditional rules of both branches,
named type transitions), exactly what ``sesearch`` sees in a binary policy.  Matching follows
setools' ``TERuleQuery`` defaults: ``-s``/``-t`` are *indirect* (the criterion and the rule's
type are both expanded to types, attributes to their members, and must intersect), ``-c`` and
``-b`` match any of a comma-separated list, ``-p`` matches a rule granting any of the listed
permissions (type rules never match ``-p``).  Output is sorted by text, as ``sesearch`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from attrs import frozen

from lsm.selinux.policy.namesets import NameSetExpander
from lsm.selinux.ss import policydb as P
from lsm.selinux.tools import ToolError

__all__ = ["RULE_KINDS", "Query", "TeRule", "cond_text", "iter_rules", "search"]

#: avtab kind -> rule keyword
RULE_KINDS: dict[int, str] = {
    P.AVTAB_ALLOWED: "allow", P.AVTAB_AUDITALLOW: "auditallow", P.AVTAB_AUDITDENY: "dontaudit",
    P.AVTAB_TRANSITION: "type_transition", P.AVTAB_CHANGE: "type_change",
    P.AVTAB_MEMBER: "type_member", P.AVTAB_XPERMS_ALLOWED: "allowxperm",
    P.AVTAB_XPERMS_AUDITALLOW: "auditallowxperm", P.AVTAB_XPERMS_DONTAUDIT: "dontauditxperm",
}  # fmt: skip
_FULL = 0xFFFFFFFF
#: setools' operator text and precedence (``ConditionalOperator``)
_COND_OPS = {P.COND_NOT: ("!", 5), P.COND_OR: ("||", 1), P.COND_AND: ("&&", 3),
             P.COND_XOR: ("^", 2), P.COND_EQ: ("==", 4), P.COND_NEQ: ("!=", 4)}  # fmt: skip


@frozen
class TeRule:
    """One kernel TE rule by values, with its conditional (node index, branch) if any."""

    kind: str
    source: int
    target: int
    tclass: int
    perms: int = 0
    default: int = 0
    filename: str | None = None
    cond: int | None = None
    branch: bool = True
    #: the ioctl commands of an extended-permission rule
    xperms: tuple[int, ...] = ()

    def text(self, db: P.PolicyDB, conds: list[str]) -> str:
        """The rule as ``sesearch`` prints it."""
        head = f"{self.kind} {db.type_name(self.source)} {db.type_name(self.target)}:" \
               f"{db.class_name(self.tclass)}"
        if self.xperms:
            runs = _ranges(self.xperms)
            body = f"{head} ioctl {runs[0]}" if len(runs) == 1 else \
                f"{head} ioctl {{ {' '.join(runs)} }}"
        elif self.default:
            body = f"{head} {db.type_name(self.default)}"
            if self.filename is not None:
                body += f" {self.filename}"
        else:
            names = sorted(db.perm_names_of(self.tclass, self.perms))
            body = f"{head} {names[0]}" if len(names) == 1 else f"{head} {{ {' '.join(names)} }}"
        if self.cond is None:
            return body + ";"
        return f"{body}; [ {conds[self.cond]} ]:{self.branch}"


def cond_text(db: P.PolicyDB, expr: tuple[P.CondExpr, ...]) -> str:
    """A postfix conditional in setools' infix form (its operand order and parentheses)."""
    stack: list[object] = []
    prev = 5
    for node in expr:
        if node.expr_type == P.COND_BOOL:
            stack.append(db.bool_name(node.boolean))
            continue
        op, prec = _COND_OPS[node.expr_type]
        if node.expr_type == P.COND_NOT:
            operand = stack.pop()
            stack.append([op, "(", operand, ")"] if isinstance(operand, list) else [op, operand])
        else:
            a, b = stack.pop(), stack.pop()
            stack.append([a, op, b] if prev > prec else ["(", a, op, b, ")"])
        prev = prec
    return " ".join(_flatten(stack))


def _flatten(items: Iterable[object]) -> Iterator[str]:
    for x in items:
        if isinstance(x, list):
            yield from _flatten(x)
        else:
            yield str(x)


def _ranges(values: tuple[int, ...]) -> list[str]:
    """setools' IoctlSet text: runs of consecutive commands as ``0xa-0xb``."""
    out: list[str] = []
    start = prev = values[0]
    for v in (*values[1:], None):
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(f"{start:#06x}" if start == prev else f"{start:#06x}-{prev:#06x}")
        if v is not None:
            start = prev = v
    return out


def _xperm_values(x: P.ExtendedPerms) -> tuple[int, ...]:
    if x.specified == P.AVTAB_XPERMS_IOCTLFUNCTION:
        return tuple(x.driver << 8 | f for f in range(256) if x.perms >> f & 1)
    return tuple(d << 8 | f for d in range(256) if x.perms >> d & 1 for f in range(256))


def _rules(key: P.AvtabKey, data: P.AvtabData, cond: int | None,
           branch: bool) -> Iterator[TeRule]:
    s, t, c, kind = key
    name = RULE_KINDS.get(kind)
    if name is None:
        return
    if not isinstance(data, int):  # extended permissions: one rule per driver/function entry
        for x in data:
            yield TeRule(name, s, t, c, cond=cond, branch=branch, xperms=_xperm_values(x))
    elif kind & P.AVTAB_TYPE:
        yield TeRule(name, s, t, c, default=data, cond=cond, branch=branch)
    else:
        perms = (~data & _FULL) if kind == P.AVTAB_AUDITDENY else data
        yield TeRule(name, s, t, c, perms=perms, cond=cond, branch=branch)


def iter_rules(db: P.PolicyDB) -> Iterator[TeRule]:
    """Every TE rule of the kernel policy: avtab, conditional lists, named transitions."""
    for key, data in db.avtab.items():
        yield from _rules(key, data, None, True)
    for i, node in enumerate(db.cond_list):
        for branch, rules in ((True, node.true_list), (False, node.false_list)):
            for key, data in rules:
                yield from _rules(key, data, i, branch)
    for (s, t, c, name), new in db.filename_trans.items():
        yield TeRule("type_transition", s, t, c, default=new, filename=name)


@frozen
class Query:
    """Search criteria (names as given on the command line; empty means "any")."""

    kinds: frozenset[str]
    source: str | None = None
    target: str | None = None
    classes: tuple[str, ...] = ()
    perms: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()


def _lookup_type(db: P.PolicyDB, name: str) -> int:
    td = db.types.get(name)
    if td is None:
        raise ToolError(f"{name} is not a valid type or attribute")
    return td.value


def search(db: P.PolicyDB, q: Query) -> list[str]:
    """The matching rules' text, sorted as ``sesearch`` prints them."""
    if not q.kinds:
        raise ToolError("one or more rule types must be specified")
    ex = NameSetExpander(db)
    src = ex.expand(_lookup_type(db, q.source)) if q.source else None
    tgt = ex.expand(_lookup_type(db, q.target)) if q.target else None
    classes = set()
    for name in q.classes:
        cls = db.classes.get(name)
        if cls is None:
            raise ToolError(f"{name} is not a valid class")
        classes.add(cls.value)
    bools = set()
    for name in q.bools:
        b = db.bools.get(name)
        if b is None:
            raise ToolError(f"{name} is not a valid Boolean")
        bools.add(b.value)
    cond_bools = [
        {n.boolean for n in node.expr if n.expr_type == P.COND_BOOL} for node in db.cond_list
    ]
    conds = [cond_text(db, node.expr) for node in db.cond_list]
    out = []
    for r in iter_rules(db):
        if r.kind not in q.kinds:
            continue
        if src is not None and not src & ex.expand(r.source):
            continue
        if tgt is not None and not tgt & ex.expand(r.target):
            continue
        if classes and r.tclass not in classes:
            continue
        if q.perms:
            if r.default or r.xperms:
                continue
            cls = db.class_by_value(r.tclass)
            if not any(r.perms >> (cls.all_perms[p] - 1) & 1 for p in q.perms
                       if p in cls.all_perms):
                continue
        if bools and (r.cond is None or not bools & cond_bools[r.cond]):
            continue
        out.append(r.text(db, conds))
    return sorted(out)
