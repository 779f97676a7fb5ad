"""TE, RBAC, conditional and constraint rules: the second compiler pass.

Rules become kernel avtab entries exactly as libsepol's ``expand`` writes a kernel policy
(checked with setools on checkpolicy 3.4 output):

* ``allow``/``auditallow``/``dontaudit`` keep attributes as their source/target key, unless a
  set uses ``*``, ``~`` or a ``-`` exclusion, which expands that set to types; ``self`` is
  expanded to one ``(t, t)`` entry per source type, and a rule naming ``self`` has both
  its sets expanded;
* ``type_transition``/``type_change``/``type_member``, named transitions, range and role
  transitions always expand attributes to types;
* rules with the same key merge (permission union; dontaudit stores the intersection of the
  complemented masks, the bits that stay audited);
* ``neverallow`` is checked after everything (conditional allows included) and is not
  stored; as in libsepol 3.4, a neverallow naming ``self`` only checks the self part.

Where libsepol 3.4 has a quirk that changes the kernel policy (conditional merging,
neverallow with ``self``), the quirk is reproduced and marked, since the aim is the binary
checkpolicy would write.
"""

from __future__ import annotations

from attrs import define, field

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.compile_errors import NeverallowViolation, error
from lsm.selinux.policy.symbols import Symbols, bit, members
from lsm.selinux.ss import policydb as P

_AV_KIND = {"allow": P.AVTAB_ALLOWED, "auditallow": P.AVTAB_AUDITALLOW,
            "dontaudit": P.AVTAB_AUDITDENY}  # fmt: skip
_TYPE_KIND = {"type_transition": P.AVTAB_TRANSITION, "type_change": P.AVTAB_CHANGE,
              "type_member": P.AVTAB_MEMBER}  # fmt: skip
_XPERM_KIND = {"allowxperm": P.AVTAB_XPERMS_ALLOWED, "auditallowxperm": P.AVTAB_XPERMS_AUDITALLOW,
               "dontauditxperm": P.AVTAB_XPERMS_DONTAUDIT}  # fmt: skip
_FULL = 0xFFFFFFFF
_COND_OPS = {"not": P.COND_NOT, "or": P.COND_OR, "and": P.COND_AND, "xor": P.COND_XOR,
             "==": P.COND_EQ, "!=": P.COND_NEQ}  # fmt: skip
_CEXPR_OPS = {"==": P.CEXPR_EQ, "!=": P.CEXPR_NEQ, "dom": P.CEXPR_DOM,
              "domby": P.CEXPR_DOMBY, "incomp": P.CEXPR_INCOMP}  # fmt: skip
_LEVEL_PAIRS = {("l1", "l2"): P.CEXPR_L1L2, ("l1", "h2"): P.CEXPR_L1H2,
                ("h1", "l2"): P.CEXPR_H1L2, ("h1", "h2"): P.CEXPR_H1H2,
                ("l1", "h1"): P.CEXPR_L1H1, ("l2", "h2"): P.CEXPR_L2H2}  # fmt: skip
_SAME_PAIRS = {("u1", "u2"): P.CEXPR_USER, ("r1", "r2"): P.CEXPR_ROLE,
               ("t1", "t2"): P.CEXPR_TYPE}  # fmt: skip
_KIND_ATTR = {"u": P.CEXPR_USER, "r": P.CEXPR_ROLE, "t": P.CEXPR_TYPE}
_WHICH_ATTR = {"1": 0, "2": P.CEXPR_TARGET, "3": P.CEXPR_XTARGET}


@define(slots=True)
class _Granted:
    """An allow rule as the neverallow check needs it (sets expanded before the check)."""

    pos: A.Pos
    src: int
    tgt: int
    self_: bool
    perms: dict[int, int]


