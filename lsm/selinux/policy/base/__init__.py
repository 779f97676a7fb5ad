"""The shipped base policy and helpers to combine it with a user's own policy.

``base.conf`` declares every kernel class and permission (from :mod:`lsm.selinux.classmap`),
the initial SIDs, MLS/MCS levels, the standard users and roles and a few system types, so a
lab's policy only adds its own types and rules: as a TE *fragment* (no ``module`` line) or
as a checkmodule-style *module*.  Our compiler takes ``[BASE_CONF, "local.te"]`` directly;
real checkpolicy needs the fragment spliced into the TE section, which :func:`splice` does.
"""

from __future__ import annotations

from pathlib import Path

#: the base policy source
BASE_CONF = Path(__file__).with_name("base.conf")
#: the line in base.conf after which user fragments belong
MARKER = "# @@USER_POLICY@@"


def base_text() -> str:
    """The base policy source text."""
    return BASE_CONF.read_text(encoding="utf-8")


def splice(*fragments: str) -> str:
    """A single policy.conf with ``fragments`` placed at the end of the TE/RBAC section.

    This is the form ``checkpolicy`` needs (it requires the sections in order); our own
    compiler accepts the files separately and gives the same result.
    """
    text = base_text()
    at = text.find(MARKER)
    if at < 0:
        raise ValueError(f"{BASE_CONF} has lost its {MARKER!r} line")
    at = text.index("\n", at) + 1
    body = "".join(f if f.endswith("\n") else f + "\n" for f in fragments)
    return text[:at] + body + text[at:]
