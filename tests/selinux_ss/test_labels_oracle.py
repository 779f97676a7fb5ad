"""Labels, labelling lookups and whole access vectors against libsepol (``checkpolicy -d``).

``transition_sid``/``member_sid``/``change_sid`` (class defaults, type rules incl. conditional
ones, role_transition, range_transition, default_range, validity) and the port, node, netif,
fs_use and genfs lookups are compared with libsepol's implementations on the Debian policy and
on the small test policies.  Socket classes are left out of the compute_sid comparison: the
kernel gives a socket its creator's role and type, libsepol (a userspace library with no socket
rule) the object defaults.
"""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from lsm.selinux.policy.binary import read_policy_file
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.ss.policydb import (
    SECURITY_FS_USE_GENFS,
    SECURITY_FS_USE_NONE,
    SECURITY_FS_USE_TASK,
    SECURITY_FS_USE_TRANS,
    SECURITY_FS_USE_XATTR,
    PolicyDB,
)
from lsm.selinux.ss.services import SecurityServer
from tests.oracles import DEBIAN_POLICY
from tests.selinux_ss import checkpolicy_oracle as cp
from tests.selinux_ss.conftest import SMALL, SMALL_MLS
from tests.selinux_ss.querygen import QueryGen

#: the protocols checkpolicy's menu understands
PROTOCOLS = {"tcp": 6, "udp": 17}
FS_USE_WORDS = {
    SECURITY_FS_USE_XATTR: "use xattr",
    SECURITY_FS_USE_TRANS: "use transition SIDs",
    SECURITY_FS_USE_TASK: "use task SIDs",
    SECURITY_FS_USE_GENFS: "use genfs",
    SECURITY_FS_USE_NONE: "no labeling support",
}


def is_socket(name: str) -> bool:
    return name == "socket" or name.endswith("_socket")


def our_label(srv: SecurityServer, kind: str, s: str, t: str, tclass: str) -> str:
    try:
        ssid, tsid = srv.context_to_sid(s), srv.context_to_sid(t)
        fn = {"transition": srv.transition_sid, "member": srv.member_sid,
              "change": srv.change_sid}[kind]  # fmt: skip
        return srv.sid_to_context(fn(ssid, tsid, tclass))
    except PolicyError:
        return "error"


def compare_labels(policy: Path, db: PolicyDB, n: int, seed: int) -> None:
    requests = [
        r
        for r in QueryGen(db, seed=seed).label_requests(n, skip_class=is_socket)
        if max(len(r[1]), len(r[2])) <= cp.MAX_ANSWER
    ]
    theirs = cp.compute_sids(policy, requests, mls=db.mls)
    srv = SecurityServer(db)
    ours = [our_label(srv, *r) for r in requests]
    diffs = [(r, o, t) for r, o, t in zip(requests, ours, theirs, strict=True) if o != t]
    changed = sum(1 for (k, s, t, c), o in zip(requests, ours, strict=True) if o not in (s, t))
    print(f"\n{policy}: {len(requests) - len(diffs)}/{len(requests)} labels agree with libsepol "
          f"({changed} differ from both source and target)")  # fmt: skip
    assert not diffs, diffs[:10]


@pytest.mark.interop
@pytest.mark.parametrize("path", [SMALL_MLS, SMALL], ids=["mls", "nonmls"])
def test_small_policy_labels(path: Path) -> None:
    """compute_sid on the small policies (class defaults, role/range transitions)."""
    compare_labels(path, read_policy_file(path), 1500, seed=5)


@pytest.mark.interop
def test_debian_labels(debian_db: PolicyDB) -> None:
    """compute_sid on the Debian policy: 3,000 requests, half along real type rules."""
    compare_labels(DEBIAN_POLICY, debian_db, 3000, seed=6)


