"""Simulated time each system call takes (seconds), from one table.

The figures are round numbers of the right order for a modern x86 machine (a few hundred
nanoseconds for a trivial syscall, microseconds for fork/exec).  They make traces readable and
orderings realistic; change them with ``Kernel(costs={...})``.
"""

from __future__ import annotations

DEFAULT_COST = 1e-6

COSTS: dict[str, float] = {
    "getpid": 1e-7, "getppid": 1e-7, "gettid": 1e-7, "getuid": 1e-7, "geteuid": 1e-7,
    "getgid": 1e-7, "getcon": 5e-7, "getpidcon": 1e-6,
    "read": 5e-7, "write": 5e-7, "close": 3e-7, "dup": 2e-7, "dup2": 2e-7, "fcntl": 2e-7,
    "pipe": 2e-6, "pipe2": 2e-6,
    "open": 2e-6, "stat": 1e-6, "unlink": 2e-6, "mkfifo": 3e-6, "mkdir": 3e-6,
    "fork": 5e-5, "clone_thread": 2e-5, "execve": 2e-4, "exit": 1e-5, "waitpid": 1e-6,
    "kill": 1e-6, "sigaction": 3e-7, "ptrace": 2e-6,
    "getpgid": 1e-7, "getpgrp": 1e-7, "getsid": 1e-7, "setpgid": 3e-7, "setsid": 5e-7,
    "msgsnd": 1e-6, "msgrcv": 1e-6, "semop": 5e-7, "shmat": 3e-6, "shmget": 3e-6,
    "socket": 3e-6, "connect": 1e-5, "accept": 5e-6, "send": 1e-6, "recv": 1e-6,
    "sendmsg": 2e-6, "recvmsg": 2e-6,
}

#: extra simulated time an AVC miss costs (the security server computes a decision)
AVC_MISS_COST = 2e-6
