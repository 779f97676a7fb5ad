"""System V IPC (Linux ``ipc/``): message queues, semaphores and shared memory.

:mod:`kernel_sim.ipc.util` holds what the three share (ids, ``kern_ipc_perm``, ``ipcperms``,
``ipcget``); :mod:`msg`, :mod:`sem` and :mod:`shm` implement the objects.  The system calls
themselves are the :class:`kernel_sim.syscalls.ipc.IpcSyscalls` methods.
"""

from kernel_sim.ipc.msg import MsgInfo, MsqidDs
from kernel_sim.ipc.sem import SemidDs, SemInfo
from kernel_sim.ipc.shm import ShmidDs, ShmInfo, ShmUsage
from kernel_sim.ipc.util import IpcPerm, KernIpcPerm, ipc_ns

__all__ = [
    "IpcPerm",
    "KernIpcPerm",
    "MsgInfo",
    "MsqidDs",
    "SemInfo",
    "SemidDs",
    "ShmInfo",
    "ShmUsage",
    "ShmidDs",
    "ipc_ns",
]
