"""Low-level cursor of the binary policy reader: bounds-checked primitives, ebitmaps, MLS.

:class:`_Cursor` holds the reader's whole state (the image, the position, the current section
and the :class:`PolicyDB` being filled) and the reads every section shares: little-endian u32s,
length-prefixed strings, element counts bounded by the bytes that remain, ebitmaps (with a
memory budget proportional to the file size), MLS levels/ranges and security contexts.  Every
failure is a :class:`BinaryPolicyError` naming the current section and a byte offset.  The
section readers (``binary_symtabs``, ``binary_rules``) and the top-level ``binary._Reader``
build on it; it imports none of them.
"""

from __future__ import annotations

import struct

from lsm.selinux.policy.errors import BinaryPolicyError
from lsm.selinux.ss.policydb import Context, MlsLevel, MlsRange, PolicyDB

_U32 = struct.Struct("<I")
_2U32 = struct.Struct("<II")
_3U32 = struct.Struct("<III")
_4U32 = struct.Struct("<IIII")
_U64 = struct.Struct("<Q")

#: longest symbol name we accept (the kernel has no fixed limit; this bounds allocations)
_MAX_NAME = 1 << 16
#: highest ebitmap bit we accept (type values are u16 in the avtab; 16x headroom)
_MAX_BITS = 1 << 20
#: bitmap bits allowed per byte of policy, on top of a fixed 64 Mbit (8 MB) allowance: real
#: policies use < 10 (Debian's refpolicy 5.3); this bounds the memory corrupt input can claim
_BITS_PER_BYTE = 256
_BITS_FLOOR = 64 * _MAX_BITS


class _BoolLayout:
    """Byte offsets of the boolean states and of every conditional node (its ``cur_state``
    and the first rule of each branch; conditional rules have no extended permissions, so every
    rule is 12 bytes and its ``specified`` u16 sits 6 bytes in)."""

    __slots__ = ("bool_state", "nodes")

    def __init__(self) -> None:
        self.bool_state: dict[int, int] = {}
        self.nodes: list[tuple[int, int, int, int]] = []


class _Cursor:
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
