"""The deterministic mix planner: the order of hand-made sets, the advice per transition,
and plans of a user's analysed tracks from the database."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from soundforge.agents import PlannerTrack, order_tracks, plan_mix
from soundforge.agents._ordering import Item, set_cost, tempo_match
from soundforge.agents.planner import _energies
from soundforge.music import InvalidFilter, TrackNotFound
from tests.agents import library


def _track(name: str, bpm: float | None, camelot: str | None, level: float | None) -> PlannerTrack:
    return PlannerTrack(id=name, title=name, bpm=bpm, camelot=camelot, level_db=level)


WARMUP = [
    _track("peak", 128, "10A", -6),
    _track("opener", 122, "8A", -14),
    _track("second", 124, "9A", -11),
    _track("third", 126, "9A", -9),
]


def test_a_rising_set_walks_the_wheel_and_the_energy_up() -> None:
    plan = order_tracks(WARMUP, "rising")
    assert [t.track_id for t in plan.tracks] == ["opener", "second", "third", "peak"]
    assert [t.position for t in plan.tracks] == [1, 2, 3, 4]
    energies = [t.energy for t in plan.tracks]
    assert energies == sorted(energies) and energies[0] == 0.0 and energies[-1] == 1.0
    first = plan.transitions[0]
    assert (first.from_track_id, first.to_track_id) == ("opener", "second")
    assert first.key_relation == "adjacent (+1)"
    assert first.tempo_relation == "same tempo"
    assert first.tempo_change_pct == pytest.approx(1.64, abs=0.01)
    assert first.tempo_adjust_pct == pytest.approx(-1.61, abs=0.01)
    assert first.target_bpm == pytest.approx(122.0)
    assert "Pitch the incoming track -1.6 % to 122.0 BPM" in first.advice
    assert plan.transitions[1].key_relation == "same key"
    assert plan.score is not None and 0.7 < plan.score <= 1


def test_half_and_double_time_are_beatmatched() -> None:
    match = tempo_match(128, 64.5)
    assert match is not None and match.relation == "half time"
    assert match.effective_bpm == 129.0 and match.change_pct == pytest.approx(0.78, abs=0.01)
    match = tempo_match(87, 172)
    assert match is not None and match.relation == "double time"
    plan = order_tracks([_track("dnb", 172, "8A", -8), _track("hiphop", 87, "8A", -12)], "rising")
    assert [t.track_id for t in plan.tracks] == ["hiphop", "dnb"]
    assert plan.transitions[0].tempo_relation == "double time"
    assert plan.transitions[0].target_bpm == pytest.approx(174.0)


def test_wide_tempo_gaps_and_clashes_are_called_out() -> None:
    plan = order_tracks([_track("a", 120, "8A", -10), _track("b", 140, "2B", -10)], "steady")
    advice = plan.transitions[0].advice
    assert "clash" in plan.transitions[0].key_relation
    assert "too far for a long beatmatched blend" in advice
    assert plan.transitions[0].score < 0.3


def test_a_pitch_change_that_moves_the_key_asks_for_key_lock() -> None:
    plan = order_tracks([_track("a", 120, "8A", -10), _track("b", 126, "8A", -10)], "steady")
    assert plan.transitions[0].key_shift_semitones is not None
    assert "with key lock on" in plan.transitions[0].advice


@pytest.mark.parametrize("flow", ["rising", "peak", "steady"])
def test_the_exact_search_finds_the_cheapest_order(flow: Any) -> None:
    tracks = [
        _track("a", 120, "8A", -12),
        _track("b", 124, "3B", -7),
        _track("c", 128, "9A", -5),
        _track("d", 63, "8B", -15),
        _track("e", 126, "10A", -9),
        _track("f", 122, "7A", -11),
    ]
    items = [Item(t.bpm, t.camelot, e) for t, e in zip(tracks, _energies(tracks), strict=True)]
    best = min(set_cost(items, flow, p) for p in itertools.permutations(range(len(items))))
    plan = order_tracks(tracks, flow)
    chosen = [next(i for i, t in enumerate(tracks) if t.id == p.track_id) for p in plan.tracks]
    assert set_cost(items, flow, chosen) == pytest.approx(best)


def test_a_peak_set_tops_out_late() -> None:
    levels = [-16, -14, -12, -10, -8, -6, -4]
    tracks = [_track(f"t{i}", 124, "8A", level) for i, level in enumerate(levels)]
    plan = order_tracks(tracks, "peak")
    peak = max(plan.tracks, key=lambda t: t.energy)
    assert peak.position in (5, 6) and plan.tracks[-1].energy < 1.0


def test_large_sets_are_ordered_heuristically_and_deterministically() -> None:
    keys = [f"{n}{m}" for n in range(1, 13) for m in "AB"]
    tracks = [
        _track(f"t{i:02d}", 118 + (i * 7) % 12, keys[(i * 5) % 24], -15 + (i * 3) % 10)
        for i in range(24)
    ]
    first, again = order_tracks(tracks, "rising"), order_tracks(list(tracks), "rising")
    assert [t.track_id for t in first.tracks] == [t.track_id for t in again.tracks]
    assert sorted(t.track_id for t in first.tracks) == sorted(t.id for t in tracks)
    assert len(first.transitions) == 23


def test_unknown_values_and_bad_flows() -> None:
    plan = order_tracks([_track("a", None, None, None), _track("b", 120, "8A", None)], "steady")
    assert plan.transitions[0].tempo_relation == "unknown tempo"
    assert plan.transitions[0].key_relation == "unknown key"
    assert order_tracks([], "rising").score is None
    with pytest.raises(InvalidFilter):
        order_tracks(WARMUP, "sideways")  # type: ignore[arg-type]


async def test_plan_mix_reads_the_users_analysed_tracks(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner, other = await library.user(conn), await library.user(conn, "other")
        loud = await library.track(conn, owner, "Loud", tempo=128.0, key="E minor", camelot="9A",
                                   level_db=-6.0)  # fmt: skip
        calm = await library.track(conn, owner, "Calm", tempo=122.0, level_db=-16.0)
        pending = await library.track(conn, owner, "Pending", analysed=False)
        theirs = await library.track(conn, other, "Theirs")

        plan = await plan_mix(conn, owner, None, flow="rising")
        assert [t.title for t in plan.tracks] == ["Calm", "Loud"]
        transition = plan.transitions[0]
        assert transition.mix_out_ms == 201_240  # the calm track's outro
        assert transition.mix_in_ms == 480  # the loud track's first downbeat
        assert transition.key_relation == "adjacent (+1)"

        chosen = await plan_mix(conn, owner, [loud, calm, pending], flow="steady")
        assert {t.track_id for t in chosen.tracks} == {loud, calm}
        assert [(e.track_id, e.reason) for e in chosen.excluded] == [(pending, "not analysed yet")]

        with pytest.raises(TrackNotFound):
            await plan_mix(conn, owner, [loud, theirs])
        with pytest.raises(TrackNotFound):
            await plan_mix(conn, owner, ["nonsense"])
        with pytest.raises(InvalidFilter):
            await plan_mix(conn, owner, None, limit=0)
