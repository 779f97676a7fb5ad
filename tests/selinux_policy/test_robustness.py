"""Mangled policies must fail with a PolicyError (located), never with a Python traceback."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsm.selinux.policy.compiler import compile_text
from lsm.selinux.policy.errors import PolicyError
from tests.selinux_policy.helpers import POLICIES

SOURCE = (POLICIES / "small_mls.conf").read_text()
LINES = SOURCE.splitlines(keepends=True)
WORDS = sorted({w for w in SOURCE.split() if len(w) < 20})


@st.composite
def mangled(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "swap", "cut", "word"]))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "cut" and lines[i].strip():
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + "\n"
        else:
            words = lines[i].split(" ")
            k = draw(st.integers(0, len(words) - 1))
            words[k] = draw(st.sampled_from(WORDS))
            lines[i] = " ".join(words)
    return "".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangled_policy_fails_cleanly(text: str) -> None:
    try:
        compile_text(("mangled.conf", text))
    except PolicyError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert message.startswith("mangled.conf:"), message


_SOUP = st.lists(st.sampled_from([*WORDS[:200], "{", "}", ";", ":", ",", "-", "~", "*", "(",
                                  ")", "!", "==", "\n", '"x"', "0x10", "1.2.3.4", "::1", "/p"]),
                 max_size=60)


@settings(max_examples=150, deadline=None)
@given(_SOUP)
def test_token_soup_fails_cleanly(tokens: list[str]) -> None:
    try:
        compile_text(("soup.conf", " ".join(tokens)))
    except PolicyError as exc:
        assert str(exc).startswith(("soup.conf:", "<input>:")), str(exc)
