"""Concentration of engagement against values worked out by hand."""

from __future__ import annotations

import pytest

from bot.domain.concentration import gini, top_count, top_shares


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0.0),
        ([0, 0], 0.0),
        ([5, 5, 5, 5], 0.0),
        ([0, 0, 0, 10], 0.75),  # (2*40)/(4*10) - 5/4
        ([1, 2, 3, 4], 0.25),  # (2*30)/(4*10) - 5/4
        ([1, 3], 0.25),  # (2*7)/(2*4) - 3/2
    ],
)
def test_gini_matches_hand_computed_values(values: list[int], expected: float) -> None:
    assert gini(values) == pytest.approx(expected)


def test_the_top_tenth_is_at_least_one_member_and_rounds_up() -> None:
    assert [top_count(n) for n in (0, 1, 9, 10, 11, 100)] == [0, 1, 1, 1, 2, 10]


def test_the_most_engaged_tenth_holds_its_share_of_engagement_and_gifts() -> None:
    engagement = [1] * 18 + [30, 2]  # 20 members: the top two hold 32 of 50
    gifts = [0] * 18 + [500, 0]
    gifts[0] = 500  # a quiet member gave as much as the most engaged one
    share_e, share_g = top_shares(engagement, gifts)
    assert share_e == pytest.approx(32 / 50)
    assert share_g == pytest.approx(0.5)
    assert top_shares([0, 0], [0, 0]) == (0.0, 0.0)
