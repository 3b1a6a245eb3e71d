"""Supporter scores: the engagement and RFM formulas, as pure functions the SQL mirrors.

Engagement is a weighted, recency-decayed count of a supporter's interactions:

    engagement = sum(weight(kind, sentiment) * decay_percent(age)) / 100

* weight: ``KIND_WEIGHTS[kind]`` (1 for any other kind); a positive sentiment adds
  ``POSITIVE_BONUS``; a negative sentiment makes the interaction count 0.
* decay_percent by age ``now - occurred_at``: up to 30 days 100, up to 90 days 60, up to
  365 days 30, older 10 (future times count as brand new).

Only the ``interaction`` table counts; a gift the bot records (an interaction of kind ``gift``)
or an imported ``donation`` interaction weighs 5, while the ``donation`` table feeds the
monetary part of RFM.

RFM scores recency, frequency and money 1-5 each and packs them as ``R*100 + F*10 + M``:

* R from the latest interaction or gift: up to 30 days 5, 90 days 4, 180 days 3, 365 days 2,
  else (or never) 1.
* F from the interaction count: 20+ 5, 10+ 4, 5+ 3, 2+ 2, else 1.
* M from the total given in the organisation's main currency, in minor units (gifts in
  other currencies are counted but not summed): 50000+ 5, 10000+ 4, 2500+ 3, any gift 2,
  nothing 1.

Every weight is an integer and the division comes last, so SQL and Python agree exactly.

The bot itself only reads the constants here: the scores are computed in SQL by
bot/storage/supporters.py. The functions are the reference oracle the tests check that SQL
against, and they state the formulas in a form people can read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

KIND_WEIGHTS: dict[str, int] = {
    "gift": 5,  # what the bot records for a gift it sees
    "donation": 5,
    "question_answered": 3,
    "visited_exhibition": 2,
    "event": 2,
}
DEFAULT_WEIGHT = 1
POSITIVE_BONUS = 2
# (maximum age in days, percent kept); anything older keeps DECAY_FLOOR_PERCENT.
DECAY_STEPS: tuple[tuple[int, int], ...] = ((30, 100), (90, 60), (365, 30))
DECAY_FLOOR_PERCENT = 10
# (maximum days since the latest activity, R score); older or never is 1.
RECENCY_STEPS: tuple[tuple[int, int], ...] = ((30, 5), (90, 4), (180, 3), (365, 2))
# (minimum interaction count, F score); fewer is 1.
FREQUENCY_STEPS: tuple[tuple[int, int], ...] = ((20, 5), (10, 4), (5, 3), (2, 2))
# (minimum total given in minor units, M score); nothing given is 1.
MONETARY_STEPS: tuple[tuple[int, int], ...] = ((50_000, 5), (10_000, 4), (2_500, 3), (1, 2))


def interaction_weight(kind: str, sentiment: str | None) -> int:
    """Return how much one interaction counts before decay.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    if sentiment == "negative":
        return 0
    weight = KIND_WEIGHTS.get(kind, DEFAULT_WEIGHT)
    return weight + POSITIVE_BONUS if sentiment == "positive" else weight


def decay_percent(occurred_at: datetime, now: datetime) -> int:
    """Return the percentage of its weight an interaction keeps at its age.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    for days, percent in DECAY_STEPS:
        if occurred_at >= now - timedelta(days=days):
            return percent
    return DECAY_FLOOR_PERCENT


def engagement_score(
    interactions: Iterable[tuple[str, str | None, datetime]], now: datetime
) -> float:
    """Score (kind, sentiment, occurred_at) interactions as the database does.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    points = sum(interaction_weight(k, s) * decay_percent(at, now) for k, s, at in interactions)
    return points / 100.0


def _step_score(value: float, steps: tuple[tuple[int, int], ...]) -> int:
    for minimum, score in steps:
        if value >= minimum:
            return score
    return 1


def recency_score(
    last_interaction_at: datetime | None, last_gift_at: datetime | None, now: datetime
) -> int:
    """Score 1-5 how recently the supporter did anything.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    for days, score in RECENCY_STEPS:
        cutoff = now - timedelta(days=days)
        if any(at is not None and at >= cutoff for at in (last_interaction_at, last_gift_at)):
            return score
    return 1


def frequency_score(interaction_count: int) -> int:
    """Score 1-5 how often the supporter interacted.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    return _step_score(interaction_count, FREQUENCY_STEPS)


def monetary_score(gift_total_minor: int) -> int:
    """Score 1-5 how much the supporter has given.

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    return _step_score(gift_total_minor, MONETARY_STEPS)


def rfm_score(
    *,
    last_interaction_at: datetime | None,
    last_gift_at: datetime | None,
    interaction_count: int,
    gift_total_minor: int,
    now: datetime,
) -> int:
    """Pack the three scores as R*100 + F*10 + M (111 for someone who never did anything).

    Reference oracle for tests: the bot computes this in SQL (storage/supporters.py).
    """
    return (
        recency_score(last_interaction_at, last_gift_at, now) * 100
        + frequency_score(interaction_count) * 10
        + monetary_score(gift_total_minor)
    )
