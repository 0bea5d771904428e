"""The Camelot wheel's relations, as the planner scores and explains them."""

from __future__ import annotations

import pytest

from soundforge.agents import neighbours, relation


@pytest.mark.parametrize(
    ("outgoing", "incoming", "name"),
    [
        ("8A", "8A", "same key"),
        ("8A", "9A", "adjacent (+1)"),
        ("8A", "7A", "adjacent (-1)"),
        ("12B", "1B", "adjacent (+1)"),
        ("1A", "12A", "adjacent (-1)"),
        ("8A", "8B", "relative major/minor"),
        ("8A", "10A", "energy boost (+2)"),
        ("8A", "6A", "two steps down (-2)"),
        ("8A", "9B", "diagonal (+1, mode change)"),
        ("8A", "3A", "semitone up (+7)"),
        ("8A", "2B", "clash"),
        (None, "8A", "unknown key"),
    ],
)
def test_relations(outgoing: str | None, incoming: str, name: str) -> None:
    assert relation(outgoing, incoming).name == name


def test_costs_order_the_relations() -> None:
    order = ["8A", "9A", "8B", "10A", "9B", "2B"]
    costs = [relation("8A", code).cost for code in order]
    assert costs == sorted(costs) and costs[0] == 0 and costs[-1] == 1


def test_neighbours_of_a_major_key() -> None:
    assert [(n.code, n.relation) for n in neighbours("1B")] == [
        ("1B", "same key"),
        ("12B", "adjacent (-1)"),
        ("2B", "adjacent (+1)"),
        ("1A", "relative minor"),
    ]
