"""Wait queues: where blocked tasks sleep until a state change (Linux ``wait_queue_head_t``).

A waiter gets a bare SimPy event; a wake-up succeeds the events and empties the queue.  Events
carry no data: a woken task re-checks its condition, as kernel code loops after
``schedule()``.  An event left behind by an interrupted sleeper is harmless.
"""

from __future__ import annotations

import simpy


class WaitQueue:
    __slots__ = ("_env", "_waiters")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self._waiters: list[simpy.Event] = []

    def prepare(self) -> simpy.Event:
        ev = self._env.event()
        self._waiters.append(ev)
        return ev

    def wake_all(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for ev in waiters:
                if not ev.triggered:
                    ev.succeed()

    def __bool__(self) -> bool:
        return bool(self._waiters)

    def __len__(self) -> int:
        return len(self._waiters)
