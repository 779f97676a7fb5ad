"""Rule and labelling sections of the binary policy reader: everything after the symbol tables.

:class:`_RuleReader` reads the access vector table, the conditional (boolean) rules, role
transitions and allows, filename transitions, the object contexts (initial SIDs, filesystems,
ports, interfaces, nodes, fs_use, InfiniBand), genfs and range transitions, checking every
value against the symbol tables read before.  It only adds methods to :class:`_Cursor`; the
top-level reader in ``binary`` mixes it in.
"""

from __future__ import annotations

import struct

from lsm.selinux.policy.binary_cursor import _U32, _Cursor
from lsm.selinux.ss.policydb import (
    AVTAB_AUDITDENY,
    AVTAB_AV,
    AVTAB_ENABLED,
    AVTAB_ENABLED_OLD,
    AVTAB_TYPE,
    AVTAB_XPERMS,
    COND_BOOL,
    COND_EXPR_MAXDEPTH,
    COND_LAST,
    COND_NOT,
    INITIAL_SID_NAMES,
    OCON_FS,
    OCON_FSUSE,
    OCON_IBENDPORT,
    OCON_IBPKEY,
    OCON_ISID,
    OCON_NETIF,
    OCON_NODE,
    OCON_NODE6,
    OCON_PORT,
    POLICYDB_VERSION_COMP_FTRANS,
    POLICYDB_VERSION_INFINIBAND,
    POLICYDB_VERSION_RANGETRANS,
    POLICYDB_VERSION_ROLETRANS,
    POLICYDB_VERSION_XPERMS_IOCTL,
    AvtabData,
    AvtabKey,
    CondExpr,
    CondNode,
    ExtendedPerms,
    FsCon,
    FsUse,
    Genfs,
    IbEndportCon,
    IbPkeyCon,
    InitialSid,
    NetifCon,
    NodeCon,
    PortCon,
    RoleTrans,
)

_AVKEY = struct.Struct("<HHHH")
_XPERM = struct.Struct("<BB8I")


