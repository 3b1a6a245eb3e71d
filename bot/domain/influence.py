"""The influence score: how much a supporter moves others (documented in the README).

influence = 3 x people they brought in (referrals, new or re-engaged)
          + 2 x gifts those people made after they were brought in
          + 1 x replies and reactions others gave to their community messages
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

BROUGHT_IN = 3
THEIR_GIFT = 2
RESPONSE = 1


def influence_score(*, brought_in: int, their_gifts: int, responses: int) -> int:
    """Combine the three counts into the influence score."""
    return BROUGHT_IN * brought_in + THEIR_GIFT * their_gifts + RESPONSE * responses


def influence_of(
    supporter_id: int,
    *,
    referrals: Iterable[tuple[int, int | None, datetime]],
    gifts: Iterable[tuple[int | None, datetime]],
    response_authors: Iterable[int],
) -> int:
    """Compute one supporter's influence from plain facts.

    Reference oracle for tests: the bot computes it with SQL (bot/storage/influence.py).
    `referrals` are (referred, referrer, at), `gifts` (giver, donated_at), `response_authors`
    the author of the message each reply or reaction answered.
    """
    brought = {referred: at for referred, referrer, at in referrals if referrer == supporter_id}
    their = sum(1 for giver, at in gifts if giver in brought and at >= brought[giver])
    responses = sum(1 for author in response_authors if author == supporter_id)
    return influence_score(brought_in=len(brought), their_gifts=their, responses=responses)
