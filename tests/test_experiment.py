"""Arm assignment: the launch's picker and assign_arm give the arm the weights say."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from bot.domain.experiment import arm_picker, assign_arm, unit_hash

IDS = [*range(1, 3001), 2**31 - 1, 2**53 + 7, 9_007_199_254_740_993]


def _walk(campaign_name: str, supporter_id: int, weights: Mapping[str, float]) -> str:
    """Reference oracle for the tests only: walk the arms in name order, summing weights."""
    arms = sorted((name, weight) for name, weight in weights.items() if weight > 0)
    point = unit_hash(campaign_name, supporter_id) * sum(weight for _, weight in arms)
    cumulative = 0.0
    for name, weight in arms:
        cumulative += weight
        if point < cumulative:
            return name
    return arms[-1][0]


@pytest.mark.parametrize(
    ("campaign_name", "weights"),
    [
        ("winter", {"specific": 0.8, "broadcast": 0.2}),
        ("winter", {"broadcast": 0.2, "specific": 0.8}),
        ("spring", {"a": 1, "b": 1, "c": 1}),
        ("spring", {"a": 0.1, "b": 0.2, "c": 0.7}),
        ("tenths", {"x": 0.1, "y": 0.1, "z": 0.1, "holdout": 0.05}),
        ("zeroes", {"off": 0.0, "on": 3.0, "never": -1.0, "rare": 0.001}),
        ("one", {"only": 2.5}),
        ("many", {f"arm{i:02}": 1 + i % 4 for i in range(17)}),
    ],
)
def test_the_picker_and_assign_arm_give_every_supporter_the_same_arm(
    campaign_name: str, weights: Mapping[str, float]
) -> None:
    pick = arm_picker(campaign_name, weights)
    expected = [_walk(campaign_name, n, weights) for n in IDS]
    assert [pick(n) for n in IDS] == expected
    assert [assign_arm(campaign_name, n, weights) for n in IDS] == expected
    # Every arm with a positive weight above a few percent is reached among 3000 supporters.
    assert {arm for arm, w in weights.items() if w / sum(weights.values()) > 0.02} <= set(expected)


def test_the_picker_refuses_weights_without_a_positive_arm() -> None:
    with pytest.raises(ValueError):
        arm_picker("winter", {"a": 0.0, "b": -1.0})