@define(slots=True)
class RuleCompiler:
    """Second pass: turn rule statements into kernel tables on ``syms.db``."""

    syms: Symbols
    granted: list[_Granted] = field(factory=list)
    neverallows: list[A.AvRule] = field(factory=list)

    # -- AV rules

    def av_rule(self, rule: A.AvRule, table: dict[P.AvtabKey, P.AvtabData]) -> None:
        """One allow/auditallow/dontaudit (or neverallow, kept for later) statement."""
        s = self.syms
        if rule.kind != "neverallow":
            _no_star_or_comp(rule.src, rule.tgt)
        tgt, has_self = s.type_set(rule.tgt, allow_self=True)
        if has_self:  # with `self`, libsepol expands both sets fully for every pair
            tgt, _ = s.type_set(rule.tgt, allow_self=True, always_expand=True)
        src, _ = s.type_set(rule.src, always_expand=has_self)
        masks = {cls.value: s.perm_mask(cls, rule.perms) for cls in s.class_set(rule.classes)}
        if rule.kind == "neverallow":
            self.neverallows.append(rule)
            return
        spec = _AV_KIND[rule.kind]
        if spec == P.AVTAB_ALLOWED:  # attributes are expanded later, if a neverallow needs it
            self.granted.append(_Granted(rule.pos, src, tgt, has_self, masks))
        pairs = [(a, b) for a in members(src) for b in members(tgt)]
        if has_self:
            pairs += [(a, a) for a in members(s.expand_types(src))]
        for cls, mask in masks.items():
            if not mask:
                continue
            for a, b in pairs:
                key = (a, b, cls, spec)
                if spec == P.AVTAB_AUDITDENY:
                    table[key] = _mask(table.get(key, _FULL)) & (~mask & _FULL)
                else:
                    table[key] = _mask(table.get(key, 0)) | mask

    def xperm_rule(self, rule: A.XpermRule, table: dict[P.AvtabKey, P.AvtabData]) -> None:
        """allowxperm & co. for ``ioctl``: one driver entry for whole drivers, else functions."""
        if rule.op.text != "ioctl":
            raise error(rule.op.pos, f"unsupported extended permission kind '{rule.op.text}'")
        s = self.syms
        tgt, has_self = s.type_set(rule.tgt, allow_self=True, always_expand=True)
        src, _ = s.type_set(rule.src, always_expand=has_self)
        if not has_self:
            tgt, _ = s.type_set(rule.tgt)
        classes = s.class_set(rule.classes)
        for cls in classes:  # checkpolicy: the class must have the base permission
            s.perm_mask(cls, A.NameSet((A.Name("ioctl", rule.op.pos),), rule.op.pos))
        if rule.kind == "neverallowxperm":
            return
        wanted: set[int] = set()
        for low, high in rule.xperms:
            if low > high or high > 0xFFFF:
                raise error(rule.pos, f"bad ioctl range 0x{low:x}-0x{high:x}")
            wanted.update(range(low, high + 1))
        if rule.comp:
            wanted = set(range(0x10000)) - wanted
        drivers: dict[int, int] = {}
        for num in wanted:
            drivers[num >> 8] = drivers.get(num >> 8, 0) | (1 << (num & 0xFF))
        full = (1 << 256) - 1
        whole = sum(1 << d for d, f in drivers.items() if f == full)
        datums = [P.ExtendedPerms(P.AVTAB_XPERMS_IOCTLDRIVER, 0, whole)] if whole else []
        datums += [P.ExtendedPerms(P.AVTAB_XPERMS_IOCTLFUNCTION, d, f)
                   for d, f in sorted(drivers.items()) if f != full]
        pairs = [(a, b) for a in members(src) for b in members(tgt)]
        if has_self:
            pairs += [(a, a) for a in members(s.expand_types(src))]
        for cls in classes:
            for a, b in pairs:
                key = (a, b, cls.value, _XPERM_KIND[rule.kind])
                old = table.get(key, ())
                assert isinstance(old, tuple)
                table[key] = _merge_xperms(old, tuple(datums))

    # -- type rules

    def type_rule(self, rule: A.TypeRule, table: dict[P.AvtabKey, P.AvtabData]) -> None:
        """type_transition / type_change / type_member, plain or named."""
        s = self.syms
        _no_star_or_comp(rule.src, rule.tgt)
        src, _ = s.type_set(rule.src, always_expand=True)
        tgt, has_self = s.type_set(rule.tgt, always_expand=True, allow_self=True)
        new = s.lookup_type(rule.new)
        if new.attribute:
            raise error(rule.new.pos, f"'{rule.new.text}' is an attribute, not a type")
        pairs = [(a, b) for a in members(src) for b in members(tgt)]
        if has_self:
            pairs += [(a, a) for a in members(src)]
        spec = _TYPE_KIND[rule.kind]
        for cls in s.class_set(rule.classes):
            for a, b in pairs:
                if rule.filename is not None:
                    fkey = (a, b, cls.value, rule.filename)
                    old = s.db.filename_trans.get(fkey)
                    if old is not None and old != new.value:
                        raise self._conflict(rule, a, b, cls.name, old)
                    s.db.filename_trans[fkey] = new.value
                    continue
                key = (a, b, cls.value, spec)
                old_t = table.get(key)
                if old_t is not None and old_t != new.value:
                    raise self._conflict(rule, a, b, cls.name, _mask(old_t))
                table[key] = new.value

    def _conflict(self, rule: A.TypeRule, a: int, b: int, cls: str, old: int) -> Exception:
        db = self.syms.db
        return error(rule.pos, f"conflicting {rule.kind} rules for {db.type_name(a)} "
                               f"{db.type_name(b)}:{cls}: {db.type_name(old)} vs "
                               f"{rule.new.text}")

    def range_transition(self, rule: A.RangeTransition) -> None:
        """``range_transition s t[:classes] range`` (class defaults to process)."""
        s = self.syms
        if not s.db.mls:
            raise error(rule.pos, "range_transition in a policy without MLS")
        src, _ = s.type_set(rule.src, always_expand=True)
        tgt, _ = s.type_set(rule.tgt, always_expand=True)
        rng = s.range(rule.range)
        classes = (s.class_set(rule.classes) if rule.classes is not None
                   else [s.lookup_class(A.Name("process", rule.pos))])
        for cls in classes:
            for a in members(src):
                for b in members(tgt):
                    key = (a, b, cls.value)
                    old = s.db.range_trans.get(key)
                    if old is not None and old != rng:
                        raise error(rule.pos, f"conflicting range_transition for "
                                              f"{s.db.type_name(a)} {s.db.type_name(b)}")
                    s.db.range_trans[key] = rng

    # -- RBAC

    def role_allow(self, rule: A.RoleAllow) -> None:
        """``allow r1 r2;``"""
        s = self.syms
        for a in members(s.role_set(rule.src)):
            for b in members(s.role_set(rule.tgt)):
                s.db.role_allow.add((a, b))

    def role_transition(self, rule: A.RoleTransition) -> None:
        """``role_transition roles types[:classes] new_role;``"""
        s = self.syms
        new = s.lookup_role(rule.new)
        types, _ = s.type_set(rule.types, always_expand=True)
        classes = (s.class_set(rule.classes) if rule.classes is not None
                   else [s.lookup_class(A.Name("process", rule.pos))])
        seen = {(rt.role, rt.type, rt.tclass): rt.new_role for rt in s.db.role_trans}
        for r in members(s.role_set(rule.roles)):
            for t in members(types):
                for cls in classes:
                    key = (r, t, cls.value)
                    if key in seen:
                        if seen[key] != new.value:
                            raise error(rule.pos, f"conflicting role_transition for role "
                                                  f"{s.db.role_name(r)} type {s.db.type_name(t)}")
                        continue
                    seen[key] = new.value
                    # checkpolicy prepends role transitions
                    s.db.role_trans.insert(0, P.RoleTrans(r, t, cls.value, new.value))

    # -- conditionals

    def cond_expr(self, tree: A.CondTree) -> tuple[P.CondExpr, ...]:
        """An ``if`` expression in postfix."""
        if isinstance(tree[0], A.CondLeaf):
            return (P.CondExpr(P.COND_BOOL, self.syms.lookup_bool(tree[0].name)),)
        op = _COND_OPS[tree[0]]
        args = [self.cond_expr(t) for t in tree[1:]]
        return (*(n for a in args for n in a), P.CondExpr(op))

    def cond_block(self, block: A.CondBlock, nodes: dict[tuple[object, ...], P.CondNode],
                   table: dict[P.AvtabKey, P.AvtabData]) -> None:
        """An ``if`` block: equivalent-expression blocks share one node, as in checkpolicy.

        A block on tunables only is decided now: its chosen branch becomes unconditional
        (libsepol's ``discard_tunables``); tunables and booleans may not be mixed.
        """
        try:
            used = _cond_names(block.expr)
        except RecursionError:
            raise error(block.pos, "conditional expression is too deep") from None
        tunables = [n for n in used if n.text in self.syms.tunables]
        if tunables:
            if len(tunables) != len(used):
                raise error(block.pos, "tunables and booleans cannot be mixed in one if "
                                       f"expression ('{tunables[0].text}' is a tunable)")
            chosen = block.true_rules if _eval_tunables(block.expr, self.syms.tunables) \
                else block.false_rules
            self._branch_rules(chosen, table)
            return
        try:
            expr = self.cond_expr(block.expr)
        except RecursionError:
            raise error(block.pos, "conditional expression is too deep") from None
        if _stack_depth(expr, {P.COND_BOOL}, {P.COND_NOT}) > P.COND_EXPR_MAXDEPTH:
            raise error(block.pos, "conditional expression is too deep")
        true_rules, false_rules = block.true_rules, block.false_rules
        if len(expr) > 1 and expr[-1].expr_type == P.COND_NOT:
            # libsepol's cond_normalize_expr: drop a final "not" and swap the branches
            expr = expr[:-1]
            true_rules, false_rules = false_rules, true_rules
        key = _cond_key(expr)
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = P.CondNode(expr)
            node.cur_state = evaluate_cond(expr, self.syms.db)
        for rules, target in ((true_rules, node.true_list), (false_rules, node.false_list)):
            branch: dict[P.AvtabKey, P.AvtabData] = dict(target)
            self._branch_rules(rules, branch)
            target[:] = list(branch.items())

    def _branch_rules(self, rules: tuple[A.Stmt, ...],
                      table: dict[P.AvtabKey, P.AvtabData]) -> None:
        for stmt in rules:
            if isinstance(stmt, A.AvRule) and stmt.kind != "neverallow":
                self.av_rule(stmt, table)
            elif isinstance(stmt, A.TypeRule) and stmt.filename is None:
                self.type_rule(stmt, table)
            else:
                raise error(stmt.pos, "only allow, auditallow, dontaudit and type rules "
                                      "may appear inside an if block")

    # -- constraints

    def constraint(self, stmt: A.ConstrainDef, mls: bool) -> None:
        """constrain / mlsconstrain / validatetrans / mlsvalidatetrans."""
        s = self.syms
        is_mls = stmt.kind.startswith("mls")
        if is_mls and not mls:
            raise error(stmt.pos, f"{stmt.kind} in a policy without MLS")
        vt = stmt.kind.endswith("validatetrans")
        try:
            expr = tuple(self.cexpr(stmt.expr, mls, vt))
        except RecursionError:
            raise error(stmt.pos, "constraint expression is too deep") from None
        if _stack_depth(expr, {P.CEXPR_ATTR, P.CEXPR_NAMES}, {P.CEXPR_NOT}) > P.CEXPR_MAXDEPTH:
            # the kernel evaluates on a 5-slot stack and refuses deeper expressions
            raise error(stmt.pos, "constraint expression is too deep")
        for cls in s.class_set(stmt.classes):
            if vt:
                cls.validatetrans.insert(0, P.Constraint(0, expr))
            else:
                assert stmt.perms is not None
                cls.constraints.insert(0, P.Constraint(s.perm_mask(cls, stmt.perms), expr))

    def cexpr(self, tree: A.CondTree, mls: bool, vt: bool) -> list[P.ConstraintExpr]:
        """Postfix form of a constraint expression, checking operand/operator pairs."""
        head = tree[0]
        if not isinstance(head, A.CExprAttr):
            op = {"not": P.CEXPR_NOT, "and": P.CEXPR_AND, "or": P.CEXPR_OR}[head]
            out = [n for sub in tree[1:] for n in self.cexpr(sub, mls, vt)]
            return [*out, P.ConstraintExpr(op)]
        leaf = head
        bad = error(leaf.pos, f"invalid constraint expression '{leaf.left} {leaf.op} "
                              f"{leaf.right if isinstance(leaf.right, str) else '{names}'}'")
        op = _CEXPR_OPS[leaf.op]
        if "3" in leaf.left or (isinstance(leaf.right, str) and "3" in leaf.right):
            if not vt:
                raise error(leaf.pos, "u3, r3 and t3 are only valid in validatetrans")
        if isinstance(leaf.right, str):
            pair = (leaf.left, leaf.right)
            if pair in _LEVEL_PAIRS:
                if not mls:  # checkpolicy takes them in plain constrain too, given MLS
                    raise error(leaf.pos, "MLS levels (l1, h2, ...) in a policy without MLS")
                return [P.ConstraintExpr(P.CEXPR_ATTR, _LEVEL_PAIRS[pair], op)]
            if pair not in _SAME_PAIRS:
                raise bad
            attr = _SAME_PAIRS[pair]
            if attr != P.CEXPR_ROLE and op not in (P.CEXPR_EQ, P.CEXPR_NEQ):
                raise bad
            return [P.ConstraintExpr(P.CEXPR_ATTR, attr, op)]
        kind, which = leaf.left[0], leaf.left[1]
        if kind not in _KIND_ATTR or op not in (P.CEXPR_EQ, P.CEXPR_NEQ):
            raise bad
        attr = _KIND_ATTR[kind] | _WHICH_ATTR[which]
        ns, s = leaf.right, self.syms
        if ns.star or ns.comp or ns.neg:  # checkpolicy takes only plain names here
            what = "*" if ns.star else "~" if ns.comp else "-"
            raise error(ns.pos, f"{what} not allowed in constraint names")
        type_names = P.TypeSet()  # libsepol writes an (empty) type set for every name set
        if kind == "u":
            names = 0
            for n in ns.names:
                names |= bit(s.lookup_user(n).value)
        elif kind == "r":
            names = s.role_set(ns)
        else:
            names, _ = s.type_set(ns, always_expand=True)
            written = 0
            for n in ns.names:
                written |= bit(s.lookup_type(n).value)
            negset = s.type_value_bits(ns.neg, False)
            type_names = P.TypeSet(written, negset, (1 if ns.star else 0) | (2 if ns.comp else 0))
        return [P.ConstraintExpr(P.CEXPR_NAMES, attr, op, names, type_names)]

    # -- typebounds

    def check_bounds(self, avtab: dict[P.AvtabKey, P.AvtabData], where: dict[int, A.Pos],
                     ) -> None:
        """A bounded type may not be allowed more than its parent: checkpolicy's
        ``bounds_check_types``, which fails the build.  Conditional rules count too, checked
        against the parent's unconditional rules plus those of the same branch."""
        db = self.syms.db
        children = [t for t in db.types if t.bounds]
        if not children:
            return
        db.type_attr_map = type_attr_map_of(self.syms)
        uncond = _allowed_by_type(db, avtab)
        branches = [dict(lst) for node in db.cond_list for lst in (node.true_list,
                                                                   node.false_list)]
        for child in children:
            self._bounds_one(child, uncond, uncond, where)
            for branch in branches:
                local = _allowed_by_type(db, branch)
                merged = dict(uncond.get(child.bounds, {}))
                for k, v in local.get(child.bounds, {}).items():
                    merged[k] = merged.get(k, 0) | v
                self._bounds_one(child, local, {child.bounds: merged}, where)

    def _bounds_one(self, child: P.TypeDatum, rules: dict[int, dict[tuple[int, int], int]],
                    parent_rules: dict[int, dict[tuple[int, int], int]],
                    where: dict[int, A.Pos]) -> None:
        db = self.syms.db
        parent = parent_rules.get(child.bounds, {})
        for (tt, cls), mask in sorted(rules.get(child.value, {}).items()):
            ptt = child.bounds if tt == child.value else tt
            extra = mask & ~parent.get((ptt, cls), 0)
            if extra:
                cdatum = db.classes.at(cls)
                assert cdatum is not None
                perms = " ".join(self.syms.perm_names(cdatum, extra))
                raise error(where[child.value],
                            f"type {child.name} exceeds the bounds of its parent "
                            f"{db.type_name(child.bounds)}: {child.name} "
                            f"{db.type_name(tt)}:{cdatum.name} {{ {perms} }}")

    # -- neverallow

    def check_neverallows(self) -> None:
        """Report the first allow rule that grants what a neverallow forbids (both positions)."""
        s = self.syms
        if self.neverallows:
            for g in self.granted:
                g.src, g.tgt = s.expand_types(g.src), s.expand_types(g.tgt)
        for rule in self.neverallows:
            src, _ = s.type_set(rule.src, always_expand=True)
            tgt, nself = s.type_set(rule.tgt, always_expand=True, allow_self=True)
            masks = {c.value: s.perm_mask(c, rule.perms) for c in s.class_set(rule.classes)}
            for g in self.granted:
                both = src & g.src
                if not both:
                    continue
                if nself:
                    # libsepol 3.4 (check_assertion_avtab_match): a neverallow naming `self`
                    # only catches a type reaching itself; its other targets are not checked
                    hit = bool(both & g.tgt) or g.self_
                else:
                    hit = bool(g.tgt & tgt) or bool(g.self_ and both & tgt)
                if not hit:
                    continue
                for cls, mask in masks.items():
                    if g.perms.get(cls, 0) & mask:
                        cdatum = s.db.classes.at(cls)
                        assert cdatum is not None
                        cname = cdatum.name
                        perms = " ".join(s.perm_names(cdatum, g.perms[cls] & mask))
                        raise NeverallowViolation(
                            rule.pos.file, rule.pos.line, rule.pos.col,
                            f"neverallow violated: the allow rule at {g.pos} grants "
                            f"{cname} {{ {perms} }} that this neverallow forbids",
                            allow_at=str(g.pos))


