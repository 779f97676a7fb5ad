"""The SID table: security identifiers <-> contexts (``security/selinux/ss/sidtab.c``).

Initial SIDs keep their fixed numbers (1..27, from the policy's ``sid`` statements); other
contexts get SIDs from a counter, in the order they are first seen (deterministic).

After a policy reload a SID keeps its number (``security_load_policy`` converts the table): its
context is carried over into the new policy, or, when the new policy no longer accepts it, kept
as *invalid* text: such a SID is printed with its old text but decided as ``unlabeled``.
"""

from __future__ import annotations

from collections.abc import Iterator

from lsm.selinux.policy.errors import InvalidContext
from lsm.selinux.ss.context import format_context, parse_context
from lsm.selinux.ss.mls import format_range
from lsm.selinux.ss.policydb import Context, PolicyDB

#: the first SID handed out for a non-initial context (``SECINITSID_NUM + 1``)
SECINITSID_NUM = 27
SECINITSID_UNLABELED = 3


class SidTab:
    """Bidirectional map between SIDs (ints > 0) and :class:`Context` values."""

    __slots__ = ("_by_context", "_by_sid", "_invalid", "_next")

    def __init__(self, p: PolicyDB) -> None:
        self._by_sid: dict[int, Context] = {}
        self._by_context: dict[Context, int] = {}
        #: SIDs whose context the current policy rejects: sid -> the context's text
        self._invalid: dict[int, str] = {}
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
        """The context of ``sid`` or None (for an invalid SID: None, see :meth:`invalid`)."""
        return self._by_sid.get(sid)

    def invalid(self, sid: int) -> str | None:
        """The text of an invalid SID's context (None if the SID is valid or unknown)."""
        return self._invalid.get(sid)

    def items(self) -> Iterator[tuple[int, Context | str]]:
        """Every (sid, context) pair; invalid SIDs give their context text."""
        yield from self._by_sid.items()
        yield from self._invalid.items()

    def insert(self, sid: int, ctx: Context) -> None:
        """Bind ``sid`` to ``ctx`` (policy reload: SIDs keep their numbers)."""
        self._by_sid[sid] = ctx
        self._by_context.setdefault(ctx, sid)
        self._next = max(self._next, sid + 1)

    def insert_invalid(self, sid: int, text: str) -> None:
        """Keep ``sid`` with a context the policy rejects, as text."""
        self._invalid[sid] = text
        self._next = max(self._next, sid + 1)

    def convert_from(self, old: SidTab, old_p: PolicyDB, new_p: PolicyDB) -> None:
        """Carry the SIDs of ``old`` (under ``old_p``) into this table (under ``new_p``), as
        the kernel's ``convert_context`` does on a policy load: by name, dropping the range
        for a non-MLS policy and giving non-MLS contexts the ``unlabeled`` initial SID's range
        in an MLS one; contexts the new policy rejects are kept as invalid text."""
        default_range = None
        if new_p.mls and not old_p.mls:
            isid = new_p.isids.get(SECINITSID_UNLABELED)
            default_range = isid.context.range if isid is not None else None
        for sid, ctx in list(old.items()):
            if sid in new_p.isids:
                continue  # initial SIDs take the new policy's contexts
            if isinstance(ctx, str):
                text = ctx
            else:
                text = (f"{old_p.user_name(ctx.user)}:{old_p.role_name(ctx.role)}:"
                        f"{old_p.type_name(ctx.type)}")  # fmt: skip
                if old_p.mls and new_p.mls and ctx.range is not None:
                    text += ":" + format_context(old_p, ctx).split(":", 3)[3]
                if default_range is not None:
                    text += ":" + format_range(new_p, default_range)
            try:
                self.insert(sid, parse_context(new_p, text))
            except InvalidContext:
                self.insert_invalid(
                    sid, ctx if isinstance(ctx, str) else format_context(old_p, ctx)
                )

    def __len__(self) -> int:
        return len(self._by_sid) + len(self._invalid)
