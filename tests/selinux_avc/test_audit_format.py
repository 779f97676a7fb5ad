"""Exact text of the records, checked against real kernel records (ipc-lsm-reference §5.2-5.4).

The expected strings are copied from real logs (noted per test); only the ``type=`` /
``msg=audit(...)`` prefix comes from our clock and serial.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsm.selinux.audit import AuditLog, AuditTaskInfo, format_avc
from lsm.selinux.audit_fields import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SYSCALL_NR,
    AnonInodeAudit,
    CapAudit,
    DentryAudit,
    InodeAudit,
    IoctlAudit,
    IpcAudit,
    NetAudit,
    PathAudit,
    TaskAudit,
    hex_encode,
    syscall_nr,
    untrusted,
)
from lsm.selinux.avc import ClassInfo

UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def avc(perms: list[str], comm: str, ad: object, scon: str, tcon: str, tclass: str,
        *, pid: int, permissive: int | None = 0, denied: bool = True) -> str:
    return format_avc(denied=denied, perms=perms, pid=pid, comm=comm, auditdata=ad,
                      scontext=scon, tcontext=tcon, tclass=tclass, permissive=permissive)


# -- AVC bodies vs real records ---------------------------------------------------------------

def test_name_bind_src_port() -> None:  # fedora-selinux/selinux-policy PR #2653
    got = avc(["name_bind"], "collectd", NetAudit(family=AF_INET, sport=9103),
              "system_u:system_r:collectd_t:s0", "system_u:object_r:collectd_port_t:s0",
              "tcp_socket", pid=1907)
    assert got == (
        'avc:  denied  { name_bind } for  pid=1907 comm="collectd" src=9103 '
        "scontext=system_u:system_r:collectd_t:s0 tcontext=system_u:object_r:collectd_port_t:s0"
        " tclass=tcp_socket permissive=0"
    )


def test_node_bind_saddr_src() -> None:  # PR #1640
    got = avc(["node_bind"], "systemd-resolve",
              NetAudit(family=AF_INET, saddr="127.0.0.53", sport=53),
              "system_u:system_r:systemd_resolved_t:s0", "system_u:object_r:node_t:s0",
              "udp_socket", pid=2893)
    assert got.startswith(
        'avc:  denied  { node_bind } for  pid=2893 comm="systemd-resolve" saddr=127.0.0.53 '
        "src=53 scontext="
    )


def test_signal_has_no_object_fields() -> None:  # PR #1880 (task_kill passes no audit data)
    got = avc(["sigkill"], "sssd_pam", None, "system_u:system_r:sssd_t:s0",
              "system_u:system_r:ipa_otpd_t:s0", "process", pid=940, permissive=1)
    assert got == (
        'avc:  denied  { sigkill } for  pid=940 comm="sssd_pam" '
        "scontext=system_u:system_r:sssd_t:s0 tcontext=system_u:system_r:ipa_otpd_t:s0 "
        "tclass=process permissive=1"
    )


def test_capability_double_space() -> None:  # OpenXT/xenclient-oe PR #257
    got = avc(["ipc_lock"], "db-cmd", CapAudit(14), "system_u:system_r:dbd_t:s0",
              "system_u:system_r:dbd_t:s0", "capability", pid=1196)
    assert 'avc:  denied  { ipc_lock } for  pid=1196 comm="db-cmd" capability=14  scontext=' in got


def test_ipc_key_double_space_signed() -> None:
    got = avc(["associate"], "client", IpcAudit(-1), "a:b:c_t:s0", "a:b:d_t:s0", "msgq",
              pid=5)
    assert ' comm="client" ipc_key=-1  scontext=a:b:c_t:s0 ' in got
    assert IpcAudit(0).render() == " ipc_key=0 "  # IPC_PRIVATE


def test_fd_use_quoted_path() -> None:  # refpolicy issue #1054
    got = avc(["use"], "sshd",
              PathAudit("/usr/lib/x86_64-linux-gnu/libnsl.so.2.0.1", "dm-0", 17919),
              "system_u:system_r:sshd_t:s0", "system_u:system_r:kernel_t:s0", "fd",
              pid=5197, permissive=1)
    assert got == (
        'avc:  denied  { use } for  pid=5197 comm="sshd" '
        'path="/usr/lib/x86_64-linux-gnu/libnsl.so.2.0.1" dev="dm-0" ino=17919 '
        "scontext=system_u:system_r:sshd_t:s0 tcontext=system_u:system_r:kernel_t:s0 "
        "tclass=fd permissive=1"
    )


def test_memfd_deleted_path_is_hex() -> None:  # PR #1228
    assert PathAudit("/memfd:vmem (deleted)", "tmpfs", 3).render() == (
        ' path=2F6D656D66643A766D656D202864656C6574656429 dev="tmpfs" ino=3'
    )


def test_pipe_fifo_file() -> None:  # PR #2781 (raw form keeps the quotes ausearch -i drops)
    got = avc(["read"], "swtpm", PathAudit("pipe:[14964]", "pipefs", 14964),
              "system_u:system_r:svirt_t:s0:c371,c986", "system_u:system_r:virtqemud_t:s0",
              "fifo_file", pid=38059)
    assert ' comm="swtpm" path="pipe:[14964]" dev="pipefs" ino=14964 scontext=' in got


def test_unix_connectto_listener_path() -> None:  # PR #1658
    ad = NetAudit(sk_family=AF_UNIX, unix_path="/run/systemd/userdb/io.systemd.DynamicUser")
    got = avc(["connectto"], "icecast", ad, "system_u:system_r:icecast_t:s0",
              "system_u:system_r:kernel_t:s0", "unix_stream_socket", pid=240551)
    assert got == (
        'avc:  denied  { connectto } for  pid=240551 comm="icecast" '
        'path="/run/systemd/userdb/io.systemd.DynamicUser" '
        "scontext=system_u:system_r:icecast_t:s0 tcontext=system_u:system_r:kernel_t:s0 "
        "tclass=unix_stream_socket permissive=0"
    )


def test_unix_abstract_name_is_hex_from_nul() -> None:
    ad = NetAudit(sk_family=AF_UNIX, unix_path="\0my sock")
    assert ad.render() == " path=006D7920736F636B"
    assert NetAudit(sk_family=AF_UNIX).render() == ""  # unbound socket: nothing


def test_inet_socket_fields_skip_zeroes() -> None:
    ad = NetAudit(sk_family=AF_INET, laddr="127.0.0.1", lport=40000, faddr="0.0.0.0",
                  fport=0, family=AF_INET, daddr="127.0.0.1", dport=5432, netif="lo")
    assert ad.render() == " laddr=127.0.0.1 lport=40000 daddr=127.0.0.1 dest=5432 netif=lo"
    v6 = NetAudit(sk_family=AF_INET6, laddr="::", lport=80, family=AF_INET6, sport=80)
    assert v6.render() == " lport=80 src=80"


def test_other_audit_data_types() -> None:
    assert DentryAudit("my file", "tmpfs", 9).render() == ' name=6D792066696C65 dev="tmpfs" ino=9'
    assert InodeAudit("sda1", 2).render() == ' dev="sda1" ino=2'
    assert InodeAudit("sda1", 2, name="x").render() == ' name="x" dev="sda1" ino=2'
    assert TaskAudit(42, "victim").render() == ' opid=42 ocomm="victim"'
    assert TaskAudit(0, "swapper").render() == ""
    assert IoctlAudit("/dev/tty", "devtmpfs", 5, 0x5401).render() == (
        ' path="/dev/tty" dev="devtmpfs" ino=5 ioctlcmd=0x5401'
    )
    assert AnonInodeAudit("[io_uring]").render() == " anonclass=[io_uring]"


def test_granted_and_null_forms() -> None:
    got = avc(["read"], "cat", None, "a:b:c_t:s0", "a:b:d_t:s0", "file", pid=1,
              denied=False, permissive=None)
    assert got == 'avc:  granted  { read } for  pid=1 comm="cat" scontext=a:b:c_t:s0 ' \
                  "tcontext=a:b:d_t:s0 tclass=file"
    # an empty audited set prints " null" and, like the kernel, no " for "
    assert avc([], "cat", None, "s", "t", "file", pid=1).startswith(
        'avc:  denied  null pid=1 comm="cat" scontext=s')


def test_raw_contexts_and_missing_sids() -> None:
    got = format_avc(denied=True, perms=["read"], pid=1, comm="x", scontext=None,
                     tcontext="u:object_r:unlabeled_t:s0", tclass="file", ssid=77,
                     permissive=0, trawcon="u:object_r:removed_t:s0")
    assert got.endswith(' ssid=77 tcontext=u:object_r:unlabeled_t:s0 tclass=file permissive=0 '
                        'trawcon="u:object_r:removed_t:s0"')


def test_class_perm_order_is_kernel_order() -> None:
    # policy bits differ from kernel order; the record still prints in kernel order
    info = ClassInfo.from_policy("msgq", ["create", "read", "enqueue"],
                                 {"enqueue": 1, "create": 2, "read": 4, "extra": 8})
    assert info.names(1 | 2 | 4 | 16) == (["create", "read", "enqueue"], 16)


# -- untrusted strings ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "out"), [
    ("httpd", '"httpd"'),
    ("a b", "612062"),
    ('say"hi', "736179226869"),
    ("tab\there", "7461620968657265"),
    ("caf\u00e9", "636166C3A9"),
    (b"\x7f", "7F"),
    ("~ok!", '"~ok!"'),
    ("trunc\0ated", '"trunc"'),
    ("", '""'),
])
def test_untrusted(raw: str | bytes, out: str) -> None:
    assert untrusted(raw) == out


def test_hex_encode_is_uppercase() -> None:
    assert hex_encode(b"\xab\xcd") == "ABCD"


# -- SYSCALL records, serials, stamps ----------------------------------------------------------

def test_syscall_numbers_match_x86_64_table() -> None:
    assert (syscall_nr("msgget"), syscall_nr("msgsnd"), syscall_nr("pipe"),
            syscall_nr("kill")) == (68, 69, 22, 62)
    assert syscall_nr("waitpid") == 61 and syscall_nr("mq_send") == 242
    assert syscall_nr(999) == 999
    with pytest.raises(KeyError, match="no x86_64 syscall number"):
        syscall_nr("frobnicate")
    if not UNISTD.exists():
        pytest.skip("no kernel headers to compare with")
    real = dict(re.findall(r"#define __NR_(\w+) (\d+)", UNISTD.read_text()))
    assert {n: int(real[n]) for n in SYSCALL_NR} == SYSCALL_NR


TASK = AuditTaskInfo(pid=1234, ppid=1, comm="client", exe="/usr/bin/client",
                     subj="system_u:system_r:client_t:s0", uid=1000, gid=1000)


def test_syscall_record_layout(log: AuditLog, clock: list[float]) -> None:
    clock[0] = 12.3456
    log.begin_syscall(1234, "client")
    log.log_avc(denied=True, perms=["enqueue"], tclass="msgq", scontext="s", tcontext="t",
                auditdata=IpcAudit(34952), permissive=0)
    clock[0] = 13.0  # time passes inside the syscall: the stamp is the entry time
    log.log_avc(denied=True, perms=["write"], tclass="msgq", scontext="s", tcontext="t",
                permissive=0)
    rec = log.end_syscall("msgsnd", -13, (3, -1, "buf"), TASK)
    assert rec is not None
    assert log.lines == [
        'type=AVC msg=audit(1700000012.345:1): avc:  denied  { enqueue } for  pid=1234 '
        'comm="client" ipc_key=34952  scontext=s tcontext=t tclass=msgq permissive=0',
        'type=AVC msg=audit(1700000012.345:1): avc:  denied  { write } for  pid=1234 '
        'comm="client" scontext=s tcontext=t tclass=msgq permissive=0',
        "type=SYSCALL msg=audit(1700000012.345:1): arch=c000003e syscall=69 success=no "
        "exit=-13 a0=3 a1=ffffffffffffffff a2=7ffc00001200 a3=0 items=0 ppid=1 pid=1234 "
        "auid=4294967295 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 "
        "sgid=1000 fsgid=1000 tty=(none) ses=4294967295 comm=\"client\" "
        'exe="/usr/bin/client" subj=system_u:system_r:client_t:s0 key=(null)',
    ]


def test_quiet_syscall_emits_nothing_and_builds_nothing(log: AuditLog) -> None:
    log.begin_syscall(1, "init")

    def never() -> AuditTaskInfo:
        raise AssertionError("task info built for a syscall with no records")

    assert log.end_syscall("getpid", 1, lambda: [], never) is None
    assert log.lines == []


def test_serials_per_syscall_and_outside(log: AuditLog, clock: list[float]) -> None:
    log.log_policy_load(auid=0, ses=2)  # outside a syscall: own serial
    log.begin_syscall(10, "a")
    log.log_avc(denied=True, perms=["read"], tclass="file", scontext="s", tcontext="t")
    log.end_syscall("read", 5, (3, 0, 5), TASK)
    log.begin_syscall(10, "a")
    log.end_syscall("read", 5)  # quiet: consumes no serial
    clock[0] = 2.0
    log.begin_syscall(10, "a")
    log.log_config_change("allow_x", 1, 0, auid=0, ses=2)
    log.end_syscall("write", 1, (), TASK)
    assert [(r.type, r.serial, r.stamp) for r in log.records] == [
        ("MAC_POLICY_LOAD", 1, "1700000000.000"),
        ("AVC", 2, "1700000000.000"),
        ("SYSCALL", 2, "1700000000.000"),
        ("MAC_CONFIG_CHANGE", 3, "1700000002.000"),
        ("SYSCALL", 3, "1700000002.000"),
    ]
    assert log.records[0].body == "auid=0 ses=2 lsm=selinux res=1"
    assert log.records[3].body == "bool=allow_x val=1 old_val=0 auid=0 ses=2"


def test_interleaved_tasks_keep_their_own_serial(log: AuditLog, clock: list[float]) -> None:
    a, b = log.alloc_context(), log.alloc_context()
    log.begin_syscall(100, "a", ctx=a)  # a blocks in msgrcv...
    clock[0] = 1.0
    log.begin_syscall(200, "b", ctx=b)
    log.log_avc(denied=True, perms=["read"], tclass="file", scontext="s", tcontext="t")
    log.current = a  # ...the kernel resumes a
    log.log_avc(denied=True, perms=["receive"], tclass="msg", scontext="s", tcontext="t")
    log.end_syscall("msgrcv", -42, (), None, ctx=a)
    log.end_syscall("read", -13, (), None, ctx=b)
    got = [(r.type, r.serial, r.stamp, r.avc.pid if r.avc else None) for r in log.records]
    assert got == [
        ("AVC", 1, "1700000001.000", 200),
        ("AVC", 2, "1700000000.000", 100),
        ("SYSCALL", 2, "1700000000.000", None),
        ("SYSCALL", 1, "1700000001.000", None),
    ]
    assert ' pid=100 auid=4294967295 uid=0 gid=0 ' in log.lines[2]


def test_epoch_is_configurable() -> None:
    log = AuditLog(clock=lambda: 0.25, epoch=1000, first_serial=500)
    log.log_policy_load()
    assert log.lines == ["type=MAC_POLICY_LOAD msg=audit(1000.250:500): "
                         "auid=4294967295 ses=4294967295 lsm=selinux res=1"]


def test_selinux_err_records(log: AuditLog) -> None:
    log.log_bounds("u:r:child_t:s0", "u:object_r:f_t:s0", "file", ["read", "write"])
    log.log_invalid_context("u:r:bad_t:s0", "u:r:a_t:s0", "u:object_r:b_exec_t:s0", "process")
    log.log_invalid_user_context("setxattr", "not a context")
    log.log_bounded_transition("u:r:parent_t:s0", "u:r:other_t:s0")
    log.log_validatetrans("u:object_r:a_t:s0", "u:object_r:b_t:s0", "u:r:t_t:s0", "file")
    log.log_mac_status(0, 1, auid=0, ses=2)
    assert [r.type for r in log.records] == ["SELINUX_ERR"] * 5 + ["MAC_STATUS"]
    assert [r.body for r in log.records] == [
        "op=security_compute_av reason=bounds scontext=u:r:child_t:s0 "
        "tcontext=u:object_r:f_t:s0 tclass=file perms=read,write",
        'op=security_compute_sid invalid_context="u:r:bad_t:s0" scontext=u:r:a_t:s0 '
        "tcontext=u:object_r:b_exec_t:s0 tclass=process",
        "op=setxattr invalid_context=6E6F74206120636F6E74657874",
        "op=security_bounded_transition seresult=denied oldcontext=u:r:parent_t:s0 "
        "newcontext=u:r:other_t:s0",
        "op=security_validate_transition seresult=denied oldcontext=u:object_r:a_t:s0 "
        "newcontext=u:object_r:b_t:s0 taskcontext=u:r:t_t:s0 tclass=file",
        "enforcing=0 old_enforcing=1 auid=0 ses=2 enabled=1 old-enabled=1 lsm=selinux res=1",
    ]


def test_text_write_clear_and_subscribe(log: AuditLog, tmp_path: Path) -> None:
    seen: list[str] = []
    log.subscribe(lambda r: seen.append(r.type))
    log.log_policy_load()
    path = tmp_path / "audit.log"
    log.write(path)
    assert path.read_text() == log.lines[0] + "\n" == log.text()
    log.clear()
    log.log_policy_load()
    assert log.records[0].serial == 2 and seen == ["MAC_POLICY_LOAD"] * 2


@given(st.binary(max_size=40))
def test_untrusted_round_trips(raw: bytes) -> None:
    """What ausearch decodes (hex or quoted) is the string up to its first NUL."""
    want = raw.split(b"\0", 1)[0]
    out = untrusted(raw)
    if out.startswith('"'):
        assert out.endswith('"') and out[1:-1].encode() == want
        assert all(0x21 <= b <= 0x7E and b != 0x22 for b in want)
    else:
        assert bytes.fromhex(out) == want and out == out.upper()
