"""Plain factory functions for test data: supporters, history, campaigns, asks, CSV files.

Append new factories at the end; keep each one small and keyword-driven.
"""

from __future__ import annotations

import csv
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.spec import Campaign
from bot.services.launch import new_tokens
from bot.storage.clicks import find_link_target, record_click
from bot.storage.community_rollup import note_interactions, rebuild
from bot.storage.models import (
    PENDING,
    Ask,
    BroadcastPost,
    Donation,
    Interaction,
    Supporter,
    SupporterTag,
)
from bot.storage.models import Campaign as CampaignRow

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def add_supporter(
    session: AsyncSession,
    *,
    now: datetime = NOW,
    reachable: bool = True,
    tags: tuple[str, ...] = (),
    **fields: Any,
) -> Supporter:
    """Store a supporter; reachable ones have a chat and consent. Extra fields set columns."""
    if reachable:
        fields.setdefault("chat_id", 10_000 + secrets.randbelow(10**9))
        fields.setdefault("consented_at", now - timedelta(days=30))
    fields.setdefault("created_at", now - timedelta(days=60))
    supporter = Supporter(**fields)
    session.add(supporter)
    await session.flush()
    assert supporter.id is not None
    for tag in tags:
        session.add(SupporterTag(supporter_id=supporter.id, tag=tag))
    await session.flush()
    if supporter.source:  # a source is a way in, as an import's is
        await rebuild(session=session, supporter_ids=[supporter.id])
    return supporter


async def add_interaction(
    session: AsyncSession,
    supporter: Supporter | int,
    kind: str,
    occurred_at: datetime,
    *,
    detail: str | None = None,
    sentiment: str | None = None,
    source: str | None = "test",
    event: str | None = None,
) -> Interaction:
    """Store one interaction of a supporter (with an event key: as a community chat's)."""
    sid = supporter if isinstance(supporter, int) else supporter.id
    assert sid is not None
    row = Interaction(
        supporter_id=sid,
        kind=kind,
        detail=detail,
        sentiment=sentiment,
        occurred_at=occurred_at,
        source=source,
        event=event,
    )
    session.add(row)
    await session.flush()
    # As every writer of interactions does: the community roll-ups follow.
    await note_interactions(
        session=session,
        rows=[
            {
                "supporter_id": sid,
                "kind": kind,
                "occurred_at": occurred_at,
                "source": source,
                "event": event,
            }
        ],
    )
    return row


async def add_donation(
    session: AsyncSession,
    supporter: Supporter | int | None,
    amount_minor: int,
    donated_at: datetime,
    *,
    currency: str = "EUR",
    provider: str = "test",
    provider_event_id: str | None = None,
    **fields: Any,
) -> Donation:
    """Store one gift."""
    sid = supporter if supporter is None or isinstance(supporter, int) else supporter.id
    row = Donation(
        provider=provider,
        provider_event_id=provider_event_id or secrets.token_hex(8),
        supporter_id=sid,
        amount_minor=amount_minor,
        currency=currency,
        donated_at=donated_at,
        recorded_at=donated_at,
        **fields,
    )
    session.add(row)
    await session.flush()
    return row


async def add_campaign_row(
    session: AsyncSession, name: str, *, state: str = "running", now: datetime = NOW
) -> CampaignRow:
    """Store a campaign's run-time row."""
    row = CampaignRow(name=name, title=name, state=state, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def add_ask(
    session: AsyncSession,
    campaign: CampaignRow,
    supporter: Supporter,
    *,
    state: str = PENDING,
    due_at: datetime = NOW,
    sent_at: datetime | None = None,
    arm: str = "specific",
    **fields: Any,
) -> Ask:
    """Store one ask of a campaign to a supporter."""
    assert campaign.id is not None
    row = Ask(
        campaign_id=campaign.id,
        supporter_id=supporter.id,
        arm=arm,
        token=new_tokens(1)[0],
        state=state,
        due_at=due_at,
        sent_at=sent_at,
        **fields,
    )
    session.add(row)
    await session.flush()
    return row


def make_campaign(audience: dict[str, Any] | None = None, **overrides: Any) -> Campaign:
    """Build a small valid campaign spec; `audience` and top-level fields may be overridden."""
    data: dict[str, Any] = {
        "name": "test-campaign",
        "title": "Test campaign",
        "organisation": "Harbour Museum",
        "donate_url": "https://donate.example.org/harbour",
        "timezone": "Europe/Amsterdam",
        "arms": {
            "specific": {"kind": "specific", "weight": 0.5, "message": "personal"},
            "broadcast": {"kind": "broadcast", "weight": 0.5, "message": "generic"},
        },
        "messages": {
            "personal": {
                "en": "Dear {{ name }},{% if last.visited_exhibition %} you saw"
                " {{ last.visited_exhibition.detail }}.{% endif %}"
                ' <a href="{{ donate_link }}">Give</a>',
                "nl": 'Beste {{ name }}, <a href="{{ donate_link }}">Geef</a>',
            },
            "generic": {"en": 'Please give: <a href="{{ donate_link }}">donate</a>'},
        },
        "audience": audience or {},
    }
    data.update(overrides)
    return Campaign.model_validate(data)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, bom: bool = False) -> Path:
    """Write a CSV file (UTF-8, optionally with a byte-order mark) and return its path."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def add_post(
    session: AsyncSession,
    campaign: CampaignRow,
    *,
    chat: str = "@harbour_museum",
    state: str = PENDING,
    due_at: datetime = NOW,
    **fields: Any,
) -> BroadcastPost:
    """Store one broadcast post of a campaign, with its own tracked-link token."""
    assert campaign.id is not None
    fields.setdefault("token", new_tokens(1)[0])
    row = BroadcastPost(campaign_id=campaign.id, chat=chat, state=state, due_at=due_at, **fields)
    session.add(row)
    await session.flush()
    return row


def delivery_settings(bot_base_url: str, token: str, **overrides: Any) -> Any:
    """Settings that point the outbox at a sandbox, with tracked links on a fixed host."""
    from bot.config import load_settings

    values: dict[str, Any] = {
        "telegram_bot_token": token,
        "telegram_base_url": bot_base_url,
        "public_base_url": "https://bot.example.org",
        "timezone": "Europe/Amsterdam",
        "frequency_cap_days": 14,
        "max_send_attempts": 3,
    }
    values.update(overrides)
    return load_settings(values, env_file=None)


async def add_reply(
    session: AsyncSession,
    ask: Ask,
    received_at: datetime,
    *,
    classification: str | None = None,
    direction: str = "in",
    text: str = "a reply",
    **fields: Any,
) -> Any:
    """Store one message of a supporter's conversation about an ask, as the bot records it."""
    from bot.storage.models import Reply, known_reached

    fields.setdefault("arm", ask.arm)
    fields.setdefault("reached", known_reached(ask.step, ask.state))
    row = Reply(
        supporter_id=ask.supporter_id,
        ask_id=ask.id,
        campaign_id=ask.campaign_id,
        direction=direction,
        text=text,
        classification=classification,
        received_at=received_at,
        **fields,
    )
    session.add(row)
    await session.flush()
    return row


async def add_click(
    session: AsyncSession, target: Ask | BroadcastPost, clicked_at: datetime
) -> None:
    """Store one tap on the tracked link of an ask or a broadcast post, as the bot records it."""
    link = await find_link_target(session=session, token=target.token)
    assert link is not None, f"no ask or post carries the token {target.token!r}"
    counted = await record_click(
        session=session, target=link, clicked_at=clicked_at, user_agent=None, dedup=timedelta(0)
    )
    assert counted
