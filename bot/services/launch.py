"""Launch a campaign: stream its audience, assign arms and queue one ask per supporter.

Launch renders nothing. Each ask is rendered when it is sent, so an opt-out, a corrected
template or a changed name between launch and send is honoured, and a million-supporter
launch only writes small rows: supporter, arm, rule, language, token and due time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.campaign import dump_campaign, frozen_spec
from bot.domain.campaign_state import CampaignState, CampaignStateError
from bot.domain.experiment import arm_picker, expected_split
from bot.domain.schedule import SendOutlook, SpreadPlans, launch_start, send_outlook
from bot.domain.spec import Campaign
from bot.storage import campaign_runs, outbox, posts
from bot.storage.audience import count_audience, stream_audience_tuples
from bot.storage.models import FIRST_STEP, HOLDOUT, PENDING, SENDING
from bot.storage.models import Campaign as CampaignRow

log = logging.getLogger(__name__)

LAUNCH_BATCH = 20000
# Launch batches written at once on PostgreSQL (each on its own connection).
LAUNCH_WRITERS = 2


@dataclass(frozen=True)
class LaunchResult:
    """What a launch did: how many asks it queued, per arm, and when they go out."""

    name: str
    state: str
    already: bool
    audience_size: int
    queued: int
    holdout: int
    per_arm: Mapping[str, int]
    first_due: datetime | None
    last_due: datetime | None
    post_due: datetime | None
    message: str
    outlook: SendOutlook | None = None
    """How the queued asks go out at the configured rate (in the campaign's zone)."""


def new_tokens(count: int) -> list[str]:
    """Make `count` tracking tokens like secrets.token_urlsafe(12), in one call to the OS."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode()
    return [text[i : i + 16] for i in range(0, 16 * count, 16)]


def spec_hash(spec_yaml: str) -> str:
    """Fingerprint a frozen spec, so a worker can cache the parsed campaign."""
    return hashlib.sha256(spec_yaml.encode()).hexdigest()


def _cap(settings: Settings) -> timedelta | None:
    return timedelta(days=settings.frequency_cap_days) if settings.frequency_cap_days else None


def send_rate(settings: Settings) -> float:
    """Give the configured send rate per second: the paid-broadcast rate when that is on."""
    if settings.paid_broadcast:
        return settings.paid_rate_per_second
    return settings.send_rate_per_second


def _outlook(spec: Campaign, settings: Settings, start: datetime, asks: int) -> SendOutlook:
    zone = spec.zone(settings.timezone)
    return send_outlook(
        spec.send_window, zone, start, spec.spread, asks=asks, rate=send_rate(settings)
    )


async def launch_outlook(
    sessions: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    *,
    now: datetime,
    settings: Settings,
) -> SendOutlook:
    """Foresee how a launch now would go out: about how many asks, from when, how long."""
    async with sessions() as session:
        size = await count_audience(
            session, campaign, now=now, cap=_cap(settings), zone=settings.timezone
        )
    held = {name for name, arm in campaign.arms.items() if arm.kind == "holdout"}
    split = expected_split(size, campaign.weights())
    asks = round(sum(n for arm, n in split.items() if arm not in held))
    start = launch_start(now, campaign.start_at(settings.timezone))
    return _outlook(campaign, settings, start, asks)


async def _begin_launch(
    sessions: async_sessionmaker[AsyncSession], campaign: Campaign, *, now: datetime
) -> tuple[CampaignRow, Campaign, bool]:
    """Create or find the run-state row; return (row, spec to use, already launched)."""
    async with sessions() as session, session.begin():
        row = await campaign_runs.campaign_row(session=session, name=campaign.name, lock=True)
        if row is not None and row.state in (
            CampaignState.RUNNING,
            CampaignState.PAUSED,
            CampaignState.FINISHED,
        ):
            return row, campaign, True
        if row is not None and row.state == CampaignState.CANCELLED:
            raise CampaignStateError(
                f"{campaign.name} was cancelled; a cancelled campaign cannot be launched again "
                "(copy the file under a new name to run it again)"
            )
        if row is not None and row.state == CampaignState.LAUNCHING and row.spec_yaml:
            # An interrupted launch: carry on with the spec it started with.
            return row, frozen_spec(row.spec_yaml), False
        frozen = dump_campaign(campaign)
        if row is None:
            row = CampaignRow(name=campaign.name, created_at=now)
            session.add(row)
        row.title = campaign.title
        row.state = CampaignState.LAUNCHING
        row.spec_yaml = frozen
        row.spec_hash = spec_hash(frozen)
        row.launched_at = now
        await session.flush()
        return row, campaign, False


async def launch_campaign(
    sessions: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    *,
    now: datetime,
    settings: Settings,
    batch: int = LAUNCH_BATCH,
) -> LaunchResult:
    """Select the audience, assign arms, queue one ask per supporter with its due time.

    The audience is streamed in batches and each batch is written in its own transaction, so
    memory stays flat at any size and an interrupted launch resumes where it stopped (the
    campaign stays `launching` until every batch is in). Launching a running campaign again
    changes nothing and says so.
    """
    row, spec, already = await _begin_launch(sessions, campaign, now=now)
    assert row.id is not None
    if already:
        return await _already(sessions, row)
    campaign_id = row.id
    start = launch_start(now, spec.start_at(settings.timezone))
    zone = spec.zone(settings.timezone)
    plans = SpreadPlans(spec.send_window, start, spec.spread, zone)
    pick_arm = arm_picker(spec.name, spec.weights())
    holdouts = {name for name, arm in spec.arms.items() if arm.kind == "holdout"}
    cap = _cap(settings)
    per_arm: dict[str, int] = {}
    due_times: list[datetime] = []
    async with sessions() as reader:
        done = await campaign_runs.count_asks(
            session=reader, campaign_id=campaign_id, step=FIRST_STEP
        )
        recent = timedelta(days=settings.group_reply_recent_days)
        remaining = await count_audience(
            reader, spec, now=now, cap=cap, zone=settings.timezone, recent=recent
        )
        size = done + remaining
        position = done
        # PostgreSQL spends a core on each batch it writes (index entries and a foreign-key
        # check per row): two in flight use both cores. SQLite writes one at a time anyway.
        postgres = reader.get_bind().dialect.name == "postgresql"
        writers = LAUNCH_WRITERS if postgres else 1
        audience = stream_audience_tuples(
            reader, spec, now=now, cap=cap, zone=settings.timezone, batch=batch, recent=recent
        )
        async with _BatchWriter(sessions, writers) as writer:
            async for partition in audience:
                tokens = new_tokens(len(partition))
                values: list[tuple[Any, ...]] = []
                for (supporter_id, rule, language, _chat, timezone, source), token in zip(
                    partition, tokens, strict=True
                ):
                    arm = pick_arm(supporter_id)
                    held = arm in holdouts
                    due = start if held else plans.due_at(timezone, position, size)
                    position += 1
                    values.append(
                        (
                            campaign_id,
                            supporter_id,
                            arm,
                            FIRST_STEP,
                            rule[:200] if rule else None,
                            (language or spec.default_language)[:8],
                            source[:120] if source else None,
                            token,
                            HOLDOUT if held else PENDING,
                            due,
                            0,
                        )
                    )
                    per_arm[arm] = per_arm.get(arm, 0) + 1
                    if not held:
                        due_times.append(due)
                if due_times:
                    # Keep only the extremes, not a million times.
                    due_times[:] = [min(due_times), max(due_times)]
                # Written while the next batch is read and built: the database works in its own
                # thread or process, so the two overlap.
                await writer.write(values)
    first_due = min(due_times) if due_times else None
    last_due = max(due_times) if due_times else None
    post_due = None
    if spec.broadcast_post is not None:
        post_due = _post_due(spec, settings, start)
        async with sessions() as session, session.begin():
            await posts.insert_post(
                session=session,
                campaign_id=campaign_id,
                chat=spec.broadcast_post.chat,
                token=secrets.token_urlsafe(12),
                due_at=post_due,
            )
    async with sessions() as session, session.begin():
        final = await campaign_runs.campaign_row(session=session, name=spec.name, lock=True)
        assert final is not None
        final.audience_size = await campaign_runs.count_asks(
            session=session, campaign_id=campaign_id, step=FIRST_STEP
        )
        if final.state == CampaignState.LAUNCHING:
            final.state = CampaignState.RUNNING
        state, audience_size = final.state, final.audience_size
    holdout = sum(per_arm.get(name, 0) for name in holdouts)
    queued = sum(per_arm.values()) - holdout
    message = (
        f"{spec.name} is {state}: {queued} asks queued"
        + (f", {holdout} in the holdout" if holdout else "")
        + (f"; first due {first_due:%Y-%m-%d %H:%M} UTC" if first_due else "")
    )
    log.info("launched %s: %s", spec.name, message)
    return LaunchResult(
        name=spec.name,
        state=state,
        already=False,
        audience_size=audience_size,
        queued=queued,
        holdout=holdout,
        per_arm=per_arm,
        first_due=first_due,
        last_due=last_due,
        post_due=post_due,
        message=message,
        outlook=_outlook(spec, settings, start, queued),
    )


class _BatchWriter:
    """Write launch batches, each in its own transaction, up to `most` at once.

    `write` returns once the batch is under way (after the oldest one finished, if `most`
    are in flight); leaving the block waits for every batch, and after an error lets the
    others finish (or fail) before the error goes up.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], most: int) -> None:
        self._sessions = sessions
        self._most = most
        self._writing: list[asyncio.Future[None]] = []

    async def __aenter__(self) -> _BatchWriter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                while self._writing:
                    await self._writing.pop(0)
        finally:
            await asyncio.gather(*self._writing, return_exceptions=True)

    async def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Start writing one batch."""
        if len(self._writing) >= self._most:
            await self._writing.pop(0)
        self._writing.append(asyncio.ensure_future(self._write(rows)))

    async def _write(self, rows: list[tuple[Any, ...]]) -> None:
        async with self._sessions() as writer, writer.begin():
            await outbox.insert_asks(session=writer, rows=rows, rewritten_if_lost=True)


def _post_due(spec: Campaign, settings: Settings, start: datetime) -> datetime:
    post = spec.broadcast_post
    assert post is not None
    if post.at is None:
        return start
    at = post.at if post.at.tzinfo else post.at.replace(tzinfo=spec.zone(settings.timezone))
    return at.astimezone(UTC)


async def _already(sessions: async_sessionmaker[AsyncSession], row: CampaignRow) -> LaunchResult:
    assert row.id is not None
    async with sessions() as session:
        counts = await campaign_runs.ask_state_counts(session=session, campaign_id=row.id)
    per_state: dict[str, int] = {}
    for (_, state), n in counts.items():
        per_state[state] = per_state.get(state, 0) + n
    queued = per_state.get(PENDING, 0) + per_state.get(SENDING, 0)
    return LaunchResult(
        name=row.name,
        state=row.state,
        already=True,
        audience_size=row.audience_size,
        queued=queued,
        holdout=per_state.get(HOLDOUT, 0),
        per_arm={},
        first_due=None,
        last_due=None,
        post_due=None,
        message=f"{row.name} was already launched and is {row.state}; nothing new was queued",
    )
