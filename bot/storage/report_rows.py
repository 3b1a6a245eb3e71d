"""The rows the report's queries give, read by the pure tally: plain tuples, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


class AskCount(NamedTuple):
    """A count of a campaign's asks sharing step, arm, state, segment and failure reason."""

    step: str
    arm: str
    state: str
    rule: str | None
    language: str | None
    source: str | None
    failure_reason: str | None
    asks: int


class Engagement(NamedTuple):
    """Members of one arm who replied to or clicked an ask, and how many times."""

    arm: str
    members: int
    reached: int  # of them, members whose first ask was sent
    positive: int  # replies only: reached members with a positive reply
    events: int  # every reply or click, not deduplicated


class MemberGifts(NamedTuple):
    """A member's gifts in one currency and hour: credited to the campaign, or in its period.

    member_gifts gives one row per gift, so a member may have several rows with the same
    currency and hour; readers add rows up. A tuple rather than a dataclass: a big campaign
    has tens of thousands of these.
    """

    arm: str
    supporter_id: int
    state: str
    rule: str | None
    language: str | None
    source: str | None
    currency: str
    hour: Any  # the database's truncated hour; read it with read_hour()
    credited_minor: int
    credited_gifts: int
    # From the member's first ask being sent to their first credited gift in this row.
    seconds_to_first_gift: float | None
    period_minor: int
    period_gifts: int


@dataclass(frozen=True)
class PostRow:
    """One broadcast post with its clicks and gifts credited by token."""

    id: int
    chat: str
    state: str
    sent_at: datetime | None
    reach: int | None
    clicks: int
    donors: int
    gifts: int
    amounts: dict[str, int]


class GiftPoint(NamedTuple):
    """The gifts of one arm (or post) in one hour, for the timeline chart."""

    source: str  # an arm name, or "post:<id>"
    donated_at: datetime  # the start of the hour
    amount_minor: int
    gifts: int
