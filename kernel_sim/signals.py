"""Signal numbers' names and default actions (``signal(7)``)."""

from __future__ import annotations

from enum import Enum

from kernel_sim import constants as c


class Action(Enum):
    TERM = "term"
    CORE = "core"
    STOP = "stop"
    CONT = "cont"
    IGN = "ign"


_CORE = {c.SIGQUIT, c.SIGILL, c.SIGTRAP, c.SIGABRT, c.SIGBUS, c.SIGFPE, c.SIGSEGV,
         c.SIGXCPU, c.SIGXFSZ, c.SIGSYS}
_STOP = {c.SIGSTOP, c.SIGTSTP, c.SIGTTIN, c.SIGTTOU}
_IGN = {c.SIGCHLD, c.SIGURG, c.SIGWINCH}


def default_action(sig: int) -> Action:
    if sig in _CORE:
        return Action.CORE
    if sig in _STOP:
        return Action.STOP
    if sig == c.SIGCONT:
        return Action.CONT
    if sig in _IGN:
        return Action.IGN
    return Action.TERM


SIGNAL_NAMES = {
    v: k for k, v in vars(c).items()
    if k.startswith("SIG") and not k.startswith(("SIG_", "SIGRT")) and isinstance(v, int)
}


def signame(sig: int) -> str:
    if sig in SIGNAL_NAMES:
        return SIGNAL_NAMES[sig]
    if c.SIGRTMIN <= sig <= c.SIGRTMAX:
        return f"SIGRTMIN+{sig - c.SIGRTMIN}"
    return str(sig)
