"""Which search result is the song Spotify described: the duration rule.

A search for ``"<title> <artists>"`` returns a ranked list. Live versions, extended mixes
and videos with a long intro share the title, so the length is what tells them apart: a
result counts only if its duration is within ``tolerance_s`` (10 s) of Spotify's. Among
those the one with the closest duration wins, and equal distances go to the better rank.

When no result is close enough we raise :class:`~soundforge.audio.errors.NoMatch` rather
than import the top result: a wrong version silently stored as "the" track is worse than a
clear failure the user can fix by pasting a link. ``allow_unmatched`` (off by default)
takes the top result instead, for users who prefer that.

    choose([Candidate(1, "Song (Live)", url1, 301.0), Candidate(2, "Song", url2, 212.0)],
           target_ms=210_000, query="Song Artist")   # -> the second one
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from soundforge.audio.errors import NoMatch
from soundforge.audio.sources._units import clock

__all__ = ["Candidate", "choose"]


class Candidate(msgspec.Struct, frozen=True):
    """One search result: its 1-based rank, title, page URL and length if known."""

    rank: int
    title: str
    url: str
    duration_s: float | None = None


def choose(
    candidates: Sequence[Candidate],
    *,
    target_ms: int | None,
    query: str,
    tolerance_s: float = 10.0,
    allow_unmatched: bool = False,
) -> Candidate:
    """The best candidate by the duration rule; raises NoMatch when there is none."""
    ranked = sorted(candidates, key=lambda c: c.rank)
    if not ranked:
        raise NoMatch(f'the search for "{query}" found nothing to download')
    if not target_ms:
        return ranked[0]  # nothing to compare with: trust the search engine's order
    target = target_ms / 1000
    close = [
        c for c in ranked if c.duration_s is not None and abs(c.duration_s - target) <= tolerance_s
    ]
    if close:
        return min(close, key=lambda c: (abs((c.duration_s or 0.0) - target), c.rank))
    if allow_unmatched:
        return ranked[0]
    timed = [c for c in ranked if c.duration_s is not None]
    closest = min(timed, key=lambda c: abs((c.duration_s or 0.0) - target), default=None)
    found = (
        f'; the closest was "{closest.title}" at {clock(closest.duration_s or 0.0)}'
        if closest
        else "; none of them said how long it is"
    )
    raise NoMatch(
        f'none of the {len(ranked)} results for "{query}" is within {tolerance_s:g} s of the '
        f"track's length ({clock(target)}){found}; paste a link to the right recording instead"
    )
