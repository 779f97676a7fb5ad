"""System V IPC (Linux ``ipc/``): message queues, semaphores and shared memory.

:mod:`kernel_sim.ipc.util` holds what the three share (ids, ``kern_ipc_perm``, ``ipcperms``,
``ipcget``); :mod:`msg`, :mod:`sem` and :mod:`shm` implement the objects.  The system calls
themselves are the :class:`kernel_sim.syscalls.ipc.IpcSyscalls` methods.

Return values where C fills a user buffer: IPC_STAT -> a frozen ``*idDs`` object with Linux's
field names; ``*_STAT``/``*_STAT_ANY`` -> ``(id, ds)``; IPC_INFO/``*_INFO`` ->
``(highest index, info)``; IPC_SET takes that object or a dict (flat or nested under
``msg_perm``/``sem_perm``/``shm_perm``).

Deliberate differences from Linux (each also noted where it is implemented):

* times (``msg_stime``, ``sem_otime``, ``shm_atime``...) are simulated seconds (floats);
* one FIFO queue of sleeping semops per array instead of per-semaphore queues; a blocked
  operation is still completed by whoever makes it possible, in arrival order, skipping the
  ones that still block, as ``update_queue`` does;
* ``shmat`` takes no address (the kernel always chooses), so SHM_RND does not apply and
  SHM_REMAP is EINVAL; segments above 256 MiB are refused with ENOMEM (real bytes back them);
  SHM_LOCK does not account locked memory (no RLIMIT_MEMLOCK);
* IPC_SET with a dict keeps the fields it leaves out; SETALL needs exactly ``nsems`` values
  (else EFAULT, where C would read garbage);
* one IPC namespace; no /proc/sysvipc.
* shmat maps the segment's S_PRIVATE backing file through ``mmap_file`` (SELinux checks only
  ``process:execmem``, for SHM_EXEC); that inode is made at the first attach, without hooks.
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
