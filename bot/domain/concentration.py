"""How concentrated a community's engagement is: the top tenth's share, the Gini coefficient.

Each figure has two forms that give the same float: one over a list of members (the
definition), one over a histogram of (engagement, members, their gifts) that the database
can count without handing every member over. tests/test_concentration.py keeps them equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TOP_FRACTION = 0.1

# (engagement, members with it, the sum of those members' gifts), one row per engagement.
Histogram = Sequence[tuple[int, int, int]]


def top_count(members: int, fraction: float = TOP_FRACTION) -> int:
    """Return how many members make up the top `fraction` (at least one when there are any)."""
    return max(1, math.ceil(members * fraction)) if members else 0


def _shares(
    above_e: int, above_g: int, tied: tuple[int, int, int], taken: int, totals: tuple[int, int]
) -> tuple[float, float]:
    """Divide once, in integers, so both forms round alike."""
    engagement, members, gifts = tied
    total_e, total_g = totals
    share_e = (above_e + taken * engagement) / total_e if total_e else 0.0
    share_g = (above_g * members + taken * gifts) / (total_g * members) if total_g else 0.0
    return share_e, share_g


def top_shares(
    engagement: Sequence[int], gifts: Sequence[int], fraction: float = TOP_FRACTION
) -> tuple[float, float]:
    """Return the share of engagement and of gifts held by the most engaged `fraction`.

    engagement[i] and gifts[i] belong to one member; members are ranked by engagement. When
    the top ends inside a group of equally engaged members, the places left are shared by
    the whole group: k places among m tied members hold k/m of the group's gifts (no member
    id decides who is in). A total of zero gives a share of zero.
    """
    count = top_count(len(engagement), fraction)
    if not count:
        return 0.0, 0.0
    last = sorted(engagement, reverse=True)[count - 1]
    above = [i for i, e in enumerate(engagement) if e > last]
    tied = [i for i, e in enumerate(engagement) if e == last]
    return _shares(
        sum(engagement[i] for i in above),
        sum(gifts[i] for i in above),
        (last, len(tied), sum(gifts[i] for i in tied)),
        count - len(above),
        (sum(engagement), sum(gifts)),
    )


def top_shares_of_histogram(
    histogram: Histogram, fraction: float = TOP_FRACTION
) -> tuple[float, float]:
    """Return what `top_shares` returns for the members a histogram counts."""
    rows = sorted((row for row in histogram if row[1] > 0), reverse=True)
    members = sum(n for _, n, _ in rows)
    totals = (sum(e * n for e, n, _ in rows), sum(g for _, _, g in rows))
    left, above_e, above_g = top_count(members, fraction), 0, 0
    for engagement, n, gifts in rows:
        if n >= left:
            return _shares(above_e, above_g, (engagement, n, gifts), left, totals)
        left -= n
        above_e += engagement * n
        above_g += gifts
    return 0.0, 0.0


def _gini(members: int, total: int, weighted: int) -> float:
    if members == 0 or total == 0:
        return 0.0
    return (2 * weighted) / (members * total) - (members + 1) / members


def gini(values: Sequence[int]) -> float:
    """Return the Gini coefficient of non-negative values (0 equal, towards 1 concentrated)."""
    ranked = sorted(values)
    weighted = sum((rank + 1) * value for rank, value in enumerate(ranked))
    return _gini(len(values), sum(values), weighted)


def gini_of_histogram(histogram: Histogram) -> float:
    """Return what `gini` returns for the engagement of the members a histogram counts."""
    before = weighted = total = 0
    for engagement, n, _ in sorted(histogram):
        # Ranks before+1 .. before+n all hold `engagement`.
        weighted += engagement * (n * before + n * (n + 1) // 2)
        total += engagement * n
        before += n
    return _gini(before, total, weighted)
