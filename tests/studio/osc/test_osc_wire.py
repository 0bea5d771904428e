"""OSC datagrams in and out: python-osc's builders against our checks, bundles, time tags."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from soundforge.studio.osc import Malformed, decode, encode
from soundforge.studio.osc._wire import MAX_DATAGRAM


def message(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def bundle(timestamp: float, *contents: bytes) -> bytes:
    builder = OscBundleBuilder(timestamp)  # type: ignore[arg-type]
    for content in contents:
        builder.add_content(OscPacket(content).messages[0].message)
    return builder.build().dgram


def test_a_message_decodes_to_one_group_now() -> None:
    now = time.time()
    groups = decode(message("/sf/stem/vocals/volume", 0.7), now)
    assert len(groups) == 1 and groups[0].at == now
    address, args = groups[0].messages[0]
    assert address == "/sf/stem/vocals/volume" and args == [pytest.approx(0.7)]


def test_a_bundle_is_one_group_in_order() -> None:
    now = time.time()
    dgram = bundle(IMMEDIATELY, message("/sf/rate", 0.8), message("/sf/pitch", -2))
    [group] = decode(dgram, now)
    assert [address for address, _ in group.messages] == ["/sf/rate", "/sf/pitch"]


def test_nested_bundles_with_time_tags_come_in_time_order() -> None:
    now = time.time()
    inner = OscBundleBuilder(now + 5)  # type: ignore[arg-type]
    inner.add_content(OscMessageBuilder("/sf/later").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(inner.build())
    outer.add_content(OscMessageBuilder("/sf/now").build())
    groups = decode(outer.build().dgram, now)
    assert [g.messages[0][0] for g in groups] == ["/sf/now", "/sf/later"]
    assert groups[1].at == pytest.approx(now + 5, abs=0.01)


@pytest.mark.parametrize(
    ("dgram", "reason"),
    [
        (b"garbage!", "not an OSC message or bundle"),
        (message("/sf/rate", 0.5)[:-2], "multiple of 4"),
        (message("/sf/rate", 0.5)[:-4], "truncated arguments"),
        (message("/sf/rate", 0.5) + b"\x00" * 4, "bytes after the last argument"),
        (message("/sf/track/title", "abc")[:-4], "terminating NUL"),
        (b"/sf/rate\x00\x00\x00\x00,x\x00\x00\x00\x00\x00\x01", "unsupported type tag 'x'"),
        (b"/sf/rate\x00\x00\x00\x00f\x00\x00\x00", "does not start with ','"),
        (b"#bundle\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x40/sf/", "size does not fit"),
        (b"#bundle\x00\x00\x00", "truncated bundle"),
    ],
)
def test_malformed_datagrams_are_refused_with_a_reason(dgram: bytes, reason: str) -> None:
    with pytest.raises(Malformed) as refused:
        decode(dgram, time.time())
    assert reason in refused.value.reason


def test_a_bundle_too_far_ahead_is_refused() -> None:
    now = time.time()
    with pytest.raises(Malformed, match="ahead"):
        decode(bundle(now + 3600, message("/sf/rate", 1.0)), now)


def test_feedback_is_one_message_or_bundles_under_the_size_limit() -> None:
    [single] = encode([("/sf/rate", [0.8])])
    assert OscPacket(single).messages[0].message.address == "/sf/rate"
    many = [(f"/sf/stem/s{i}/volume", [i / 100]) for i in range(100)]
    datagrams = encode(many)
    assert len(datagrams) > 1 and all(len(d) <= MAX_DATAGRAM for d in datagrams)
    decoded = [m for d in datagrams for m in OscPacket(d).messages]
    assert [m.message.address for m in decoded] == [address for address, _ in many]
    assert decoded[7].message.params == [pytest.approx(0.07)]
    [text] = encode([("/sf/track/title", ["Night Drive"])])
    assert OscPacket(text).messages[0].message.params == ["Night Drive"]
