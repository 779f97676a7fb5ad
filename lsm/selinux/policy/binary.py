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

This module holds the public entry points, the header and the section order (``_Reader``);
the reader's parts live beside it, one job each: ``binary_cursor`` (bounds-checked primitives,
ebitmaps, MLS fields, contexts), ``binary_symtabs`` (the eight symbol tables) and
``binary_rules`` (avtab, conditionals, role/filename/range transitions, ocontexts, genfs).
"""

from __future__ import annotations

import struct
from pathlib import Path

# the reader is split by section (cursor, symbol tables, rules); the private names that moved
# out stay importable from here
from lsm.selinux.policy.binary_cursor import (  # noqa: F401 - re-exported
    _2U32,
    _3U32,
    _4U32,
    _BITS_FLOOR,
    _BITS_PER_BYTE,
    _MAX_BITS,
    _MAX_NAME,
    _U32,
    _U64,
    _BoolLayout,
)
from lsm.selinux.policy.binary_rules import _AVKEY, _XPERM, _RuleReader  # noqa: F401 - re-exported
from lsm.selinux.policy.binary_symtabs import _SymtabReader
from lsm.selinux.policy.errors import BinaryPolicyError
from lsm.selinux.ss.policydb import (
    AVTAB_ENABLED,
    HANDLE_UNKNOWN_MASK,
    POLICYDB_CONFIG_MLS,
    POLICYDB_MAGIC,
    POLICYDB_STRING,
    POLICYDB_VERSION_FILENAME_TRANS,
    POLICYDB_VERSION_INFINIBAND,
    POLICYDB_VERSION_MAX,
    POLICYDB_VERSION_MIN,
    POLICYDB_VERSION_PERMISSIVE,
    POLICYDB_VERSION_POLCAP,
    SYM_NUM,
    PolicyDB,
)

__all__ = [
    "is_binary_policy",
    "read_policy",
    "read_policy_file",
    "section_offsets",
    "set_boolean_defaults",
]

_MAGIC = _U32.pack(POLICYDB_MAGIC)


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


class _Reader(_SymtabReader, _RuleReader):
    """The whole reader: the header, the section order, and the closing type_attr_map.

    The cursor primitives live in ``binary_cursor``, the symbol tables in ``binary_symtabs``
    and the sections after them in ``binary_rules``."""

    __slots__ = ()

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
