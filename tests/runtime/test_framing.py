"""Framing: length-prefixed msgpack both ways, in memory and across a real pipe to a child."""

from __future__ import annotations

import asyncio
import io
import struct
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.runtime.framing import (
    HEADER_SIZE,
    MAX_FRAME_SIZE,
    FrameReader,
    FrameTooLarge,
    FrameWriter,
    IncompleteFrame,
    MalformedFrame,
    encode_frame,
    iter_frames,
    read_frame,
    write_frame,
)


class Job(msgspec.Struct, tag=True):
    track: int
    stems: list[str]


class Progress(msgspec.Struct, tag=True):
    fraction: float


VALUES: list[Any] = [
    None,
    0,
    -(2**63),
    3.5,
    "",
    "ünïcode",
    b"\x00\xff" * 10,
    [1, [2, [3]]],
    {"a": {"b": [True, False]}},
    Job(7, ["vocals", "drums"]),
]


def _frames(*values: Any) -> bytes:
    return b"".join(encode_frame(v) for v in values)


def test_encode_frame_is_length_then_msgpack() -> None:
    frame = encode_frame({"x": 1})
    payload = msgspec.msgpack.encode({"x": 1})
    assert frame == struct.pack(">I", len(payload)) + payload
    assert len(frame) == HEADER_SIZE + len(payload)


def test_sync_round_trip_in_memory() -> None:
    buffer = io.BytesIO()
    writer = FrameWriter(buffer)
    for value in VALUES:
        writer.write(value)
    buffer.seek(0)
    decoded = list(FrameReader(buffer))
    assert decoded[:-1] == VALUES[:-1]
    assert decoded[-1] == {"type": "Job", "track": 7, "stems": ["vocals", "drums"]}


def test_sync_reader_decodes_a_typed_union() -> None:
    buffer = io.BytesIO(_frames(Job(1, ["bass"]), Progress(0.5)))
    reader = FrameReader(buffer, type=Job | Progress)
    assert reader.read() == Job(1, ["bass"])
    assert reader.read() == Progress(0.5)
    with pytest.raises(EOFError):
        reader.read()


BAD_STREAMS = [
    pytest.param(b"\x00\x00", IncompleteFrame, id="truncated-header"),
    pytest.param(struct.pack(">I", 10) + b"\x01", IncompleteFrame, id="truncated-payload"),
    pytest.param(struct.pack(">I", 2**32 - 1), FrameTooLarge, id="oversized-length"),
    pytest.param(struct.pack(">I", 0), MalformedFrame, id="empty-frame"),
    pytest.param(struct.pack(">I", 1) + b"\xc1", MalformedFrame, id="not-msgpack"),
    pytest.param(struct.pack(">I", 2) + b"\x01\x02", MalformedFrame, id="trailing-bytes"),
]


@pytest.mark.parametrize(("data", "error"), BAD_STREAMS)
def test_sync_reader_rejects_bad_streams(data: bytes, error: type[Exception]) -> None:
    reader = FrameReader(io.BytesIO(encode_frame("ok") + data))
    assert reader.read() == "ok"
    with pytest.raises(error):
        reader.read()


@pytest.mark.parametrize(("data", "error"), BAD_STREAMS)
async def test_async_reader_rejects_bad_streams(data: bytes, error: type[Exception]) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame("ok") + data)
    reader.feed_eof()
    assert await read_frame(reader) == "ok"
    with pytest.raises(error):
        await read_frame(reader)


async def test_async_reader_clean_end_and_typed_decoding() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(_frames(Progress(0.25), Progress(1.0)))
    reader.feed_eof()
    assert await read_frame(reader, type=Progress) == Progress(0.25)
    assert [v async for v in iter_frames(reader, type=Progress)] == [Progress(1.0)]
    with pytest.raises(EOFError):
        await read_frame(reader)


