"""Concentration of engagement: hand-worked values, and the histogram forms equal to the lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.concentration import (
    gini,
    gini_of_histogram,
    top_count,
    top_shares,
    top_shares_of_histogram,
)


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


def test_a_tie_at_the_edge_of_the_top_shares_the_tied_members_gifts() -> None:
    # 20 members, top two: one with 9, then one place among three members with 5.
    engagement = [9, 5, 5, 5] + [1] * 16
    gifts = [100, 0, 0, 300] + [0] * 16
    share_e, share_g = top_shares(engagement, gifts)
    assert share_e == pytest.approx(14 / 40)
    assert share_g == pytest.approx((100 + 300 / 3) / 400)  # not 100/400 or 400/400 by id


def _histogram(engagement: list[int], gifts: list[int]) -> list[tuple[int, int, int]]:
    rows: dict[int, tuple[int, int]] = {}
    for e, g in zip(engagement, gifts, strict=True):
        members, total = rows.get(e, (0, 0))
        rows[e] = (members + 1, total + g)
    return [(e, n, total) for e, (n, total) in rows.items()]


members = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 10**7)), max_size=300).map(
    lambda pairs: ([e for e, _ in pairs], [g for _, g in pairs])
)


@given(members, st.sampled_from([0.1, 0.25, 0.5, 1.0]))
def test_the_histogram_gives_exactly_the_figures_of_the_member_list(
    member_list: tuple[list[int], list[int]], fraction: float
) -> None:
    engagement, gifts = member_list
    histogram = _histogram(engagement, gifts)
    assert top_shares_of_histogram(histogram, fraction) == top_shares(engagement, gifts, fraction)
    assert gini_of_histogram(histogram) == gini(engagement)
