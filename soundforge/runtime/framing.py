"""Framing: the wire format between a port actor and its program, for both ends of the pipe.

Mirrors Erlang's ``{packet, 4}`` port option (a 4-byte big-endian length before each
message) with msgpack bodies instead of Erlang's external term format. Both directions use
the same format: the port actor writes frames to the program's stdin and reads frames from
its stdout; the program's stderr is free text, logged line by line.

**The format, exactly.** A stream is a sequence of frames, nothing before, between or after
them::

    +----------------------------+--------------------------------------+
    | length: 4 bytes, unsigned, | payload: `length` bytes, one msgpack |
    | big-endian (network order) | value as msgspec.msgpack encodes it  |
    +----------------------------+--------------------------------------+

* ``1 <= length <= max_size`` (default :data:`MAX_FRAME_SIZE`, 64 MiB). A longer length is
  refused with :class:`FrameTooLarge` by the writer (before anything is written) and by the
  reader (the stream is then unusable: its position inside the frame is lost). A zero
  length is a :class:`MalformedFrame`: no msgpack value is empty.
* The payload is exactly one msgpack value (msgspec Structs travel as maps, or arrays
  with ``array_like=True``; a reader can decode straight into a typed ``msgspec.Struct``
  union by passing ``type=``). A payload that does not decode is a :class:`MalformedFrame`.
* The end of the stream *between* frames is the orderly end (``EOFError`` from a read, the
  end of iteration); an end *inside* a frame is an :class:`IncompleteFrame`.

**Differences from Erlang.** ``{packet, 4}`` carries opaque binaries; here the payload is a
msgpack value, so Python on both sides exchanges typed values without a second encoding
layer. Erlang has no frame size limit on ports; we refuse frames over ``max_size`` so a
corrupt length cannot make the server allocate gigabytes.

**The program side.** A port program owns its stdin and stdout for frames, so it must not
print to stdout: one stray ``print`` corrupts the stream. :func:`port_stdio` takes the
original stdout for frames and points both ``sys.stdout`` and file descriptor 1 at stderr,
so ``print`` and C libraries that write to fd 1 end up in the server's log instead::

    from soundforge.runtime.framing import port_stdio

    def main() -> None:
        requests, replies = port_stdio()
        for request in requests:          # ends when the port closes our stdin
            print("working on", request)  # goes to stderr, i.e. the server's log
            replies.write({"ok": request})

The actor side uses :func:`read_frame` and :func:`write_frame` on asyncio streams.
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any, Final, Protocol

import msgspec

from soundforge.runtime.errors import ActorError

__all__ = [
    "HEADER_SIZE",
    "MAX_FRAME_SIZE",
    "FrameReader",
    "FrameTooLarge",
    "FrameWriter",
    "FramingError",
    "IncompleteFrame",
    "MalformedFrame",
    "decode_payload",
    "encode_frame",
    "iter_frames",
    "port_stdio",
    "read_frame",
    "redirect_stdout_to_stderr",
    "write_frame",
]

#: Bytes of the length prefix.
HEADER_SIZE: Final = 4
#: The default largest payload, in bytes (64 MiB).
MAX_FRAME_SIZE: Final = 64 * 1024 * 1024

_HEADER: Final = struct.Struct(">I")
_LARGEST_LENGTH: Final = 2**32 - 1
# Stateless once built (no buffer is reused across calls), so sharing them is safe.
_ENCODER: Final = msgspec.msgpack.Encoder()
_ANY_DECODER: Final = msgspec.msgpack.Decoder()


class FramingError(ActorError):
    """A frame could not be written or read; the stream should be closed."""


class FrameTooLarge(FramingError):
    """A frame is longer than the agreed ``max_size``."""

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(
            f"a frame of {size} bytes exceeds the limit of {max_size} bytes; send large data "
            "as a file path instead, or raise max_size on both ends"
        )
        self.size = size
        self.max_size = max_size


class IncompleteFrame(FramingError):
    """The stream ended inside a frame (the other side died or closed mid-write)."""

    def __init__(self, expected: int, got: int, part: str) -> None:
        super().__init__(
            f"the stream ended inside a frame's {part}: got {got} of {expected} bytes; "
            "the other side probably died while writing"
        )
        self.expected = expected
        self.got = got


class MalformedFrame(FramingError):
    """A frame's payload is not one valid msgpack value (of the expected type)."""


# -- encoding and decoding ----------------------------------------------------------------


def encode_frame(obj: Any, *, max_size: int = MAX_FRAME_SIZE) -> bytes:
    """``obj`` as one complete frame (header and payload); raises :class:`FrameTooLarge`.

    An object msgpack cannot encode raises ``TypeError`` (msgspec's error) to the caller.
    """
    buf = bytearray(HEADER_SIZE)
    _ENCODER.encode_into(obj, buf, HEADER_SIZE)
    size = len(buf) - HEADER_SIZE
    if size > max_size or size > _LARGEST_LENGTH:
        raise FrameTooLarge(size, max_size)
    _HEADER.pack_into(buf, 0, size)
    return bytes(buf)


def decode_payload(payload: bytes, decoder: msgspec.msgpack.Decoder[Any] = _ANY_DECODER) -> Any:
    """Decode one frame's payload; raises :class:`MalformedFrame`."""
    if not payload:
        raise MalformedFrame("an empty frame: a frame holds exactly one msgpack value")
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as error:  # ValidationError included: a wrong type is malformed too
        raise MalformedFrame(f"a frame's payload does not decode: {error}") from error


def _decoder_for(type: Any) -> msgspec.msgpack.Decoder[Any]:
    return _ANY_DECODER if type is Any else msgspec.msgpack.Decoder(type)


