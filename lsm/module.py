"""What a security module is: a name, the blobs it wants on kernel objects, and hook functions.

Linux's ``DEFINE_LSM`` + ``lsm_blob_sizes`` + ``security_hook_list``.  The framework (not the
module) allocates blobs: ``obj.security[module.slot]`` is the module's part of any object's
security blob, created by the factory the module declared for that object kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsm.hookdefs import HOOKS_BY_NAME

if TYPE_CHECKING:
    from lsm.security import Security

#: object kinds that carry a security blob, as in ``struct lsm_blob_sizes``
BLOB_KINDS = ("cred", "task", "inode", "file", "ipc", "msg_msg", "sock", "superblock")


class HookRegistrationError(ValueError):
    """A module named a hook the framework does not declare, or a blob kind it does not know."""


class LsmModule:
    """Base class for security modules.

    Subclasses set :attr:`name`, optionally :attr:`blobs` (kind -> zero-argument factory) and
    implement hooks as methods named exactly like the hook (``def file_permission(self, file,
    mask)``); :meth:`hook_table` collects them.  ``exclusive`` mirrors ``LSM_FLAG_EXCLUSIVE``.
    """

    name: str = "unnamed"
    exclusive: bool = False
    blobs: dict[str, Callable[[], Any]] = {}  # noqa: RUF012 - subclasses override

    slot: int = -1
    security: Security

    def init(self, security: Security, slot: int) -> None:
        """Called once when the kernel boots with this module stacked at ``slot``."""
        self.security = security
        self.slot = slot

    def hook_table(self) -> dict[str, Callable[..., Any]]:
        table: dict[str, Callable[..., Any]] = {}
        for hook in HOOKS_BY_NAME:
            fn = getattr(self, hook, None)
            if fn is not None and callable(fn):
                table[hook] = fn
        return table

    def __repr__(self) -> str:
        return f"<lsm {self.name}>"


class BpfLsm(LsmModule):
    """A module made of plain Python callables, in the spirit of BPF-LSM.

    >>> m = BpfLsm("no-kill")
    >>> @m.hook("task_kill")
    ... def deny_kill(p, info, sig, cred):
    ...     return -1  # -EPERM
    >>> Kernel(lsms=[m])  # doctest: +SKIP

    An ``int`` hook callable may return ``None`` to mean "no opinion" (the hook's default).
    """

    def __init__(self, name: str, hooks: dict[str, Callable[..., Any]] | None = None) -> None:
        self.name = name
        self._hooks: dict[str, Callable[..., Any]] = {}
        for hook, fn in (hooks or {}).items():
            self.attach(hook, fn)

    def attach(self, hook: str, fn: Callable[..., Any]) -> None:
        spec = HOOKS_BY_NAME.get(hook)
        if spec is None:
            raise HookRegistrationError(f"unknown LSM hook {hook!r} (see lsm/hookdefs.py)")
        if spec.kind == "int":
            self._hooks[hook] = _int_hook(fn, spec.default, len(spec.args))
        else:
            self._hooks[hook] = fn

    def hook(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.attach(name, fn)
            return fn

        return deco

    def hook_table(self) -> dict[str, Callable[..., Any]]:
        return dict(self._hooks)


def _int_hook(fn: Callable[..., Any], default: int, nargs: int) -> Callable[..., int]:
    """Wrap ``fn`` so that ``None`` means the hook's default.  The wrapper takes the hook's
    exact arity when it is small: a fixed-argument call is markedly cheaper than ``*args``,
    and this wrapper sits on the hot path of every mediated syscall."""

    def result(rc: Any) -> int:
        return default if rc is None else int(rc)

    if nargs == 1:
        def hook1(a: Any) -> int:
            rc = fn(a)
            return rc if rc.__class__ is int else result(rc)

        return hook1
    if nargs == 2:
        def hook2(a: Any, b: Any) -> int:
            rc = fn(a, b)
            return rc if rc.__class__ is int else result(rc)

        return hook2
    if nargs == 3:
        def hook3(a: Any, b: Any, c: Any) -> int:
            rc = fn(a, b, c)
            return rc if rc.__class__ is int else result(rc)

        return hook3

    def hook_n(*args: Any) -> int:
        rc = fn(*args)
        return rc if rc.__class__ is int else result(rc)

    return hook_n
