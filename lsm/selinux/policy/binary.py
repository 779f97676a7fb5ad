"""Reader for kernel binary policies (``policy.NN``), producing a :class:`PolicyDB`.

The layout is the one Linux's ``policydb_read()`` consumes (``security/selinux/ss/policydb.c``,
``avtab.c``, ``conditional.c``, ``ebitmap.c``): all integers little endian, strings as a u32
length followed by the bytes (no terminator), and the sections in this order::

    header (magic, "SE Linux", version, config, sym_num, ocon_num)
    policycaps ebitmap (v22+), permissive ebitmap (v23+)
    8 symbol tables: commons, classes, roles, types, users, booleans, sensitivities, categories
    avtab, conditional list, role_trans, role_allow, filename_trans (v25+)
    ocontexts, genfs, range_trans, type_attr_map (one ebitmap per type)

Supported: kernel policies (magic 0xf97cff8c, "SE Linux") of versions 20..33, MLS or not.

Robustness: every read is bounds-checked and every element count is bounded by the bytes that
remain, so a truncated or corrupt file raises :class:`BinaryPolicyError` naming the section and
the byte offset; it never loops for long or raises anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsm.selinux.policy.errors import BinaryPolicyError
from lsm.selinux.ss.policydb import (
    AVTAB_AUDITDENY,
    AVTAB_AV,
    AVTAB_ENABLED,
    AVTAB_ENABLED_OLD,
    AVTAB_TYPE,
    AVTAB_XPERMS,
    CEXPR_AND,
    CEXPR_ATTR,
    CEXPR_MAXDEPTH,
    CEXPR_NAMES,
    CEXPR_NOT,
    CEXPR_OR,
    CEXPR_XTARGET,
    COND_BOOL,
    COND_EXPR_MAXDEPTH,
    COND_LAST,
    COND_NOT,
    HANDLE_UNKNOWN_MASK,
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
    POLICYDB_CONFIG_MLS,
    POLICYDB_MAGIC,
    POLICYDB_STRING,
    POLICYDB_VERSION_BOUNDARY,
    POLICYDB_VERSION_COMP_FTRANS,
    POLICYDB_VERSION_CONSTRAINT_NAMES,
    POLICYDB_VERSION_DEFAULT_TYPE,
    POLICYDB_VERSION_FILENAME_TRANS,
    POLICYDB_VERSION_INFINIBAND,
    POLICYDB_VERSION_MAX,
    POLICYDB_VERSION_MIN,
    POLICYDB_VERSION_NEW_OBJECT_DEFAULTS,
    POLICYDB_VERSION_PERMISSIVE,
    POLICYDB_VERSION_POLCAP,
    POLICYDB_VERSION_RANGETRANS,
    POLICYDB_VERSION_ROLETRANS,
    POLICYDB_VERSION_VALIDATETRANS,
    POLICYDB_VERSION_XPERMS_IOCTL,
    SYM_NUM,
    TYPEDATUM_PROPERTY_ATTRIBUTE,
    TYPEDATUM_PROPERTY_PRIMARY,
    AvtabData,
    AvtabKey,
    BoolDatum,
    CatDatum,
    ClassDatum,
    CommonDatum,
    CondExpr,
    CondNode,
    Constraint,
    ConstraintExpr,
    Context,
    ExtendedPerms,
    FsCon,
    FsUse,
    Genfs,
    IbEndportCon,
    IbPkeyCon,
    InitialSid,
    MlsLevel,
    MlsRange,
    NetifCon,
    NodeCon,
    PolicyDB,
    PortCon,
    RoleDatum,
    RoleTrans,
    SensDatum,
    SymTab,
    TypeDatum,
    TypeSet,
    UserDatum,
)

__all__ = [
    "is_binary_policy",
    "read_policy",
    "read_policy_file",
    "section_offsets",
    "set_boolean_defaults",
]

_U32 = struct.Struct("<I")
_2U32 = struct.Struct("<II")
_3U32 = struct.Struct("<III")
_4U32 = struct.Struct("<IIII")
_U64 = struct.Struct("<Q")
_AVKEY = struct.Struct("<HHHH")
_XPERM = struct.Struct("<BB8I")
_MAGIC = _U32.pack(POLICYDB_MAGIC)

#: longest symbol name we accept (the kernel has no fixed limit; this bounds allocations)
_MAX_NAME = 1 << 16
#: highest ebitmap bit we accept (type values are u16 in the avtab; 16x headroom)
_MAX_BITS = 1 << 20
#: bitmap bits allowed per byte of policy, on top of a fixed 64 Mbit (8 MB) allowance: real
#: policies use < 10 (Debian's refpolicy 5.3); this bounds the memory corrupt input can claim
_BITS_PER_BYTE = 256
_BITS_FLOOR = 64 * _MAX_BITS


def is_binary_policy(data: bytes | bytearray | memoryview) -> bool:
    """True if ``data`` starts with the kernel policy magic number."""
    return bytes(data[:4]) == _MAGIC


def read_policy_file(path: str | Path) -> PolicyDB:
    """Read the binary policy at ``path``."""
    data = Path(path).read_bytes()
    return read_policy(data)


def section_offsets(data: bytes | bytearray | memoryview) -> list[tuple[str, int]]:
    """The (section, byte offset) where each section of a *valid* policy image starts.

    Used by tests and diagnostics (e.g. to truncate a policy at every section boundary).
    """
    reader = _Reader(data)
    reader.read()
    return reader.marks


def read_policy(data: bytes | bytearray | memoryview) -> PolicyDB:
    """Parse a binary policy image; raise :class:`BinaryPolicyError` if it is not valid."""
    reader = _Reader(memoryview(data).cast("B") if isinstance(data, memoryview) else data)
    try:
        return reader.read()
    except BinaryPolicyError:
        raise
    except (IndexError, KeyError, ValueError, struct.error, OverflowError, RecursionError) as e:
        # A safety net: every read is checked, so reaching this is a reader bug or an
        # inconsistency not caught earlier.  Report it as what it is, a bad policy.
        raise BinaryPolicyError(reader.section, reader.pos, f"inconsistent data ({e})") from e


class _BoolLayout:
    """Byte offsets of the boolean states and of every conditional node (its ``cur_state``
    and the first rule of each branch; conditional rules have no extended permissions, so every
    rule is 12 bytes and its ``specified`` u16 sits 6 bytes in)."""

    __slots__ = ("bool_state", "nodes")

    def __init__(self) -> None:
        self.bool_state: dict[int, int] = {}
        self.nodes: list[tuple[int, int, int, int]] = []


def set_boolean_defaults(data: bytes | bytearray, settings: dict[str, bool]) -> bytes:
    """A copy of the binary policy ``data`` whose booleans default to ``settings``.

    Like libsepol's ``sepol_genbools`` (``setsebool -P``): rewrites each boolean's stored state,
    then re-evaluates every conditional node and rewrites its ``cur_state`` and the
    ``AVTAB_ENABLED`` flag of its rules, so that readers which trust the stored flags (libsepol)
    and readers which re-evaluate (this module, the kernel after a commit) agree.  Raises
    :class:`BinaryPolicyError` for a bad image and ``InvalidSymbol`` for an unknown boolean.
    """
    from lsm.selinux.ss.conditional import cond_evaluate

    reader = _Reader(bytes(data))
    reader.layout = layout = _BoolLayout()
    p = reader.read()
    out = bytearray(data)
    state = [b.state for b in p.bools]
    for name, value in settings.items():
        b = p.lookup_bool(name)
        state[b.value - 1] = bool(value)
        _U32.pack_into(out, layout.bool_state[b.value], int(bool(value)))
    for node, (start, true_at, ntrue, false_at) in zip(p.cond_list, layout.nodes, strict=True):
        new = cond_evaluate(node.expr, state)
        _U32.pack_into(out, start, 1 if new else 0)
        for first, count, enabled in (
            (true_at, ntrue, new is True),
            (false_at, len(node.false_list), new is False),
        ):
            for i in range(count):
                at = first + 12 * i + 6
                spec = struct.unpack_from("<H", out, at)[0]
                spec = spec | AVTAB_ENABLED if enabled else spec & ~AVTAB_ENABLED
                struct.pack_into("<H", out, at, spec)
    return bytes(out)


class _Reader:
    """Cursor over the image with bounds-checked primitive reads."""

    __slots__ = ("aliases", "bit_budget", "buf", "end", "layout", "marks", "mls", "p", "pos",
                 "section", "version")  # fmt: skip

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.buf = data
        self.pos = 0
        self.end = len(data)
        self.bit_budget = _BITS_PER_BYTE * len(data) + _BITS_FLOOR
        self.section = "header"
        #: (section, offset) at each section start, for diagnostics and tests
        self.marks: list[tuple[str, int]] = [("header", 0)]
        self.version = 0
        self.mls = False
        self.p = PolicyDB()
        #: type aliases (name, primary value), bound once the whole type table is read
        self.aliases: list[tuple[str, int]] = []
        #: where the boolean states and conditional flags live (filled only when not None)
        self.layout: _BoolLayout | None = None

    # -- primitives -----------------------------------------------------------------------

    def enter(self, section: str) -> None:
        self.section = section
        self.marks.append((section, self.pos))

    def fail(self, msg: str, offset: int | None = None) -> BinaryPolicyError:
        return BinaryPolicyError(self.section, self.pos if offset is None else offset, msg)

    def need(self, n: int) -> None:
        if self.pos + n > self.end:
            raise self.fail(f"truncated: need {n} bytes, {self.end - self.pos} left")

    def u32(self) -> int:
        pos = self.pos
        if pos + 4 > self.end:
            raise self.fail(f"truncated: need 4 bytes, {self.end - pos} left")
        self.pos = pos + 4
        return _U32.unpack_from(self.buf, pos)[0]

    def u32x2(self) -> tuple[int, int]:
        pos = self.pos
        if pos + 8 > self.end:
            raise self.fail(f"truncated: need 8 bytes, {self.end - pos} left")
        self.pos = pos + 8
        return _2U32.unpack_from(self.buf, pos)

    def u32x3(self) -> tuple[int, int, int]:
        pos = self.pos
        if pos + 12 > self.end:
            raise self.fail(f"truncated: need 12 bytes, {self.end - pos} left")
        self.pos = pos + 12
        return _3U32.unpack_from(self.buf, pos)

    def u32x4(self) -> tuple[int, int, int, int]:
        pos = self.pos
        if pos + 16 > self.end:
            raise self.fail(f"truncated: need 16 bytes, {self.end - pos} left")
        self.pos = pos + 16
        return _4U32.unpack_from(self.buf, pos)

    def u32s(self, n: int) -> tuple[int, ...]:
        self.need(4 * n)
        out = struct.unpack_from(f"<{n}I", self.buf, self.pos)
        self.pos += 4 * n
        return out

    def string(self, length: int, what: str = "name") -> str:
        if length == 0 or length > _MAX_NAME:
            raise self.fail(f"bad {what} length {length}")
        self.need(length)
        raw = bytes(self.buf[self.pos : self.pos + length])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None
        self.pos += length
        return text

    def count(self, n: int, min_size: int, what: str) -> int:
        """Check that ``n`` elements of at least ``min_size`` bytes each can still follow."""
        if n * min_size > self.end - self.pos:
            raise self.fail(f"{what} count {n} exceeds the remaining {self.end - self.pos} bytes")
        return n

    def ebitmap(self) -> int:
        """An ebitmap as an int (bit n set = ebitmap bit n)."""
        start = self.pos
        mapunit, highbit, count = self.u32x3()
        if mapunit != 64:
            raise self.fail(f"ebitmap map size {mapunit} != 64", start)
        if highbit & 63:
            raise self.fail(f"ebitmap high bit {highbit} not a multiple of 64", start)
        if highbit and not count:
            raise self.fail("ebitmap has a high bit but no nodes", start)
        if not count:
            return 0
        if highbit > _MAX_BITS:
            raise self.fail(f"ebitmap high bit {highbit} beyond any symbol table", start)
        # bound the memory all bitmaps together may take by the size of the file
        self.bit_budget -= highbit
        if self.bit_budget < 0:
            raise self.fail("ebitmaps larger than the file can plausibly describe", start)
        self.count(count, 12, "ebitmap node")
        buf = self.buf
        pos = self.pos
        result = 0
        last = -1
        for _ in range(count):
            startbit = _U32.unpack_from(buf, pos)[0]
            word = _U64.unpack_from(buf, pos + 4)[0]
            if startbit & 63 or startbit + 64 > highbit or startbit <= last:
                raise self.fail(f"ebitmap node start bit {startbit} is invalid", pos)
            last = startbit
            result |= word << startbit
            pos += 12
        self.pos = pos
        return result

    def check_values(self, bitmap: int, limit: int, what: str) -> int:
        """Reject a value bitmap naming values beyond ``limit`` symbols."""
        if bitmap >> limit:
            raise self.fail(f"{what} names a value beyond the {limit} defined")
        return bitmap

    # -- MLS ------------------------------------------------------------------------------

    def mls_level(self) -> MlsLevel:
        sens = self.u32()
        cats = self.ebitmap()
        return MlsLevel(sens, cats)

    def mls_range(self) -> MlsRange:
        items = self.u32()
        if items == 0 or items > 2:
            raise self.fail(f"MLS range has {items} levels (1 or 2 expected)")
        sens = self.u32s(items)
        low_cats = self.ebitmap()
        low = MlsLevel(sens[0], low_cats)
        if items == 1:
            return MlsRange(low, low)
        return MlsRange(low, MlsLevel(sens[1], self.ebitmap()))

    def context(self) -> Context:
        user, role, type_ = self.u32x3()
        rng = self.mls_range()
        p = self.p
        if not (0 < user <= p.users.nprim and 0 < role <= p.roles.nprim):
            raise self.fail(f"context names user {user} / role {role} not in the policy")
        if not 0 < type_ <= p.types.nprim:
            raise self.fail(f"context names type {type_} not in the policy")
        if not self.mls:
            return Context(user, role, type_, None)
        self.check_range(rng)
        return Context(user, role, type_, rng)

    def check_range(self, rng: MlsRange) -> None:
        nsens = self.p.levels.nprim
        ncats = self.p.cats.nprim
        for lvl in (rng.low, rng.high):
            if not 0 < lvl.sens <= nsens:
                raise self.fail(f"MLS level names sensitivity {lvl.sens} not in the policy")
            self.check_values(lvl.cats, ncats, "MLS level")

    # -- top level ------------------------------------------------------------------------

    def read(self) -> PolicyDB:
        p = self.p
        self.header()
        self.enter("symbol tables")
        self.symtabs()
        self.enter("avtab")
        self.avtab()
        self.enter("conditional rules")
        self.cond_list()
        self.enter("role_transition")
        self.role_trans()
        self.enter("role allow")
        self.role_allow()
        if self.version >= POLICYDB_VERSION_FILENAME_TRANS:
            self.enter("filename transitions")
            self.filename_trans()
        self.enter("ocontexts")
        self.ocontexts()
        self.enter("genfs")
        self.genfs()
        self.enter("range_transition")
        self.range_trans()
        self.enter("type_attr_map")
        ntypes = p.types.nprim
        self.count(ntypes, 12, "type_attr_map")
        tam = []
        for _ in range(ntypes):
            tam.append(self.check_values(self.ebitmap(), ntypes, "type attribute map"))
        p.type_attr_map = tam
        if self.pos != self.end:
            raise self.fail(f"{self.end - self.pos} unexpected bytes after the policy")
        self.enter("index")
        return p.index()

    def header(self) -> None:
        p = self.p
        magic, length = self.u32x2()
        if magic != POLICYDB_MAGIC:
            raise self.fail(f"bad magic 0x{magic:08x} (not a kernel binary policy)", 0)
        if length != len(POLICYDB_STRING):
            raise self.fail(f"bad identifier length {length}", 4)
        ident = self.string(length, "identifier")
        if ident != POLICYDB_STRING:
            raise self.fail(f"identifier {ident!r} is not {POLICYDB_STRING!r}", 8)
        vpos = self.pos
        version, config, sym_num, ocon_num = self.u32x4()
        if not POLICYDB_VERSION_MIN <= version <= POLICYDB_VERSION_MAX:
            raise self.fail(
                f"unsupported policy version {version} (this reader handles "
                f"{POLICYDB_VERSION_MIN}..{POLICYDB_VERSION_MAX})",
                vpos,
            )
        self.version = p.version = version
        self.mls = p.mls = bool(config & POLICYDB_CONFIG_MLS)
        p.handle_unknown = config & HANDLE_UNKNOWN_MASK
        want_ocon = 9 if version >= POLICYDB_VERSION_INFINIBAND else 7
        if sym_num != SYM_NUM or ocon_num != want_ocon:
            raise self.fail(
                f"table counts {sym_num}/{ocon_num} do not match version {version} "
                f"({SYM_NUM}/{want_ocon})",
                vpos + 8,
            )
        if version >= POLICYDB_VERSION_POLCAP:
            self.enter("policy capabilities")
            p.policycaps = self.ebitmap()
        if version >= POLICYDB_VERSION_PERMISSIVE:
            self.enter("permissive map")
            p.permissive_map = self.ebitmap()

    # -- symbol tables ----------------------------------------------------------------------

    def symtabs(self) -> None:
        p = self.p
        names = ("commons", "classes", "roles", "types", "users", "booleans", "sensitivities",
                 "categories")  # fmt: skip
        readers: tuple[Callable[[Any], None], ...] = (
            self.common, self.klass, self.role, self.type_, self.user, self.boolean, self.sens,
            self.cat,
        )  # fmt: skip
        tables: tuple[SymTab, ...] = (p.commons, p.classes, p.roles, p.types, p.users, p.bools,
                                      p.levels, p.cats)  # fmt: skip
        for name, reader, table in zip(names, readers, tables, strict=True):
            self.enter(f"symtab {name}")
            nprim, nel = self.u32x2()
            self.count(nel, 8, name)
            old_types = name == "types" and self.version < POLICYDB_VERSION_BOUNDARY
            # role attributes take role values but are not written: the kernel accepts the holes
            if nprim > nel and name not in ("sensitivities", "roles") and not old_types:
                raise self.fail(f"{nprim} primary values but only {nel} entries")
            if name == "types":
                self.count(nprim, 12, "type")  # each type has a type_attr_map ebitmap at the end
            table.nprim = nprim
            for _ in range(nel):
                reader(table)
            if not self.mls and name in ("sensitivities", "categories") and nel:
                raise self.fail("MLS symbols in a non-MLS policy")
            if name == "types":
                for alias, value in self.aliases:
                    primary = table.at(value)
                    if primary is None:
                        raise self.fail(f"type alias {alias} of undefined value {value}")
                    table.names[alias] = primary
            if name == "types" and self.version < POLICYDB_VERSION_BOUNDARY:
                # before v24 attributes are not written out: their values are holes
                for v in range(1, nprim + 1):
                    if table.at(v) is None:
                        if v > len(table.by_value):
                            table.by_value.extend([None] * (v - len(table.by_value)))
                        table.by_value[v - 1] = TypeDatum(f"<attribute {v}>", v, attribute=True)
            if name == "roles" and nprim > nel:
                # role attributes take values but are not written (the kernel keeps the holes)
                from lsm.selinux.ss.policydb import RoleDatum

                for v in range(1, nprim + 1):
                    if table.at(v) is None:
                        if v > len(table.by_value):
                            table.by_value.extend([None] * (v - len(table.by_value)))
                        table.by_value[v - 1] = RoleDatum(f"<role attribute {v}>", v)
            # every primary value must be defined exactly once
            # (the sensitivity table's nprim counts aliases too, as libsepol writes it)
            if name in ("sensitivities", "categories"):
                if any(d is None for d in table.by_value):
                    raise self.fail(f"the {name} values are not contiguous")
            elif len(table.by_value) != nprim or any(d is None for d in table.by_value):
                raise self.fail(f"the {name} values are not 1..{nprim}")
        self.enter("symbol table consistency")
        # sensitivities: check levels name categories that exist
        ncats = p.cats.nprim
        for s in p.levels.names.values():
            self.check_values(s.level.cats, ncats, f"sensitivity {s.name}")
        nroles, ntypes = p.roles.nprim, p.types.nprim
        for r in p.roles:
            self.check_values(r.dominates, nroles, f"role {r.name} dominance")
            self.check_values(r.types, ntypes, f"role {r.name} types")
            if r.bounds > nroles:
                raise self.fail(f"role {r.name} bounded by unknown role {r.bounds}")
        for t in p.types:
            if t.bounds > ntypes:
                raise self.fail(f"type {t.name} bounded by unknown type {t.bounds}")
        for u in p.users:
            self.check_values(u.roles, nroles, f"user {u.name} roles")
            if u.bounds > p.users.nprim:
                raise self.fail(f"user {u.name} bounded by unknown user {u.bounds}")
            if u.range is not None:
                self.check_range(u.range)
            if u.dfltlevel is not None:
                self.check_range(MlsRange(u.dfltlevel, u.dfltlevel))
        for c in p.classes:
            for cons in c.constraints + c.validatetrans:
                for e in cons.expr:
                    if e.expr_type == CEXPR_NAMES:
                        limit = ntypes
                        if e.attr & 1:
                            limit = p.users.nprim
                        elif e.attr & 2:
                            limit = nroles
                        self.check_values(e.names, limit, f"constraint on class {c.name}")

    def _key(self, length: int) -> str:
        return self.string(length)

    def _perms(self, nel: int, limit: int) -> dict[str, int]:
        self.count(nel, 8, "permission")
        perms: dict[str, int] = {}
        for _ in range(nel):
            length, value = self.u32x2()
            name = self.string(length, "permission name")
            if not 0 < value <= limit or value > 32:
                raise self.fail(f"permission {name} has value {value}")
            perms[name] = value
        return perms

    def common(self, table: SymTab[CommonDatum]) -> None:
        length, value, nprim, nel = self.u32x4()
        name = self._key(length)
        perms = self._perms(nel, nprim)
        if not 0 < value <= table.nprim:
            raise self.fail(f"common {name} has value {value}")
        table.add(name, value, CommonDatum(name, value, perms))

    def constraints(self, n: int, allow_xtarget: bool) -> list[Constraint]:
        out: list[Constraint] = []
        self.count(n, 8, "constraint")
        for _ in range(n):
            perms, nexpr = self.u32x2()
            self.count(nexpr, 12, "constraint expression")
            exprs: list[ConstraintExpr] = []
            depth = 0
            for _ in range(nexpr):
                epos = self.pos
                etype, attr, op = self.u32x3()
                names = 0
                tset = None
                if etype == CEXPR_NOT:
                    if depth < 1:
                        raise self.fail("constraint expression stack underflow", epos)
                elif etype in (CEXPR_AND, CEXPR_OR):
                    if depth < 2:
                        raise self.fail("constraint expression stack underflow", epos)
                    depth -= 1
                elif etype == CEXPR_ATTR:
                    if depth == CEXPR_MAXDEPTH:
                        raise self.fail("constraint expression too deep", epos)
                    depth += 1
                elif etype == CEXPR_NAMES:
                    if not allow_xtarget and attr & CEXPR_XTARGET:
                        raise self.fail("u3/r3/t3 in a constraint", epos)
                    if depth == CEXPR_MAXDEPTH:
                        raise self.fail("constraint expression too deep", epos)
                    depth += 1
                    names = self.ebitmap()
                    if self.version >= POLICYDB_VERSION_CONSTRAINT_NAMES:
                        types = self.ebitmap()
                        negset = self.ebitmap()
                        flags = self.u32()
                        tset = TypeSet(types, negset, flags)
                else:
                    raise self.fail(f"unknown constraint expression type {etype}", epos)
                exprs.append(ConstraintExpr(etype, attr, op, names, tset))
            if depth != 1:
                raise self.fail("constraint expression does not reduce to one value")
            out.append(Constraint(perms, tuple(exprs)))
        return out

    def klass(self, table: SymTab[ClassDatum]) -> None:
        length, length2, value, nprim = self.u32x4()
        nel, ncons = self.u32x2()
        name = self._key(length)
        common = None
        if length2:
            cname = self.string(length2, "common name")
            common = self.p.commons.get(cname)
            if common is None:
                raise self.fail(f"class {name} inherits unknown common {cname}")
        if nprim > 32:
            raise self.fail(f"class {name} has {nprim} permissions (at most 32)")
        perms = self._perms(nel, nprim)
        if not 0 < value <= table.nprim:
            raise self.fail(f"class {name} has value {value}")
        cons = self.constraints(ncons, False)
        vtrans: list[Constraint] = []
        if self.version >= POLICYDB_VERSION_VALIDATETRANS:
            vtrans = self.constraints(self.u32(), True)
        cls = ClassDatum(name, value, common, perms, cons, vtrans)
        if self.version >= POLICYDB_VERSION_NEW_OBJECT_DEFAULTS:
            cls.default_user, cls.default_role, cls.default_range = self.u32x3()
        if self.version >= POLICYDB_VERSION_DEFAULT_TYPE:
            cls.default_type = self.u32()
        table.add(name, value, cls)

    def role(self, table: SymTab[RoleDatum]) -> None:
        bounds = 0
        if self.version >= POLICYDB_VERSION_BOUNDARY:
            length, value, bounds = self.u32x3()
        else:
            length, value = self.u32x2()
        name = self._key(length)
        dominates = self.ebitmap()
        types = self.ebitmap()
        if not 0 < value <= table.nprim:
            raise self.fail(f"role {name} has value {value}")
        if (name == "object_r") != (value == 1):
            raise self.fail(f"role {name} has value {value} (object_r must be 1)")
        table.add(name, value, RoleDatum(name, value, bounds, dominates, types))

    def type_(self, table: SymTab[TypeDatum]) -> None:
        if self.version >= POLICYDB_VERSION_BOUNDARY:
            length, value, props, bounds = self.u32x4()
            primary = bool(props & TYPEDATUM_PROPERTY_PRIMARY)
            attribute = bool(props & TYPEDATUM_PROPERTY_ATTRIBUTE)
        else:
            length, value, prim = self.u32x3()
            primary, attribute, bounds = bool(prim), False, 0
        name = self._key(length)
        if not 0 < value <= table.nprim:
            raise self.fail(f"type {name} has value {value}")
        if primary:
            table.add(name, value, TypeDatum(name, value, True, attribute, bounds))
        else:
            # an alias: bind the name to the primary's datum once it is known
            self.aliases.append((name, value))

    def user(self, table: SymTab[UserDatum]) -> None:
        bounds = 0
        if self.version >= POLICYDB_VERSION_BOUNDARY:
            length, value, bounds = self.u32x3()
        else:
            length, value = self.u32x2()
        name = self._key(length)
        roles = self.ebitmap()
        rng = self.mls_range()
        dflt = self.mls_level()
        if not 0 < value <= table.nprim:
            raise self.fail(f"user {name} has value {value}")
        if not self.mls:
            rng, dflt = None, None  # type: ignore[assignment]
        table.add(name, value, UserDatum(name, value, bounds, roles, rng, dflt))

    def boolean(self, table: SymTab[BoolDatum]) -> None:
        start = self.pos
        value, state, length = self.u32x3()
        if self.layout is not None:
            self.layout.bool_state[value] = start + 4
        name = self._key(length)
        if state > 1:
            raise self.fail(f"boolean {name} has state {state}")
        if not 0 < value <= table.nprim:
            raise self.fail(f"boolean {name} has value {value}")
        table.add(name, value, BoolDatum(name, value, bool(state)))

    def sens(self, table: SymTab[SensDatum]) -> None:
        length, isalias = self.u32x2()
        name = self._key(length)
        level = self.mls_level()
        if not 0 < level.sens <= table.nprim:
            raise self.fail(f"sensitivity {name} has value {level.sens}")
        table.add(name, level.sens, SensDatum(name, level, bool(isalias)), primary=not isalias)

    def cat(self, table: SymTab[CatDatum]) -> None:
        length, value, isalias = self.u32x3()
        name = self._key(length)
        if not 0 < value <= table.nprim:
            raise self.fail(f"category {name} has value {value}")
        table.add(name, value, CatDatum(name, value, bool(isalias)), primary=not isalias)

    # -- rules ----------------------------------------------------------------------------

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
