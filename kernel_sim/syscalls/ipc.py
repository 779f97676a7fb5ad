"""System V IPC system calls (``ipc/syscall.c``); the work is in :mod:`kernel_sim.ipc`.

Restart rules are Linux's: msgsnd/msgrcv return ``-ERESTARTNOHAND`` (restarted only when no
handler ran), semop returns ``-EINTR`` (never restarted, SA_RESTART or not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_sim.syscall import RESTART_NEVER, RESTART_NOHAND, syscall

if TYPE_CHECKING:
    from kernel_sim.task import Task


class IpcSyscalls:
    __slots__ = ()

    # -- message queues ------------------------------------------------------------------
    @syscall
    def msgget(self: Task, key: int, flags: int) -> Any:
        """msgget(key, flags) -> msqid."""
        from kernel_sim.ipc.msg import do_msgget

        return do_msgget(self, key, flags)
        yield

    @syscall(restart=RESTART_NOHAND)
    def msgsnd(self: Task, msqid: int, mtype: int, data: bytes, flags: int = 0) -> Any:
        """msgsnd(msqid, mtype, data, flags=0) -> 0."""
        from kernel_sim.ipc.msg import do_msgsnd

        return (yield from do_msgsnd(self, msqid, mtype, data, flags))

    @syscall(restart=RESTART_NOHAND)
    def msgrcv(self: Task, msqid: int, size: int, mtype: int = 0, flags: int = 0) -> Any:
        """msgrcv(msqid, size, mtype=0, flags=0) -> (mtype, data)."""
        from kernel_sim.ipc.msg import do_msgrcv

        return (yield from do_msgrcv(self, msqid, size, mtype, flags))

    @syscall
    def msgctl(self: Task, msqid: int, cmd: int, buf: Any = None) -> Any:
        """msgctl(msqid, cmd, buf=None); IPC_STAT returns an ``MsqidDs``."""
        from kernel_sim.ipc.msg import do_msgctl

        return do_msgctl(self, msqid, cmd, buf)
        yield

    # -- semaphores ------------------------------------------------------------------------
    @syscall
    def semget(self: Task, key: int, nsems: int, flags: int) -> Any:
        """semget(key, nsems, flags) -> semid."""
        from kernel_sim.ipc.sem import do_semget

        return do_semget(self, key, nsems, flags)
        yield

    @syscall(restart=RESTART_NEVER)
    def semop(self: Task, semid: int, sops: Any) -> Any:
        """semop(semid, [(sem_num, sem_op, sem_flg), ...]) -> 0."""
        from kernel_sim.ipc.sem import do_semop

        return (yield from do_semop(self, semid, sops))

    @syscall
    def semctl(self: Task, semid: int, semnum: int, cmd: int, arg: Any = None) -> Any:
        """semctl(semid, semnum, cmd, arg=None)."""
        from kernel_sim.ipc.sem import do_semctl

        return do_semctl(self, semid, semnum, cmd, arg)
        yield

    # -- shared memory -----------------------------------------------------------------------
    @syscall
    def shmget(self: Task, key: int, size: int, flags: int) -> Any:
        """shmget(key, size, flags) -> shmid."""
        from kernel_sim.ipc.shm import do_shmget

        return do_shmget(self, key, size, flags)
        yield

    @syscall
    def shmat(self: Task, shmid: int, flags: int = 0) -> Any:
        """shmat(shmid, flags=0) -> addr (read and write it with mem_read/mem_write)."""
        from kernel_sim.ipc.shm import do_shmat

        return do_shmat(self, shmid, flags)
        yield

    @syscall
    def shmdt(self: Task, addr: int) -> Any:
        """shmdt(addr) -> 0."""
        from kernel_sim.ipc.shm import do_shmdt

        return do_shmdt(self, addr)
        yield

    @syscall
    def shmctl(self: Task, shmid: int, cmd: int, buf: Any = None) -> Any:
        """shmctl(shmid, cmd, buf=None); IPC_STAT returns a ``ShmidDs``."""
        from kernel_sim.ipc.shm import do_shmctl

        return do_shmctl(self, shmid, cmd, buf)
        yield
