"""The TouchOSC layout: a zlib-compressed XML document in the shape TouchOSC's editor writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from collections import Counter

from soundforge.studio.osc import parse_address
from soundforge.studio.osc._address import SetControl
from soundforge.studio.osc.touchosc import DEFAULT_STEMS, layout

CONTAINERS = {"GROUP", "PAGER"}


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(zlib.decompress(data))


def addresses(root: ET.Element) -> set[str]:
    return {
        value.text or ""
        for osc in root.iter("osc")
        for value in osc.findall("./path/partial/value")
    }


def test_the_file_is_compressed_well_formed_lexml_with_a_group_at_the_root() -> None:
    root = parse(layout(["vocals", "drums", "bass"], title="Night <Drive> ]]> & co"))
    assert root.tag == "lexml" and root.get("version") == "6"
    [top] = list(root)
    assert top.tag == "node" and top.get("type") == "GROUP"
    nodes = list(root.iter("node"))
    assert all(count == 1 for count in Counter(n.get("ID") for n in nodes).values())
    for node in nodes:
        if node.find("children") is not None:
            assert node.get("type") in CONTAINERS
        keys = [p.findtext("key") or "" for p in node.findall("./properties/property")]
        assert keys == sorted(keys) and "frame" in keys and "name" in keys
        for osc in node.iter("osc"):
            assert len(osc.findtext("connections") or "") == 10
    title = next(
        n for n in nodes if n.findtext("./values/value/default") == "Night <Drive> ]]> & co"
    )
    assert title.get("type") == "LABEL"


def test_every_stem_strip_transport_rate_loop_and_the_dj_controls_are_addressed() -> None:
    stems = ["vocals", "drums", "bass", "guitar", "piano", "other"]
    found = addresses(parse(layout(stems)))
    for stem in stems:
        for part in ("volume", "mute", "solo"):
            assert f"/sf/stem/{stem}/{part}" in found
    expected = {
        "/sf/master/volume",
        "/sf/transport/playing",
        "/sf/transport/stop",
        "/sf/rate",
        "/sf/pitch",
        "/sf/loop/enabled",
        "/sf/crossfader",
        "/sf/track/title",
        "/sf/bpm",
        "/sf/deck/1/playing",
        "/sf/deck/1/cue",
        "/sf/deck/2/sync",
        "/sf/deck/2/rate",
    }
    assert expected <= found
    for address in found - {"/sf/track/title", "/sf/bpm"}:
        assert isinstance(parse_address(address, []), SetControl)


def test_number_faders_send_their_range_and_the_default_has_four_stems() -> None:
    root = parse(layout())
    rate = next(
        osc for osc in root.iter("osc") if osc.findtext("./path/partial/value") == "/sf/rate"
    )
    assert rate.findtext("./arguments/partial/scaleMin") == "0.25"
    assert rate.findtext("./arguments/partial/scaleMax") == "2"
    assert {f"/sf/stem/{s}/volume" for s in DEFAULT_STEMS} <= addresses(root)


def test_a_seed_makes_the_file_repeatable() -> None:
    assert layout(seed="t1") == layout(seed="t1") != layout(seed="t2")
