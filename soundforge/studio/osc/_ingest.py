"""The OSC server's way in: queued datagrams → checked messages → few mixer calls.

:func:`drain` reads every datagram queued since the last pass, decodes each (a malformed
one is counted and skipped whole), converts each message for the focused session
(``_address``), plans the calls (``_batches``) and makes them through
``mixers.control_focused``. Bundles time-tagged for later come back as :class:`Due` at
their time. Nothing a surface sends can crash the server: what is wrong with a message is
counted, logged once a minute per reason, and ignored.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.runtime.errors import ActorError
from soundforge.runtime.process import current_process
from soundforge.studio import controls, mixers
from soundforge.studio.controls import ControlError
from soundforge.studio.osc import _feedback
from soundforge.studio.osc._address import (
    SKIP,
    BadArguments,
    Register,
    SetControl,
    Sync,
    UnknownAddress,
    Unregister,
    parse_address,
    session_of,
    value_for,
)
from soundforge.studio.osc._batches import Batch, CommandOp, Op, plan
from soundforge.studio.osc._state import ServerState
from soundforge.studio.osc._wire import Group, Malformed, decode

__all__ = ["Due", "drain", "run_due"]

#: A bundle whose time tag is less than this far ahead is applied now.
_NOW_SLACK = 0.002


class Due(msgspec.Struct, frozen=True):
    """A bundle whose time tag has come."""

    group: Group
    address: tuple[str, int]


async def drain(state: ServerState) -> None:
    """Apply everything queued since the last pass."""
    pending = state.pending
    protocol = state.protocol
    if protocol is not None and protocol.dropped:
        state.counters.overflow += protocol.dropped
        state.note("overflow", f"{protocol.dropped} datagram(s) dropped: more arrived than applied")
        protocol.dropped = 0
    now = time.time()
    groups: list[list[Op | CommandOp]] = []
    while pending:
        data, address = pending.popleft()
        state.counters.datagrams += 1
        _feedback.heard_from(state, address)
        try:
            decoded = decode(data, now)
        except Malformed as error:
            state.counters.malformed += 1
            state.counters.last_malformed = error.reason
            detail = f"malformed packet from {address[0]}: {error.reason}"
            state.note(f"malformed:{error.reason}", detail)
            continue
        for group in decoded:
            if group.at > now + _NOW_SLACK:
                me = current_process()
                assert me is not None
                state.clock.call_later(group.at - now, me.deliver, Due(group, address))
                continue
            groups.append(await _convert(state, group, address))
    await _run(state, plan(groups))


async def run_due(state: ServerState, due: Due) -> None:
    """Apply a time-tagged bundle whose time has come."""
    await _run(state, plan([await _convert(state, due.group, due.address)]))


async def _convert(
    state: ServerState, group: Group, address: tuple[str, int]
) -> list[Op | CommandOp]:
    origin = f"osc:{address[0]}:{address[1]}"
    counters = state.counters
    ops: list[Op | CommandOp] = []
    for osc_address, args in group.messages:
        counters.messages += 1
        try:
            command = parse_address(osc_address, args)
        except UnknownAddress as error:
            counters.unknown += 1
            state.note(f"unknown:{osc_address[:40]}", str(error))
            continue
        except BadArguments as error:
            _rejected(state, str(error))
            continue
        if isinstance(command, Register | Unregister | Sync):
            ops.append(CommandOp(origin, address, command))
            continue
        op = await _op(state, origin, command, args)
        if op is not None:
            ops.append(op)
    return ops


async def _op(state: ServerState, origin: str, command: SetControl, args: list[Any]) -> Op | None:
    counters = state.counters
    focus = mixers.focused()
    session = command.session or session_of(command.path)
    if focus is None or (session == "track" and not focus.key.startswith("track:")):
        counters.unfocused += 1
        state.note("unfocused", "a message arrived but no track is open in a browser tab")
        return None
    key = "dj" if session == "dj" else focus.key
    try:
        info = await state.info(focus.user_id, key)
        control = controls.control_for(key, command.path, info)
    except controls.UnknownControl as error:
        counters.unknown += 1
        state.note(f"unknown:{command.path[:40]}", str(error))
        return None
    except ControlError as error:  # the focused track went away
        _rejected(state, str(error))
        return None
    try:
        value = value_for(control, args)
    except BadArguments as error:
        _rejected(state, str(error))
        return None
    if value is SKIP:
        return None  # a button's release: nothing to do
    return Op(origin, session, command.path, value, control.kind == "trigger")


def _rejected(state: ServerState, reason: str) -> None:
    state.counters.rejected += 1
    state.counters.last_rejected = reason
    state.note(f"rejected:{reason[:60]}", reason)


async def _run(state: ServerState, steps: list[Batch | CommandOp]) -> None:
    for step in steps:
        if isinstance(step, CommandOp):
            await _command(state, step)
        elif step.values:
            await _apply(state, step)


async def _command(state: ServerState, op: CommandOp) -> None:
    command = op.command
    host, source_port = op.address
    if isinstance(command, Register):
        await _feedback.register(state, host, command.port or source_port, source_port)
    elif isinstance(command, Unregister):
        _feedback.unregister(state, host, source_port)
    else:
        await _feedback.sync(state, op.address)


async def _apply(state: ServerState, batch: Batch) -> None:
    counters = state.counters
    try:
        changed = await mixers.control_focused(
            batch.values, batch.origin, dj_only=batch.session == "dj"
        )
    except ControlError as error:
        if len(batch.values) == 1:
            _rejected(state, str(error))
            return
        # One refused value must not cost the others: apply them one by one.
        for path, value in batch.values.items():
            await _apply(state, Batch(batch.origin, batch.session, {path: value}, 1))
        return
    except (ActorError, SoundForgeError) as error:  # the studio is restarting: count, go on
        counters.rejected += batch.messages
        state.note("mixers", f"the mixers did not answer ({error}); messages were dropped")
        return
    counters.calls += 1
    if changed is None:
        counters.unfocused += batch.messages
        return
    counters.applied += batch.messages
    state.remember_echo(
        (changed.user_id, changed.key, changed.version), batch.origin, frozenset(batch.values)
    )
