"""Campaign run state after launch: pause, resume, cancel, and the status and list views.

Launching lives in bot/services/launch.py; the states themselves in
bot/domain/campaign_state.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.campaign_state import CampaignState, CampaignStateError
from bot.domain.spec import Campaign
from bot.storage import campaign_runs, outbox, posts
from bot.storage.models import (
    CANCELLED,
    FAILED,
    HOLDOUT,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
)
from bot.storage.models import Campaign as CampaignRow

CANCEL_REASON = "campaign cancelled before this ask was sent"


@dataclass(frozen=True)
class CampaignStatus:
    """A campaign's progress for /status: queue, outcomes with reasons, next due, rate."""

    name: str
    state: str
    audience_size: int
    launched_at: datetime | None
    queued: int
    sending: int
    sent: int
    failed: int
    unknown: int
    skipped: int
    holdout: int
    cancelled: int
    failed_by_reason: Mapping[str, int]
    skipped_by_reason: Mapping[str, int]
    unknown_by_reason: Mapping[str, int]
    by_step: Mapping[str, Mapping[str, int]]
    next_due_at: datetime | None
    sent_last_hour: int
    rate_per_minute: float
    """Asks sent per minute over the last five minutes."""


@dataclass(frozen=True)
class CampaignSummary:
    """One line of /campaigns."""

    name: str
    title: str
    state: str
    audience_size: int
    sent: int
    replies: int
    gifts: int
    amounts: Mapping[str, int] = field(default_factory=dict)
    has_spec: bool = True


# --- pause, resume, cancel -------------------------------------------------------------------


async def _change_state(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    *,
    allowed: frozenset[CampaignState],
    refusal: str,
    target: CampaignState,
    now: datetime,
) -> CampaignRow:
    async with sessions() as session, session.begin():
        row = await campaign_runs.campaign_row(session=session, name=name, lock=True)
        if row is None:
            raise CampaignStateError(f"{name} has not been launched")
        if row.state == target:
            raise CampaignStateError(f"{name} is already {target}")
        if row.state not in allowed:
            raise CampaignStateError(f"{name} is {row.state}; {refusal}")
        row.state = target
        if target == CampaignState.PAUSED:
            row.paused_at = now
        elif target == CampaignState.RUNNING:
            row.paused_at = None
        elif target == CampaignState.CANCELLED:
            row.cancelled_at = now
            assert row.id is not None
            await outbox.cancel_pending(session=session, campaign_id=row.id, reason=CANCEL_REASON)
            await posts.cancel_posts(session=session, campaign_id=row.id)
        return row


async def pause_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Hold a running campaign: its pending asks stay queued and nothing more is sent."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({CampaignState.RUNNING}),
        refusal="only a running campaign can be paused",
        target=CampaignState.PAUSED,
        now=now,
    )


async def resume_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Let a paused campaign send again; asks that fell due meanwhile go out first."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({CampaignState.PAUSED}),
        refusal="only a paused campaign can be resumed",
        target=CampaignState.RUNNING,
        now=now,
    )


async def cancel_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Stop a campaign for good: every ask not yet sent is marked cancelled."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.LAUNCHING}),
        refusal="only a running or paused campaign can be cancelled",
        target=CampaignState.CANCELLED,
        now=now,
    )


# --- status and list -------------------------------------------------------------------------


async def campaign_status(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> CampaignStatus:
    """Report a campaign's queue, outcomes by reason, next due ask and recent send rate."""
    async with sessions() as session:
        row = await campaign_runs.campaign_row(session=session, name=name)
        if row is None or row.id is None:
            return _empty_status(name)
        counts = await campaign_runs.ask_state_counts(session=session, campaign_id=row.id)
        reasons = await campaign_runs.reason_counts(session=session, campaign_id=row.id)
        next_due = await campaign_runs.campaign_next_due(session=session, campaign_id=row.id)
        last_five = await campaign_runs.sent_between(
            session=session, campaign_id=row.id, start=now - timedelta(minutes=5), end=now
        )
        last_hour = await campaign_runs.sent_between(
            session=session, campaign_id=row.id, start=now - timedelta(hours=1), end=now
        )
    per_state: dict[str, int] = {}
    by_step: dict[str, dict[str, int]] = {}
    for (step, state), n in counts.items():
        per_state[state] = per_state.get(state, 0) + n
        by_step.setdefault(step, {})[state] = n

    def reasons_of(state: str) -> dict[str, int]:
        found = {reason: n for (s, reason), n in reasons.items() if s == state}
        return dict(sorted(found.items(), key=lambda item: -item[1]))

    return CampaignStatus(
        name=name,
        state=row.state,
        audience_size=row.audience_size,
        launched_at=row.launched_at,
        queued=per_state.get(PENDING, 0) + per_state.get(SENDING, 0),
        sending=per_state.get(SENDING, 0),
        sent=per_state.get(SENT, 0),
        failed=per_state.get(FAILED, 0),
        unknown=per_state.get(UNKNOWN, 0),
        skipped=per_state.get(SKIPPED, 0),
        holdout=per_state.get(HOLDOUT, 0),
        cancelled=per_state.get(CANCELLED, 0),
        failed_by_reason=reasons_of(FAILED),
        skipped_by_reason=reasons_of(SKIPPED),
        unknown_by_reason=reasons_of(UNKNOWN),
        by_step=by_step,
        next_due_at=next_due,
        sent_last_hour=last_hour,
        rate_per_minute=last_five / 5.0,
    )


def _empty_status(name: str) -> CampaignStatus:
    return CampaignStatus(
        name=name, state=CampaignState.DRAFT, audience_size=0, launched_at=None, queued=0,
        sending=0, sent=0, failed=0, unknown=0, skipped=0, holdout=0, cancelled=0,
        failed_by_reason={}, skipped_by_reason={}, unknown_by_reason={}, by_step={},
        next_due_at=None, sent_last_hour=0, rate_per_minute=0.0,
    )  # fmt: skip


async def list_campaigns(
    sessions: async_sessionmaker[AsyncSession], specs: Mapping[str, Campaign]
) -> list[CampaignSummary]:
    """List every loaded or launched campaign with state, audience, sent, replies and gifts."""
    async with sessions() as session:
        rows = {row.name: row for row in await campaign_runs.campaign_rows(session=session)}
        totals = await campaign_runs.campaign_totals(session=session)
    summaries = []
    for name in sorted(set(specs) | set(rows)):
        row = rows.get(name)
        spec = specs.get(name)
        total = totals.get(row.id) if row is not None and row.id is not None else None
        total = total or campaign_runs.CampaignTotals()
        summaries.append(
            CampaignSummary(
                name=name,
                title=spec.title if spec is not None else (row.title if row else name),
                state=row.state if row is not None else CampaignState.DRAFT,
                audience_size=row.audience_size if row is not None else 0,
                sent=total.sent,
                replies=total.replies,
                gifts=total.gifts,
                amounts=dict(total.amounts or {}),
                has_spec=spec is not None,
            )
        )
    return summaries
