"""Follow-up queries: who, after a campaign's first ask, is due its next step."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import SENT
from bot.storage.tables import ASK, CLICK, DONATION, INTERACTION, REPLY, SUPPORTER


@dataclass(frozen=True)
class FollowUpCandidate:
    """A supporter whose first ask qualifies them for a follow-up step."""

    supporter_id: int
    arm: str
    rule: str | None
    language: str
    timezone: str | None


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
    done = ASK.alias("done")
    conditions.append(
        not_(
            exists().where(
                done.c.campaign_id == campaign_id,
                done.c.supporter_id == a.supporter_id,
                done.c.step == step,
            )
        )
    )
    conditions.append(
        not_(
            exists().where(
                INTERACTION.c.supporter_id == a.supporter_id,
                INTERACTION.c.kind == "not_now",
                INTERACTION.c.detail == campaign_name,
            )
        )
    )
    if when == "no_reply":
        conditions.append(
            not_(
                exists().where(
                    REPLY.c.supporter_id == a.supporter_id,
                    REPLY.c.campaign_id == campaign_id,
                    REPLY.c.direction == "in",
                )
            )
        )
    elif when == "no_click":
        conditions.append(
            not_(
                exists().where(
                    CLICK.c.supporter_id == a.supporter_id, CLICK.c.campaign_id == campaign_id
                )
            )
        )
    elif when == "no_gift":
        conditions.append(
            not_(
                exists().where(
                    DONATION.c.supporter_id == a.supporter_id,
                    DONATION.c.campaign_id == campaign_id,
                )
            )
        )
    else:
        raise ValueError(f"unknown follow-up condition {when!r}")
    stmt = (
        select(a.supporter_id, a.arm, a.rule, s.language, s.timezone)
        .join(SUPPORTER, s.id == a.supporter_id)
        .where(*conditions)
        .order_by(a.supporter_id)
        .limit(limit)
    )
    return [FollowUpCandidate(*row) for row in await session.execute(stmt)]
