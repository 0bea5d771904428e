"""The mix planner's search: the cost of playing one track after another at a place in the
set, and the order with the least total cost.

A transition costs ``0.40 × tempo + 0.35 × key`` (each 0..1) and a place in the set
``0.25 × energy`` (how far the track's energy is from the flow's target there), the
weights of the original's Chef ranking. Up to :data:`EXACT_LIMIT` tracks the search is
exact (Held–Karp over subsets, the place in the set being the subset's size); above it,
the best greedy order from every start, improved by reversing and moving runs until no
move helps. Ties are broken by the input order, so a plan is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final, Literal

import msgspec

from soundforge.agents.camelot import KeyRelation, relation

__all__ = ["EXACT_LIMIT", "Flow", "Tempo", "order", "set_cost", "tempo_match"]

Flow = Literal["rising", "peak", "steady"]

EXACT_LIMIT: Final = 10
W_TEMPO: Final = 0.40
W_KEY: Final = 0.35
W_ENERGY: Final = 0.25
#: A track's share of the set where the "peak" flow tops out.
PEAK_AT: Final = 0.7


class Tempo(msgspec.Struct, frozen=True):
    """How the incoming tempo meets the outgoing one, half/double time considered."""

    #: "same tempo", "double time" (the incoming track runs at twice the beat), "half time".
    relation: str
    #: The incoming track's tempo as it will be beatmatched (its BPM, doubled or halved).
    effective_bpm: float
    #: (effective − outgoing) / outgoing, in per cent.
    change_pct: float
    cost: float


def tempo_match(outgoing: float | None, incoming: float | None) -> Tempo | None:
    """None when either tempo is unknown."""
    if not outgoing or not incoming:
        return None
    options = ((incoming, "same tempo"), (incoming * 2, "half time"), (incoming / 2, "double time"))
    effective, name = min(options, key=lambda o: abs(math.log(o[0] / outgoing)))
    pct = (effective / outgoing - 1) * 100
    size = abs(pct)
    if size <= 2:
        cost = size / 20
    elif size <= 6:
        cost = 0.1 + (size - 2) / 10
    elif size <= 12:
        cost = 0.5 + (size - 6) / 12
    else:
        cost = 1.0
    if name != "same tempo":
        cost = min(1.0, cost + 0.1)  # a half/double-time mix works, but asks more of the DJ
    return Tempo(name, round(effective, 2), round(pct, 2), round(cost, 4))


class Item(msgspec.Struct, frozen=True):
    """What the search needs of a track."""

    bpm: float | None
    camelot: str | None
    #: Normalised over the set, 0 (calmest) .. 1 (most energetic).
    energy: float


def _target(flow: Flow, place: int, n: int) -> float | None:
    if flow == "steady" or n == 1:
        return None
    share = place / (n - 1)
    if flow == "rising":
        return share
    if share <= PEAK_AT:
        return share / PEAK_AT
    return 1.0 - 0.5 * (share - PEAK_AT) / (1.0 - PEAK_AT)


def _costs(
    items: Sequence[Item], flow: Flow
) -> tuple[list[list[float]], Callable[[int | None, int, int], float]]:
    """The pair costs (outgoing × incoming) and the place cost of a track."""
    n = len(items)
    pair = [[0.0] * n for _ in range(n)]
    for i, a in enumerate(items):
        for j, b in enumerate(items):
            if i != j:
                tempo = tempo_match(a.bpm, b.bpm)
                key: KeyRelation = relation(a.camelot, b.camelot)
                pair[i][j] = W_TEMPO * (tempo.cost if tempo is not None else 0.6) + W_KEY * key.cost

    def place_cost(previous: int | None, track: int, place: int) -> float:
        target = _target(flow, place, n)
        if target is None:  # steady: every change of energy costs
            return (
                0.0
                if previous is None
                else W_ENERGY * abs(items[track].energy - items[previous].energy)
            )
        return W_ENERGY * abs(items[track].energy - target)

    return pair, place_cost


def set_cost(items: Sequence[Item], flow: Flow, sequence: Sequence[int]) -> float:
    pair, place_cost = _costs(items, flow)
    return _total(pair, place_cost, sequence)


def _total(
    pair: list[list[float]], place_cost: Callable[[int | None, int, int], float], seq: Sequence[int]
) -> float:
    total = 0.0
    for place, track in enumerate(seq):
        previous = seq[place - 1] if place else None
        total += place_cost(previous, track, place)
        if previous is not None:
            total += pair[previous][track]
    return total


def order(items: Sequence[Item], flow: Flow) -> list[int]:
    """The indexes of ``items`` in the order with the least cost."""
    n = len(items)
    if n <= 1:
        return list(range(n))
    pair, place_cost = _costs(items, flow)
    if n <= EXACT_LIMIT:
        return _exact(n, pair, place_cost)
    return _improve(_greedy(n, pair, place_cost), pair, place_cost)


def _exact(
    n: int, pair: list[list[float]], place_cost: Callable[[int | None, int, int], float]
) -> list[int]:
    # best[mask][last]: the least cost of playing the tracks of mask, ending with last.
    size = 1 << n
    best = [[math.inf] * n for _ in range(size)]
    back = [[-1] * n for _ in range(size)]
    for t in range(n):
        best[1 << t][t] = place_cost(None, t, 0)
    for mask in range(1, size):
        place = mask.bit_count()
        for last in range(n):
            here = best[mask][last]
            if here == math.inf:
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                cost = here + pair[last][nxt] + place_cost(last, nxt, place)
                target = mask | (1 << nxt)
                if cost < best[target][nxt] - 1e-12:
                    best[target][nxt] = cost
                    back[target][nxt] = last
    full = size - 1
    last = min(range(n), key=lambda t: (best[full][t], t))
    sequence = [last]
    mask = full
    while back[mask][last] != -1:
        previous = back[mask][last]
        mask ^= 1 << last
        last = previous
        sequence.append(last)
    return sequence[::-1]


def _greedy(
    n: int, pair: list[list[float]], place_cost: Callable[[int | None, int, int], float]
) -> list[int]:
    candidates = []
    for start in range(n):
        seq, left = [start], set(range(n)) - {start}
        while left:
            last = seq[-1]
            nxt = min(left, key=lambda t: (pair[last][t] + place_cost(last, t, len(seq)), t))
            seq.append(nxt)
            left.remove(nxt)
        candidates.append((_total(pair, place_cost, seq), seq))
    return min(candidates)[1]


def _improve(
    seq: list[int], pair: list[list[float]], place_cost: Callable[[int | None, int, int], float]
) -> list[int]:
    """Reverse or move runs while that lowers the cost (bounded passes)."""
    best = _total(pair, place_cost, seq)
    n = len(seq)
    for _ in range(20):
        improved = False
        for i in range(n - 1):
            for j in range(i + 1, n):
                for candidate in (
                    seq[:i] + seq[i : j + 1][::-1] + seq[j + 1 :],
                    seq[:i] + seq[i + 1 : j + 1] + [seq[i]] + seq[j + 1 :],
                ):
                    cost = _total(pair, place_cost, candidate)
                    if cost < best - 1e-9:
                        seq, best, improved = candidate, cost, True
        if not improved:
            break
    return seq