def _allowed_by_type(db: P.PolicyDB, avtab: dict[P.AvtabKey, P.AvtabData],
                     ) -> dict[int, dict[tuple[int, int], int]]:
    """source type -> (target type, class) -> allowed mask, attributes expanded."""
    attr_members: dict[int, list[int]] = {}
    for t, amap in enumerate(db.type_attr_map, 1):
        datum = db.types.at(t)
        if datum is None or datum.attribute:
            continue
        for a in members(amap):
            attr_members.setdefault(a, []).append(t)
    for datum in db.types:
        if datum.attribute:
            attr_members.setdefault(datum.value, [])  # an empty attribute stands for no type
    out: dict[int, dict[tuple[int, int], int]] = {}
    for (s, t, cls, spec), data in avtab.items():
        if spec != P.AVTAB_ALLOWED:
            continue
        for st in attr_members.get(s, [s]):
            row = out.setdefault(st, {})
            for tt in attr_members.get(t, [t]):
                row[(tt, cls)] = row.get((tt, cls), 0) | _mask(data)
    return out


def _mask(data: P.AvtabData) -> int:
    """An AV or type entry's integer (xperm entries never reach here)."""
    assert isinstance(data, int)
    return data


#: libsepol compares conditionals by truth table when they use at most this many booleans
_COND_MAX_BOOLS = 5


