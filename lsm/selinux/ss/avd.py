"""The access vector decision: the one value that crosses from the security server to the AVC.

Mirrors Linux's ``struct av_decision`` (``security/selinux/include/security.h``).  Permission
sets are ``int`` bitmasks in the *policy's* bit order for the class (bit ``value - 1`` of each
permission, common permissions first as the policy declares them), exactly as the binary
policy stores them.  The SELinux hook glue maps permission names to these bits once per policy
load, as Linux's ``selinux_set_mapping`` does.
"""

from __future__ import annotations

from attrs import frozen

#: the source type is declared ``permissive``: denials are logged but not enforced
AVD_FLAGS_PERMISSIVE = 0x0001
#: the source type is declared ``neveraudit`` (Linux 6.16+): nothing is audited
AVD_FLAGS_NEVERAUDIT = 0x0002

#: ``auditdeny`` starts with every bit set; ``dontaudit`` rules clear bits
ALL_PERMS = 0xFFFFFFFF


@frozen
class AvDecision:
    """What the security server decided for one (ssid, tsid, tclass) triple."""

    allowed: int
    auditallow: int
    auditdeny: int
    seqno: int
    flags: int = 0
