"""The SID table: security identifiers <-> contexts (``security/selinux/ss/sidtab.c``).

Initial SIDs keep their fixed numbers (1..27, from the policy's ``sid`` statements); other
contexts get SIDs from a counter, in the order they are first seen (deterministic).
"""

from __future__ import annotations

from lsm.selinux.ss.policydb import Context, PolicyDB

#: the first SID handed out for a non-initial context (``SECINITSID_NUM + 1``)
SECINITSID_NUM = 27


class SidTab:
    """Bidirectional map between SIDs (ints > 0) and :class:`Context` values."""

    __slots__ = ("_by_context", "_by_sid", "_next")

    def __init__(self, p: PolicyDB) -> None:
        self._by_sid: dict[int, Context] = {}
        self._by_context: dict[Context, int] = {}
        for sid in sorted(p.isids):
            ctx = p.isids[sid].context
            self._by_sid[sid] = ctx
            self._by_context.setdefault(ctx, sid)
        self._next = max([SECINITSID_NUM, *p.isids]) + 1

    def context_to_sid(self, ctx: Context) -> int:
        """The SID of ``ctx``, allocating one if it is new."""
        sid = self._by_context.get(ctx)
        if sid is None:
            sid = self._next
            self._next += 1
            self._by_context[ctx] = sid
            self._by_sid[sid] = ctx
        return sid

    def search(self, sid: int) -> Context | None:
        """The context of ``sid`` or None."""
        return self._by_sid.get(sid)

    def __len__(self) -> int:
        return len(self._by_sid)
