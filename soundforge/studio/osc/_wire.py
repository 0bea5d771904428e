"""OSC 1.0 on the wire: datagrams in (checked, then parsed by python-osc), feedback out.

:func:`decode` turns one UDP datagram into its messages grouped by time tag, in order
(a plain message, or every message of a bundle and its nested bundles whose time tags say
"now" or the past, form one group). Before python-osc parses a datagram, a walk over its
structure checks what python-osc would only log or half-parse — bundle element sizes, the
type tag string, types it does not know — so any malformed datagram is refused as a whole
with one reason (:class:`Malformed`) and nothing of it is applied.

:func:`encode` builds feedback datagrams: one message as itself, several as bundles kept
under :data:`MAX_DATAGRAM` bytes (a size every Wi-Fi path carries without fragmenting).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Final

import msgspec
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

__all__ = ["MAX_AHEAD", "MAX_DATAGRAM", "Group", "Malformed", "decode", "encode"]

#: Bundles scheduled further ahead than this are refused (they would sit in memory).
MAX_AHEAD: Final = 60.0
#: The largest feedback datagram sent.
MAX_DATAGRAM: Final = 1200
#: The most bundles nested in one another.
MAX_DEPTH: Final = 8

_BUNDLE: Final = b"#bundle\x00"
#: The type tags python-osc parses (OSC 1.0's required ones and the common extensions).
_TYPE_TAGS: Final = frozenset("ihfdsbrmtTFN[]")
#: Bytes each fixed-size argument takes (strings and blobs are sized by their content).
_SIZES: Final = {
    "i": 4,
    "f": 4,
    "r": 4,
    "m": 4,
    "h": 8,
    "d": 8,
    "t": 8,
    **dict.fromkeys("TFN[]", 0),
}


class Malformed(Exception):
    """The datagram is not valid OSC; ``reason`` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Group(msgspec.Struct, frozen=True):
    """Messages to apply together at ``at`` (epoch seconds): one message, or a bundle's."""

    at: float
    messages: list[tuple[str, list[Any]]]


def decode(dgram: bytes, now: float) -> list[Group]:
    """The datagram's messages in groups by time tag, earliest first (past ones at ``now``).

    Raises :class:`Malformed` for anything that is not well-formed OSC or a bundle more than
    :data:`MAX_AHEAD` seconds in the future.
    """
    _check(dgram, 0)
    try:
        timed = OscPacket(dgram).messages
    except (ParseError, ValueError, IndexError, OverflowError) as error:
        raise Malformed(_reason(error)) from None
    # python-osc stamps "immediately" and past time tags with its own clock reading, a
    # moment after ``now``: anything not later than the clock after parsing is "now".
    parsed_at = time.time()
    groups: list[Group] = []
    for item in timed:
        at = now if item.time <= parsed_at else float(item.time)
        if not math.isfinite(at) or at > now + MAX_AHEAD:
            raise Malformed(f"a bundle is scheduled more than {MAX_AHEAD:.0f} s ahead")
        message = (item.message.address, list(item.message.params))
        if groups and groups[-1].at == at:
            groups[-1].messages.append(message)
        else:
            groups.append(Group(at, [message]))
    return groups


def encode(messages: Iterable[tuple[str, list[Any]]]) -> list[bytes]:
    """Datagrams carrying ``messages`` in order: single messages, or bundles of several."""
    built = [_message(address, args) for address, args in messages]
    if len(built) == 1:
        return built
    datagrams: list[bytes] = []
    chunk: list[bytes] = []
    size = len(_BUNDLE) + 8
    for dgram in built:
        if chunk and size + 4 + len(dgram) > MAX_DATAGRAM:
            datagrams.append(_bundle(chunk))
            chunk, size = [], len(_BUNDLE) + 8
        chunk.append(dgram)
        size += 4 + len(dgram)
    if chunk:
        datagrams.append(chunk[0] if len(chunk) == 1 else _bundle(chunk))
    return datagrams


def _message(address: str, args: list[Any]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, float):
            builder.add_arg(arg, OscMessageBuilder.ARG_TYPE_FLOAT)
        else:
            builder.add_arg(arg)
    return builder.build().dgram


def _bundle(dgrams: list[bytes]) -> bytes:
    # "#bundle", time tag 1 ("immediately"), then each element as its size and its bytes.
    header = bytearray(_BUNDLE) + b"\x00" * 7 + b"\x01"
    for dgram in dgrams:
        header += len(dgram).to_bytes(4, "big") + dgram
    return bytes(header)


def _check(dgram: bytes, depth: int) -> None:
    if dgram.startswith(_BUNDLE):
        if depth >= MAX_DEPTH:
            raise Malformed(f"bundles nested more than {MAX_DEPTH} deep")
        if len(dgram) < 16:
            raise Malformed("a truncated bundle")
        index = 16
        while index < len(dgram):
            if index + 4 > len(dgram):
                raise Malformed("a truncated bundle element")
            size = int.from_bytes(dgram[index : index + 4], "big", signed=True)
            index += 4
            if size <= 0 or size % 4 or index + size > len(dgram):
                raise Malformed("a bundle element whose size does not fit the bundle")
            _check(dgram[index : index + size], depth + 1)
            index += size
        return
    if not dgram.startswith(b"/"):
        raise Malformed("not an OSC message or bundle")
    if len(dgram) % 4:
        raise Malformed("a message whose length is not a multiple of 4")
    end = dgram.find(b"\x00")
    if end < 0:
        raise Malformed("an address without its terminating NUL")
    index = (end + 4) & ~3
    if index >= len(dgram):
        return  # no type tag string: a message without arguments
    if dgram[index : index + 1] != b",":
        raise Malformed("a type tag string that does not start with ','")
    tag_end = dgram.find(b"\x00", index)
    if tag_end < 0:
        raise Malformed("a type tag string without its terminating NUL")
    tags = dgram[index + 1 : tag_end].decode("ascii", errors="replace")
    unknown = sorted(set(tags) - _TYPE_TAGS)
    if unknown:
        raise Malformed(f"an unsupported type tag {unknown[0]!r}")
    _check_arguments(dgram, (tag_end + 4) & ~3, tags)


def _check_arguments(dgram: bytes, index: int, tags: str) -> None:
    # python-osc reads a truncated number as 0 instead of failing: walk the sizes first.
    for tag in tags:
        size = _SIZES.get(tag)
        if size is None:  # a string or a blob
            if tag == "b":
                if index + 4 > len(dgram):
                    raise Malformed("a truncated blob")
                length = int.from_bytes(dgram[index : index + 4], "big", signed=True)
                if length < 0:
                    raise Malformed("a blob of negative size")
                index += 4 + ((length + 3) & ~3)
            else:
                end = dgram.find(b"\x00", index)
                if end < 0:
                    raise Malformed("a string without its terminating NUL")
                index = (end + 4) & ~3
        else:
            index += size
        if index > len(dgram):
            raise Malformed("truncated arguments")
    if index != len(dgram):
        raise Malformed("bytes after the last argument")


def _reason(error: BaseException) -> str:
    text = str(error.__cause__ or error) or type(error).__name__
    text = text.splitlines()[0]
    return f"unparsable ({text[:60]})"
