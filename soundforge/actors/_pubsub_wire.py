"""The wire format of the PostgreSQL pubsub bridge: what one NOTIFY carries between nodes.

A broadcast crosses nodes as an *envelope*, a MessagePack array
``[node, seq, sender, topic, type, body]``:

* ``node``: the origin node's id. A node skips its own broadcasts when they come back on
  ``LISTEN``, because its pubsub already delivered them locally.
* ``seq``: the origin's broadcast counter. It is there for tracing, and it keeps two equal
  broadcasts distinct, since PostgreSQL delivers identical payloads sent in one transaction
  only once.
* ``sender``: the pid of a ``broadcast_from`` publisher as text (``"<0.42.0>"``), or nil.
  This is informational only. Remote nodes deliver to every subscriber, as Phoenix does.
* ``topic``.
* ``type``: the message's registered ``msgspec.Struct`` as ``"module.QualName"``, or ``""``
  for a plain JSON value (dict with str keys, list, str, int, float, bool, None).
* ``body``: the message, as MessagePack.

The NOTIFY payload is text: one ASCII tag, then standard base64.

* ``M<base64(envelope)>``: the envelope inline, used when the text fits PostgreSQL's limit
  (:data:`MAX_NOTIFY_BYTES`, 7999 bytes, which is envelopes up to 5997 bytes).
* ``R<base64([node, seq, id])>``: by reference. The envelope's bytes are in row ``id`` of
  the UNLOGGED table ``pubsub_payloads``.

Decoding never runs code from the wire (no pickle). A body decodes only into a type on the
receiving node's allow-list, or into plain JSON values.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from soundforge.errors import SoundForgeError

__all__ = [
    "MAX_NOTIFY_BYTES",
    "PLAIN",
    "Codec",
    "Envelope",
    "PgPubSubError",
    "Reference",
    "Rejected",
    "UnregisteredMessage",
    "inline_notice",
    "parse_envelope",
    "parse_notice",
    "reference_notice",
]

#: The longest NOTIFY payload PostgreSQL accepts (it must be shorter than 8000 bytes).
MAX_NOTIFY_BYTES: Final = 7999

#: The ``type`` of an envelope whose body is a plain JSON value.
PLAIN: Final = ""

_JSON_SCALARS: Final = (str, int, float, bool, type(None))


class PgPubSubError(SoundForgeError):
    """Base of the PostgreSQL pubsub bridge's errors."""


class UnregisteredMessage(PgPubSubError):
    """A broadcast to other nodes carries a value the bridge will not send.

    Either its ``msgspec.Struct`` type is not on the bridge's allow-list, or it is neither a
    Struct nor plain JSON. The broadcast fails in the publisher before any delivery (the
    pubsub contract for a raising adapter). ``local_broadcast`` still takes any value.
    """


