"""``load_policy(*paths) -> Policy``: the one entry point for turning files into a policy.

A binary ``policy.NN`` is recognised by its magic number; anything else is policy source and
goes to the compiler (``lsm.selinux.policy.compiler.compile_files``).  The :class:`Policy` facade
answers name-level questions (``compute_av`` with context strings and permission names) and
exposes the :class:`~lsm.selinux.ss.policydb.PolicyDB` and a
:class:`~lsm.selinux.ss.services.SecurityServer` for everything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from attrs import frozen

from lsm.selinux.policy.binary import is_binary_policy, read_policy
from lsm.selinux.policy.errors import PolicyError
from lsm.selinux.ss.avd import AvDecision
from lsm.selinux.ss.policydb import PolicyDB
from lsm.selinux.ss.services import AvReason, SecurityServer

__all__ = ["Decision", "Policy", "load_policy"]


@frozen
class Decision:
    """A decision in names: permission names of the class in each set."""

    tclass: str
    allowed: frozenset[str]
    auditallow: frozenset[str]
    auditdeny: frozenset[str]
    permissive: bool
    raw: AvDecision

    def denied(self, perms: Iterable[str]) -> frozenset[str]:
        """The subset of ``perms`` not allowed."""
        return frozenset(perms) - self.allowed


class Policy:
    """A loaded policy: ``.policydb``, ``.server`` and name-level helpers."""

    def __init__(self, policydb: PolicyDB, source: tuple[str, ...] = ()) -> None:
        self.policydb = policydb
        self.source = source
        self._server: SecurityServer | None = None

    @property
    def server(self) -> SecurityServer:
        """This policy's own security server (built on first use: the SELinux module builds
        the one the kernel uses)."""
        if self._server is None:
            self._server = SecurityServer(self.policydb)
        return self._server

    def compute_av(self, scon: str, tcon: str, tclass: str) -> Decision:
        """The decision for two context strings and a class name.

        Raises ``InvalidContext`` / ``InvalidClass`` for bad input (a class the policy does
        not define has no permission names to report; ``handle_unknown`` applies where the
        kernel maps its own classes, see :class:`~lsm.selinux.ss.services.ClassMapping`).
        """
        srv = self.server
        ssid = srv.context_to_sid(scon)
        tsid = srv.context_to_sid(tcon)
        p = self.policydb
        cls = p.lookup_class(tclass)
        d = srv.compute_av(ssid, tsid, cls.value)
        names = cls.perm_names

        def to_names(mask: int) -> frozenset[str]:
            return frozenset(n for b, n in names.items() if (mask >> b) & 1)

        return Decision(
            tclass,
            to_names(d.allowed),
            to_names(d.auditallow),
            to_names(d.auditdeny),
            bool(d.flags & 1),
            d,
        )

    def explain(self, scon: str, tcon: str, tclass: str, perms: Iterable[str]) -> AvReason:
        """Why ``perms`` are denied (audit2why); see :meth:`SecurityServer.explain`."""
        return self.server.explain(scon, tcon, tclass, perms)

    def __repr__(self) -> str:
        p = self.policydb
        return (
            f"<Policy v{p.version} mls={p.mls} types={p.type_count} classes={p.classes.nprim} "
            f"from {', '.join(self.source) or '?'}>"
        )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise PolicyError(f"cannot read policy {path}: {e.strerror or e}") from None


def load_policy(*paths: str | Path) -> Policy:
    """Load a policy from one binary ``policy.NN`` or from policy source files (in order).

    Raises :class:`PolicyError` (and its subclasses) for unreadable, corrupt or invalid input.
    """
    if not paths:
        raise PolicyError("load_policy needs at least one file")
    files = [Path(p) for p in paths]
    first = _read(files[0])
    if is_binary_policy(first):
        if len(files) > 1:
            raise PolicyError("a binary policy is loaded alone, without other files")
        return Policy(read_policy(first), (str(files[0]),))
    for f in files[1:]:
        if is_binary_policy(_read(f)):
            raise PolicyError(f"{f} is a binary policy; it cannot be mixed with source files")
    try:
        from lsm.selinux.policy.compiler import compile_files
    except ImportError:
        raise NotImplementedError(
            "policy source compilation is not available yet "
            "(lsm.selinux.policy.compiler.compile_files is missing); load a binary policy"
        ) from None
    db = compile_files(list(files))
    return Policy(db, tuple(str(f) for f in files))
