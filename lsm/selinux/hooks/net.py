"""Socket hooks.  The UNIX/INET glue lands with the socket layer (kernel_sim/net)."""

from __future__ import annotations


class NetHooks:
    pass
