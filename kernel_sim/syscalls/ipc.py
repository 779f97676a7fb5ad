"""System V IPC system calls (``ipc/syscall.c``); the work is in :mod:`kernel_sim.ipc`.

Restart rules are Linux's: msgsnd/msgrcv return ``-ERESTARTNOHAND`` (restarted only when no
handler ran), semop returns ``-EINTR`` (never restarted, SA_RESTART or not).  The blocking
calls use the ``do_*`` generators directly as syscall bodies (one generator layer less on the
hot path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim.ipc import msg as _msg
from kernel_sim.ipc import sem as _sem
from kernel_sim.ipc import shm as _shm
from kernel_sim.syscall import RESTART_NEVER, RESTART_NOHAND, syscall

if TYPE_CHECKING:
    from kernel_sim.task import Task


class IpcSyscalls:
    __slots__ = ()

    # -- message queues ------------------------------------------------------------------
    @syscall
    def msgget(self: Task, key: int, flags: int) -> Any:
        """msgget(key, flags) -> msqid."""
        return _msg.do_msgget(self, key, flags)
        yield

    #: msgsnd(msqid, mtype, data, flags=0) -> 0
    msgsnd = syscall(_msg.do_msgsnd, restart=RESTART_NOHAND, name="msgsnd")
    #: msgrcv(msqid, size, mtype=0, flags=0) -> (mtype, data)
    msgrcv = syscall(_msg.do_msgrcv, restart=RESTART_NOHAND, name="msgrcv")

    @syscall
    def msgctl(self: Task, msqid: int, cmd: int, buf: Any = None) -> Any:
        """msgctl(msqid, cmd, buf=None); IPC_STAT returns an ``MsqidDs``."""
        return _msg.do_msgctl(self, msqid, cmd, buf)
        yield

    # -- semaphores ------------------------------------------------------------------------
    @syscall
    def semget(self: Task, key: int, nsems: int, flags: int) -> Any:
        """semget(key, nsems, flags) -> semid."""
        return _sem.do_semget(self, key, nsems, flags)
        yield

    #: semop(semid, [(sem_num, sem_op, sem_flg), ...]) -> 0
    semop = syscall(_sem.do_semop, restart=RESTART_NEVER, name="semop")
    #: semtimedop(semid, sops, timeout_seconds) -> 0; EAGAIN once the timeout passes
    semtimedop = syscall(_sem.do_semtimedop, restart=RESTART_NEVER, name="semtimedop")

    @syscall
    def semctl(self: Task, semid: int, semnum: int, cmd: int, arg: Any = None) -> Any:
        """semctl(semid, semnum, cmd, arg=None)."""
        return _sem.do_semctl(self, semid, semnum, cmd, arg)
        yield

    # -- shared memory -----------------------------------------------------------------------
    @syscall
    def shmget(self: Task, key: int, size: int, flags: int) -> Any:
        """shmget(key, size, flags) -> shmid."""
        return _shm.do_shmget(self, key, size, flags)
        yield

    @syscall
    def shmat(self: Task, shmid: int, flags: int = 0) -> Any:
        """shmat(shmid, flags=0) -> addr (read and write it with mem_read/mem_write)."""
        return _shm.do_shmat(self, shmid, flags)
        yield

    @syscall
    def shmdt(self: Task, addr: int) -> Any:
        """shmdt(addr) -> 0."""
        return _shm.do_shmdt(self, addr)
        yield

    @syscall
    def shmctl(self: Task, shmid: int, cmd: int, buf: Any = None) -> Any:
        """shmctl(shmid, cmd, buf=None); IPC_STAT returns a ``ShmidDs``."""
        return _shm.do_shmctl(self, shmid, cmd, buf)
        yield
