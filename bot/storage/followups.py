"""Follow-up queries: who, after a campaign's first ask, is due its next step."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import SENT
from bot.storage.tables import ASK, CLICK, DONATION, INTERACTION, REPLY, SUPPORTER

# A follow-up's `when`, and the table in which any row of the member for the campaign rules
# the follow-up out.
_UNLESS = {"no_reply": REPLY, "no_click": CLICK, "no_gift": DONATION}


@dataclass(frozen=True)
class FollowUpCandidate:
    """A supporter whose first ask qualifies them for a follow-up step."""

    supporter_id: int
    arm: str
    rule: str | None
    language: str
    timezone: str | None


def _none_where(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """Give the condition that no row matches `where`."""
    return not_(exists().where(*where))


async def follow_up_candidates(
    *,
    session: AsyncSession,
    campaign_id: int,
    campaign_name: str,
    step: str,
    arms: Collection[str],
    when: str,
    sent_before: datetime,
    after_supporter: int,
    limit: int,
) -> list[FollowUpCandidate]:
    """List, in supporter order after `after_supporter`, who is due a follow-up step.

    They got the first ask at least the step's delay ago, are still reachable, have not
    pressed "Not now", have no ask of this step yet, and did not reply / click / give (per
    `when`) for this campaign.
    """
    a, s = ASK.c, SUPPORTER.c
    conditions = [
        a.campaign_id == campaign_id,
        a.step == "ask",
        a.state == SENT,
        a.sent_at <= sent_before,
        a.arm.in_(list(arms)),
        a.supporter_id > after_supporter,
        s.chat_id.is_not(None),
        s.opted_out_at.is_(None),
        s.blocked_at.is_(None),
        s.forgotten_at.is_(None),
    ]
    if when not in _UNLESS:
        raise ValueError(f"unknown follow-up condition {when!r}")
    done = ASK.alias("done")
    conditions.append(
        _none_where(
            done.c.campaign_id == campaign_id,
            done.c.supporter_id == a.supporter_id,
            done.c.step == step,
        )
    )
    conditions.append(
        _none_where(
            INTERACTION.c.supporter_id == a.supporter_id,
            INTERACTION.c.kind == "not_now",
            INTERACTION.c.detail == campaign_name,
        )
    )
    event = _UNLESS[when]
    # Only the supporter's own messages count as a reply, not the staff's answers.
    own = [REPLY.c.direction == "in"] if event is REPLY else []
    conditions.append(
        _none_where(
            event.c.supporter_id == a.supporter_id, event.c.campaign_id == campaign_id, *own
        )
    )
    stmt = (
        select(a.supporter_id, a.arm, a.rule, s.language, s.timezone)
        .join(SUPPORTER, s.id == a.supporter_id)
        .where(*conditions)
        .order_by(a.supporter_id)
        .limit(limit)
    )
    return [FollowUpCandidate(*row) for row in await session.execute(stmt)]
