"""Coalescing: turning the messages that arrived since the last pass into few mixer calls.

The server reads every datagram that arrived while it was busy in one pass, converts each
message to an :class:`Op`, and :func:`plan` folds consecutive ops of one sender and one
session into a :class:`Batch` (one ``control_focused`` call, one broadcast). A later value
of a path replaces the earlier one in the batch, so a fader streaming 1,000 values a second
costs a handful of calls and its *last* value is always the one applied.

What is never merged, so that the result is the one the messages mean in order:

* a bundle (one :class:`~soundforge.studio.osc._wire.Group`) is never split, except by
  session (a bundle touching the track and the DJ console is two calls: two actors);
* a trigger is never merged with another of the same path (two presses toggle twice);
* once a batch holds a trigger, no value of a path it already holds joins it (``seek``,
  ``stop``, ``seek`` must end at the second seek);
* commands (``/sf/register``, ``/sf/sync`` ...) end the batch before them, so a sync after
  a change reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from soundforge.studio.osc._address import Register, Sync, Unregister

__all__ = ["Batch", "CommandOp", "Op", "plan"]


class Op(msgspec.Struct, frozen=True):
    """One control message, converted: set ``path`` of ``session`` to ``value``."""

    origin: str
    session: str  # "track" | "dj"
    path: str
    value: Any
    trigger: bool = False


class CommandOp(msgspec.Struct, frozen=True):
    """A non-control message from ``address`` (host, port)."""

    origin: str
    address: tuple[str, int]
    command: Register | Unregister | Sync


class Batch(msgspec.Struct):
    """Values for one ``control_focused`` call; ``messages`` is how many messages it carries."""

    origin: str
    session: str
    values: dict[str, Any]
    messages: int = 0
    has_trigger: bool = False

    def accepts(self, ops: list[Op]) -> bool:
        if not ops or ops[0].origin != self.origin or ops[0].session != self.session:
            return False
        has_trigger = self.has_trigger or any(op.trigger for op in ops)
        return not any(op.path in self.values and (op.trigger or has_trigger) for op in ops)

    def add(self, ops: list[Op]) -> None:
        for op in ops:
            self.values[op.path] = op.value
            self.messages += 1
            self.has_trigger = self.has_trigger or op.trigger


def plan(groups: Iterable[Sequence[Op | CommandOp]]) -> list[Batch | CommandOp]:
    """The calls and commands that apply ``groups`` (each one message or one bundle) in order."""
    out: list[Batch | CommandOp] = []
    current: Batch | None = None
    for group in groups:
        for part in _parts(group):
            if isinstance(part, CommandOp):
                current = None
                out.append(part)
                continue
            for ops in _split_repeats(part):
                if current is None or not current.accepts(ops):
                    current = Batch(ops[0].origin, ops[0].session, {})
                    out.append(current)
                current.add(ops)
    return out


def _parts(group: Sequence[Op | CommandOp]) -> list[list[Op] | CommandOp]:
    """A group as its commands (in place) and its ops by session (in first-seen order)."""
    parts: list[list[Op] | CommandOp] = []
    by_session: dict[str, list[Op]] = {}
    for item in group:
        if isinstance(item, CommandOp):
            by_session = {}
            parts.append(item)
            continue
        ops = by_session.get(item.session)
        if ops is None:
            ops = by_session[item.session] = []
            parts.append(ops)
        ops.append(item)
    return parts


def _split_repeats(ops: list[Op]) -> list[list[Op]]:
    """``ops`` cut wherever merging would change their meaning (a repeated trigger ...)."""
    pieces: list[list[Op]] = []
    piece: list[Op] = []
    seen: set[str] = set()
    has_trigger = False
    for op in ops:
        if op.path in seen and (op.trigger or has_trigger):
            pieces.append(piece)
            piece, seen, has_trigger = [], set(), False
        piece.append(op)
        seen.add(op.path)
        has_trigger = has_trigger or op.trigger
    if piece:
        pieces.append(piece)
    return pieces
