"""Deterministic experiment arm assignment: the same supporter always lands in the same arm."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_SCALE = float(2**64)


def unit_hash(campaign_name: str, supporter_id: int) -> float:
    """Map (campaign, supporter) to a stable number in [0, 1)."""
    digest = hashlib.blake2b(f"{campaign_name}\x1f{supporter_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def assign_arm(campaign_name: str, supporter_id: int, weights: Mapping[str, float]) -> str:
    """Pick the arm for a supporter by cumulative weight, arms taken in name order."""
    arms = sorted((name, weight) for name, weight in weights.items() if weight > 0)
    if not arms:
        raise ValueError("at least one arm needs a positive weight")
    total = sum(weight for _, weight in arms)
    point = unit_hash(campaign_name, supporter_id) * total
    cumulative = 0.0
    for name, weight in arms:
        cumulative += weight
        if point < cumulative:
            return name
    # Float rounding can leave point a hair above the last cumulative sum.
    return arms[-1][0]


def expected_split(size: int, weights: Mapping[str, float]) -> dict[str, float]:
    """Return how many of `size` supporters each arm should get on average."""
    total = sum(weight for weight in weights.values() if weight > 0)
    if total <= 0:
        raise ValueError("at least one arm needs a positive weight")
    return {name: size * max(weight, 0.0) / total for name, weight in weights.items()}
