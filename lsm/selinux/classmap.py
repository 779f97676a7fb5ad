"""The kernel's security class -> permission table and its initial SIDs.

Facts from Linux ``security/selinux/include/classmap.h`` (torvalds/linux @0545702, 6.13 era)
and ``initial_sid_to_string.h``.  The kernel asks questions in these names; a loaded policy
maps them to its own values (``selinux_set_mapping``), so this table is the one place where
the simulated kernel's vocabulary is written down.  The shipped base policy declares exactly
these classes and permissions (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Final

#: permissions shared by file-like and socket classes (the common ``file`` / ``socket`` prefix)
COMMON_FILE_SOCK_PERMS: Final = (
    "ioctl", "read", "write", "create", "getattr", "setattr", "lock",
    "relabelfrom", "relabelto", "append", "map",
)  # fmt: skip

COMMON_FILE_PERMS: Final = (
    *COMMON_FILE_SOCK_PERMS,
    "unlink", "link", "rename", "execute", "quotaon", "mounton", "audit_access", "open",
    "execmod", "watch", "watch_mount", "watch_sb", "watch_with_perm", "watch_reads",
    "watch_mountns",
)  # fmt: skip

COMMON_SOCK_PERMS: Final = (
    *COMMON_FILE_SOCK_PERMS,
    "bind", "connect", "listen", "accept", "getopt", "setopt", "shutdown", "recvfrom",
    "sendto", "name_bind",
)  # fmt: skip

COMMON_IPC_PERMS: Final = (
    "create", "destroy", "getattr", "setattr", "read", "write", "associate",
    "unix_read", "unix_write",
)  # fmt: skip

#: capability names in capability-number order (CAP_CHOWN = 0 ... CAP_SETFCAP = 31)
COMMON_CAP_PERMS: Final = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
    "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
    "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
    "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
    "audit_control", "setfcap",
)  # fmt: skip

#: capabilities 32 ... 40 (CAP_MAC_OVERRIDE ... CAP_CHECKPOINT_RESTORE), class capability2
COMMON_CAP2_PERMS: Final = (
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
    "perfmon", "bpf", "checkpoint_restore",
)  # fmt: skip

#: every capability name, indexed by capability number
CAPABILITY_NAMES: Final = (*COMMON_CAP_PERMS, *COMMON_CAP2_PERMS)

#: the policy ``common`` blocks the base policy declares, and which classes inherit them
COMMONS: Final[dict[str, tuple[str, ...]]] = {
    "file": COMMON_FILE_PERMS,
    "socket": COMMON_SOCK_PERMS,
    "ipc": COMMON_IPC_PERMS,
    "cap": COMMON_CAP_PERMS,
    "cap2": COMMON_CAP2_PERMS,
}

_F, _S, _I = "file", "socket", "ipc"
_NL = ("nlmsg_read", "nlmsg_write", "nlmsg")

#: (class, common or None, class-specific permissions), in the kernel's order
CLASS_TABLE: Final[tuple[tuple[str, str | None, tuple[str, ...]], ...]] = (
    ("security", None, (
        "compute_av", "compute_create", "compute_member", "check_context", "load_policy",
        "compute_relabel", "compute_user", "setenforce", "setbool", "setsecparam",
        "setcheckreqprot", "read_policy", "validate_trans",
    )),
    ("process", None, (
        "fork", "transition", "sigchld", "sigkill", "sigstop", "signull", "signal", "ptrace",
        "getsched", "setsched", "getsession", "getpgid", "setpgid", "getcap", "setcap",
        "share", "getattr", "setexec", "setfscreate", "noatsecure", "siginh", "setrlimit",
        "rlimitinh", "dyntransition", "setcurrent", "execmem", "execstack", "execheap",
        "setkeycreate", "setsockcreate", "getrlimit",
    )),
    ("process2", None, ("nnp_transition", "nosuid_transition")),
    ("system", None, (
        "ipc_info", "syslog_read", "syslog_mod", "syslog_console", "module_request",
        "module_load",
    )),
    ("capability", "cap", ()),
    ("filesystem", None, (
        "mount", "remount", "unmount", "getattr", "relabelfrom", "relabelto", "associate",
        "quotamod", "quotaget", "watch",
    )),
    ("file", _F, ("execute_no_trans", "entrypoint")),
    ("dir", _F, ("add_name", "remove_name", "reparent", "search", "rmdir")),
    ("fd", None, ("use",)),
    ("lnk_file", _F, ()),
    ("chr_file", _F, ()),
    ("blk_file", _F, ()),
    ("sock_file", _F, ()),
    ("fifo_file", _F, ()),
    ("socket", _S, ()),
    ("tcp_socket", _S, ("node_bind", "name_connect")),
    ("udp_socket", _S, ("node_bind",)),
    ("rawip_socket", _S, ("node_bind",)),
    ("node", None, ("recvfrom", "sendto")),
    ("netif", None, ("ingress", "egress")),
    ("netlink_socket", _S, ()),
    ("packet_socket", _S, ()),
    ("key_socket", _S, ()),
    ("unix_stream_socket", _S, ("connectto",)),
    ("unix_dgram_socket", _S, ()),
    ("sem", _I, ()),
    ("msg", None, ("send", "receive")),
    ("msgq", _I, ("enqueue",)),
    ("shm", _I, ("lock",)),
    ("ipc", _I, ()),
    ("netlink_route_socket", _S, _NL),
    ("netlink_tcpdiag_socket", _S, _NL),
    ("netlink_nflog_socket", _S, ()),
    ("netlink_xfrm_socket", _S, _NL),
    ("netlink_selinux_socket", _S, ()),
    ("netlink_iscsi_socket", _S, ()),
    ("netlink_audit_socket", _S, (
        "nlmsg_read", "nlmsg_write", "nlmsg_relay", "nlmsg_readpriv", "nlmsg_tty_audit",
        "nlmsg",
    )),
    ("netlink_fib_lookup_socket", _S, ()),
    ("netlink_connector_socket", _S, ()),
    ("netlink_netfilter_socket", _S, ()),
    ("netlink_dnrt_socket", _S, ()),
    ("association", None, ("sendto", "recvfrom", "setcontext", "polmatch")),
    ("netlink_kobject_uevent_socket", _S, ()),
    ("netlink_generic_socket", _S, ()),
    ("netlink_scsitransport_socket", _S, ()),
    ("netlink_rdma_socket", _S, ()),
    ("netlink_crypto_socket", _S, ()),
    ("appletalk_socket", _S, ()),
    ("packet", None, ("send", "recv", "relabelto", "forward_in", "forward_out")),
    ("key", None, ("view", "read", "write", "search", "link", "setattr", "create")),
    ("dccp_socket", _S, ("node_bind", "name_connect")),
    ("memprotect", None, ("mmap_zero",)),
    ("peer", None, ("recv",)),
    ("capability2", "cap2", ()),
    ("kernel_service", None, ("use_as_override", "create_files_as")),
    ("tun_socket", _S, ("attach_queue",)),
    ("binder", None, ("impersonate", "call", "set_context_mgr", "transfer")),
    ("cap_userns", "cap", ()),
    ("cap2_userns", "cap2", ()),
    ("sctp_socket", _S, ("node_bind", "name_connect", "association")),
    ("icmp_socket", _S, ("node_bind",)),
    *((name, _S, ()) for name in (
        "ax25_socket", "ipx_socket", "netrom_socket", "atmpvc_socket", "x25_socket",
        "rose_socket", "decnet_socket", "atmsvc_socket", "rds_socket", "irda_socket",
        "pppox_socket", "llc_socket", "can_socket", "tipc_socket", "bluetooth_socket",
        "iucv_socket", "rxrpc_socket", "isdn_socket", "phonet_socket", "ieee802154_socket",
        "caif_socket", "alg_socket", "nfc_socket", "vsock_socket", "kcm_socket",
        "qipcrtr_socket", "smc_socket",
    )),
    ("infiniband_pkey", None, ("access",)),
    ("infiniband_endport", None, ("manage_subnet",)),
    ("bpf", None, ("map_create", "map_read", "map_write", "prog_load", "prog_run")),
    ("xdp_socket", _S, ()),
    ("mctp_socket", _S, ()),
    ("perf_event", None, ("open", "cpu", "kernel", "tracepoint", "read", "write")),
    ("anon_inode", _F, ()),
    ("io_uring", None, ("override_creds", "sqpoll", "cmd", "allowed")),
    ("user_namespace", None, ("create",)),
)  # fmt: skip


def _full(common: str | None, perms: tuple[str, ...]) -> tuple[str, ...]:
    return (*(COMMONS[common] if common else ()), *perms)


#: class name -> all permission names in kernel bit order (common permissions first)
SECCLASS_MAP: Final[dict[str, tuple[str, ...]]] = {
    name: _full(common, perms) for name, common, perms in CLASS_TABLE
}

#: initial SID names, in order; the kernel's SID value is the index + 1
INITIAL_SIDS: Final = (
    "kernel", "security", "unlabeled", "fs", "file", "file_labels", "init", "any_socket",
    "port", "netif", "netmsg", "node", "igmp_packet", "icmp_socket", "tcp_socket",
    "sysctl_modprobe", "sysctl", "sysctl_fs", "sysctl_kernel", "sysctl_net",
    "sysctl_net_unix", "sysctl_vm", "sysctl_dev", "kmod", "policy", "scmp_packet",
    "devnull",
)  # fmt: skip

#: initial SIDs a current kernel still uses; the others are placeholders kept for numbering
USED_INITIAL_SIDS: Final = frozenset(
    {"kernel", "security", "unlabeled", "file", "init", "any_socket", "port", "netif",
     "netmsg", "node", "devnull"}
)  # fmt: skip


def class_perms(tclass: str) -> tuple[str, ...]:
    """Permission names of ``tclass`` in kernel bit order; ``KeyError`` if the kernel lacks it."""
    return SECCLASS_MAP[tclass]


def perm_bit(tclass: str, perm: str) -> int:
    """The kernel's bit for ``perm`` in ``tclass`` (bit 0 is the first permission)."""
    return 1 << SECCLASS_MAP[tclass].index(perm)