def _length(header: bytes, max_size: int) -> int:
    (size,) = _HEADER.unpack(header)
    if size > max_size:
        raise FrameTooLarge(size, max_size)
    return int(size)


# -- the actor side: asyncio streams ------------------------------------------------------


async def read_frame(
    reader: asyncio.StreamReader, *, type: Any = Any, max_size: int = MAX_FRAME_SIZE
) -> Any:
    """Read one frame and return its decoded value (decoded as ``type`` when given).

    Raises ``EOFError`` at the orderly end of the stream, :class:`IncompleteFrame`,
    :class:`FrameTooLarge` or :class:`MalformedFrame` otherwise.
    """
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise EOFError("the frame stream ended") from None
        raise IncompleteFrame(HEADER_SIZE, len(error.partial), "header") from None
    size = _length(header, max_size)
    try:
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError as error:
        raise IncompleteFrame(size, len(error.partial), "payload") from None
    return decode_payload(payload, _decoder_for(type))


async def iter_frames(
    reader: asyncio.StreamReader, *, type: Any = Any, max_size: int = MAX_FRAME_SIZE
) -> AsyncIterator[Any]:
    """Yield decoded frames until the orderly end of the stream."""
    decoder = _decoder_for(type)
    while True:
        try:
            header = await reader.readexactly(HEADER_SIZE)
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                return
            raise IncompleteFrame(HEADER_SIZE, len(error.partial), "header") from None
        size = _length(header, max_size)
        try:
            payload = await reader.readexactly(size)
        except asyncio.IncompleteReadError as error:
            raise IncompleteFrame(size, len(error.partial), "payload") from None
        yield decode_payload(payload, decoder)


async def write_frame(
    writer: asyncio.StreamWriter, obj: Any, *, max_size: int = MAX_FRAME_SIZE
) -> None:
    """Write ``obj`` as one frame and wait until the transport's buffer has room again."""
    writer.write(encode_frame(obj, max_size=max_size))
    await writer.drain()


# -- the program side: blocking binary files ----------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class FrameReader:
    """Blocking reader of frames from a binary file (a port program's ``sys.stdin.buffer``).

    ``read()`` returns the next value or raises ``EOFError`` at the orderly end; iterating
    yields values until then.
    """

    __slots__ = ("_decoder", "_stream", "max_size")

    def __init__(
        self, stream: _Readable, *, type: Any = Any, max_size: int = MAX_FRAME_SIZE
    ) -> None:
        self._stream = stream
        self._decoder = _decoder_for(type)
        self.max_size = max_size

    def read(self) -> Any:
        header = self._read_exactly(HEADER_SIZE)
        if not header:
            raise EOFError("the frame stream ended")
        if len(header) < HEADER_SIZE:
            raise IncompleteFrame(HEADER_SIZE, len(header), "header")
        size = _length(header, self.max_size)
        payload = self._read_exactly(size)
        if len(payload) < size:
            raise IncompleteFrame(size, len(payload), "payload")
        return decode_payload(payload, self._decoder)

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                value = self.read()
            except EOFError:
                return
            yield value

    def _read_exactly(self, size: int) -> bytes:
        # A buffered reader returns short only at EOF; a raw one may return short any time.
        chunks: list[bytes] = []
        got = 0
        while got < size:
            chunk = self._stream.read(size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FrameWriter:
    """Blocking writer of frames to a binary file (a port program's original stdout).

    Each :meth:`write` writes one whole frame and flushes it. Writes are serialised by a
    lock, so a program's worker threads may report progress through the same writer. Do not
    write from a signal handler: it may interrupt a write half-way. Set a flag (or raise) in
    the handler and write from ordinary code; a re-entered write raises ``RuntimeError``
    instead of corrupting the stream.
    """

    __slots__ = ("_lock", "_stream", "_writing", "max_size")

    def __init__(self, stream: _Writable, *, max_size: int = MAX_FRAME_SIZE) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._writing: int | None = None
        self.max_size = max_size

    def write(self, obj: Any) -> None:
        """Write ``obj`` as one frame; raises :class:`FrameTooLarge` before writing anything."""
        frame = encode_frame(obj, max_size=self.max_size)
        if self._writing == threading.get_ident():
            raise RuntimeError(
                "FrameWriter.write was re-entered by the thread that is writing (from a signal "
                "handler?); set a flag in the handler and write from ordinary code instead"
            )
        with self._lock:
            self._writing = threading.get_ident()
            try:
                self._stream.write(frame)
                self._stream.flush()
            finally:
                self._writing = None


def redirect_stdout_to_stderr() -> IO[bytes]:
    """Keep the real stdout for frames and send everything else written to it to stderr.

    Returns a binary file on a duplicate of the original fd 1 (flush after each frame, as
    :class:`FrameWriter` does). After the call, fd 1 is a copy of fd 2 and ``sys.stdout``
    is ``sys.stderr``: ``print``, logging to stdout and C code writing to fd 1 all land in
    the port's log. Call it once, first thing in a port program, before anything prints.
    """
    sys.stdout.flush()
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frames_fd, "wb")


def port_stdio(
    *, type: Any = Any, max_size: int = MAX_FRAME_SIZE
) -> tuple[FrameReader, FrameWriter]:
    """A port program's two frame channels: requests from stdin, replies to the real stdout.

    Also applies :func:`redirect_stdout_to_stderr`, so nothing else can corrupt the frames.
    """
    out = redirect_stdout_to_stderr()
    return FrameReader(sys.stdin.buffer, type=type, max_size=max_size), FrameWriter(
        out, max_size=max_size
    )
