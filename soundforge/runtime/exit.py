"""Exit reasons: how a process ended, in Erlang's terms.

Erlang's exit reasons are terms; ours are Python values with a fixed mapping:

==========================  =====================================================
Erlang                      SoundForge
==========================  =====================================================
``normal``                  :data:`NORMAL` (also: the process function returned)
``shutdown``                :data:`SHUTDOWN`
``{shutdown, Term}``        ``Shutdown(term)``: an exception *and* a reason value
``kill`` (the signal)       :data:`KILL`: untrappable, only as ``exit(pid, KILL)``
``killed``                  :data:`KILLED`: what a killed process exits with
``noproc``                  :data:`NOPROC`: monitor or link to a dead process
any other term              any other value, usually the exception that ended it
==========================  =====================================================

A process ends itself with a chosen reason by raising :class:`ProcessExit` (or its
subclass :class:`Shutdown`)::

    raise ProcessExit(SHUTDOWN)
    raise Shutdown("reconfigured")     # {shutdown, reconfigured}

Any other exception escaping a process is an abnormal exit whose reason is the exception
object itself (its ``__traceback__`` is what crash reports print).
"""

from __future__ import annotations

import enum
import traceback

__all__ = [
    "KILL",
    "KILLED",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Atom",
    "ExitReason",
    "ProcessExit",
    "Shutdown",
    "format_reason",
    "is_normal",
]


class Atom(enum.Enum):
    """The atoms that have a meaning to the runtime."""

    NORMAL = "normal"
    SHUTDOWN = "shutdown"
    KILL = "kill"
    KILLED = "killed"
    NOPROC = "noproc"

    def __repr__(self) -> str:
        return self.value


NORMAL = Atom.NORMAL
SHUTDOWN = Atom.SHUTDOWN
KILL = Atom.KILL
KILLED = Atom.KILLED
NOPROC = Atom.NOPROC

#: An exit reason is one of the atoms, a :class:`Shutdown`, or any other value (abnormal).
ExitReason = object


class ProcessExit(Exception):
    """Raised inside a process to end it with ``reason`` (Erlang's ``exit(Reason)``)."""

    def __init__(self, reason: ExitReason) -> None:
        super().__init__(reason)
        self.reason: ExitReason = reason


class Shutdown(ProcessExit):
    """``{shutdown, term}``: an orderly exit with a term; raise it or use it as a reason."""

    def __init__(self, term: object) -> None:
        super().__init__(self)
        self.term = term
        self.args = (term,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shutdown) and other.term == self.term

    def __hash__(self) -> int:
        return hash(("shutdown", self.term))

    def __repr__(self) -> str:
        return f"Shutdown({self.term!r})"


def is_normal(reason: ExitReason) -> bool:
    """True for the exits a supervisor treats as orderly: normal, shutdown, {shutdown, _}."""
    return reason is NORMAL or reason is SHUTDOWN or isinstance(reason, Shutdown)


def format_reason(reason: ExitReason, *, with_traceback: bool = False) -> str:
    """One line (or a traceback) describing an exit reason, for logs and crash reports."""
    if isinstance(reason, Atom):
        return reason.value
    if isinstance(reason, Shutdown):
        return f"{{shutdown, {reason.term!r}}}"
    if isinstance(reason, BaseException):
        if with_traceback and reason.__traceback__ is not None:
            return "".join(traceback.format_exception(reason)).rstrip()
        return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    return repr(reason)