class Rejected(Exception):
    """An incoming notification this node will not deliver; the message says why."""


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One broadcast on the wire (see the module docstring)."""

    node: str
    seq: int
    sender: str | None
    topic: str
    type: str
    body: msgspec.Raw


class Reference(msgspec.Struct, array_like=True, frozen=True):
    """A broadcast passed by reference: its envelope is row ``id`` of ``pubsub_payloads``."""

    node: str
    seq: int
    id: int


_ENVELOPE: Final = msgspec.msgpack.Decoder(Envelope)
_REFERENCE: Final = msgspec.msgpack.Decoder(Reference)
_ENCODER: Final = msgspec.msgpack.Encoder()


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Codec:
    """Encodes broadcasts and decodes them into allow-listed types only."""

    __slots__ = ("_decoders", "_names", "_plain")

    def __init__(self, types: Sequence[type[msgspec.Struct]]) -> None:
        self._names: dict[type, str] = {}
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        for cls in types:
            if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
                raise PgPubSubError(
                    f"the pubsub bridge can only register msgspec.Struct types, not {cls!r}"
                )
            name = type_name(cls)
            if name in self._decoders:
                raise PgPubSubError(f"{name} is registered twice with the pubsub bridge")
            self._names[cls] = name
            self._decoders[name] = msgspec.msgpack.Decoder(cls)
        self._plain: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder()

    def encode(self, node: str, seq: int, sender: str | None, topic: str, message: Any) -> bytes:
        """The envelope of one broadcast; raises :class:`UnregisteredMessage`."""
        cls = type(message)
        name = self._names.get(cls)
        if name is None:
            if isinstance(message, msgspec.Struct):
                raise UnregisteredMessage(
                    f"cannot broadcast a {cls.__qualname__} on topic {topic!r} to other nodes: "
                    f"{type_name(cls)} is not registered with the PostgreSQL pubsub bridge; "
                    f"add it to the bridge's types=[...] on every node, or use local_broadcast"
                )
            _check_plain(message, topic, "the message")
            name = PLAIN
        body = msgspec.Raw(_ENCODER.encode(message))
        return _ENCODER.encode(Envelope(node, seq, sender, topic, name, body))

    def decode(self, envelope: Envelope) -> Any:
        """The message of ``envelope``; raises :class:`Rejected` for a type not allowed here."""
        if envelope.type == PLAIN:
            decoder = self._plain
        else:
            found = self._decoders.get(envelope.type)
            if found is None:
                raise Rejected(
                    f"a {envelope.type} on topic {envelope.topic!r} from node {envelope.node} "
                    f"is not a registered type on this node; add it to the bridge's types=[...]"
                )
            decoder = found
        try:
            return decoder.decode(envelope.body)
        except msgspec.DecodeError as error:  # also ValidationError: a node on another version
            raise Rejected(
                f"a message on topic {envelope.topic!r} from node {envelope.node} does not "
                f"decode as {envelope.type or 'plain JSON'}: {error}"
            ) from None


def _check_plain(value: Any, topic: str, where: str) -> None:
    kind = type(value)
    if kind in _JSON_SCALARS:
        return
    if kind is list:
        for i, item in enumerate(value):
            _check_plain(item, topic, f"{where}[{i}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise UnregisteredMessage(
                    f"cannot broadcast on topic {topic!r} to other nodes: {where} has the "
                    f"key {key!r}, and plain JSON values need str keys; use a registered "
                    f"msgspec.Struct or local_broadcast"
                )
            _check_plain(item, topic, f"{where}[{key!r}]")
        return
    raise UnregisteredMessage(
        f"cannot broadcast on topic {topic!r} to other nodes: {where} is a "
        f"{kind.__qualname__}, which is neither a registered msgspec.Struct nor plain JSON "
        f"(dict, list, str, int, float, bool, None); register a Struct with the bridge's "
        f"types=[...], or use local_broadcast"
    )


def inline_notice(envelope: bytes) -> str | None:
    """The NOTIFY text carrying ``envelope`` inline, or None when it is too long for NOTIFY."""
    if 1 + 4 * ((len(envelope) + 2) // 3) > MAX_NOTIFY_BYTES:
        return None
    return "M" + base64.b64encode(envelope).decode("ascii")


def reference_notice(node: str, seq: int, row_id: int) -> str:
    """The NOTIFY text pointing at row ``row_id`` of ``pubsub_payloads``."""
    return "R" + base64.b64encode(_ENCODER.encode(Reference(node, seq, row_id))).decode("ascii")


def parse_notice(text: str) -> Envelope | Reference:
    """Read one NOTIFY payload; raises :class:`Rejected` for anything not in this format."""
    tag = text[:1]
    decoder: msgspec.msgpack.Decoder[Any]
    if tag == "M":
        decoder = _ENVELOPE
    elif tag == "R":
        decoder = _REFERENCE
    else:
        raise Rejected(f"a notification that is not a pubsub broadcast: {text[:40]!r}")
    try:
        notice: Envelope | Reference = decoder.decode(base64.b64decode(text[1:], validate=True))
    except (binascii.Error, ValueError) as error:  # ValueError: non-ASCII text; DecodeError too
        raise Rejected(f"an unreadable pubsub notification ({error}): {text[:40]!r}") from None
    return notice


def parse_envelope(data: bytes) -> Envelope:
    """Read an envelope fetched from ``pubsub_payloads``."""
    try:
        return _ENVELOPE.decode(data)
    except msgspec.DecodeError as error:
        raise Rejected(f"an unreadable by-reference pubsub payload ({error})") from None
