"""The SELinux-like security module: policy language, security server, AVC, audit, hooks.

>>> from lsm.selinux import SELinux, load_policy
>>> policy = load_policy(BASE_CONF, "local.te")            # doctest: +SKIP
>>> k = Kernel(lsms=[SELinux(policy, enforcing=True)])     # doctest: +SKIP
"""

from lsm.selinux.module import SELinux
from lsm.selinux.policy.base import BASE_CONF
from lsm.selinux.policy.loader import Decision, Policy, load_policy

__all__ = ["BASE_CONF", "Decision", "Policy", "SELinux", "load_policy"]