def _cond_key(expr: tuple[P.CondExpr, ...]) -> tuple[object, ...]:
    """What makes two conditionals "the same" for libsepol (``cond_expr_equal``).

    With at most five booleans: the same *set* of booleans and the same truth table, where
    each table is indexed by that expression's own order of first use.  This reproduces a
    libsepol 3.4 quirk on purpose (checked with checkpolicy): ``a && !b`` and ``b && !a``
    compare equal, so the second block's rules join the first block's node.  With more
    booleans the postfix forms must be identical.
    """
    ids: list[int] = []
    for node in expr:
        if node.expr_type == P.COND_BOOL and node.boolean not in ids:
            ids.append(node.boolean)
    if len(ids) > _COND_MAX_BOOLS:
        return ("expr", expr)
    table = 0
    for test in range(1 << len(ids)):
        values = {b: bool(test >> j & 1) for j, b in enumerate(ids)}
        if _eval_postfix(expr, values):
            table |= 1 << test
    return ("table", frozenset(ids), table)


def _eval_postfix(expr: tuple[P.CondExpr, ...], values: dict[int, bool]) -> bool:
    stack: list[bool] = []
    for node in expr:
        if node.expr_type == P.COND_BOOL:
            stack.append(values[node.boolean])
        elif node.expr_type == P.COND_NOT:
            stack.append(not stack.pop())
        else:
            y, x = stack.pop(), stack.pop()
            stack.append({P.COND_OR: x or y, P.COND_AND: x and y, P.COND_XOR: x != y,
                          P.COND_EQ: x == y, P.COND_NEQ: x != y}[node.expr_type])
    return stack[-1]


