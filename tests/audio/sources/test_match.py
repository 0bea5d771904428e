"""The duration rule that picks a search result for a Spotify track (pure, no network)."""

from __future__ import annotations

import pytest

from soundforge.audio.errors import NoMatch
from soundforge.audio.sources._match import Candidate, choose
from soundforge.audio.sources._units import clock, megabytes


def c(rank: int, duration: float | None) -> Candidate:
    return Candidate(rank, f"result {rank}", f"https://example.com/{rank}", duration)


def test_closest_duration_within_tolerance_beats_rank() -> None:
    # Spotify says 3:30; the top result is a 5-minute live version.
    chosen = choose([c(1, 300), c(2, 217), c(3, 211)], target_ms=210_000, query="q")
    assert chosen.rank == 3


def test_equal_distance_goes_to_the_better_rank() -> None:
    chosen = choose([c(1, 400), c(3, 205), c(2, 215)], target_ms=210_000, query="q")
    assert chosen.rank == 2


def test_the_tolerance_is_inclusive_and_configurable() -> None:
    assert choose([c(1, 220)], target_ms=210_000, query="q").rank == 1
    with pytest.raises(NoMatch):
        choose([c(1, 220)], target_ms=210_000, query="q", tolerance_s=5)


def test_no_close_result_is_a_clear_no_match() -> None:
    with pytest.raises(NoMatch) as caught:
        choose([c(1, 300), c(2, None)], target_ms=210_000, query="Song Band")
    message = str(caught.value)
    assert '"Song Band"' in message
    assert "within 10 s" in message
    assert "3:30" in message and '"result 1" at 5:00' in message


def test_allow_unmatched_takes_the_top_result() -> None:
    chosen = choose([c(2, 500), c(1, 300)], target_ms=210_000, query="q", allow_unmatched=True)
    assert chosen.rank == 1


def test_without_a_known_length_the_top_result_wins() -> None:
    assert choose([c(2, 10), c(1, None)], target_ms=None, query="q").rank == 1


def test_nothing_found() -> None:
    with pytest.raises(NoMatch, match="found nothing"):
        choose([], target_ms=1000, query="q")


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59.6, "1:00"), (3725, "1:02:05")])
def test_clock(seconds: float, text: str) -> None:
    assert clock(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"), [(20_000, "0.0 MB"), (2_500_000, "2.5 MB"), (52e6, "52 MB")]
)
def test_megabytes(size: int, text: str) -> None:
    assert megabytes(size) == text
