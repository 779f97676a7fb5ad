"""SO_PASSSEC / SCM_SECURITY: a receiver learns the label of the socket a message came from
(``selinux_socket_getpeersec_dgram``), the datagram counterpart of getpeercon."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_sim import (
    AF_UNIX,
    SO_PASSCRED,
    SO_PASSSEC,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    Kernel,
)
from lsm.selinux import BASE_CONF, SELinux, load_policy

TE = """
type logd_t, domain; type app_t, domain;
role system_r types { logd_t app_t };
allow { logd_t app_t } self:process { fork sigchld };
allow { logd_t app_t } self:unix_dgram_socket { create bind read write sendto setopt getopt };
allow { logd_t app_t } self:unix_stream_socket { create read write setopt getopt };
allow app_t logd_t:unix_dgram_socket sendto;
"""
LOGD, APP = (f"system_u:system_r:{t}:s0" for t in ("logd_t", "app_t"))


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("scm") / "scm.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def _logging(k: Kernel, seen: dict[str, Any]) -> None:
    def logd(p: Any) -> Any:
        s = yield from p.socket(AF_UNIX, SOCK_DGRAM)
        yield from p.bind(s, "\0log")
        seen["plain"] = (yield from p.recvmsg(s, 100, security=True))[4]
        yield from p.setsockopt(s, SOL_SOCKET, SO_PASSSEC, 1)
        seen["opt"] = yield from p.getsockopt(s, SOL_SOCKET, SO_PASSSEC)
        seen["labelled"] = (yield from p.recvmsg(s, 100, security=True))[4]

    def app(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        s = yield from p.socket(AF_UNIX, SOCK_DGRAM)
        for line in (b"one", b"two"):
            yield from p.sendto(s, line, "\0log")
            yield from p.nanosleep(0.001)

    k.spawn(logd, context=LOGD)
    k.spawn(app, context=APP)


def test_a_datagram_carries_its_sending_sockets_label(policy: Any) -> None:
    seen: dict[str, Any] = {}
    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    _logging(k, seen)
    k.run()
    assert seen == {"plain": None, "opt": 1, "labelled": APP}


def test_without_a_labelling_module_there_is_no_scm_security() -> None:
    seen: dict[str, Any] = {}
    k = Kernel()
    _logging(k, seen)
    k.run()
    assert seen == {"plain": None, "opt": 1, "labelled": None}


def test_a_stream_read_keeps_the_label_only_with_passcred(policy: Any) -> None:
    seen: list[Any] = []

    def prog(p: Any) -> Any:
        a, b = yield from p.socketpair(AF_UNIX, SOCK_STREAM)
        yield from p.setsockopt(b, SOL_SOCKET, SO_PASSSEC, 1)
        for passcred in (0, 1):
            yield from p.setsockopt(b, SOL_SOCKET, SO_PASSCRED, passcred)
            yield from p.send(a, b"x")
            seen.append((yield from p.recvmsg(b, 10, creds=True, security=True))[4:])

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    pid = k.spawn(prog, context=APP)
    k.run()
    assert seen[0] == (None, None)
    creds, label = seen[1]
    assert creds == (pid, 0, 0) and label == APP
