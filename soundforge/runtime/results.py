"""Typed results of starts and management calls: OTP's ``{ok, Pid}``, ``{error, R}``, ``ignore``.

    match await Counter.start_link(0):
        case Ok(pid):
            ...
        case Error(AlreadyStarted(pid)):
            ...
        case Ignore():
            ...

The error reasons that the runtime itself produces are :class:`ChildError` atoms or
:class:`AlreadyStarted`; a failing start function's own reason is passed through unchanged.
"""

from __future__ import annotations

import enum
from typing import Any, Final

import msgspec

__all__ = [
    "IGNORE",
    "AlreadyStarted",
    "ChildCounts",
    "ChildError",
    "ChildInfo",
    "Error",
    "Ignore",
    "Ok",
    "StartResult",
]


class Ok(msgspec.Struct, frozen=True):
    """Success: ``value`` is the pid for starts; ``info`` is OTP's optional extra term."""

    value: Any = None
    info: Any = None

    @property
    def pid(self) -> Any:
        return self.value


class Error(msgspec.Struct, frozen=True):
    """Failure with an OTP-style ``reason``."""

    reason: Any


class Ignore(msgspec.Struct, frozen=True):
    """A start function chose not to start anything (OTP's ``ignore``)."""


IGNORE: Final = Ignore()


class AlreadyStarted(msgspec.Struct, frozen=True):
    """``{already_started, Pid}``: the name or child id is taken by a running ``pid``."""

    pid: Any


class ChildError(enum.Enum):
    """The atoms of supervisor management results."""

    ALREADY_PRESENT = "already_present"
    RUNNING = "running"
    RESTARTING = "restarting"
    NOT_FOUND = "not_found"
    SIMPLE_ONE_FOR_ONE = "simple_one_for_one"
    MAX_CHILDREN = "max_children"

    def __repr__(self) -> str:
        return self.value


StartResult = Ok | Error | Ignore


class ChildInfo(msgspec.Struct, frozen=True):
    """One row of ``which_children``: ``pid`` is a Pid, None (not running) or RESTARTING."""

    id: Any
    pid: Any
    type: Any
    restarts: int = 0


class ChildCounts(msgspec.Struct, frozen=True):
    """``count_children``: specs, running pids, and specs by type."""

    specs: int
    active: int
    supervisors: int
    workers: int
