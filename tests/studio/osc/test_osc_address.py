"""The /sf/ address space: addresses, what arguments mean per kind, feedback values."""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.studio import controls
from soundforge.studio.osc import (
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
from soundforge.studio.osc._address import SKIP

INFO = {"stems": ["vocals", "drums"], "duration_ms": 60_000}


def control(path: str, key: str = "track:1") -> controls.Control:
    return controls.control_for(key, path, INFO)


@pytest.mark.parametrize(
    ("address", "command"),
    [
        ("/sf/stem/vocals/volume", SetControl("stem.vocals.volume")),
        ("/sf/deck/1/play", SetControl("deck.1.play")),
        ("/sf/deck/2/eq/low", SetControl("deck.2.eq.low")),
        ("/sf/crossfader", SetControl("crossfader")),
        ("/sf/transport/toggle", SetControl("transport.toggle")),
        ("/sf/register", Register(None)),
        ("/sf/unregister", Unregister()),
        ("/sf/sync", Sync()),
    ],
)
def test_addresses_name_control_paths_and_commands(address: str, command: object) -> None:
    assert parse_address(address, []) == command


def test_every_control_path_round_trips_through_its_address() -> None:
    for key, session in (("track:1", "track"), ("dj", "dj")):
        info = INFO if key != "dj" else {"decks": {"1": INFO, "2": None}}
        for found in controls.controls(key, info):
            parsed = parse_address(address_for(found.path, session), [])
            assert isinstance(parsed, SetControl) and parsed.path == found.path
            assert (parsed.session or session_of(parsed.path)) == session, found.path


def test_the_consoles_master_is_addressed_under_dj() -> None:
    assert address_for("master.volume", "dj") == "/sf/dj/master/volume"
    assert address_for("master.volume", "track") == "/sf/master/volume"
    assert address_for("deck.1.volume", "dj") == "/sf/deck/1/volume"  # unambiguous: short
    assert parse_address("/sf/dj/master/volume", []) == SetControl("master.volume", "dj")
    assert parse_address("/sf/dj/deck/2/play", []) == SetControl("deck.2.play", "dj")
    assert parse_address("/sf/master/volume", []) == SetControl("master.volume")


@pytest.mark.parametrize(
    "address", ["/mixer/volume", "/sf/stem/*/mute", "/sf/stem//mute", "/sf/a b", "/sf"]
)
def test_addresses_outside_the_space_are_unknown(address: str) -> None:
    with pytest.raises(UnknownAddress):
        parse_address(address, [])


def test_register_takes_a_port() -> None:
    assert parse_address("/sf/register", [9000]) == Register(9000)
    assert parse_address("/sf/register", [9000.0]) == Register(9000)
    assert parse_address("/sf/register", ["9001"]) == Register(9001)
    with pytest.raises(BadArguments):
        parse_address("/sf/register", [70000])


def test_paths_go_to_the_dj_console_or_the_track() -> None:
    assert session_of("deck.1.play") == "dj" and session_of("crossfader.curve") == "dj"
    assert session_of("rate") == "track" and session_of("stem.vocals.mute") == "track"


@pytest.mark.parametrize(
    ("path", "args", "value"),
    [
        ("stem.vocals.volume", [0.7], 0.7),
        ("stem.vocals.volume", [1], 1.0),
        ("rate", [0.8], 0.8),
        ("pitch", [-2], -2.0),
        ("stem.vocals.mute", [1.0], True),
        ("stem.vocals.mute", [0.49], False),
        ("stem.vocals.solo", [True], True),
        ("transport.toggle", [1.0], True),
        ("transport.toggle", [], True),
        ("transport.toggle", [0.0], SKIP),
        ("transport.toggle", [0], SKIP),
    ],
)
def test_arguments_mean_values_by_kind(path: str, args: list[Any], value: Any) -> None:
    assert value_for(control(path), args) == value


def test_dj_values() -> None:
    assert value_for(control("crossfader", "dj"), [0.25]) == 0.25
    assert value_for(control("crossfader.curve", "dj"), ["equal_power"]) == "equal_power"
    assert value_for(control("crossfader.curve", "dj"), [1.0]) == "equal_power"
    assert value_for(control("deck.1.track_id", "dj"), ["abc"]) == "abc"
    assert value_for(control("deck.1.track_id", "dj"), [None]) is None
    assert value_for(control("deck.1.hotcue.3", "dj"), [None]) is None


@pytest.mark.parametrize(
    ("path", "args"), [("rate", ["fast"]), ("stem.vocals.mute", []), ("rate", [float("nan")])]
)
def test_arguments_that_do_not_fit_are_refused(path: str, args: list[Any]) -> None:
    with pytest.raises(BadArguments):
        value_for(control(path), args)


def test_feedback_values_are_floats_strings_or_nothing() -> None:
    assert feedback_args(control("stem.vocals.volume"), 0.5) == [0.5]
    assert feedback_args(control("stem.vocals.mute"), True) == [1.0]
    assert feedback_args(control("rate"), 1.25) == [1.25]
    assert feedback_args(control("transport.play"), True) is None
    assert feedback_args(control("crossfader.curve", "dj"), "linear") == ["linear"]
    assert feedback_args(control("deck.1.hotcue.1", "dj"), None) is None
    assert feedback_args(control("deck.1.track_id", "dj"), None) == [""]


def test_the_package_exports() -> None:
    import soundforge.studio.osc as osc

    assert sorted(osc.__all__) == sorted(
        [
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
    )
    assert all(hasattr(osc, name) for name in osc.__all__)
