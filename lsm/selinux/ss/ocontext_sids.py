"""Object labelling SIDs: ports, network interfaces, nodes and filesystems.

:class:`ObjectLabelling` is ``security_port_sid``, ``security_netif_sid``,
``security_node_sid``, ``security_fs_use`` and ``security_genfs_sid``: the ocontext lookups
of :mod:`.labels` turned into SIDs, with the initial SIDs as fallbacks.
"""

from __future__ import annotations

from lsm.selinux.ss import labels
from lsm.selinux.ss.policydb import SECURITY_FS_USE_GENFS, SECURITY_FS_USE_NONE
from lsm.selinux.ss.server_base import (
    SECINITSID_NETIF,
    SECINITSID_NODE,
    SECINITSID_PORT,
    SECINITSID_UNLABELED,
    ServerBase,
)


class ObjectLabelling(ServerBase):
    """SIDs from ``portcon``/``netifcon``/``nodecon``/``fs_use_*``/``genfscon`` (see module doc)."""

    def port_sid(self, protocol: int, port: int) -> int:
        """``security_port_sid``: first ``portcon`` covering the port, else the port SID."""
        ctx = labels.port_context(self.policydb, protocol, port)
        return SECINITSID_PORT if ctx is None else self.sidtab.context_to_sid(ctx)

    def netif_sid(self, name: str) -> int:
        """``security_netif_sid``: the interface's ``netifcon`` context, else the netif SID."""
        found = labels.netif_contexts(self.policydb, name)
        return SECINITSID_NETIF if found is None else self.sidtab.context_to_sid(found[0])

    def node_sid(self, addr: str) -> int:
        """``security_node_sid`` for an IPv4 or IPv6 address string (first matching nodecon)."""
        ctx = labels.node_context(self.policydb, addr)
        return SECINITSID_NODE if ctx is None else self.sidtab.context_to_sid(ctx)

    def fs_use(self, fstype: str) -> tuple[int, int]:
        """``security_fs_use``: (behavior, sid) for a filesystem type: its ``fs_use_*``
        statement, else genfs if the filesystem has a ``genfscon`` for "/", else none."""
        fu = labels.fs_use_entry(self.policydb, fstype)
        if fu is not None:
            return fu.behavior, self.sidtab.context_to_sid(fu.context)
        sid = self.genfs_sid(fstype, "/", 0)
        if sid is not None:
            return SECURITY_FS_USE_GENFS, sid
        return SECURITY_FS_USE_NONE, SECINITSID_UNLABELED

    def genfs_sid(self, fstype: str, path: str, tclass: int | str = 0) -> int | None:
        """``security_genfs_sid``: the longest ``genfscon`` prefix of ``path`` for the class
        (entries without a class match any); None when nothing matches."""
        sclass = self._class(tclass).value if tclass else 0
        ctx = labels.genfs_context(self.policydb, fstype, path, sclass)
        return None if ctx is None else self.sidtab.context_to_sid(ctx)