def _cond_names(tree: A.CondTree) -> list[A.Name]:
    if isinstance(tree[0], A.CondLeaf):
        return [tree[0].name]
    return [n for sub in tree[1:] for n in _cond_names(sub)]


def _eval_tunables(tree: A.CondTree, values: dict[str, bool]) -> bool:
    if isinstance(tree[0], A.CondLeaf):
        return values[tree[0].name.text]
    args = [_eval_tunables(t, values) for t in tree[1:]]
    if tree[0] == "not":
        return not args[0]
    x, y = args
    return {"or": x or y, "and": x and y, "xor": x != y, "==": x == y, "!=": x != y}[tree[0]]


def _stack_depth(expr: tuple[P.ConstraintExpr, ...] | tuple[P.CondExpr, ...],
                 leaves: set[int], unary: set[int]) -> int:
    """The evaluation stack a postfix expression needs (the kernel's limit is small)."""
    depth = deepest = 0
    for node in expr:
        if node.expr_type in leaves:
            depth += 1
            deepest = max(deepest, depth)
        elif node.expr_type not in unary:
            depth -= 1
    return deepest


def _no_star_or_comp(*sets: A.NameSet) -> None:
    """checkpolicy accepts ``*`` and ``~`` in type sets only in neverallow rules."""
    for ns in sets:
        if ns.star or ns.comp:
            raise error(ns.pos, f"{'*' if ns.star else '~'} not allowed in this type of rule")


