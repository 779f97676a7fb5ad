"""Compile policy sources (a base policy.conf, TE fragments, checkmodule modules) to a PolicyDB.

The result is the kernel policy ``checkpolicy -M -c 33`` would write, field for field (the
interop tests read checkpolicy's binary back and compare): symbol values, avtab keys and
masks, conditional nodes, constraints, RBAC and labeling statements.  Choices that make
this so, each checked against checkpolicy/libsepol 3.4:

* values: classes, commons, categories and sensitivities in declaration order; types,
  roles, users and booleans in libsepol's hash-table order (``symbols.renumber``);
* avtab: attribute-keyed rules are kept (the kernel expands them through
  ``type_attr_map``), see ``rules.py`` for when sets are expanded;
* conditionals: a final ``not`` is folded into swapped branches, equivalent blocks share a
  node, tunables are decided at compile time;
* list orders: fs_use, netifcon, role_transition, conditionals and constraints prepended,
  nodecon by mask, genfscon by fstype then longest path first;
* checks that fail the build as in checkpolicy: neverallow, typebounds, conflicting type
  rules, invalid contexts and MLS levels.

Declarations are collected across all files first (like checkpolicy's first pass), so a
rule may name a type declared further down and a fragment may simply follow the base.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.compile_errors import InvalidLevel, error, unknown
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.policy.parser import parse_file, parse_text
from lsm.selinux.policy.rules import RuleCompiler, type_attr_map_of
from lsm.selinux.policy.symbols import Symbols, bit, renumber
from lsm.selinux.ss import policydb as P

__all__ = ["compile_files", "compile_statements", "compile_text"]

_HANDLE_UNKNOWN = {"deny": P.HANDLE_UNKNOWN_DENY, "reject": P.HANDLE_UNKNOWN_REJECT,
                   "allow": P.HANDLE_UNKNOWN_ALLOW}  # fmt: skip
_PROTOCOLS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132}
_FS_USE = {"fs_use_xattr": P.SECURITY_FS_USE_XATTR, "fs_use_trans": P.SECURITY_FS_USE_TRANS,
           "fs_use_task": P.SECURITY_FS_USE_TASK}  # fmt: skip
_GENFS_CLASS = {"b": "blk_file", "c": "chr_file", "d": "dir", "p": "fifo_file",
                "l": "lnk_file", "s": "sock_file", "-": "file"}  # fmt: skip
_DEFAULT_WHICH = {"source": P.DEFAULT_SOURCE, "target": P.DEFAULT_TARGET}
_DEFAULT_RANGE = {("source", "low"): P.DEFAULT_SOURCE_LOW,
                  ("source", "high"): P.DEFAULT_SOURCE_HIGH,
                  ("source", "low-high"): P.DEFAULT_SOURCE_LOW_HIGH,
                  ("target", "low"): P.DEFAULT_TARGET_LOW,
                  ("target", "high"): P.DEFAULT_TARGET_HIGH,
                  ("target", "low-high"): P.DEFAULT_TARGET_LOW_HIGH,
                  ("glblub", ""): P.DEFAULT_GLBLUB}  # fmt: skip


def compile_files(paths: Sequence[str | Path], *, handle_unknown: str = "deny") -> P.PolicyDB:
    """Compile ``paths`` (base first, then fragments and modules) into an indexed PolicyDB.

    Raises a :class:`PolicyError` subclass whose message starts with ``file:line:col``.
    """
    if not paths:
        raise PolicyError("no policy files given")
    units = []
    for path in paths:
        try:
            units.append(parse_file(path))
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc.strerror or exc}") from None
    return compile_statements(units, handle_unknown=handle_unknown)


def compile_text(*sources: tuple[str, str], handle_unknown: str = "deny") -> P.PolicyDB:
    """Compile in-memory sources given as ``(file name, text)`` pairs (for tests and tools)."""
    return compile_statements([parse_text(text, name) for name, text in sources],
                              handle_unknown=handle_unknown)


def compile_statements(units: Sequence[Sequence[A.Stmt]], *,
                       handle_unknown: str = "deny") -> P.PolicyDB:
    """Compile already parsed files (one statement list per file)."""
    if handle_unknown not in _HANDLE_UNKNOWN:
        raise PolicyError(f"handle_unknown must be deny, reject or allow, not {handle_unknown!r}")
    return _Compiler(_HANDLE_UNKNOWN[handle_unknown]).run(units)


class _Compiler:
    """Runs the passes over every file's statements."""

    def __init__(self, handle_unknown: int) -> None:
        self.syms = Symbols()
        self.syms.db.handle_unknown = handle_unknown
        self.rules = RuleCompiler(self.syms)
        self.requires: list[A.Require] = []
        self.bounds_pos: dict[int, A.Pos] = {}
        # object_r is implicit and always role 1
        self.syms.add_role(A.Name(P.OBJECT_R, A.Pos("<builtin>", 0, 0)))

    def run(self, units: Sequence[Sequence[A.Stmt]]) -> P.PolicyDB:
        if units and units[0] and isinstance(units[0][0], A.ModuleDecl):
            first = units[0][0]
            raise error(first.pos, "a module needs a base policy: give the base file first")
        stmts: list[A.Stmt] = [s for unit in units for s in unit]
        stmts = self._resolve_optionals(stmts)
        db = self.syms.db
        for stmt in stmts:
            self.declare(stmt)
        if not self.syms.db.classes.nprim:
            where = stmts[0].pos if stmts else A.Pos("<input>", 1, 1)
            raise error(where, "no security classes declared: give a base policy (such as "
                               "lsm/selinux/policy/base/base.conf) first")
        aliases = sum(len(s.aliases) for s in stmts if isinstance(s, A.TypeDecl | A.TypeAlias))
        renumber(self.syms, aliases, len(self.syms.tunables))
        db = self.syms.db
        db.mls = db.levels.nprim > 0
        # role types last: "role r types attr;" covers types given attr after it (checkpolicy)
        for stmt in sorted(stmts, key=lambda st: isinstance(st, A.RoleDecl)):
            self.declare_late(stmt)
        for req in self.requires:
            self.check_require(req)
        table: dict[P.AvtabKey, P.AvtabData] = {}
        nodes: dict[tuple[object, ...], P.CondNode] = {}
        for stmt in stmts:
            self.rule(stmt, table, nodes)
        self.rules.check_neverallows()
        db.avtab = table
        db.cond_list = list(reversed(nodes.values()))  # checkpolicy prepends new conditionals
        for stmt in stmts:
            self.ocontext(stmt)
        self.finish()
        return db.index()

    # -- optional blocks (checkmodule): enabled when every require inside is satisfied

    def _resolve_optionals(self, stmts: list[A.Stmt]) -> list[A.Stmt]:
        plain = [s for s in stmts if not isinstance(s, A.Optional)]
        if len(plain) == len(stmts):
            return stmts
        known = _declared_names(plain)
        out: list[A.Stmt] = []
        for s in stmts:
            if isinstance(s, A.Optional):
                ok = all(_satisfied(r, known) for r in s.body if isinstance(r, A.Require))
                out.extend(self._resolve_optionals(list(s.body if ok else s.orelse)))
            else:
                out.append(s)
        return out

    # -- pass 1: declarations

    def declare(self, stmt: A.Stmt) -> None:
        s = self.syms
        db = s.db
        match stmt:
            case A.ClassDecl(name=name):
                s.add_class(name)
            case A.InitialSidDecl(name=name):
                s.declare("sid", name, kind="initial SID")
                s.sid_order.append(name.text)
            case A.CommonDef(name=name, perms=perms):
                s.add_common(name, perms)
            case A.ClassPerms():
                s.class_perms(stmt)
            case A.SensitivityDecl(name=name, aliases=aliases):
                s.declare("sensitivity", name)
                for alias in aliases:
                    s.declare("sensitivity", alias, kind="sensitivity alias")
                s.sens_decl[name.text] = (name.pos, aliases)
            case A.Dominance():
                s.declare_sensitivities(stmt)
            case A.CategoryDecl():
                s.add_category(stmt)
            case A.LevelDecl():
                s.define_level(stmt)
            case A.AttributeDecl(name=name):
                s.add_type(name, attribute=True)
            case A.TypeDecl(name=name):
                s.add_type(name, attribute=False)
            case A.BoolDecl(name=name, value=value, tunable=True):
                s.declare("bool", name, kind="tunable")
                s.tunables[name.text] = value
            case A.BoolDecl(name=name, value=value):
                s.declare("bool", name, kind="boolean")
                db.bools.nprim += 1
                db.bools.add(name.text, db.bools.nprim,
                             P.BoolDatum(name.text, db.bools.nprim, value))
            case A.RoleDecl(name=name, types=None):
                s.add_role(name)
            case A.RoleDecl(name=name):
                s.lookup_role(name)  # as in checkpolicy, `role r types t` needs `role r;` first
            case A.AttributeRoleDecl(name=name):
                s.declare("role attribute", name)
                if db.roles.get(name.text) is not None:
                    raise error(name.pos, f"'{name.text}' is already a role")
                s.role_attrs[name.text] = 0
            case A.UserDecl(name=name):
                s.add_user(name)
            case A.PolicyCap(name=name):
                if name.text not in P.POLICYCAP_NAMES:
                    raise unknown("policy capability", name.text, name.pos)
                db.policycaps |= 1 << P.POLICYCAP_NAMES.index(name.text)
            case A.Require():
                self.requires.append(stmt)
            case _:
                pass

    def declare_late(self, stmt: A.Stmt) -> None:
        """Declarations that refer to other declarations: aliases, attributes, role types."""
        s = self.syms
        match stmt:
            case A.TypeDecl(name=name, aliases=aliases, attrs=attrs):
                t = s.lookup_type(name)
                for alias in aliases:
                    s.add_alias(t, alias)
                self._add_attrs(t, attrs)
            case A.TypeAlias(type=name, aliases=aliases):
                t = s.lookup_type(name)
                if t.attribute:
                    raise error(name.pos, f"cannot alias attribute '{name.text}'")
                for alias in aliases:
                    s.add_alias(t, alias)
            case A.TypeAttribute(type=name, attrs=attrs):
                self._add_attrs(s.lookup_type(name), attrs)
            case A.RoleDecl(name=name, types=types, attrs=attrs):
                role = s.lookup_role(name)
                if types is not None:
                    tbits, _ = s.type_set(types, always_expand=True)
                    role.types |= tbits
                self._role_attrs(name, attrs)
            case A.RoleAttribute(role=name, attrs=attrs):
                s.lookup_role(name)
                self._role_attrs(name, attrs)
            case A.TypeBounds(parent=parent, children=children):
                p = s.lookup_type(parent)
                for child in children:
                    c = s.lookup_type(child)
                    if p.attribute or c.attribute:
                        raise error(child.pos, "typebounds takes types, not attributes")
                    if c.bounds and c.bounds != p.value:
                        raise error(child.pos, f"type '{child.text}' already has a bounding type")
                    c.bounds = p.value
                    self.bounds_pos[c.value] = stmt.pos
            case A.Permissive(type=name):
                t = s.lookup_type(name)
                if t.attribute:
                    raise error(name.pos, "permissive takes a type, not an attribute")
                s.db.permissive_map |= 1 << t.value
            case _:
                pass

    def _add_attrs(self, t: P.TypeDatum, attrs: tuple[A.Name, ...]) -> None:
        for a in attrs:
            attr = self.syms.lookup_type(a)
            if not attr.attribute:
                raise error(a.pos, f"'{a.text}' is a type, not an attribute")
            if t.attribute:
                raise error(a.pos, f"'{t.name}' is an attribute; only types get attributes")
            self.syms.attr_types[attr.value] |= bit(t.value)

    def _role_attrs(self, role: A.Name, attrs: tuple[A.Name, ...]) -> None:
        s = self.syms
        value = s.lookup_role(role).value
        for a in attrs:
            if a.text not in s.role_attrs:
                raise unknown("role attribute", a.text, a.pos)
            s.role_attrs[a.text] |= bit(value)

    def check_require(self, req: A.Require) -> None:
        """Every ``require`` item must be declared by the base or another module."""
        s = self.syms
        for kind, name, perms in req.items:
            if kind in ("type", "attribute"):
                t = s.lookup_type(name)
                if (kind == "attribute") != t.attribute:
                    actual = "an attribute" if t.attribute else "a type"
                    raise error(name.pos, f"'{name.text}' is required as {kind} but is "
                                          f"declared as {actual}")
            elif kind == "class":
                cls = s.lookup_class(name)
                s.perm_mask(cls, A.NameSet(perms, name.pos))
            elif kind == "role":
                s.lookup_role(name)
            elif kind == "attribute_role":
                if name.text not in s.role_attrs:
                    raise unknown("role attribute", name.text, name.pos)
            elif kind in ("bool", "tunable"):
                if name.text not in s.tunables:
                    s.lookup_bool(name)
            elif kind == "user":
                s.lookup_user(name)
            elif kind == "sensitivity" and s.db.levels.get(name.text) is None:
                raise unknown("sensitivity", name.text, name.pos)
            elif kind == "category" and s.db.cats.get(name.text) is None:
                raise unknown("category", name.text, name.pos)

    # -- pass 2: rules

    def rule(self, stmt: A.Stmt, table: dict[P.AvtabKey, P.AvtabData],
             nodes: dict[tuple[object, ...], P.CondNode]) -> None:
        r, s = self.rules, self.syms
        match stmt:
            case A.AvRule():
                r.av_rule(stmt, table)
            case A.XpermRule():
                r.xperm_rule(stmt, table)
            case A.TypeRule():
                r.type_rule(stmt, table)
            case A.RangeTransition():
                r.range_transition(stmt)
            case A.RoleAllow():
                r.role_allow(stmt)
            case A.RoleTransition():
                r.role_transition(stmt)
            case A.CondBlock():
                r.cond_block(stmt, nodes, table)
            case A.ConstrainDef():
                r.constraint(stmt, s.db.mls)
            case A.UserDecl():
                self.user(stmt)
            case A.DefaultRule():
                self.default_rule(stmt)
            case _:
                pass

    def user(self, stmt: A.UserDecl) -> None:
        s = self.syms
        user = s.lookup_user(stmt.name)
        user.roles = s.role_set(stmt.roles)
        if s.db.mls:
            if stmt.level is None or stmt.range is None:
                raise error(stmt.pos, f"user '{stmt.name.text}' needs a level and a range in "
                                      f"an MLS policy")
            user.dfltlevel = s.level(stmt.level)
            user.range = s.range(stmt.range)
            if not (user.dfltlevel.dominates(user.range.low)
                    and user.range.high.dominates(user.dfltlevel)):
                raise InvalidLevel(stmt.pos.file, stmt.pos.line, stmt.pos.col,
                                   f"bad MLS level: default level of user '{stmt.name.text}' "
                                   f"is outside the user's range")

    def default_rule(self, stmt: A.DefaultRule) -> None:
        field_name = stmt.kind
        if stmt.kind == "default_range":
            value = _DEFAULT_RANGE[(stmt.which, stmt.part)]
        else:
            value = _DEFAULT_WHICH[stmt.which]
        for cls in self.syms.class_set(stmt.classes):
            old = getattr(cls, field_name)
            if old and old != value:
                raise error(stmt.pos, f"conflicting {stmt.kind} for class '{cls.name}'")
            setattr(cls, field_name, value)

    # -- object contexts

    def context(self, ref: A.ContextRef) -> P.Context:
        """Resolve and validate ``user:role:type[:range]`` as checkpolicy does."""
        s = self.syms
        user, role, typ = s.lookup_user(ref.user), s.lookup_role(ref.role), s.lookup_type(ref.type)
        where = f"invalid context {ref.user.text}:{ref.role.text}:{ref.type.text}"
        if typ.attribute:
            raise error(ref.type.pos, f"{where}: '{ref.type.text}' is an attribute")
        if role.value != P.OBJECT_R_VAL:
            if not user.roles & bit(role.value):
                raise error(ref.pos, f"{where}: role {role.name} is not authorised for user "
                                     f"{user.name}")
            if not role.types & bit(typ.value):
                raise error(ref.pos, f"{where}: type {typ.name} is not authorised for role "
                                     f"{role.name}")
        rng = None
        if s.db.mls:
            if ref.range is None:
                raise error(ref.pos, f"{where}: an MLS policy needs a level in every context")
            rng = s.range(ref.range)
            assert user.range is not None
            if not user.range.contains(rng):
                raise InvalidLevel(ref.pos.file, ref.pos.line, ref.pos.col,
                                   f"bad MLS level: {where}: the range is outside user "
                                   f"{user.name}'s range")
        return P.Context(user.value, role.value, typ.value, rng)

    def ocontext(self, stmt: A.Stmt) -> None:
        db = self.syms.db
        match stmt:
            case A.SidContext(name=name, context=ctx):
                if name.text not in self.syms.sid_order:
                    raise unknown("initial SID", name.text, name.pos)
                num = self.syms.sid_order.index(name.text) + 1
                if num in db.isids:
                    raise error(stmt.pos, f"duplicate context for initial SID '{name.text}'")
                # the kernel knows initial SIDs by number only: the n-th `sid` is its SID n
                kname = P.INITIAL_SID_NAMES.get(num, name.text)
                db.isids[num] = P.InitialSid(num, kname, self.context(ctx))
            case A.FsUse(kind=kind, fstype=fstype, context=ctx):
                if any(f.fstype == fstype.text for f in db.fs_uses):
                    raise error(stmt.pos, f"duplicate fs_use entry for '{fstype.text}'")
                # checkpolicy prepends fs_use entries
                db.fs_uses.insert(0, P.FsUse(fstype.text, _FS_USE[kind], self.context(ctx)))
            case A.GenfsCon(fstype=fstype, path=path, filetype=ft, context=ctx):
                sclass = 0
                if ft:
                    sclass = self.syms.lookup_class(A.Name(_GENFS_CLASS[ft], stmt.pos)).value
                entries = db.genfs.setdefault(fstype.text, [])
                if any(g.path == path and g.sclass == sclass for g in entries):
                    raise error(stmt.pos, f"duplicate genfscon entry for {fstype.text} {path}")
                entries.append(P.Genfs(fstype.text, path, sclass, self.context(ctx)))
            case A.PortCon(proto=proto, low=low, high=high, context=ctx):
                if proto.text not in _PROTOCOLS:
                    raise error(proto.pos, f"unknown protocol '{proto.text}'")
                if not 0 <= low <= high <= 65535:
                    raise error(stmt.pos, f"bad port range {low}-{high}")
                db.portcons.append(P.PortCon(_PROTOCOLS[proto.text], low, high,
                                             self.context(ctx)))
            case A.NetifCon(name=name, if_context=ic, msg_context=mc):
                if any(n.name == name.text for n in db.netifcons):
                    raise error(stmt.pos, f"duplicate netifcon entry for '{name.text}'")
                db.netifcons.insert(0, P.NetifCon(name.text, self.context(ic),
                                                  self.context(mc)))
            case A.NodeCon(addr=addr, mask=mask, context=ctx, ipv6=v6):
                try:
                    a, m = ipaddress.ip_address(addr), ipaddress.ip_address(mask)
                except ValueError as exc:
                    raise error(stmt.pos, f"bad nodecon address: {exc}") from None
                node = P.NodeCon(int(a), int(m), self.context(ctx), v6)
                # most specific mask first, keeping policy order among equals (checkpolicy)
                same = [n for n in db.nodecons if n.ipv6 == v6]
                at = next((i for i, n in enumerate(db.nodecons)
                           if n in same and n.mask < node.mask), len(db.nodecons))
                db.nodecons.insert(at, node)
            case A.IbPkeyCon(subnet_prefix=prefix, low=low, high=high, context=ctx):
                try:
                    subnet = int(ipaddress.IPv6Address(prefix))
                except ValueError as exc:
                    raise error(stmt.pos, f"bad ibpkeycon subnet prefix: {exc}") from None
                if subnet & (2**64 - 1):
                    raise error(stmt.pos, "ibpkeycon subnet prefix has interface bits set")
                if not 0 <= low <= high <= 0xFFFF:
                    raise error(stmt.pos, f"bad ibpkeycon pkey range {low}-{high}")
                db.ibpkeycons.append(P.IbPkeyCon(subnet >> 64, low, high, self.context(ctx)))
            case A.IbEndportCon(device=device, port=port, context=ctx):
                if not 1 <= port <= 255:
                    raise error(stmt.pos, f"bad ibendportcon port {port} (1-255)")
                db.ibendportcons.append(P.IbEndportCon(device.text, port, self.context(ctx)))
            case _:
                pass

    def finish(self) -> None:
        """Policy-wide facts: type_attr_map, genfs order, the typebounds check."""
        s, db = self.syms, self.syms.db
        db.type_attr_map = type_attr_map_of(s)
        for fstype, entries in db.genfs.items():
            # longest (most specific) path first, as checkpolicy orders them
            entries.sort(key=lambda g: -len(g.path))
            db.genfs[fstype] = entries
        db.genfs = dict(sorted(db.genfs.items()))
        # an initial SID without a context is left out, as checkpolicy does (with a warning)
        self.rules.check_bounds(db.avtab, self.bounds_pos)


def _declared_names(stmts: Iterable[A.Stmt]) -> set[tuple[str, str]]:
    """(kind, name) of everything ``stmts`` declare, for deciding optional blocks."""
    out: set[tuple[str, str]] = set()
    for s in stmts:
        match s:
            case A.TypeDecl(name=n):
                out.add(("type", n.text))
            case A.AttributeDecl(name=n):
                out.add(("attribute", n.text))
            case A.ClassDecl(name=n):
                out.add(("class", n.text))
            case A.RoleDecl(name=n):
                out.add(("role", n.text))
            case A.BoolDecl(name=n):
                out.add(("bool", n.text))
            case A.UserDecl(name=n):
                out.add(("user", n.text))
            case _:
                pass
    return out


def _satisfied(req: A.Require, known: set[tuple[str, str]]) -> bool:
    kinds = {"tunable": "bool", "attribute_role": "role"}
    return all((kinds.get(k, k), n.text) in known or k in ("sensitivity", "category")
               for k, n, _ in req.items)
