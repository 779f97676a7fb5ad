"""Recursive-descent parser for policy.conf, checkmodule modules and TE fragments.

Statements: ``class common sid default_user/role/type/range sensitivity dominance category
level mlsconstrain mlsvalidatetrans constrain validatetrans policycap attribute type
typealias typeattribute typebounds permissive bool tunable if/else allow auditallow
auditdeny dontaudit neverallow allowxperm auditallowxperm dontauditxperm neverallowxperm
type_transition (plain and named) type_change type_member range_transition role
attribute_role roleattribute allow(roles) role_transition user fs_use_xattr/task/trans
genfscon portcon netifcon nodecon ibpkeycon ibendportcon module require optional``.

Unlike checkpolicy the parser takes them in any order (section order and name resolution are
the compiler's business, which lets a fragment follow the whole base).  It checks only shape;
every error names ``file:line:col`` of the offending token.
"""

from __future__ import annotations

from pathlib import Path

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.errors import PolicySyntaxError
from lsm.selinux.policy.lexer import Tok, tokenize
from lsm.selinux.policy.parse_expr import TokenReader

_AV_KINDS = {"allow", "auditallow", "auditdeny", "dontaudit", "neverallow"}
_XPERM_KINDS = {"allowxperm", "auditallowxperm", "dontauditxperm", "neverallowxperm"}
_TYPE_KINDS = {"type_transition", "type_change", "type_member"}
_FS_USE = {"fs_use_xattr", "fs_use_task", "fs_use_trans"}
_DEFAULTS = {"default_user", "default_role", "default_type", "default_range"}
_REQUIRE_KINDS = {"type", "attribute", "class", "role", "attribute_role", "bool", "user",
                  "sensitivity", "category", "tunable"}  # fmt: skip


def parse_text(text: str, file: str) -> list[A.Stmt]:
    """Parse policy source ``text`` (named ``file`` in error messages)."""
    parser = _Parser(tokenize(text, file))
    try:
        return parser.statements()
    except RecursionError:
        tok = parser.peek()
        raise PolicySyntaxError(tok.file, tok.line, tok.col,
                                "expression or block nested too deeply") from None


