"""Recursive-descent parser for policy.conf, checkmodule modules and TE fragments.

It accepts the statements ``checkpolicy``/``checkmodule`` accept (see the package docs for the
list) in any order; section order and name resolution are the compiler's business.  The
parser checks only shape, and every error names ``file:line:col`` of the offending token.
"""

from __future__ import annotations

from pathlib import Path

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.errors import PolicySyntaxError
from lsm.selinux.policy.lexer import Tok, Token, tokenize

_AV_KINDS = {"allow", "auditallow", "auditdeny", "dontaudit", "neverallow"}
_XPERM_KINDS = {"allowxperm", "auditallowxperm", "dontauditxperm", "neverallowxperm"}
_TYPE_KINDS = {"type_transition", "type_change", "type_member"}
_FS_USE = {"fs_use_xattr", "fs_use_task", "fs_use_trans"}
_DEFAULTS = {"default_user", "default_role", "default_type", "default_range"}
#: constraint operands; which pairs are legal is checked by the compiler
_OPERANDS = {"u1", "u2", "u3", "r1", "r2", "r3", "t1", "t2", "t3", "l1", "l2", "h1", "h2"}
_CMP_OPS = {"==": "==", "!=": "!=", "eq": "==", "neq": "!=", "dom": "dom", "domby": "domby",
            "incomp": "incomp"}  # fmt: skip
_REQUIRE_KINDS = {"type", "attribute", "class", "role", "attribute_role", "bool", "user",
                  "sensitivity", "category", "tunable"}  # fmt: skip


def parse_text(text: str, file: str) -> list[A.Stmt]:
    """Parse policy source ``text`` (named ``file`` in error messages)."""
    return _Parser(tokenize(text, file)).statements()


