"""Stacking and dispatch of security hooks (Linux: ``security/security.c``).

:class:`Security` is built once per kernel from an ordered list of modules (``capability``
first, as ``LSM_ORDER_FIRST``).  For every hook of :mod:`lsm.hookdefs` it exposes an attribute
of the same name that the kernel calls: ``security.msg_queue_msgsnd(perm, msg, flags)``.

* ``int`` hooks start from the declared default and call each module in order; the **first
  result that differs from the default ends the walk** and is returned (first denial wins;
  later modules neither decide nor audit).
* ``void`` hooks call every module.

The dispatchers are specialised at boot (no module: a constant; one module: its function) so
the hot path pays nothing for stacking it does not use.  With tracing on, every int-hook
decision is reported to the tracer with the deciding module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lsm.hookdefs import HOOKS, HookSpec
from lsm.module import BLOB_KINDS, HookRegistrationError, LsmModule

HookObserver = Callable[[str, tuple[Any, ...], int, str | None], None]


def _const(value: int) -> Callable[..., int]:
    def hook(*_args: Any) -> int:
        return value

    return hook


def _noop(*_args: Any) -> None:
    return None


#: blob factories whose products are immutable values, so one instance can seed every blob
_IMMUTABLE: frozenset[Any] = frozenset({int, float, str, bytes, bool, tuple, frozenset})


def _blob_allocator(factories: tuple[Callable[[], Any] | None, ...]) -> Callable[[], list[Any]]:
    """The constructor of one kind's composite blob, specialised like the dispatchers (some
    objects, such as System V messages, get a blob on every send)."""
    used = [(i, f) for i, f in enumerate(factories) if f is not None]
    if not used:
        return list  # no module keeps state on this kind: an empty blob
    if all(f in _IMMUTABLE for _, f in used):
        # every module's state is a plain value (e.g. a message's SID): copy a template
        return [f() if f is not None else None for f in factories].copy
    n = len(factories)
    if len(used) == 1:
        (index, factory), = used
        if n == 2:  # the usual stack: capability (no blobs) and one more module
            if index == 1:
                return lambda: [None, factory()]
            return lambda: [factory(), None]

        def alloc_one() -> list[Any]:
            blob: list[Any] = [None] * n
            blob[index] = factory()
            return blob

        return alloc_one

    def alloc_all() -> list[Any]:
        return [f() if f is not None else None for f in factories]

    return alloc_all


class Security:
    """The stacked modules of one kernel and a dispatcher per hook."""

    def __init__(self, modules: Sequence[LsmModule], observer: HookObserver | None = None):
        exclusive = [m.name for m in modules if m.exclusive]
        # Deliberate difference: Linux boots the first exclusive LSM and skips later ones;
        # a stack naming two is a scenario mistake here, so it fails loudly.
        if len(exclusive) > 1:
            raise HookRegistrationError(
                f"exclusive LSMs cannot be stacked together: {', '.join(exclusive)}"
            )
        names = [m.name for m in modules]
        if len(set(names)) != len(names):
            raise HookRegistrationError(f"a module is stacked twice: {names}")
        self.modules: tuple[LsmModule, ...] = tuple(modules)
        #: the task making the current system call (Linux's ``current``)
        self.current: Any = None
        self._observer = observer
        tables = []
        for slot, module in enumerate(self.modules):
            module.init(self, slot)
            table = module.hook_table()
            for hook in table:
                if hook not in _SPECS:
                    raise HookRegistrationError(f"{module.name}: unknown hook {hook!r}")
            for kind in module.blobs:
                if kind not in BLOB_KINDS:
                    raise HookRegistrationError(f"{module.name}: unknown blob kind {kind!r}")
            tables.append(table)
        for spec in HOOKS:
            impls = [(m.name, t[spec.name]) for m, t in zip(self.modules, tables, strict=True)
                     if spec.name in t]
            setattr(self, spec.name, self._build(spec, impls))
        self._blob_alloc = {
            kind: _blob_allocator(tuple(m.blobs.get(kind) for m in self.modules))
            for kind in BLOB_KINDS
        }

    # -- dispatch ---------------------------------------------------------------------------
    def _build(self, spec: HookSpec, impls: list[tuple[str, Callable[..., Any]]]) -> Any:
        observer = self._observer
        if spec.kind == "void":
            if not impls:
                return _noop
            if len(impls) == 1:
                return impls[0][1]
            fns = tuple(fn for _, fn in impls)

            def call_void_hook(*args: Any) -> None:
                for fn in fns:
                    fn(*args)

            return call_void_hook

        default = spec.default
        name = spec.name
        if observer is not None:
            named = tuple(impls)

            def traced_int_hook(*args: Any) -> int:
                for modname, fn in named:
                    rc = fn(*args)
                    if rc != default:
                        observer(name, args, rc, modname)
                        return rc
                observer(name, args, default, None)
                return default

            return traced_int_hook
        if not impls:
            return _const(default)
        if len(impls) == 1:
            return impls[0][1]
        fns = tuple(fn for _, fn in impls)

        def call_int_hook(*args: Any) -> int:
            for fn in fns:
                rc = fn(*args)
                if rc != default:
                    return rc
            return default

        return call_int_hook

    # -- blobs ------------------------------------------------------------------------------
    def alloc_blob(self, kind: str) -> list[Any]:
        """A fresh composite blob for an object of ``kind``: one slot per stacked module."""
        return self._blob_alloc[kind]()

    def blob_allocator(self, kind: str) -> Callable[[], list[Any]]:
        """What :meth:`alloc_blob` calls for ``kind``, for objects made on a hot path."""
        return self._blob_alloc[kind]

    if TYPE_CHECKING:  # hooks are set per instance at boot; at run time no __getattr__,
        # which would keep the interpreter from specialising every kernel.security.<hook> load
        def __getattr__(self, name: str) -> Any: ...

    def module(self, name: str) -> LsmModule | None:
        for m in self.modules:
            if m.name == name:
                return m
        return None


_SPECS = {h.name for h in HOOKS}
