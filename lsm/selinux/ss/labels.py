"""Object labelling lookups in the policy's ocontexts: ports, nodes, interfaces, filesystems.

Mirrors ``security_port_sid``, ``security_node_sid``, ``security_netif_sid``,
``security_fs_use`` and ``security_genfs_sid``; each returns the matching :class:`Context` (the
security server turns it into a SID) or None when the caller should use an initial SID.
"""

from __future__ import annotations

import ipaddress

from lsm.selinux.ss.policydb import Context, FsUse, PolicyDB


def port_context(p: PolicyDB, protocol: int, port: int) -> Context | None:
    """The first ``portcon`` (policy order) whose range covers ``port`` for ``protocol``."""
    for pc in p.portcons:
        if pc.protocol == protocol and pc.low <= port <= pc.high:
            return pc.context
    return None


def netif_contexts(p: PolicyDB, name: str) -> tuple[Context, Context] | None:
    """The interface and default message contexts of ``netifcon name``."""
    for nc in p.netifcons:
        if nc.name == name:
            return nc.if_context, nc.msg_context
    return None


def node_context(p: PolicyDB, addr: str) -> Context | None:
    """The first ``nodecon`` whose masked address matches (IPv4 or IPv6 address string)."""
    ip = ipaddress.ip_address(addr)
    value = int(ip)
    v6 = ip.version == 6
    for nc in p.nodecons:
        if nc.ipv6 == v6 and (value & nc.mask) == nc.addr:
            return nc.context
    return None


def fs_use_entry(p: PolicyDB, fstype: str) -> FsUse | None:
    """The ``fs_use_*`` statement for ``fstype``."""
    for fu in p.fs_uses:
        if fu.fstype == fstype:
            return fu
    return None


def genfs_context(p: PolicyDB, fstype: str, path: str, sclass: int = 0) -> Context | None:
    """The longest ``genfscon`` prefix of ``path`` for the class value ``sclass`` (entries
    without a class match any class; with equal lengths the policy order decides)."""
    entries = p.genfs.get(fstype)
    if not entries:
        return None
    for g in sorted(entries, key=lambda g: -len(g.path)):
        if (not g.sclass or g.sclass == sclass) and path.startswith(g.path):
            return g.context
    return None
