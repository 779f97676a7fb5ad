"""POSIX IPC, memory mapping and futexes (Linux ``ipc/mqueue.c``, ``mm/mmap.c``,
``kernel/futex/``), plus the glibc layers built on them (shm_open, named semaphores, mutexes).

System-call entry points live in :mod:`kernel_sim.syscalls.posix` and
:mod:`kernel_sim.syscalls.thread`; this package holds the subsystems.
"""

from kernel_sim.posix.mqueue import MqAttr
from kernel_sim.posix.sem import SEM_VALUE_MAX, Sem
from kernel_sim.posix.userlock import Cond, Mutex

__all__ = ["SEM_VALUE_MAX", "Cond", "MqAttr", "Mutex", "Sem"]
