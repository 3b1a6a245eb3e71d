"""Deterministic experiment arm assignment: the same supporter always lands in the same arm."""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Callable, Mapping

_SCALE = float(2**64)


def unit_hash(campaign_name: str, supporter_id: int) -> float:
    """Map (campaign, supporter) to a stable number in [0, 1)."""
    digest = hashlib.blake2b(f"{campaign_name}\x1f{supporter_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_picker(campaign_name: str, weights: Mapping[str, float]) -> Callable[[int], str]:
    """Give the arm assignment of one campaign as a function of the supporter id.

    Arms are taken in name order and a supporter's hash falls into one by cumulative weight.
    The sums are made once, so a launch assigns a million supporters without sorting the
    weights a million times.
    """
    arms = sorted((name, weight) for name, weight in weights.items() if weight > 0)
    if not arms:
        raise ValueError("at least one arm needs a positive weight")
    names = [name for name, _ in arms]
    bounds = list(itertools.accumulate(weight for _, weight in arms))
    total = bounds[-1]
    last = len(names) - 1

    def pick(supporter_id: int) -> str:
        point = unit_hash(campaign_name, supporter_id) * total
        # Float rounding can leave point a hair above the last cumulative sum.
        return names[min(bisect.bisect_right(bounds, point), last)]

    return pick


def assign_arm(campaign_name: str, supporter_id: int, weights: Mapping[str, float]) -> str:
    """Pick the arm for one supporter, as arm_picker does for many."""
    return arm_picker(campaign_name, weights)(supporter_id)


def expected_split(size: int, weights: Mapping[str, float]) -> dict[str, float]:
    """Return how many of `size` supporters each arm should get on average."""
    total = sum(weight for weight in weights.values() if weight > 0)
    if total <= 0:
        raise ValueError("at least one arm needs a positive weight")
    return {name: size * max(weight, 0.0) / total for name, weight in weights.items()}