def parse_file(path: str | Path) -> list[A.Stmt]:
    """Parse the policy source file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicySyntaxError(str(p), 1, 1, f"not UTF-8 text: {exc.reason}") from None
    return parse_text(text, str(p))


class _Parser(TokenReader):
    """One file's statements; methods are named after the statement they read."""

    __slots__ = ()

    # -- statements

    def statements(self, closing: str | None = None) -> list[A.Stmt]:
        out: list[A.Stmt] = []
        while True:
            tok = self.peek()
            if tok.kind is Tok.EOF:
                if closing is not None:
                    raise self.fail(tok, f"syntax error: missing '{closing}' at end of file")
                return out
            if closing is not None and tok.is_(closing):
                return out
            if tok.is_(";"):
                self.next()
                continue
            stmt = self.statement()
            if stmt is not None:
                out.append(stmt)

    def statement(self) -> A.Stmt | None:
        tok = self.peek()
        if tok.kind is not Tok.IDENT:
            raise self.fail(tok, f"syntax error: unexpected {tok.describe()}")
        kw = tok.text.lower()
        method = getattr(self, "st_" + kw, None)
        if kw in _AV_KINDS:
            return self.kw_avrule(kw)
        if kw in _XPERM_KINDS:
            return self.kw_xperm(kw)
        if kw in _TYPE_KINDS:
            return self.kw_typerule(kw)
        if kw in _FS_USE:
            return self.kw_fsuse(kw)
        if kw in _DEFAULTS:
            return self.kw_default(kw)
        if kw in ("constrain", "mlsconstrain", "validatetrans", "mlsvalidatetrans"):
            return self.kw_constrain(kw)
        if method is None:
            raise self.fail(tok, f"syntax error: unknown statement '{tok.text}'")
        return method()

    def st_class(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a class name")
        inherits = None
        if self.accept("inherits"):
            inherits = self.ident("a common name")
        if self.peek().is_("{"):
            return A.ClassPerms(start, name, inherits, self.id_block())
        if inherits is not None:
            return A.ClassPerms(start, name, inherits, ())
        return A.ClassDecl(start, name)

    def st_common(self) -> A.Stmt:
        start = self.pos(self.next())
        return A.CommonDef(start, self.ident("a common name"), self.id_block())

    def st_sid(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("an initial SID name")
        if self.peek().kind is Tok.IDENT and self.peek(1).is_(":"):
            return A.SidContext(start, name, self.context())
        return A.InitialSidDecl(start, name)

    def kw_default(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        classes = self.names()
        tok = self.next()
        which = tok.text.lower()
        allowed = ("source", "target", "glblub") if kw == "default_range" else ("source", "target")
        if tok.kind is not Tok.IDENT or which not in allowed:
            raise self.fail(tok, f"syntax error: {kw} expects {' or '.join(allowed)}")
        part = ""
        if kw == "default_range" and which != "glblub":
            ptok = self.next()
            part = ptok.text.lower()
            if ptok.kind is not Tok.IDENT or part not in ("low", "high", "low-high"):
                raise self.fail(ptok, "syntax error: default_range expects low, high or low-high")
        self.end()
        return A.DefaultRule(start, kw, classes, which, part)

    def st_sensitivity(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a sensitivity name")
        aliases = self.alias_list() if self.peek().is_("alias") else ()
        self.end()
        return A.SensitivityDecl(start, name, aliases)

    def st_category(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a category name")
        aliases = self.alias_list() if self.peek().is_("alias") else ()
        self.end()
        return A.CategoryDecl(start, name, aliases)

    def st_dominance(self) -> A.Stmt:
        start = self.pos(self.next())
        if self.peek().is_("{"):
            return A.Dominance(start, self.id_block())
        return A.Dominance(start, (self.ident("a sensitivity name"),))

    def st_level(self) -> A.Stmt:
        start = self.pos(self.next())
        level = self.level()
        self.end()
        return A.LevelDecl(start, level)

    def kw_constrain(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        classes = self.names()
        perms = None if kw.endswith("validatetrans") else self.names()
        expr = self.cexpr()
        self.end()
        return A.ConstrainDef(start, kw, classes, perms, expr)

    def st_policycap(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a policy capability name")
        self.end()
        return A.PolicyCap(start, name)

    def st_attribute(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("an attribute name")
        self.end()
        return A.AttributeDecl(start, name)

    def st_type(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a type name")
        aliases: tuple[A.Name, ...] = ()
        if self.peek().is_("alias"):
            aliases = self.alias_list()
        attrs: list[A.Name] = []
        while self.accept(","):
            attrs.append(self.ident("an attribute name"))
        self.end()
        return A.TypeDecl(start, name, aliases, tuple(attrs))

    def st_typealias(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a type name")
        aliases = self.alias_list()
        self.end()
        return A.TypeAlias(start, name, aliases)

    def st_typeattribute(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a type name")
        attrs = self.comma_list("an attribute name")
        self.end()
        return A.TypeAttribute(start, name, attrs)

    def st_typebounds(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a type name")
        children = self.comma_list("a type name")
        self.end()
        return A.TypeBounds(start, name, children)

    def st_permissive(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a type name")
        self.end()
        return A.Permissive(start, name)

    def st_bool(self, tunable: bool = False) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a boolean name")
        tok = self.next()
        if not (tok.is_("true") or tok.is_("false")):
            raise self.fail(tok, f"syntax error: expected true or false but found {tok.describe()}")
        self.end()
        return A.BoolDecl(start, name, tok.is_("true"), tunable)

    def st_tunable(self) -> A.Stmt:
        return self.st_bool(tunable=True)

    def st_if(self) -> A.Stmt:
        start = self.pos(self.next())
        self.expect("(")
        expr = self.bexpr()
        self.expect(")")
        true_rules = self.block()
        false_rules: tuple[A.Stmt, ...] = ()
        if self.accept("else"):
            false_rules = self.block()
        return A.CondBlock(start, expr, true_rules, false_rules)

    def st_optional(self) -> A.Stmt:
        start = self.pos(self.next())
        body = self.block()
        orelse: tuple[A.Stmt, ...] = ()
        if self.accept("else"):
            orelse = self.block()
        return A.Optional(start, body, orelse)

    def block(self) -> tuple[A.Stmt, ...]:
        self.expect("{")
        body = self.statements(closing="}")
        self.expect("}")
        return tuple(body)

    def kw_avrule(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        src = self.names()
        tgt = self.names()
        if kw == "allow" and self.peek().is_(";"):
            self.end()
            return A.RoleAllow(start, src, tgt)
        self.expect(":")
        classes = self.names()
        perms = self.names()
        self.end()
        return A.AvRule(start, "dontaudit" if kw == "auditdeny" else kw, src, tgt, classes, perms)

    def kw_xperm(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        src = self.names()
        tgt = self.names()
        self.expect(":")
        classes = self.names()
        op = self.ident("an extended permission kind (ioctl)")
        comp = self.accept("~")
        ranges: list[tuple[int, int]] = []
        if self.accept("{"):
            while not self.accept("}"):
                ranges.append(self.xperm_item())
        else:
            ranges.append(self.xperm_item())
        self.end()
        return A.XpermRule(start, kw, src, tgt, classes, op, tuple(ranges), comp)

    def xperm_item(self) -> tuple[int, int]:
        low = self.number()
        if self.accept("-"):
            return low, self.number()
        return low, low

    def kw_typerule(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        src = self.names()
        tgt = self.names()
        self.expect(":")
        classes = self.names()
        new = self.ident("a type name")
        filename = None
        if self.peek().kind is Tok.STRING:
            if kw != "type_transition":
                raise self.fail(self.peek(), f"syntax error: {kw} takes no object name")
            filename = self.next().text
        self.end()
        return A.TypeRule(start, kw, src, tgt, classes, new, filename)

    def st_range_transition(self) -> A.Stmt:
        start = self.pos(self.next())
        src = self.names()
        tgt = self.names()
        classes = self.names() if self.accept(":") else None
        rng = self.range_()
        self.end()
        return A.RangeTransition(start, src, tgt, classes, rng)

    def st_role(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a role name")
        types = None
        attrs: list[A.Name] = []
        if self.accept("types"):
            types = self.names()
        while self.accept(","):
            attrs.append(self.ident("a role attribute name"))
        self.end()
        return A.RoleDecl(start, name, types, tuple(attrs))

    def st_attribute_role(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a role attribute name")
        self.end()
        return A.AttributeRoleDecl(start, name)

    def st_roleattribute(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a role name")
        attrs = self.comma_list("a role attribute name")
        self.end()
        return A.RoleAttribute(start, name, attrs)

    def st_role_transition(self) -> A.Stmt:
        start = self.pos(self.next())
        roles = self.names()
        types = self.names()
        classes = self.names() if self.accept(":") else None
        new = self.ident("a role name")
        self.end()
        return A.RoleTransition(start, roles, types, classes, new)

    def st_user(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("a user name")
        self.expect("roles")
        roles = self.names()
        level = rng = None
        if self.accept("level"):
            level = self.level()
            self.expect("range")
            rng = self.range_()
        self.end()
        return A.UserDecl(start, name, roles, level, rng)

    def kw_fsuse(self, kw: str) -> A.Stmt:
        start = self.pos(self.next())
        fstype = self.ident("a filesystem name")
        ctx = self.context()
        self.end()
        return A.FsUse(start, kw, fstype, ctx)

    def st_genfscon(self) -> A.Stmt:
        start = self.pos(self.next())
        fstype = self.ident("a filesystem name")
        tok = self.next()
        if tok.kind is not Tok.PATH:
            raise self.fail(tok, f"syntax error: expected a path but found {tok.describe()}")
        filetype = ""
        if self.accept("-"):
            if self.accept("-"):
                filetype = "-"  # "--": regular files
            else:
                ft = self.ident("a file type letter")
                if ft.text not in ("b", "c", "d", "p", "l", "s"):
                    raise PolicySyntaxError(ft.pos.file, ft.pos.line, ft.pos.col,
                                            f"invalid genfscon file type '-{ft.text}'")
                filetype = ft.text
        return A.GenfsCon(start, fstype, tok.text, filetype, self.context())

    def st_portcon(self) -> A.Stmt:
        start = self.pos(self.next())
        proto = self.ident("a protocol (tcp, udp, dccp, sctp)")
        low = self.number()
        high = self.number() if self.accept("-") else low
        return A.PortCon(start, proto, low, high, self.context())

    def st_netifcon(self) -> A.Stmt:
        start = self.pos(self.next())
        name = self.ident("an interface name")
        return A.NetifCon(start, name, self.context(), self.context())

    def st_nodecon(self) -> A.Stmt:
        start = self.pos(self.next())
        addr, mask = self.next(), self.next()
        for tok in (addr, mask):
            if tok.kind not in (Tok.IPV4, Tok.IPV6):
                raise self.fail(tok, f"syntax error: expected an IP address but found "
                                     f"{tok.describe()}")
        if addr.kind is not mask.kind:
            raise self.fail(mask, "nodecon address and mask must be the same IP version")
        return A.NodeCon(start, addr.text, mask.text, self.context(), addr.kind is Tok.IPV6)

    def st_ibpkeycon(self) -> A.Stmt:
        start = self.pos(self.next())
        tok = self.next()
        if tok.kind is not Tok.IPV6:
            raise self.fail(tok, f"syntax error: expected an IPv6 subnet prefix but found "
                                 f"{tok.describe()}")
        low = self.number()
        high = self.number() if self.accept("-") else low
        return A.IbPkeyCon(start, tok.text, low, high, self.context())

    def st_ibendportcon(self) -> A.Stmt:
        start = self.pos(self.next())
        device = self.ident("an InfiniBand device name")
        port = self.number()
        return A.IbEndportCon(start, device, port, self.context())

    def st_module(self) -> A.Stmt:
        if self.i != 0:
            raise self.fail(self.peek(), "the module statement must come first in its file")
        start = self.pos(self.next())
        name = self.ident("a module name")
        tok = self.next()
        if tok.kind not in (Tok.VERSION, Tok.NUMBER, Tok.IPV4):
            raise self.fail(tok, f"syntax error: expected a module version but found "
                                 f"{tok.describe()}")
        self.end()
        return A.ModuleDecl(start, name, tok.text)

    def st_require(self) -> A.Stmt:
        start = self.pos(self.next())
        self.expect("{")
        items: list[tuple[str, A.Name, tuple[A.Name, ...]]] = []
        while not self.accept("}"):
            tok = self.next()
            kind = tok.text.lower()
            if tok.kind is not Tok.IDENT or kind not in _REQUIRE_KINDS:
                raise self.fail(tok, f"syntax error: cannot require {tok.describe()}")
            if kind == "class":
                name = self.ident("a class name")
                perms = self.id_block() if self.peek().is_("{") else (self.ident("a permission"),)
                items.append((kind, name, perms))
            else:
                for name in (self.ident(f"a {kind} name"), *self._more_commas()):
                    items.append((kind, name, ()))
            self.end()
        return A.Require(start, tuple(items))

    def st_gen_require(self) -> A.Stmt:
        return self.st_require()
