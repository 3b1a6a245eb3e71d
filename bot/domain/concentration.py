"""How concentrated a community's engagement is: the top tenth's share, the Gini coefficient."""

from __future__ import annotations

import math
from collections.abc import Sequence

TOP_FRACTION = 0.1


def top_count(members: int, fraction: float = TOP_FRACTION) -> int:
    """Return how many members make up the top `fraction` (at least one when there are any)."""
    return max(1, math.ceil(members * fraction)) if members else 0


def top_shares(
    engagement: Sequence[int], gifts: Sequence[int], fraction: float = TOP_FRACTION
) -> tuple[float, float]:
    """Return the share of engagement and of gifts held by the most engaged `fraction`.

    engagement[i] and gifts[i] belong to one member; members are ranked by engagement, ties
    by their position (the caller's stable order). A total of zero gives a share of zero.
    """
    order = sorted(range(len(engagement)), key=lambda i: -engagement[i])
    top = order[: top_count(len(engagement), fraction)]
    total_e, total_g = sum(engagement), sum(gifts)
    share_e = sum(engagement[i] for i in top) / total_e if total_e else 0.0
    share_g = sum(gifts[i] for i in top) / total_g if total_g else 0.0
    return share_e, share_g


def gini(values: Sequence[int]) -> float:
    """Return the Gini coefficient of non-negative values (0 equal, towards 1 concentrated)."""
    n, total = len(values), sum(values)
    if n == 0 or total == 0:
        return 0.0
    ranked = sorted(values)
    weighted = sum((rank + 1) * value for rank, value in enumerate(ranked))
    return (2 * weighted) / (n * total) - (n + 1) / n
