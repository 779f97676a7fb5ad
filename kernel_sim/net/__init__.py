"""Sockets: the socket layer (:mod:`.socket`), AF_UNIX (:mod:`.unix`) and loopback
AF_INET/AF_INET6 (:mod:`.inet`).  ``FAMILIES`` is Linux's ``net_families`` table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_sim import constants as c
from kernel_sim.net.inet import inet_create
from kernel_sim.net.unix import unix_create

#: family -> ``create(task, sock, protocol, kern)``
FAMILIES: dict[int, Callable[..., Any]] = {
    c.AF_UNIX: unix_create,
    c.AF_INET: inet_create,
    c.AF_INET6: inet_create,
}
