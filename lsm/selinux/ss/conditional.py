"""Conditional policy: boolean expressions and the index of conditional rules.

``conditional.c`` keeps one conditional avtab whose entries carry an ``AVTAB_ENABLED`` flag that
``evaluate_cond_nodes()`` flips when booleans change.  Here the policy stays read-only: the
:class:`CondIndex` maps each avtab key to the conditional rules for it, tagged with their node and
branch, and a rule counts when its node's current state equals its branch.
"""

from __future__ import annotations

from lsm.selinux.ss.policydb import (
    COND_AND,
    COND_BOOL,
    COND_EQ,
    COND_NEQ,
    COND_NOT,
    COND_OR,
    COND_XOR,
    AvtabData,
    CondExpr,
    PolicyDB,
)

CondRule = tuple[int, bool, int, AvtabData]
"""``(node index, branch, specified, data)``: the rule applies when node state == branch."""


def cond_evaluate(expr: tuple[CondExpr, ...], state: list[bool]) -> bool | None:
    """Evaluate a postfix boolean expression; ``state[v - 1]`` is boolean ``v``'s value.

    Returns None for a malformed expression (the kernel then disables both branches).
    """
    stack: list[bool] = []
    try:
        for e in expr:
            t = e.expr_type
            if t == COND_BOOL:
                stack.append(state[e.boolean - 1])
            elif t == COND_NOT:
                stack[-1] = not stack[-1]
            else:
                b = stack.pop()
                a = stack[-1]
                if t == COND_OR:
                    stack[-1] = a or b
                elif t == COND_AND:
                    stack[-1] = a and b
                elif t == COND_XOR:
                    stack[-1] = a != b
                elif t == COND_EQ:
                    stack[-1] = a == b
                elif t == COND_NEQ:
                    stack[-1] = a != b
                else:
                    return None
    except IndexError:
        return None
    return stack[-1] if len(stack) == 1 else None


class CondIndex:
    """Conditional rules by ``(stype, ttype, tclass)`` plus per-node boolean dependencies."""

    __slots__ = ("by_key", "node_bools")

    def __init__(self, p: PolicyDB) -> None:
        self.by_key: dict[tuple[int, int, int], list[CondRule]] = {}
        #: for each node, the boolean values its expression reads
        self.node_bools: list[frozenset[int]] = []
        for idx, node in enumerate(p.cond_list):
            self.node_bools.append(
                frozenset(e.boolean for e in node.expr if e.expr_type == COND_BOOL)
            )
            for branch, rules in ((True, node.true_list), (False, node.false_list)):
                for key, data in rules:
                    self.by_key.setdefault(key[:3], []).append((idx, branch, key[3], data))

    @staticmethod
    def node_states(p: PolicyDB, bool_state: list[bool]) -> list[bool | None]:
        """The state of every conditional node for the given boolean values."""
        return [cond_evaluate(node.expr, bool_state) for node in p.cond_list]
