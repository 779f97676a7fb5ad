"""The policy database's numeric constants, as in the kernel headers.

Values of ``policydb.h``, ``avtab.h``, ``constraint.h``, ``conditional.h`` and ``flask.h`` (policy
versions, header bits, avtab kinds, expression node types, class defaults, ocontext kinds, fs_use
behaviours, symbol table indices, initial SID and policy capability names).  Kept apart from the
record types and the :class:`~lsm.selinux.ss.policydb.PolicyDB` container so that each module has
one job; :mod:`lsm.selinux.ss.policydb` re-exports every name, which is where callers import them.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# Constants (values as in the kernel headers: policydb.h, avtab.h, constraint.h, conditional.h)

POLICYDB_MAGIC = 0xF97CFF8C
POLICYDB_STRING = "SE Linux"

#: policy versions (``POLICYDB_VERSION_*``)
POLICYDB_VERSION_BOOL = 16
POLICYDB_VERSION_IPV6 = 17
POLICYDB_VERSION_NLCLASS = 18
POLICYDB_VERSION_VALIDATETRANS = 19
POLICYDB_VERSION_MLS = 19
POLICYDB_VERSION_AVTAB = 20
POLICYDB_VERSION_RANGETRANS = 21
POLICYDB_VERSION_POLCAP = 22
POLICYDB_VERSION_PERMISSIVE = 23
POLICYDB_VERSION_BOUNDARY = 24
POLICYDB_VERSION_FILENAME_TRANS = 25
POLICYDB_VERSION_ROLETRANS = 26
POLICYDB_VERSION_NEW_OBJECT_DEFAULTS = 27
POLICYDB_VERSION_DEFAULT_TYPE = 28
POLICYDB_VERSION_CONSTRAINT_NAMES = 29
POLICYDB_VERSION_XPERMS_IOCTL = 30
POLICYDB_VERSION_INFINIBAND = 31
POLICYDB_VERSION_GLBLUB = 32
POLICYDB_VERSION_COMP_FTRANS = 33
POLICYDB_VERSION_MIN = 20
POLICYDB_VERSION_MAX = 33

#: header ``config`` bits
POLICYDB_CONFIG_MLS = 1
HANDLE_UNKNOWN_DENY = 0
HANDLE_UNKNOWN_REJECT = 2
HANDLE_UNKNOWN_ALLOW = 4
HANDLE_UNKNOWN_MASK = 6

#: avtab ``specified`` kinds
AVTAB_ALLOWED = 0x0001
AVTAB_AUDITALLOW = 0x0002
AVTAB_AUDITDENY = 0x0004
AVTAB_AV = AVTAB_ALLOWED | AVTAB_AUDITALLOW | AVTAB_AUDITDENY
AVTAB_TRANSITION = 0x0010
AVTAB_MEMBER = 0x0020
AVTAB_CHANGE = 0x0040
AVTAB_TYPE = AVTAB_TRANSITION | AVTAB_MEMBER | AVTAB_CHANGE
AVTAB_XPERMS_ALLOWED = 0x0100
AVTAB_XPERMS_AUDITALLOW = 0x0200
AVTAB_XPERMS_DONTAUDIT = 0x0400
AVTAB_XPERMS = AVTAB_XPERMS_ALLOWED | AVTAB_XPERMS_AUDITALLOW | AVTAB_XPERMS_DONTAUDIT
#: set on conditional rules in the binary file when the rule is in the currently enabled branch
AVTAB_ENABLED_OLD = 0x80000000
AVTAB_ENABLED = 0x8000

#: extended permission kinds (``avtab_extended_perms.specified``)
AVTAB_XPERMS_IOCTLFUNCTION = 0x01
AVTAB_XPERMS_IOCTLDRIVER = 0x02
AVTAB_XPERMS_NLMSG = 0x03

#: constraint expression node types (``constraint_expr.expr_type``)
CEXPR_NOT = 1
CEXPR_AND = 2
CEXPR_OR = 3
CEXPR_ATTR = 4
CEXPR_NAMES = 5
#: constraint attributes (``constraint_expr.attr``)
CEXPR_USER = 1
CEXPR_ROLE = 2
CEXPR_TYPE = 4
CEXPR_TARGET = 8
CEXPR_XTARGET = 16
CEXPR_L1L2 = 32
CEXPR_L1H2 = 64
CEXPR_H1L2 = 128
CEXPR_H1H2 = 256
CEXPR_L1H1 = 512
CEXPR_L2H2 = 1024
#: constraint operators (``constraint_expr.op``)
CEXPR_EQ = 1
CEXPR_NEQ = 2
CEXPR_DOM = 3
CEXPR_DOMBY = 4
CEXPR_INCOMP = 5
#: the kernel's evaluation stack depth for constraint expressions
CEXPR_MAXDEPTH = 5

#: conditional expression node types (``cond_expr_node.expr_type``)
COND_BOOL = 1
COND_NOT = 2
COND_OR = 3
COND_AND = 4
COND_XOR = 5
COND_EQ = 6
COND_NEQ = 7
COND_LAST = COND_NEQ
#: the kernel's evaluation stack depth for conditional expressions
COND_EXPR_MAXDEPTH = 10

#: ``default_user/role/type/range`` values of a class (0 = not set)
DEFAULT_SOURCE = 1
DEFAULT_TARGET = 2
DEFAULT_SOURCE_LOW = 1
DEFAULT_SOURCE_HIGH = 2
DEFAULT_SOURCE_LOW_HIGH = 3
DEFAULT_TARGET_LOW = 4
DEFAULT_TARGET_HIGH = 5
DEFAULT_TARGET_LOW_HIGH = 6
DEFAULT_GLBLUB = 7

#: type datum ``properties`` bits (policy version >= 24)
TYPEDATUM_PROPERTY_PRIMARY = 0x0001
TYPEDATUM_PROPERTY_ATTRIBUTE = 0x0002

#: ocontext kinds (indices of ``policydb.ocontexts``)
OCON_ISID = 0
OCON_FS = 1
OCON_PORT = 2
OCON_NETIF = 3
OCON_NODE = 4
OCON_FSUSE = 5
OCON_NODE6 = 6
OCON_IBPKEY = 7
OCON_IBENDPORT = 8
OCON_NUM = 9

#: fs_use behaviours
SECURITY_FS_USE_XATTR = 1
SECURITY_FS_USE_TRANS = 2
SECURITY_FS_USE_TASK = 3
SECURITY_FS_USE_GENFS = 4
SECURITY_FS_USE_NONE = 5
SECURITY_FS_USE_MNTPOINT = 6
SECURITY_FS_USE_NATIVE = 7
FS_USE_NAMES = {
    SECURITY_FS_USE_XATTR: "fs_use_xattr",
    SECURITY_FS_USE_TRANS: "fs_use_trans",
    SECURITY_FS_USE_TASK: "fs_use_task",
}

#: the symbol tables, in file order
SYM_COMMONS = 0
SYM_CLASSES = 1
SYM_ROLES = 2
SYM_TYPES = 3
SYM_USERS = 4
SYM_BOOLS = 5
SYM_LEVELS = 6
SYM_CATS = 7
SYM_NUM = 8

#: the role every object carries; always value 1
OBJECT_R = "object_r"
OBJECT_R_VAL = 1

#: initial SID names by SID number (``initial_sid_to_string``; the binary stores only numbers)
INITIAL_SID_NAMES: dict[int, str] = {
    1: "kernel", 2: "security", 3: "unlabeled", 4: "fs", 5: "file", 6: "file_labels",
    7: "init", 8: "any_socket", 9: "port", 10: "netif", 11: "netmsg", 12: "node",
    13: "igmp_packet", 14: "icmp_socket", 15: "tcp_socket", 16: "sysctl_modprobe",
    17: "sysctl", 18: "sysctl_fs", 19: "sysctl_kernel", 20: "sysctl_net",
    21: "sysctl_net_unix", 22: "sysctl_vm", 23: "sysctl_dev", 24: "kmod", 25: "policy",
    26: "scmp_packet", 27: "devnull",
}  # fmt: skip

#: policy capability names by bit number (``policycap_names.h``)
POLICYCAP_NAMES: tuple[str, ...] = (
    "network_peer_controls", "open_perms", "extended_socket_class", "always_check_network",
    "cgroup_seclabel", "nnp_nosuid_transition", "genfs_seclabel_symlinks",
    "ioctl_skip_cloexec", "userspace_initial_context", "netlink_xperm", "netif_wildcard",
    "genfs_seclabel_wildcard", "functionfs_seclabel", "memfd_class",
)  # fmt: skip