def evaluate_cond(expr: tuple[P.CondExpr, ...], db: P.PolicyDB) -> bool:
    """Evaluate a postfix boolean expression with the booleans' default values."""
    values = {}
    for node in expr:
        if node.expr_type == P.COND_BOOL:
            b = db.bools.at(node.boolean)
            values[node.boolean] = bool(b and b.state)
    return _eval_postfix(expr, values)


def _merge_xperms(old: tuple[P.ExtendedPerms, ...], new: tuple[P.ExtendedPerms, ...],
                  ) -> tuple[P.ExtendedPerms, ...]:
    drivers = 0
    funcs: dict[int, int] = {}
    for x in (*old, *new):
        if x.specified == P.AVTAB_XPERMS_IOCTLDRIVER:
            drivers |= x.perms
        else:
            funcs[x.driver] = funcs.get(x.driver, 0) | x.perms
    out = [P.ExtendedPerms(P.AVTAB_XPERMS_IOCTLDRIVER, 0, drivers)] if drivers else []
    out += [P.ExtendedPerms(P.AVTAB_XPERMS_IOCTLFUNCTION, d, f) for d, f in sorted(funcs.items())
            if not drivers >> d & 1]
    return tuple(out)


def type_attr_map_of(syms: Symbols) -> list[int]:
    """Per type value - 1: the type's own bit plus each attribute containing it."""
    db = syms.db
    out = [bit(v) for v in range(1, db.types.nprim + 1)]
    for attr, types in syms.attr_types.items():
        for t in members(types):
            out[t - 1] |= bit(attr)
    return out
