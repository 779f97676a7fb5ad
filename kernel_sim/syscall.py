"""The system-call boundary: one wrapper that every syscall method goes through.

It sets ``current`` for the LSM hooks, runs the syscall body (a generator that may block),
turns an interrupted sleep into a restart or EINTR as Linux's ``ERESTARTSYS`` /
``ERESTARTNOHAND`` rules say, charges the syscall's simulated cost, delivers pending signals on
the way back to the program and raises :class:`SyscallError` for a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from simpy.events import Timeout

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError

if TYPE_CHECKING:
    from kernel_sim.task import Task

F = TypeVar("F", bound=Callable[..., Any])

RESTART_SYS = "sys"  # restart unless a handler without SA_RESTART ran
RESTART_NOHAND = "nohand"  # restart only if no handler ran (pause, sigsuspend)
RESTART_NEVER = "never"  # always EINTR


class Interrupted(Exception):
    """A sleeping task was woken by a signal (raised inside syscall bodies only)."""


class NewProgram(BaseException):
    """Base of ``task.Exec``: a successful execve, which returns 0 in the new program."""


def syscall(fn: F | None = None, *, restart: str = RESTART_SYS, name: str | None = None) -> Any:
    """Decorate a syscall body ``def read(self, fd, n)`` (a generator function)."""

    def deco(body: F) -> F:
        wrapper = functools.wraps(body)(_make_syscall(name or body.__name__, body, restart))
        wrapper.__syscall__ = name or body.__name__  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if fn is not None:
        return deco(fn)
    return deco


_SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,),
    "bytes": (bytes, bytearray, memoryview), "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
}


def _bad_argument(name: str, body: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> TypeError | None:
    """After a TypeError inside a syscall: the argument whose type contradicts the syscall's
    annotation, as a TypeError naming it (None if none does: a kernel bug, re-raised)."""
    import inspect

    try:
        bound = inspect.signature(body).bind(None, *args, **kwargs)
    except TypeError as e:
        return TypeError(f"{name}(): {e}")
    for param, value in list(bound.arguments.items())[1:]:
        annotation = body.__annotations__.get(param)
        want = _SIMPLE_TYPES.get(annotation) if isinstance(annotation, str) else None
        if want is not None and not isinstance(value, want):
            return TypeError(f"{name}() argument {param!r} must be {annotation}, "
                             f"not {type(value).__name__}")
    return None


def _make_syscall(name: str, body: Callable[..., Any], restart: str) -> Callable[..., Any]:
    """The generator every call of syscall ``name`` runs (one frame around the body: the
    hot path of every simulated program goes through here)."""

    def run_syscall(task: Task, *args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        kernel = task.kernel
        kernel.security.current = task
        tracer = kernel.tracer
        if tracer is not None:
            tracer.enter(task, name, args, kwargs)
        audit = kernel.audit
        if audit is not None:  # audit_syscall_entry: stamp only; records are built lazily
            # SimPy's clock attribute behind the ``now`` property: this runs on every syscall
            # and the property call cost 1-2% of a pipe round trip
            task.sc_entry = kernel.env._now
        err = 0
        result: Any = None
        new_program: NewProgram | None = None
        while True:
            task.in_syscall = name
            try:
                if kwargs:
                    result = yield from body(task, *args, **kwargs)
                else:
                    result = yield from body(task, *args)
                break
            except Interrupted:
                handled, all_restart = yield from task.handle_signals()
                if not handled or (restart == RESTART_SYS and all_restart):
                    if restart != RESTART_NEVER:
                        kernel.security.current = task
                        continue
                err = c.EINTR
                break
            except SyscallError as e:
                err = e.errno or c.EINVAL
                break
            except NewProgram as e:  # execve succeeded: exit the syscall, then run the program
                new_program = e
                result = 0
                break
            except TypeError as e:  # name the argument of the wrong type, as Python's os does
                clearer = _bad_argument(name, body, args, kwargs)
                if clearer is None:
                    raise
                raise clearer from e
        task.in_syscall = None
        flow = kernel.flow
        if flow is not None:
            flow.syscall_exit(task, name, args, result, err)
        if task.audit_pending:  # set only by the audit sink: the syscall logged a record
            task.audit_pending = False
            assert audit is not None
            audit.syscall_exit(task, name, args, -err if err else result)
        env = kernel.env
        yield Timeout(env, kernel.costs.get(name, kernel.default_cost))
        if tracer is not None:
            tracer.exit(task, name, args, kwargs, result, err)
        proc = task.process
        if (proc.group_exit is not None or task.killed
                or ((task.pending or proc.shared_pending) and task.has_pending())):
            yield from task.handle_signals()
        if err:
            raise SyscallError(err, name)
        if new_program is not None:
            raise new_program
        return result

    return run_syscall
