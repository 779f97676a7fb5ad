"""kernel-sim: a discrete-event simulated Linux kernel with LSM security hooks.

Programs are generator functions ``def prog(p, *args)`` that make system calls with
``yield from p.NAME(...)``; failures raise :class:`SyscallError` with Linux's errno.
"""

from kernel_sim import constants as _constants
from kernel_sim.constants import *  # noqa: F403 - Linux's constants are part of the API
from kernel_sim.cred import Cred
from kernel_sim.errors import ConfigError, KernelSimError, ProgramError, SyscallError
from kernel_sim.kernel import Kernel
from kernel_sim.task import Task

__version__ = "0.1.0"

__all__ = [  # noqa: PLE0604 - the constants are added from kernel_sim.constants
    "ConfigError",
    "Cred",
    "Kernel",
    "KernelSimError",
    "ProgramError",
    "SyscallError",
    "Task",
    *sorted(n for n in vars(_constants) if n.isupper()),
]
