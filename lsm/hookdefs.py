"""Every LSM hook, declared once (Linux: ``include/linux/lsm_hook_defs.h``).

Each entry names the hook, whether it is an ``int`` hook (returns 0 or a negative errno;
stacking stops at the first result that differs from the default) or a ``void`` hook (every
module is called), its default return and its arguments.  The framework builds its dispatch
table from this list, so a module that registers a name not listed here fails loudly.

Arguments follow Linux; where Linux passes ``current`` implicitly, modules read the calling
task from :attr:`lsm.security.Security.current`.
"""

from __future__ import annotations

import errno as _e

from attrs import frozen


@frozen
class HookSpec:
    name: str
    kind: str  # "int" | "void"
    default: int
    args: tuple[str, ...]
    sim_only: bool = False  # a simulator extension with no Linux counterpart


def _i(name: str, *args: str, default: int = 0, sim_only: bool = False) -> HookSpec:
    return HookSpec(name, "int", default, args, sim_only)


def _v(name: str, *args: str) -> HookSpec:
    return HookSpec(name, "void", 0, args)


HOOKS: tuple[HookSpec, ...] = (
    # --- tasks, credentials, exec -------------------------------------------------------
    _i("task_alloc", "task", "clone_flags"),
    _v("task_free", "task"),
    _i("cred_prepare", "new", "old"),
    _v("cred_transfer", "new", "old"),
    _v("cred_free", "cred"),
    # Simulator extension: label a process started by Kernel.spawn(context=...).  On Linux
    # the label would come from init's exec transitions; scenarios state it directly.
    _i("task_init_context", "task", "context", sim_only=True),
    _i("bprm_creds_for_exec", "bprm"),
    _i("bprm_creds_from_file", "bprm", "file"),
    _i("bprm_check_security", "bprm"),
    _v("bprm_committing_creds", "bprm"),
    _v("bprm_committed_creds", "bprm"),
    _i("task_kill", "p", "info", "sig", "cred"),
    _i("task_setpgid", "p", "pgid"),
    _i("task_getpgid", "p"),
    _i("task_getsid", "p"),
    _i("task_setnice", "p", "nice"),
    _i("task_setioprio", "p", "ioprio"),
    _i("task_getioprio", "p"),
    _i("task_setscheduler", "p"),
    _i("task_getscheduler", "p"),
    _i("task_movememory", "p"),
    _i("task_prlimit", "cred", "tcred", "flags"),
    _i("task_setrlimit", "p", "resource", "new_rlim"),
    _v("task_to_inode", "p", "inode"),
    _i("task_fix_setuid", "new", "old", "flags"),
    _i("task_fix_setgid", "new", "old", "flags"),
    _i("task_prctl", "option", "arg2", "arg3", "arg4", "arg5", default=-_e.ENOSYS),
    _i("capable", "cred", "ns", "cap", "opts"),
    _i("capget", "target", "effective", "inheritable", "permitted"),
    _i("capset", "new", "old", "effective", "inheritable", "permitted"),
    _i("ptrace_access_check", "child", "mode"),
    _i("ptrace_traceme", "parent"),
    _i("getprocattr", "p", "name", default=-_e.EINVAL),
    _i("setprocattr", "name", "value", default=-_e.EINVAL),
    _i("userns_create", "cred"),
    _i("vm_enough_memory", "mm", "pages"),
    # --- superblocks, inodes, files --------------------------------------------------------
    _i("sb_alloc_security", "sb"),
    _v("sb_free_security", "sb"),
    _i("inode_alloc_security", "inode"),
    _v("inode_free_security", "inode"),
    _i("inode_init_security", "inode", "dir", "name", default=-_e.EOPNOTSUPP),
    _i("inode_create", "dir", "dentry", "mode"),
    _i("inode_mknod", "dir", "dentry", "mode", "dev"),
    _i("inode_mkdir", "dir", "dentry", "mode"),
    _i("inode_symlink", "dir", "dentry", "old_name"),
    _i("inode_unlink", "dir", "dentry"),
    _i("inode_link", "old_dentry", "dir", "new_dentry"),
    _i("inode_rename", "old_dir", "old_dentry", "new_dir", "new_dentry"),
    _i("inode_rmdir", "dir", "dentry"),
    _i("inode_permission", "inode", "mask"),
    _i("inode_getattr", "path"),
    _i("inode_setattr", "dentry", "attr"),
    # default 1: "no module handled it", and the kernel applies cap_inode_setxattr (as Linux)
    _i("inode_setxattr", "dentry", "name", "value", "flags", default=1),
    _v("inode_post_setxattr", "dentry", "name", "value", "flags"),
    _i("inode_getsecurity", "inode", "name", default=-_e.EOPNOTSUPP),
    _v("d_instantiate", "dentry", "inode"),
    _i("file_alloc_security", "file"),
    _v("file_free_security", "file"),
    _i("file_open", "file"),
    _i("file_permission", "file", "mask"),
    _i("file_ioctl", "file", "cmd", "arg"),
    _i("mmap_file", "file", "reqprot", "prot", "flags"),
    _i("file_mprotect", "vma", "reqprot", "prot"),
    _i("file_lock", "file", "cmd"),
    _i("file_fcntl", "file", "cmd", "arg"),
    _v("file_set_fowner", "file"),
    _i("file_send_sigiotask", "task", "fown", "sig"),
    _i("file_receive", "file"),
    _i("file_truncate", "file"),
    # --- System V IPC ------------------------------------------------------------------------
    _i("ipc_permission", "ipcp", "flag"),
    _i("msg_msg_alloc_security", "msg"),
    _v("msg_msg_free_security", "msg"),
    _i("msg_queue_alloc_security", "perm"),
    _v("msg_queue_free_security", "perm"),
    _i("msg_queue_associate", "perm", "msqflg"),
    _i("msg_queue_msgctl", "perm", "cmd"),
    _i("msg_queue_msgsnd", "perm", "msg", "msqflg"),
    _i("msg_queue_msgrcv", "perm", "msg", "target", "type", "mode"),
    _i("shm_alloc_security", "perm"),
    _v("shm_free_security", "perm"),
    _i("shm_associate", "perm", "shmflg"),
    _i("shm_shmctl", "perm", "cmd"),
    _i("shm_shmat", "perm", "shmaddr", "shmflg"),
    _i("sem_alloc_security", "perm"),
    _v("sem_free_security", "perm"),
    _i("sem_associate", "perm", "semflg"),
    _i("sem_semctl", "perm", "cmd"),
    _i("sem_semop", "perm", "sops", "nsops", "alter"),
    # --- sockets -------------------------------------------------------------------------------
    _i("socket_create", "family", "type", "protocol", "kern"),
    _i("socket_post_create", "sock", "family", "type", "protocol", "kern"),
    _i("socket_socketpair", "socka", "sockb"),
    _i("socket_bind", "sock", "address"),
    _i("socket_connect", "sock", "address"),
    _i("socket_listen", "sock", "backlog"),
    _i("socket_accept", "sock", "newsock"),
    _i("socket_sendmsg", "sock", "msg", "size"),
    _i("socket_recvmsg", "sock", "msg", "size", "flags"),
    _i("socket_getsockname", "sock"),
    _i("socket_getpeername", "sock"),
    _i("socket_getsockopt", "sock", "level", "optname"),
    _i("socket_setsockopt", "sock", "level", "optname"),
    _i("socket_shutdown", "sock", "how"),
    _i("unix_stream_connect", "sock", "other", "newsk"),
    _i("unix_may_send", "sock", "other"),
    _i("socket_sock_rcv_skb", "sk", "skb"),
    # Returns the peer context string through the ``out`` list (Linux copies it to user space).
    _i("socket_getpeersec_stream", "sock", "out", default=-_e.ENOPROTOOPT),
    _i("socket_getpeersec_dgram", "sock", "skb", "out", default=-_e.ENOPROTOOPT),
    _i("sk_alloc_security", "sk", "family"),
    _v("sk_free_security", "sk"),
    _v("sk_clone_security", "sk", "newsk"),
    _v("sock_graft", "sk", "parent"),
    _i("inet_conn_request", "sk", "skb", "req"),
    _v("inet_csk_clone", "newsk", "req"),
    _v("inet_conn_established", "sk", "skb"),
    _i("netlink_send", "sk", "skb"),
)

HOOKS_BY_NAME: dict[str, HookSpec] = {h.name: h for h in HOOKS}
assert len(HOOKS_BY_NAME) == len(HOOKS), "duplicate hook declaration"
