"""SELinux socket glue: connectto on the listener's SID, peer contexts, SCM_RIGHTS fd:use."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import (
    AF_UNIX,
    EACCES,
    MSG_CTRUNC,
    O_RDONLY,
    SOCK_DGRAM,
    SOCK_STREAM,
    Kernel,
    SyscallError,
)
from lsm.selinux import BASE_CONF, SELinux, load_policy

TE = """
type srv_t, domain; type cli_t, domain; type evil_t, domain; type thief_t, domain;
role system_r types { srv_t cli_t evil_t thief_t };
allow { srv_t cli_t evil_t thief_t } self:process { fork sigchld signal };
allow { srv_t cli_t evil_t thief_t } { root_t tmp_t var_t etc_t }:dir { search getattr };
allow { srv_t cli_t evil_t thief_t } self:unix_stream_socket {
    create bind listen accept connect read write getopt getattr shutdown };
allow { srv_t cli_t evil_t thief_t } self:unix_dgram_socket {
    create bind connect read write sendto getopt };
allow srv_t tmp_t:dir { write add_name };
allow srv_t tmp_t:sock_file { create getattr };
allow { cli_t evil_t thief_t } tmp_t:sock_file write;
allow tmp_t fs_t:filesystem associate;
allow cli_t srv_t:unix_stream_socket connectto;
allow srv_t etc_t:file { read open getattr };
allow cli_t srv_t:fd use;
allow cli_t etc_t:file read;
allow cli_t srv_t:unix_stream_socket { read write };
allow thief_t srv_t:unix_stream_socket connectto;
"""
SRV, CLI, EVIL, THIEF = (f"system_u:system_r:{t}:s0"
                         for t in ("srv_t", "cli_t", "evil_t", "thief_t"))


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("net") / "net.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def test_connectto_checks_the_listening_socket(policy: Any) -> None:
    log: dict[str, Any] = {}

    def srv(p: Any) -> Any:
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.bind(s, "/tmp/srv.sock")
        yield from p.listen(s, 5)
        c, _ = yield from p.accept(s)
        log["server sees"] = yield from p.getpeercon(c)

    def cli(p: Any, who: str) -> Any:
        yield from p.nanosleep(0.001)
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        try:
            yield from p.connect(s, "/tmp/srv.sock")
            log[who] = yield from p.getpeercon(s)
        except SyscallError as e:
            log[who] = e.errno

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.install("/etc/x", b"x")
    k.spawn(srv, context=SRV)
    k.spawn(cli, "evil", context=EVIL)
    k.spawn(cli, "cli", context=CLI)
    k.run()
    assert log == {"evil": EACCES, "cli": SRV, "server sees": CLI}
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert len(avc) == 1
    assert '{ connectto } for  pid=3 comm="cli" path="/tmp/srv.sock"' in avc[0]
    assert f"tcontext={SRV} tclass=unix_stream_socket permissive=0" in avc[0]


def test_dgram_socketpair_has_no_stream_peer_context(policy: Any) -> None:
    out: list[Any] = []

    def prog(p: Any) -> Any:
        a, _b = yield from p.socketpair(AF_UNIX, SOCK_DGRAM)
        try:
            yield from p.getpeercon(a)
        except SyscallError as e:
            out.append(e.errno)

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.spawn(prog, context=SRV)
    k.run()
    assert out == [92]  # ENOPROTOOPT


def test_scm_rights_receive_denied_drops_the_fd_with_msg_ctrunc(policy: Any) -> None:
    got: dict[str, Any] = {}

    def srv(p: Any) -> Any:
        fd = yield from p.open("/etc/x", O_RDONLY)
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.bind(s, "/tmp/fd.sock")
        yield from p.listen(s, 5)
        for _ in range(2):
            c, _ = yield from p.accept(s)
            yield from p.sendmsg(c, b"here", fds=[fd])

    def cli(p: Any, who: str) -> Any:
        yield from p.nanosleep(0.001 if who == "cli" else 0.002)
        s = yield from p.socket(AF_UNIX, SOCK_STREAM)
        yield from p.connect(s, "/tmp/fd.sock")
        data, fds, flags, _ = yield from p.recvmsg(s, 10, maxfds=1)
        content = (yield from p.read(fds[0], 6)) if fds else None
        got[who] = (data, len(fds), bool(flags & MSG_CTRUNC), content)

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.install("/etc/x", b"secret")
    k.spawn(srv, context=SRV)
    k.spawn(cli, "cli", context=CLI)
    k.spawn(cli, "evil", context=THIEF)
    k.run()
    assert got["cli"] == (b"here", 1, False, b"secret")
    assert got["evil"] == (b"here", 0, True, None)
    use = [line for line in k.audit_log() if "{ use }" in line]
    assert use and "scontext=system_u:system_r:thief_t:s0" in use[0] and "tclass=fd" in use[0]
