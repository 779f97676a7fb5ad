"""Token shapes follow checkpolicy's scanner, because they change what a policy means."""

from __future__ import annotations

import pytest

from lsm.selinux.policy.errors import PolicySyntaxError
from lsm.selinux.policy.lexer import Tok, tokenize


def kinds(text: str) -> list[tuple[Tok, str]]:
    return [(t.kind, t.text) for t in tokenize(text, "t.conf")][:-1]


def test_identifier_may_contain_dash_and_single_dots() -> None:
    """``s0-s15`` is one (unknown) name in checkpolicy; ``c0.c1023`` is a category range."""
    assert kinds("s0-s15") == [(Tok.IDENT, "s0-s15")]
    assert kinds("s0 - s15:c0.c1023") == [
        (Tok.IDENT, "s0"), (Tok.PUNCT, "-"), (Tok.IDENT, "s15"), (Tok.PUNCT, ":"),
        (Tok.IDENT, "c0.c1023"),
    ]  # fmt: skip


def test_set_exclusion_is_a_separate_minus() -> None:
    assert kinds("{ domain -web_t }") == [
        (Tok.PUNCT, "{"), (Tok.IDENT, "domain"), (Tok.PUNCT, "-"), (Tok.IDENT, "web_t"),
        (Tok.PUNCT, "}"),
    ]  # fmt: skip


def test_numbers_addresses_versions_paths_strings() -> None:
    assert kinds("80 0x5401") == [(Tok.NUMBER, "80"), (Tok.NUMBER, "0x5401")]
    assert kinds("127.0.0.1") == [(Tok.IPV4, "127.0.0.1")]
    assert kinds("::1 ffff:ffff::") == [(Tok.IPV6, "::1"), (Tok.IPV6, "ffff:ffff::")]
    assert kinds("1.0") == [(Tok.VERSION, "1.0")]
    assert kinds("/sys/kernel") == [(Tok.PATH, "/sys/kernel")]
    assert kinds('"access.log"') == [(Tok.STRING, "access.log")]


def test_operators_and_comments() -> None:
    assert kinds("a == b != c && d || !e ^ f # trailing comment") == [
        (Tok.IDENT, "a"), (Tok.PUNCT, "=="), (Tok.IDENT, "b"), (Tok.PUNCT, "!="),
        (Tok.IDENT, "c"), (Tok.PUNCT, "&&"), (Tok.IDENT, "d"), (Tok.PUNCT, "||"),
        (Tok.PUNCT, "!"), (Tok.IDENT, "e"), (Tok.PUNCT, "^"), (Tok.IDENT, "f"),
    ]  # fmt: skip


def test_positions_are_one_based_line_and_column() -> None:
    toks = tokenize("type a_t;\n\n  allow a_t", "x.te")
    assert [(t.text, t.line, t.col) for t in toks[:-1]] == [
        ("type", 1, 1), ("a_t", 1, 6), (";", 1, 9), ("allow", 3, 3), ("a_t", 3, 9),
    ]  # fmt: skip
    assert toks[-1].kind is Tok.EOF


def test_bad_character_is_a_located_syntax_error() -> None:
    with pytest.raises(PolicySyntaxError) as exc:
        tokenize("type a_t;\ntype b_t @;", "x.te")
    assert str(exc.value) == "x.te:2:10: unexpected character '@'"
    assert (exc.value.file, exc.value.line, exc.value.col) == ("x.te", 2, 10)
