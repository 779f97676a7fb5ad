"""Socket system calls (AF_UNIX, loopback AF_INET/AF_INET6)."""

from __future__ import annotations


class NetSyscalls:
    __slots__ = ()
