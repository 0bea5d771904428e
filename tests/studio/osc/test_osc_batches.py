"""Coalescing: few mixer calls, the last value of every path, and meaning kept in order."""

from __future__ import annotations

from typing import Any

from soundforge.studio.osc._address import Sync
from soundforge.studio.osc._batches import Batch, CommandOp, Op, plan

A = "osc:127.0.0.1:5000"
B = "osc:127.0.0.1:5001"


def op(path: str, value: Any, origin: str = A, trigger: bool = False) -> Op:
    session = "dj" if path.startswith(("deck.", "crossfader")) else "track"
    return Op(origin, session, path, value, trigger)


def values(steps: list[Batch | CommandOp]) -> list[Any]:
    return [s.values if isinstance(s, Batch) else "cmd" for s in steps]


def test_a_stream_of_one_fader_is_one_call_with_the_last_value() -> None:
    steps = plan([[op("stem.vocals.volume", i / 2000)] for i in range(2000)])
    assert values(steps) == [{"stem.vocals.volume": 1999 / 2000}]
    assert isinstance(steps[0], Batch) and steps[0].messages == 2000


def test_senders_and_sessions_are_separate_calls() -> None:
    steps = plan([[op("rate", 0.8)], [op("rate", 0.9, B)], [op("crossfader", 0.1, B)]])
    assert values(steps) == [{"rate": 0.8}, {"rate": 0.9}, {"crossfader": 0.1}]


def test_a_bundle_stays_whole_and_splits_only_by_session() -> None:
    bundle = [op("rate", 0.8), op("crossfader", 0.3), op("pitch", 2)]
    assert values(plan([bundle])) == [{"rate": 0.8, "pitch": 2}, {"crossfader": 0.3}]


def test_repeated_triggers_are_never_merged() -> None:
    press = [op("transport.toggle", True, trigger=True)]
    assert values(plan([press, press])) == [{"transport.toggle": True}] * 2


def test_a_value_after_a_trigger_of_the_batch_starts_a_new_call() -> None:
    seek = [op("transport.position_ms", 1000)]
    stop = [op("transport.stop", True, trigger=True)]
    seek_again = [op("transport.position_ms", 2000)]
    assert values(plan([seek, stop, seek_again])) == [
        {"transport.position_ms": 1000, "transport.stop": True},
        {"transport.position_ms": 2000},
    ]


def test_commands_end_the_batch_before_them() -> None:
    sync = CommandOp(A, ("127.0.0.1", 5000), Sync())
    assert values(plan([[op("rate", 0.5)], [sync], [op("rate", 0.6)]])) == [
        {"rate": 0.5},
        "cmd",
        {"rate": 0.6},
    ]
