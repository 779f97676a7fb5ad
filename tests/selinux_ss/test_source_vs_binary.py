"""The project's policy compiler and checkpolicy's binary give the same security server answers.

``load_policy("x.conf")`` (our compiler) and ``load_policy("x.33")`` (checkpolicy's output read by
the binary reader) must decide every query alike: access vectors, audit2why explanations and
new-object labels.  Symbol values may differ between the two, so everything is compared by name.
"""

from __future__ import annotations

import pytest

from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.policy.loader import Policy, load_policy
from tests.selinux_ss.conftest import POLICIES
from tests.selinux_ss.querygen import QueryGen
from tests.selinux_ss.test_differential import SMALL_TARGETED, _strip_mls, ours


def _load_source(name: str) -> Policy:
    try:
        return load_policy(POLICIES / f"{name}.conf")
    except NotImplementedError as e:
        pytest.skip(str(e))


def _label(pol: Policy, s: str, t: str, tclass: str, kind: str, name: str | None) -> str:
    srv = pol.server
    try:
        ssid, tsid = srv.context_to_sid(s), srv.context_to_sid(t)
        if kind == "transition":
            sid = srv.transition_sid(ssid, tsid, tclass, name)
        elif kind == "member":
            sid = srv.member_sid(ssid, tsid, tclass)
        else:
            sid = srv.change_sid(ssid, tsid, tclass)
    except PolicyError as e:
        return f"error: {type(e).__name__}"
    return srv.sid_to_context(sid)


@pytest.mark.parametrize("name", ["small_mls", "small"])
def test_compiled_source_matches_checkpolicy_binary(name: str) -> None:
    """3,000 random queries plus the targeted ones: identical decisions and explanations."""
    src = _load_source(name)
    ref = load_policy(POLICIES / f"{name}.33")
    targeted = SMALL_TARGETED if name == "small_mls" else [_strip_mls(q) for q in SMALL_TARGETED]
    queries = targeted + QueryGen(ref.policydb, seed=11).queries(3000)
    diffs = [q for q in queries if ours(src.server, q) != ours(ref.server, q)]
    assert not diffs, diffs[:10]
    names = ("transition", "member", "change")
    labels = [
        (s, t, c, kind, fname)
        for (s, t, c, _p) in queries[:600]
        for kind in names
        for fname in ((None, "special") if kind == "transition" else (None,))
    ]
    diffs2 = [
        (q, _label(src, *q), _label(ref, *q)) for q in labels if _label(src, *q) != _label(ref, *q)
    ]
    assert not diffs2, diffs2[:10]


@pytest.mark.parametrize("name", ["small_mls", "small"])
def test_object_contexts_match(name: str) -> None:
    """portcon, nodecon, netifcon, fs_use and genfscon lookups give the same contexts."""
    src, ref = _load_source(name), load_policy(POLICIES / f"{name}.33")

    def lookups(pol: Policy) -> list[object]:
        srv = pol.server
        ctx = srv.sid_to_context
        out: list[object] = [
            ctx(srv.port_sid(proto, port))
            for proto in (6, 17)
            for port in (22, 80, 8000, 8050, 8101)
        ]
        out += [ctx(srv.node_sid(a)) for a in ("127.0.0.1", "10.9.8.7", "11.0.0.1", "::1", "::2")]
        out += [ctx(srv.netif_sid(n)) for n in ("lo", "eth0")]
        out += [
            (b, ctx(s))
            for b, s in (srv.fs_use(f) for f in ("ext4", "tmpfs", "pipefs", "proc", "nfs"))
        ]
        out += [
            ctx(sid) if (sid := srv.genfs_sid("proc", path, c)) else None
            for path in ("/", "/sys", "/sys/kernel/x")
            for c in ("file", "dir")
        ]
        out += [ctx(sid) for sid in sorted(pol.policydb.isids)]
        return out  # fmt: skip

    assert lookups(src) == lookups(ref)
