"""Shared by the scenarios that run on Debian's reference policy (selinux-policy-default)."""

from __future__ import annotations

DEBIAN_POLICY = "/etc/selinux/default/policy/policy.33"


def system(type_: str) -> str:
    """A system process context in the Debian (MCS) policy."""
    return f"system_u:system_r:{type_}:s0"
