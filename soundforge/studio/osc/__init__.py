"""OSC surfaces (TouchOSC, Open Stage Control, anything that speaks OSC over UDP).

:class:`OscServer` listens on ``settings.osc_host:osc_port`` (default ``127.0.0.1:8000``)
and turns messages in the ``/sf/`` address space into changes of the focused mixer
sessions, with feedback to the surfaces that registered. ``docs/osc.md`` documents the
address space; :mod:`soundforge.studio.osc.touchosc` writes a ready-made TouchOSC layout.

    await OscServer.start_link(OscOptions(port=0))
    bound = await port()                  # the UDP port (0 picked a free one)
    (await status()).counters.malformed   # what was refused
"""

from __future__ import annotations

from soundforge.studio.osc._address import (
    PREFIX,
    BadArguments,
    Register,
    SetControl,
    Sync,
    UnknownAddress,
    Unregister,
    address_for,
    feedback_args,
    parse_address,
    session_of,
    value_for,
)
from soundforge.studio.osc._clients import ClientInfo
from soundforge.studio.osc._server import DEFAULT_NAME, OscServer, OscStatus, port, status
from soundforge.studio.osc._state import Counters, OscOptions
from soundforge.studio.osc._wire import Malformed, decode, encode

__all__ = [
    "DEFAULT_NAME",
    "PREFIX",
    "BadArguments",
    "ClientInfo",
    "Counters",
    "Malformed",
    "OscOptions",
    "OscServer",
    "OscStatus",
    "Register",
    "SetControl",
    "Sync",
    "UnknownAddress",
    "Unregister",
    "address_for",
    "decode",
    "encode",
    "feedback_args",
    "parse_address",
    "port",
    "session_of",
    "status",
    "value_for",
]