class _RuleReader(_Cursor):
    """The avtab, conditional, role, filename-transition and object-context sections."""

    __slots__ = ()

    def avtab_items(self, n: int, conditional: bool) -> list[tuple[AvtabKey, AvtabData]]:
        """Read ``n`` avtab items (new format, policy v20+)."""
        self.count(n, 12, "avtab entry")
        buf = self.buf
        end = self.end
        pos = self.pos
        ntypes = self.p.types.nprim
        nclasses = self.p.classes.nprim
        xperms_ok = self.version >= POLICYDB_VERSION_XPERMS_IOCTL and not conditional
        out: list[tuple[AvtabKey, AvtabData]] = []
        append = out.append
        unpack_key = _AVKEY.unpack_from
        unpack_u32 = _U32.unpack_from
        for _ in range(n):
            if pos + 12 > end:
                self.pos = pos
                raise self.fail(f"truncated avtab entry: {end - pos} bytes left")
            stype, ttype, tclass, spec = unpack_key(buf, pos)
            kind = spec & ~(AVTAB_ENABLED | AVTAB_ENABLED_OLD)
            if not (0 < stype <= ntypes and 0 < ttype <= ntypes and 0 < tclass <= nclasses):
                self.pos = pos
                raise self.fail(f"avtab entry names type/class out of range ({stype},"
                                f" {ttype}, {tclass})")  # fmt: skip
            if kind & AVTAB_XPERMS:
                if not xperms_ok or kind not in (0x100, 0x200, 0x400):
                    self.pos = pos
                    raise self.fail(f"avtab entry has unexpected extended kind 0x{spec:x}")
                if pos + 8 + 34 > end:
                    self.pos = pos
                    raise self.fail("truncated extended-permission entry")
                xs, driver, *words = _XPERM.unpack_from(buf, pos + 8)
                perms = 0
                for i, w in enumerate(words):
                    perms |= w << (32 * i)
                pos += 42
                append(((stype, ttype, tclass, kind), (ExtendedPerms(xs, driver, perms),)))
                continue
            if kind not in (1, 2, 4, 0x10, 0x20, 0x40):
                self.pos = pos
                raise self.fail(f"avtab entry has invalid kind 0x{spec:x}")
            data = unpack_u32(buf, pos + 8)[0]
            if kind & AVTAB_TYPE and not 0 < data <= ntypes:
                self.pos = pos
                raise self.fail(f"type rule names new type {data} out of range")
            pos += 12
            append(((stype, ttype, tclass, kind), data))
        self.pos = pos
        return out

    def avtab(self) -> None:
        n = self.u32()
        table = self.p.avtab
        for key, data in self.avtab_items(n, False):
            old = table.get(key)
            if old is None:
                table[key] = data
            elif isinstance(old, tuple) and isinstance(data, tuple):
                table[key] = old + data  # several ioctl drivers for one key
            elif key[3] & AVTAB_AV and isinstance(old, int) and isinstance(data, int):
                table[key] = (old & data) if key[3] == AVTAB_AUDITDENY else (old | data)
            else:
                raise self.fail(f"duplicate avtab entry {key}")

    def cond_list(self) -> None:
        n = self.u32()
        self.count(n, 16, "conditional node")
        nbools = self.p.bools.nprim
        for _ in range(n):
            node_start = self.pos
            cur_state, nexpr = self.u32x2()
            self.count(nexpr, 8, "conditional expression")
            exprs: list[CondExpr] = []
            depth = 0
            for _ in range(nexpr):
                epos = self.pos
                etype, boolean = self.u32x2()
                if not 0 < etype <= COND_LAST:
                    raise self.fail(f"conditional expression type {etype} invalid", epos)
                if etype == COND_BOOL:
                    if not 0 < boolean <= nbools:
                        raise self.fail(f"conditional names boolean {boolean}", epos)
                    depth += 1
                    if depth > COND_EXPR_MAXDEPTH:
                        raise self.fail("conditional expression too deep", epos)
                elif etype == COND_NOT:
                    if depth < 1:
                        raise self.fail("conditional expression stack underflow", epos)
                else:
                    if depth < 2:
                        raise self.fail("conditional expression stack underflow", epos)
                    depth -= 1
                exprs.append(CondExpr(etype, boolean))
            if depth != 1:
                raise self.fail("conditional expression does not reduce to one value")
            true_at = self.pos + 4
            true_list = self.avtab_items(self.u32(), True)
            false_at = self.pos + 4
            false_list = self.avtab_items(self.u32(), True)
            if self.layout is not None:
                self.layout.nodes.append((node_start, true_at, len(true_list), false_at))
            self.p.cond_list.append(CondNode(tuple(exprs), true_list, false_list, bool(cur_state)))

    def role_trans(self) -> None:
        p = self.p
        n = self.u32()
        with_class = self.version >= POLICYDB_VERSION_ROLETRANS
        self.count(n, 16 if with_class else 12, "role_transition")
        nroles, ntypes, ncls = p.roles.nprim, p.types.nprim, p.classes.nprim
        for _ in range(n):
            if with_class:
                role, type_, new_role, tclass = self.u32x4()
            else:
                role, type_, new_role = self.u32x3()
                proc = p.classes.get("process")
                tclass = proc.value if proc is not None else 0
            if not (0 < role <= nroles and 0 < new_role <= nroles and 0 < type_ <= ntypes
                    and 0 < tclass <= ncls):  # fmt: skip
                raise self.fail("role_transition names a value out of range")
            p.role_trans.append(RoleTrans(role, type_, tclass, new_role))

    def role_allow(self) -> None:
        n = self.u32()
        self.count(n, 8, "role allow")
        nroles = self.p.roles.nprim
        for _ in range(n):
            role, new_role = self.u32x2()
            if not (0 < role <= nroles and 0 < new_role <= nroles):
                raise self.fail("role allow names a role out of range")
            self.p.role_allow.add((role, new_role))

    def filename_trans(self) -> None:
        p = self.p
        n = self.u32()
        ntypes, ncls = p.types.nprim, p.classes.nprim
        table = p.filename_trans
        if self.version < POLICYDB_VERSION_COMP_FTRANS:
            self.count(n, 20, "filename transition")
            for _ in range(n):
                name = self.string(self.u32(), "file name")
                stype, ttype, tclass, otype = self.u32x4()
                if not (0 < stype <= ntypes and 0 < ttype <= ntypes and 0 < otype <= ntypes
                        and 0 < tclass <= ncls):  # fmt: skip
                    raise self.fail("filename transition names a value out of range")
                table[(stype, ttype, tclass, name)] = otype
            return
        self.count(n, 17, "filename transition")
        # expanded (stype, ttype, class, name) entries allowed: real policies stay far below one
        # per byte of policy; this bounds what a corrupt source-type bitmap can make us allocate
        budget = self.end + 100_000
        for _ in range(n):
            name = self.string(self.u32(), "file name")
            ttype, tclass, ndatum = self.u32x3()
            if not (0 < ttype <= ntypes and 0 < tclass <= ncls):
                raise self.fail("filename transition names a value out of range")
            if ndatum == 0:
                raise self.fail("filename transition without a datum")
            self.count(ndatum, 16, "filename transition datum")
            for _ in range(ndatum):
                stypes = self.check_values(self.ebitmap(), ntypes, "filename transition")
                otype = self.u32()
                if not 0 < otype <= ntypes:
                    raise self.fail("filename transition names a new type out of range")
                budget -= stypes.bit_count()
                if budget < 0:
                    raise self.fail("filename transitions expand beyond what the file can hold")
                while stypes:
                    low = stypes & -stypes
                    table[(low.bit_length(), ttype, tclass, name)] = otype
                    stypes ^= low

    # -- object contexts ----------------------------------------------------------------

    def ocontexts(self) -> None:
        p = self.p
        nocon = 9 if self.version >= POLICYDB_VERSION_INFINIBAND else 7
        for kind in range(nocon):
            n = self.u32()
            self.count(n, 16, "ocontext")
            for _ in range(n):
                if kind == OCON_ISID:
                    sid = self.u32()
                    ctx = self.context()
                    name = INITIAL_SID_NAMES.get(sid, f"sid{sid}")
                    if sid == 0:
                        raise self.fail("initial SID 0")
                    p.isids[sid] = InitialSid(sid, name, ctx)
                elif kind in (OCON_FS, OCON_NETIF):
                    name = self.string(self.u32(), "name")
                    c0 = self.context()
                    c1 = self.context()
                    if kind == OCON_FS:
                        p.fscons.append(FsCon(name, c0, c1))
                    else:
                        p.netifcons.append(NetifCon(name, c0, c1))
                elif kind == OCON_PORT:
                    proto, low, high = self.u32x3()
                    if low > high or high > 0xFFFF:
                        raise self.fail(f"port range {low}-{high} invalid")
                    p.portcons.append(PortCon(proto, low, high, self.context()))
                elif kind == OCON_NODE:
                    self.need(8)
                    addr = int.from_bytes(self.buf[self.pos : self.pos + 4], "big")
                    mask = int.from_bytes(self.buf[self.pos + 4 : self.pos + 8], "big")
                    self.pos += 8
                    p.nodecons.append(NodeCon(addr, mask, self.context()))
                elif kind == OCON_FSUSE:
                    behavior, length = self.u32x2()
                    name = self.string(length, "filesystem name")
                    p.fs_uses.append(FsUse(name, behavior, self.context()))
                elif kind == OCON_NODE6:
                    self.need(32)
                    addr = int.from_bytes(self.buf[self.pos : self.pos + 16], "big")
                    mask = int.from_bytes(self.buf[self.pos + 16 : self.pos + 32], "big")
                    self.pos += 32
                    p.nodecons.append(NodeCon(addr, mask, self.context(), ipv6=True))
                elif kind == OCON_IBPKEY:
                    self.need(8)
                    prefix = int.from_bytes(self.buf[self.pos : self.pos + 8], "big")
                    self.pos += 8
                    low, high = self.u32x2()
                    if low > 0xFFFF or high > 0xFFFF or low > high:
                        raise self.fail(f"pkey range {low}-{high} invalid")
                    p.ibpkeycons.append(IbPkeyCon(prefix, low, high, self.context()))
                elif kind == OCON_IBENDPORT:
                    length, port = self.u32x2()
                    name = self.string(length, "device name")
                    if port == 0 or port > 0xFF:
                        raise self.fail(f"ibendport {port} invalid")
                    p.ibendportcons.append(IbEndportCon(name, port, self.context()))

    def genfs(self) -> None:
        p = self.p
        n = self.u32()
        self.count(n, 8, "genfs filesystem")
        for _ in range(n):
            fstype = self.string(self.u32(), "filesystem name")
            if fstype in p.genfs:
                raise self.fail(f"duplicate genfs entry for {fstype}")
            entries: list[Genfs] = []
            n2 = self.u32()
            self.count(n2, 20, "genfs path")
            for _ in range(n2):
                path = self.string(self.u32(), "path")
                sclass = self.u32()
                if sclass > p.classes.nprim:
                    raise self.fail(f"genfs class {sclass} out of range")
                entries.append(Genfs(fstype, path, sclass, self.context()))
            p.genfs[fstype] = entries

    def range_trans(self) -> None:
        p = self.p
        n = self.u32()
        with_class = self.version >= POLICYDB_VERSION_RANGETRANS
        self.count(n, 12, "range_transition")
        proc = p.classes.get("process")
        ntypes, ncls = p.types.nprim, p.classes.nprim
        for _ in range(n):
            if with_class:
                stype, ttype, tclass = self.u32x3()
            else:
                stype, ttype = self.u32x2()
                tclass = proc.value if proc else 0
            rng = self.mls_range()
            if not (0 < stype <= ntypes and 0 < ttype <= ntypes and 0 < tclass <= ncls):
                raise self.fail("range_transition names a value out of range")
            if not self.mls:
                raise self.fail("range_transition in a non-MLS policy")
            self.check_range(rng)
            p.range_trans[(stype, ttype, tclass)] = rng