def parse_file(path: str | Path) -> list[A.Stmt]:
    """Parse the policy source file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicySyntaxError(str(p), 1, 1, f"not UTF-8 text: {exc.reason}") from None
    return parse_text(text, str(p))


class _Parser:
    """One token stream; methods named after the grammar rule they read."""

    __slots__ = ("i", "toks")

    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    # -- token helpers

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind is not Tok.EOF:
            self.i += 1
        return tok

    def fail(self, tok: Token, msg: str) -> PolicySyntaxError:
        return PolicySyntaxError(tok.file, tok.line, tok.col, msg)

    def expect(self, text: str) -> Token:
        tok = self.next()
        if not tok.is_(text):
            raise self.fail(tok, f"syntax error: expected '{text}' but found {tok.describe()}")
        return tok

    def accept(self, text: str) -> bool:
        if self.peek().is_(text):
            self.next()
            return True
        return False

    def pos(self, tok: Token | None = None) -> A.Pos:
        t = tok or self.peek()
        return A.Pos(t.file, t.line, t.col)

    def ident(self, what: str = "identifier") -> A.Name:
        tok = self.next()
        if tok.kind is not Tok.IDENT:
            raise self.fail(tok, f"syntax error: expected {what} but found {tok.describe()}")
        return A.Name(tok.text, self.pos(tok))

    def number(self) -> int:
        tok = self.next()
        if tok.kind is not Tok.NUMBER:
            raise self.fail(tok, f"syntax error: expected a number but found {tok.describe()}")
        return int(tok.text, 0)

    def end(self) -> None:
        self.expect(";")

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
            return self.st_avrule(kw)
        if kw in _XPERM_KINDS:
            return self.st_xperm(kw)
        if kw in _TYPE_KINDS:
            return self.st_typerule(kw)
        if kw in _FS_USE:
            return self.st_fsuse(kw)
        if kw in _DEFAULTS:
            return self.st_default(kw)
        if kw in ("constrain", "mlsconstrain", "validatetrans", "mlsvalidatetrans"):
            return self.st_constrain(kw)
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

    def st_default(self, kw: str) -> A.Stmt:
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

    def st_constrain(self, kw: str) -> A.Stmt:
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

    def st_avrule(self, kw: str) -> A.Stmt:
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

    def st_xperm(self, kw: str) -> A.Stmt:
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

    def st_typerule(self, kw: str) -> A.Stmt:
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

    def st_fsuse(self, kw: str) -> A.Stmt:
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

    # -- pieces

    def _more_commas(self) -> list[A.Name]:
        out = []
        while self.accept(","):
            out.append(self.ident())
        return out

    def comma_list(self, what: str) -> tuple[A.Name, ...]:
        return (self.ident(what), *self._more_commas())

    def alias_list(self) -> tuple[A.Name, ...]:
        self.expect("alias")
        if self.peek().is_("{"):
            return self.id_block()
        return (self.ident("an alias name"),)

    def id_block(self) -> tuple[A.Name, ...]:
        self.expect("{")
        out: list[A.Name] = []
        while not self.accept("}"):
            if self.peek().kind is Tok.EOF:
                raise self.fail(self.peek(), "syntax error: missing '}' at end of file")
            out.append(self.ident())
        return tuple(out)

    def names(self) -> A.NameSet:
        """``name`` | ``name -name`` | ``{ ... }`` | ``*`` | ``~name`` | ``~{ ... }``."""
        start = self.pos()
        if self.accept("*"):
            return A.NameSet((), start, star=True)
        comp = self.accept("~")
        if self.peek().is_("{"):
            pos_names: list[A.Name] = []
            neg: list[A.Name] = []
            self._nested(pos_names, neg)
            return A.NameSet(tuple(pos_names), start, tuple(neg), comp=comp)
        first = self.ident("a name or '{'")
        if not comp and self.peek().is_("-") and self.peek(1).kind is Tok.IDENT:
            self.next()
            return A.NameSet((first,), start, (self.ident(),))
        return A.NameSet((first,), start, comp=comp)

    def _nested(self, pos_names: list[A.Name], neg: list[A.Name]) -> None:
        self.expect("{")
        while not self.accept("}"):
            tok = self.peek()
            if tok.is_("{"):
                self._nested(pos_names, neg)
            elif tok.is_("-"):
                self.next()
                neg.append(self.ident())
            elif tok.is_("*"):
                raise self.fail(tok, "syntax error: '*' is not allowed inside a set")
            else:
                pos_names.append(self.ident("a name or '}'"))

    def level(self) -> A.LevelRef:
        start = self.pos()
        sens = self.ident("a sensitivity")
        cats: list[A.Name] = []
        if self.accept(":"):
            cats.append(self.ident("a category"))
            while self.accept(","):
                cats.append(self.ident("a category"))
        return A.LevelRef(sens, tuple(cats), start)

    def range_(self) -> A.RangeRef:
        start = self.pos()
        low = self.level()
        high = self.level() if self.accept("-") else None
        return A.RangeRef(low, high, start)

    def context(self) -> A.ContextRef:
        start = self.pos()
        user = self.ident("a user")
        self.expect(":")
        role = self.ident("a role")
        self.expect(":")
        typ = self.ident("a type")
        rng = self.range_() if self.accept(":") else None
        return A.ContextRef(user, role, typ, rng, start)

    # -- expressions (precedence: or < xor < and < not < comparisons)

    def _binary(self, ops: dict[str, str], sub: str) -> A.CondTree:
        left = getattr(self, sub)()
        while True:
            tok = self.peek()
            op = next((v for k, v in ops.items() if tok.is_(k)), None)
            if op is None:
                return left
            self.next()
            left = (op, left, getattr(self, sub)())

    def bexpr(self) -> A.CondTree:
        return self._binary({"||": "or", "or": "or"}, "_bxor")

    def _bxor(self) -> A.CondTree:
        return self._binary({"^": "xor", "xor": "xor"}, "_band")

    def _band(self) -> A.CondTree:
        return self._binary({"&&": "and", "and": "and"}, "_bnot")

    def _bnot(self) -> A.CondTree:
        if self.accept("!") or self.accept("not"):
            return ("not", self._bnot())
        return self._binary({"==": "==", "!=": "!="}, "_bprim")

    def _bprim(self) -> A.CondTree:
        if self.accept("("):
            e = self.bexpr()
            self.expect(")")
            return e
        return (A.CondLeaf(self.ident("a boolean name")),)

    def cexpr(self) -> A.CondTree:
        return self._binary({"or": "or", "||": "or"}, "_cand")

    def _cand(self) -> A.CondTree:
        return self._binary({"and": "and", "&&": "and"}, "_cnot")

    def _cnot(self) -> A.CondTree:
        if self.accept("not") or self.accept("!"):
            return ("not", self._cnot())
        if self.accept("("):
            e = self.cexpr()
            self.expect(")")
            return e
        tok = self.next()
        left = tok.text.lower()
        if tok.kind is not Tok.IDENT or left not in _OPERANDS:
            raise self.fail(tok, f"syntax error: expected a constraint operand (u1, r2, t1, l1, "
                                 f"h2, ...) but found {tok.describe()}")
        optok = self.next()
        op = _CMP_OPS.get(optok.text.lower()) if optok.kind in (Tok.PUNCT, Tok.IDENT) else None
        if op is None:
            raise self.fail(optok, f"syntax error: expected a comparison (==, !=, eq, dom, domby,"
                                   f" incomp) but found {optok.describe()}")
        nxt = self.peek()
        right: str | A.NameSet
        if nxt.kind is Tok.IDENT and nxt.text.lower() in _OPERANDS:
            right = self.next().text.lower()
        else:
            right = self.names()
        return (A.CExprAttr(left, op, right, self.pos(tok)),)
