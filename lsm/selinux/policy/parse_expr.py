"""Token-level reading shared by the statement parser: names, sets, levels, contexts and the
two expression languages (``if`` conditions and constraint expressions).

Kept apart from ``parser.py`` so each file stays one concept: this one knows how the pieces of
a statement are spelled, ``parser.py`` which pieces each statement has.
"""

from __future__ import annotations

from lsm.selinux.policy import ast as A
from lsm.selinux.policy.errors import PolicySyntaxError
from lsm.selinux.policy.lexer import Tok, Token

#: constraint operands; which pairs are legal is checked by the compiler
_OPERANDS = {"u1", "u2", "u3", "r1", "r2", "r3", "t1", "t2", "t3", "l1", "l2", "h1", "h2"}
_CMP_OPS = {"==": "==", "!=": "!=", "eq": "==", "neq": "!=", "dom": "dom", "domby": "domby",
            "incomp": "incomp"}  # fmt: skip


class TokenReader:
    """A cursor over one file's tokens with the grammar's small building blocks."""

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
        if self.peek().is_("}"):
            raise self.fail(self.peek(), "syntax error: empty set '{ }'")
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
