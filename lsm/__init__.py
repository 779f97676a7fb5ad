"""The LSM framework: hook declarations, stacking and dispatch, and the modules.

Write a module in a few lines with :class:`BpfLsm`, or subclass :class:`LsmModule`.
"""

from lsm.capability import Capability
from lsm.hookdefs import HOOKS, HookSpec
from lsm.module import BpfLsm, HookRegistrationError, LsmModule
from lsm.security import Security

__all__ = ["HOOKS", "BpfLsm", "Capability", "HookRegistrationError", "HookSpec", "LsmModule",
           "Security"]