def lookup_requests(db: PolicyDB, seed: int) -> list[list[str]]:
    """Port, node, netif, fs_use and genfs requests around the policy's own entries."""
    rng = random.Random(seed)
    reqs: list[list[str]] = []
    names = {v: k for k, v in PROTOCOLS.items()}
    for pc in db.portcons:
        proto = names.get(pc.protocol)
        if proto is None:
            continue
        for port in {pc.low, pc.high, max(pc.low - 1, 0), min(pc.high + 1, 65535)}:
            reqs.append([cp.PORT, proto, str(port)])
    reqs += [[cp.PORT, rng.choice(list(PROTOCOLS)), str(rng.randrange(65536))] for _ in range(50)]
    for nc in db.nodecons:
        width = 128 if nc.ipv6 else 32
        family = "ipv6" if nc.ipv6 else "ipv4"
        for value in (nc.addr, nc.addr | (~nc.mask & ((1 << width) - 1)), nc.addr ^ 1 << 7):
            addr = ipaddress.ip_address(value if nc.ipv6 else value & 0xFFFFFFFF)
            if nc.ipv6:
                addr = ipaddress.IPv6Address(value)
            reqs.append([cp.NODE, family, str(addr)])
    reqs += [[cp.NODE, "ipv4", str(ipaddress.IPv4Address(rng.getrandbits(32)))] for _ in range(30)]
    reqs += [[cp.NETIF, nc.name] for nc in db.netifcons] + [[cp.NETIF, "nosuchif0"]]
    fstypes = sorted({f.fstype for f in db.fs_uses} | set(db.genfs) | {"nosuchfs"})
    reqs += [[cp.FS_USE, f] for f in fstypes]
    classes = [c for c in ("file", "dir", "lnk_file", "chr_file") if db.classes.get(c)]
    for fstype, entries in db.genfs.items():
        for g in entries:
            for path in {g.path, g.path.rstrip("/") + "/x", g.path + "y"}:
                reqs.append([cp.GENFS, fstype, path, rng.choice(classes)])
    reqs.append([cp.GENFS, "nosuchfs", "/", "file"])
    return reqs


def our_lookup(srv: SecurityServer, req: list[str]) -> str:
    ctx = srv.sid_to_context
    op = req[0]
    if op == cp.PORT:
        return ctx(srv.port_sid(PROTOCOLS[req[1]], int(req[2])))
    if op == cp.NODE:
        return ctx(srv.node_sid(req[2]))
    if op == cp.NETIF:
        p = srv.policydb
        nc = next((n for n in p.netifcons if n.name == req[1]), None)
        if nc is None:
            return f"if={ctx(10)} msg={ctx(11)}"
        msg = srv.sidtab.context_to_sid(nc.msg_context)
        return f"if={ctx(srv.netif_sid(req[1]))} msg={ctx(msg)}"
    if op == cp.FS_USE:
        behavior, sid = srv.fs_use(req[1])
        return f"{FS_USE_WORDS[behavior]} {ctx(sid)}"
    sid = srv.genfs_sid(req[1], req[2], req[3])
    return ctx(sid if sid is not None else 3)


@pytest.mark.interop
@pytest.mark.parametrize("which", ["debian", "small_mls", "small"])
def test_labelling_lookups(which: str, request: pytest.FixtureRequest) -> None:
    """portcon ranges, nodecon masks, netifcon, fs_use and genfscon lookups."""
    if which == "debian":
        db, path = request.getfixturevalue("debian_db"), DEBIAN_POLICY
    else:
        path = SMALL_MLS if which == "small_mls" else SMALL
        db = read_policy_file(path)
    reqs = lookup_requests(db, seed=1)
    theirs = cp.lookups(path, reqs, mls=db.mls)
    srv = SecurityServer(db)
    ours = [our_lookup(srv, r) for r in reqs]
    diffs = [(r, o, t) for r, o, t in zip(reqs, ours, theirs, strict=True) if o != t]
    print(f"\n{which}: {len(reqs) - len(diffs)}/{len(reqs)} lookups agree with libsepol")
    assert not diffs, diffs[:10]


@pytest.mark.interop
@pytest.mark.parametrize("which", ["debian", "small_mls", "small"])
def test_whole_access_vectors(which: str, request: pytest.FixtureRequest) -> None:
    """Every permission of the class at once (libsepol's sepol_compute_av): the allowed set
    after TE, conditional rules, constraints, the role check and typebounds."""
    if which == "debian":
        db, path = request.getfixturevalue("debian_db"), DEBIAN_POLICY
    else:
        path = SMALL_MLS if which == "small_mls" else SMALL
        db = read_policy_file(path)
    gen = QueryGen(db, seed=8)
    reqs = [(s, t, c) for s, t, c, _ in gen.queries(2000) if max(len(s), len(t)) <= cp.MAX_ANSWER]
    theirs = cp.compute_avs(path, reqs, mls=db.mls)
    srv = SecurityServer(db)
    ours = []
    for s, t, c in reqs:
        d = srv.compute_av(srv.context_to_sid(s), srv.context_to_sid(t), c)
        ours.append(frozenset(srv.perm_names(c, d.allowed)))
    diffs = [(r, o, t) for r, o, t in zip(reqs, ours, theirs, strict=True) if o != t]
    nonempty = sum(1 for o in ours if o)
    print(f"\n{which}: {len(reqs) - len(diffs)}/{len(reqs)} whole access vectors agree with "
          f"libsepol ({nonempty} non-empty)")  # fmt: skip
    assert not diffs, diffs[:5]