async def test_async_reader_refuses_a_wrong_type() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame({"fraction": "half"}))
    reader.feed_eof()
    with pytest.raises(MalformedFrame):
        await read_frame(reader, type=Progress)


def test_writer_refuses_an_oversized_frame_before_writing() -> None:
    buffer = io.BytesIO()
    writer = FrameWriter(buffer, max_size=64)
    writer.write(b"x" * 60)
    with pytest.raises(FrameTooLarge) as caught:
        writer.write(b"x" * 100)
    assert caught.value.max_size == 64
    buffer.seek(0)
    assert list(FrameReader(buffer)) == [b"x" * 60]


def test_reader_refuses_a_frame_over_its_limit() -> None:
    reader = FrameReader(io.BytesIO(encode_frame(b"y" * 100)), max_size=50)
    with pytest.raises(FrameTooLarge, match="exceeds the limit of 50 bytes"):
        reader.read()


def test_default_limit_is_64_mib() -> None:
    assert MAX_FRAME_SIZE == 64 * 1024 * 1024


# -- across a real pipe -------------------------------------------------------------------

ECHO = """
import os, sys
from soundforge.runtime.framing import FrameTooLarge, port_stdio

requests, replies = port_stdio(max_size=int(sys.argv[1]))
print("stray print goes to stderr")
os.write(1, b"stray fd-1 write goes to stderr\\n")
try:
    for value in requests:
        replies.write(value)
except FrameTooLarge as error:
    print("child refused:", error, file=sys.stderr)
    sys.exit(2)
"""


async def _child(tmp_path: Path, max_size: int = MAX_FRAME_SIZE) -> asyncio.subprocess.Process:
    program = tmp_path / "echo.py"
    program.write_text(ECHO)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(program),
        str(max_size),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _echo_through_child(tmp_path: Path, values: list[Any]) -> tuple[list[Any], bytes, int]:
    child = await _child(tmp_path)
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    stdin, stdout = child.stdin, child.stdout

    async def send_all() -> None:
        for value in values:
            await write_frame(stdin, value)
        stdin.close()

    async def receive_all() -> list[Any]:
        return [value async for value in iter_frames(stdout)]

    # Both directions at once: a large frame fills the pipes while the child echoes it.
    _, echoed, errors = await asyncio.wait_for(
        asyncio.gather(send_all(), receive_all(), child.stderr.read()), timeout=30
    )
    status = await asyncio.wait_for(child.wait(), timeout=5)
    return echoed, errors, status


async def test_many_frames_round_trip_through_a_child(tmp_path: Path) -> None:
    values = [{"seq": i, "stem": "drums" * (i % 7)} for i in range(3000)]
    echoed, errors, status = await _echo_through_child(tmp_path, values)
    assert echoed == values
    assert status == 0
    assert b"stray print goes to stderr" in errors
    assert b"stray fd-1 write goes to stderr" in errors


async def test_large_frames_round_trip_through_a_child(tmp_path: Path) -> None:
    big = bytes(range(256)) * (24 * 1024 * 1024 // 256)  # 24 MiB, far beyond a pipe's buffer
    values = [big, "small between", list(range(200_000)), big[: 1 << 20]]
    echoed, _, status = await _echo_through_child(tmp_path, values)
    assert status == 0
    assert len(echoed) == 4
    assert echoed[0] == big
    assert echoed[1:] == values[1:]


async def test_a_child_refuses_a_frame_over_its_limit(tmp_path: Path) -> None:
    child = await _child(tmp_path, max_size=1024)
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    await write_frame(child.stdin, "fits")
    assert await asyncio.wait_for(read_frame(child.stdout), 10) == "fits"
    child.stdin.write(encode_frame(b"z" * 4096))
    child.stdin.close()
    errors = await asyncio.wait_for(child.stderr.read(), 10)
    assert await asyncio.wait_for(child.wait(), 5) == 2
    assert b"child refused" in errors and b"4" in errors
    with pytest.raises(EOFError):
        await read_frame(child.stdout)
