"""Tokenizer for the checkpolicy / checkmodule policy language.

Token shapes follow checkpolicy's scanner (``policy_scan.l``) because they decide what a
policy *means*: an identifier may contain ``-`` and single dots, so ``s0-s15`` is one
(unknown) name and ``c0.c1023`` is one name that the parser reads as a category range; a
range must be written ``s0 - s15``.  Like flex, the longest match wins and ties go to the
earlier pattern.  Every token carries its 1-based line and column for error messages.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final

from attrs import frozen

from lsm.selinux.policy.errors import PolicySyntaxError


class Tok(Enum):
    """Token kinds; ``PUNCT`` covers single characters and the two-character operators."""

    IDENT = "identifier"
    NUMBER = "number"
    VERSION = "version"
    IPV4 = "IPv4 address"
    IPV6 = "IPv6 address"
    PATH = "path"
    STRING = "quoted string"
    PUNCT = "punctuation"
    EOF = "end of file"


@frozen
class Token:
    """One token and where it starts."""

    kind: Tok
    text: str
    file: str
    line: int
    col: int

    def is_(self, text: str) -> bool:
        """True for punctuation or an identifier spelled ``text`` (keywords: any case)."""
        if self.kind is Tok.PUNCT:
            return self.text == text
        return self.kind is Tok.IDENT and self.text.lower() == text

    def describe(self) -> str:
        """How the token is named in an error message."""
        return "end of file" if self.kind is Tok.EOF else f"'{self.text}'"


_ALNUM = r"[A-Za-z0-9]"
#: (kind, pattern) in checkpolicy's priority order
_PATTERNS: Final = (
    (Tok.IDENT, re.compile(rf"[A-Za-z](?:{_ALNUM}|[_\-])*(?:\.?(?:{_ALNUM}|[_\-]))*")),
    (Tok.NUMBER, re.compile(r"0x[0-9A-Fa-f]+|[0-9]+")),
    (Tok.IDENT, re.compile(rf"{_ALNUM}*[A-Za-z]{_ALNUM}*")),  # checkpolicy's FILESYSTEM
    (Tok.IPV4, re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")),
    (Tok.IPV6, re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*")),
    (Tok.VERSION, re.compile(r"[0-9]+(?:\.(?:[A-Za-z0-9_.])*)?")),
    (Tok.STRING, re.compile(r'"[A-Za-z0-9_.\-+~: ]+"')),
    (Tok.PATH, re.compile(r"/[A-Za-z0-9_.\-/]*")),
    (Tok.PUNCT, re.compile(r"==|!=|&&|\|\||[{}()\[\];:,*~\-.^!=]")),
)
_SPACE = re.compile(r"(?:[ \t\r\f\v]+|#[^\n]*)")


def tokenize(text: str, file: str) -> list[Token]:
    """Split ``text`` into tokens, ending with one ``EOF`` token.

    Raises :class:`PolicySyntaxError` at the first character no token can start with.
    """
    tokens: list[Token] = []
    pos, line, line_start, n = 0, 1, 0, len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\n":
            pos += 1
            line, line_start = line + 1, pos
            continue
        m = _SPACE.match(text, pos)
        if m:
            pos = m.end()
            continue
        best_kind, best_end = None, pos
        for kind, pattern in _PATTERNS:
            m = pattern.match(text, pos)
            if m and m.end() > best_end:
                best_kind, best_end = kind, m.end()
        col = pos - line_start + 1
        if best_kind is None:
            raise PolicySyntaxError(file, line, col, f"unexpected character {ch!r}")
        word = text[pos:best_end]
        if best_kind is Tok.STRING:
            word = word[1:-1]
        tokens.append(Token(best_kind, word, file, line, col))
        pos = best_end
    tokens.append(Token(Tok.EOF, "", file, line, pos - line_start + 1))
    return tokens
