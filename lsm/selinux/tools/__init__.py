"""Policy and audit tools behind ``kernel-sim policy ...``, ``audit2why`` and ``audit2allow``.

Each module is a small library (usable from Python and tests) that the CLI in
:mod:`lsm.selinux.cli` wraps: :mod:`.info` (``seinfo`` counts), :mod:`.search` (``sesearch``),
:mod:`.audit_parse` (AVC records), :mod:`.audit2why` and :mod:`.audit2allow`.
"""

from __future__ import annotations


class ToolError(Exception):
    """Bad input for a tool (unreadable file, malformed record, unknown name): exit status 2."""
