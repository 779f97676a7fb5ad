"""Socket hooks (``selinux_socket_*``, ``selinux_unix_*``, ``selinux_sk_*``).

Sockets take the creator's SID, or its sockcreate SID, or a ``type_transition dom dom:class``
result; UNIX ``connectto`` targets the listening *socket's* SID; accepted sockets take the
listener's user:role:type with the client's MLS range; INET ``name_bind`` is checked only
below 1024 or outside the ephemeral range, ``name_connect`` for TCP only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsm.selinux.audit_fields import NetAudit
from lsm.selinux.policy.errors import PolicyError

if TYPE_CHECKING:
    from lsm.selinux.module import SELinux

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
IPPROTO_TCP, IPPROTO_UDP = 6, 17
EPROTONOSUPPORT, ENOPROTOOPT = 93, 92
EPHEMERAL_LOW, EPHEMERAL_HIGH = 32768, 60999
PROT_SOCK = 1024
#: the per-message socket checks, as indexes of ``SockSecurity.memo``
SOCK_MEMO_RECV, SOCK_MEMO_SEND = 0, 1


def socket_type_to_class(family: int, type_: int, protocol: int) -> str:
    """``socket_type_to_security_class`` for the families kernel-sim models."""
    if family == AF_UNIX:
        return "unix_stream_socket" if type_ in (SOCK_STREAM, SOCK_SEQPACKET) \
            else "unix_dgram_socket"
    if family in (AF_INET, AF_INET6):
        if type_ == SOCK_STREAM and protocol in (0, IPPROTO_TCP):
            return "tcp_socket"
        if type_ == SOCK_DGRAM and protocol in (0, IPPROTO_UDP):
            return "udp_socket"
        return "rawip_socket"
    return "socket"


class NetHooks:
    # -- helpers -------------------------------------------------------------------------------
    def _sksec(self: SELinux, sk: Any) -> Any:
        return sk.security[self.slot]

    def _net_audit(self: SELinux, sk: Any, **extra: Any) -> NetAudit:
        if sk.family == AF_UNIX:
            path = sk.addr if isinstance(sk.addr, str | bytes) else None
            return NetAudit(sk_family=AF_UNIX, unix_path=path, **extra)
        laddr, lport = sk.addr if isinstance(sk.addr, tuple) else (None, None)
        faddr, fport = sk.daddr if isinstance(sk.daddr, tuple) else (None, None)
        return NetAudit(sk_family=sk.family, laddr=laddr, lport=lport or None,
                        faddr=faddr, fport=fport or None, **extra)

    def sock_has_perm(self: SELinux, sk: Any, *perms: str, ad: Any = None) -> int:
        sksec = sk.security[self.slot]
        if sksec.sid == self.kernel_sid:
            return 0
        return self.check(self.current_sid(), sksec.sid, sk.sclass, *perms,
                          ad=ad if ad is not None else (lambda: self._net_audit(sk)))

    def _sock_sid(self: SELinux, sclass: str) -> int:
        """``socket_sockcreate_sid``: sockcreate context, else a transition on the class."""
        cur = self.security.current
        tsec = cur.cred.security[self.slot]
        if tsec.sockcreate_sid:
            return tsec.sockcreate_sid
        return self.transition_sid(tsec.sid, tsec.sid, self.cls(sclass))

    # -- lifecycle -----------------------------------------------------------------------------
    def socket_create(self: SELinux, family: int, type_: int, protocol: int, kern: int) -> int:
        if kern:
            return 0
        sclass = socket_type_to_class(family, type_, protocol)
        try:
            newsid = self._sock_sid(sclass)
        except (PolicyError, ValueError):
            return -13
        return self.check(self.current_sid(), newsid, sclass, "create")

    def socket_post_create(self: SELinux, sock: Any, family: int, type_: int, protocol: int,
                           kern: int) -> int:
        sclass = socket_type_to_class(family, type_, protocol)
        sid = self.kernel_sid if kern else self._sock_sid(sclass)
        isec = sock.inode.security[self.slot]
        isec.sid, isec.sclass, isec.initialized = sid, self.cls(sclass), True
        if sock.sk is not None:
            sksec = sock.sk.security[self.slot]
            sksec.sid, sksec.sclass = sid, self.cls(sclass)
        return 0

    def sk_alloc_security(self: SELinux, sk: Any, family: int) -> int:
        sksec = sk.security[self.slot]
        sksec.sid = sksec.peer_sid = self.unlabeled_sid
        sksec.sclass = self.cls("socket")
        return 0

    def sk_clone_security(self: SELinux, sk: Any, newsk: Any) -> None:
        old, new = sk.security[self.slot], newsk.security[self.slot]
        new.sid, new.peer_sid, new.sclass = old.sid, old.peer_sid, old.sclass

    def sock_graft(self: SELinux, sk: Any, parent: Any) -> None:
        sksec = sk.security[self.slot]
        isec = parent.inode.security[self.slot]
        if sksec.sid and sksec.sid != self.unlabeled_sid:
            isec.sid, isec.sclass, isec.initialized = sksec.sid, self.cls(sk.sclass), True

    def socket_socketpair(self: SELinux, socka: Any, sockb: Any) -> int:
        a, b = socka.sk.security[self.slot], sockb.sk.security[self.slot]
        a.peer_sid, b.peer_sid = b.sid, a.sid
        return 0

    # -- operations ----------------------------------------------------------------------------
    def socket_bind(self: SELinux, sock: Any, address: Any) -> int:
        sk = sock.sk
        rc = self.sock_has_perm(sk, "bind")
        if rc or sk.family not in (AF_INET, AF_INET6) or not isinstance(address, tuple):
            return rc
        host, port = address[0], address[1]
        sksec = sk.security[self.slot]
        if port and (port < PROT_SOCK or port < EPHEMERAL_LOW or port > EPHEMERAL_HIGH):
            proto = IPPROTO_TCP if sk.sclass == "tcp_socket" else IPPROTO_UDP
            psid = self.server.port_sid(proto, port)
            ad = NetAudit(sk_family=sk.family, sport=port,
                          saddr=host if host not in ("0.0.0.0", "::", "") else None)
            rc = self.check(sksec.sid, psid, sk.sclass, "name_bind", ad=ad)
            if rc:
                return rc
        try:
            nsid = self.server.node_sid(host or ("0.0.0.0" if sk.family == AF_INET else "::"))
        except ValueError:
            nsid = self.server.initial_sid("node")
        ad = NetAudit(sk_family=sk.family, sport=port or None,
                      saddr=host if host not in ("0.0.0.0", "::", "") else None)
        return self.check(sksec.sid, nsid, sk.sclass, "node_bind", ad=ad)

    def socket_connect(self: SELinux, sock: Any, address: Any) -> int:
        sk = sock.sk
        rc = self.sock_has_perm(sk, "connect")
        if rc or sk.sclass != "tcp_socket" or not isinstance(address, tuple):
            return rc
        port = address[1]
        psid = self.server.port_sid(IPPROTO_TCP, port)
        ad = NetAudit(sk_family=sk.family, dport=port)
        return self.check(sk.security[self.slot].sid, psid, sk.sclass, "name_connect", ad=ad)

    def socket_listen(self: SELinux, sock: Any, backlog: int) -> int:
        return self.sock_has_perm(sock.sk, "listen")

    def socket_accept(self: SELinux, sock: Any, newsock: Any) -> int:
        rc = self.sock_has_perm(sock.sk, "accept")
        if rc:
            return rc
        src = sock.inode.security[self.slot]
        dst = newsock.inode.security[self.slot]
        dst.sid, dst.sclass, dst.initialized = src.sid, src.sclass, True
        return 0

    def _sock_rw(self: SELinux, sk: Any, op: int) -> int:
        """The per-message own-socket check (``sock_has_perm`` read or write), remembered on
        the socket once granted for the fast path of :mod:`lsm.selinux.hooks.fast`."""
        sksec = sk.security[self.slot]
        if sksec.sid == self.kernel_sid:
            return 0
        sid = self.current_sid()
        tclass, bits = self.av(sk.sclass, "write" if op == SOCK_MEMO_SEND else "read")
        ad = sksec.ad
        if ad is None:
            ad = sksec.ad = self._net_audit(sk)
        rc = self.has_perm(sid, sksec.sid, tclass, bits, ad)
        if not rc:
            node = self.memo_node(sid, sksec.sid, tclass, bits)
            if node is not None:
                sksec.memo[op][sid] = node
        return rc

    def socket_sendmsg(self: SELinux, sock: Any, msg: Any, size: int) -> int:
        return self._sock_rw(sock.sk, SOCK_MEMO_SEND)

    def socket_recvmsg(self: SELinux, sock: Any, msg: Any, size: int, flags: int) -> int:
        return self._sock_rw(sock.sk, SOCK_MEMO_RECV)

    def socket_getsockname(self: SELinux, sock: Any) -> int:
        return self.sock_has_perm(sock.sk, "getattr")

    def socket_getpeername(self: SELinux, sock: Any) -> int:
        return self.sock_has_perm(sock.sk, "getattr")

    def socket_getsockopt(self: SELinux, sock: Any, level: int, optname: int) -> int:
        return self.sock_has_perm(sock.sk, "getopt")

    def socket_setsockopt(self: SELinux, sock: Any, level: int, optname: int) -> int:
        return self.sock_has_perm(sock.sk, "setopt")

    def socket_shutdown(self: SELinux, sock: Any, how: int) -> int:
        return self.sock_has_perm(sock.sk, "shutdown")

    # -- AF_UNIX -------------------------------------------------------------------------------
    def unix_stream_connect(self: SELinux, sock: Any, other: Any, newsk: Any) -> int:
        """``connectto`` on the listener's socket SID; label the server-side child socket."""
        sksec = sock.sk.security[self.slot]
        osec = other.security[self.slot]
        ad = NetAudit(sk_family=AF_UNIX,
                      unix_path=other.addr if isinstance(other.addr, str | bytes) else None)
        rc = self.check(sksec.sid, osec.sid, other.sclass, "connectto", ad=ad)
        if rc:
            return rc
        nsec = newsk.security[self.slot]
        nsec.peer_sid = sksec.sid
        nsec.sclass = osec.sclass
        try:
            nsec.sid = self.server.sid_mls_copy(osec.sid, sksec.sid)
        except (PolicyError, ValueError):
            nsec.sid = osec.sid
        sksec.peer_sid = nsec.sid
        return 0

    def unix_may_send(self: SELinux, sock: Any, other: Any) -> int:
        ssec = sock.sk.security[self.slot]
        osec = other.sk.security[self.slot]
        ad = NetAudit(sk_family=AF_UNIX, unix_path=other.sk.addr
                      if isinstance(other.sk.addr, str | bytes) else None)
        return self.check(ssec.sid, osec.sid, other.sk.sclass, "sendto", ad=ad)

    def socket_getpeersec_dgram(self: SELinux, sock: Any, skb: Any, out: list[str]) -> int:
        """``selinux_socket_getpeersec_dgram`` for AF_UNIX: the sending socket's own label
        (the SCM_SECURITY of a message); labeled networking is not modelled."""
        if sock is None or sock.family != AF_UNIX:
            return -ENOPROTOOPT
        sid = sock.sk.security[self.slot].sid if sock.sk is not None else 0
        if not sid:
            return -ENOPROTOOPT
        out.append(self.context(sid))
        return 0

    def socket_getpeersec_stream(self: SELinux, sock: Any, out: list[str]) -> int:
        sk = sock.sk
        sksec = sk.security[self.slot]
        if sk.sclass not in ("unix_stream_socket", "tcp_socket") or \
                sksec.peer_sid in (0, self.unlabeled_sid):
            return -ENOPROTOOPT
        out.append(self.context(sksec.peer_sid))
        return 0
