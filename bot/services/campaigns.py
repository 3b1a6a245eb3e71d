"""Campaign run state: launch (audience to queued asks), pause, resume, cancel, status, list.

Launch renders nothing. Each ask is rendered when it is sent, so an opt-out, a corrected
template or a changed name between launch and send is honoured, and a million-supporter
launch only writes small rows: supporter, arm, rule, language, token and due time.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import functools
import hashlib
import itertools
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.campaign import dump_campaign
from bot.domain.experiment import unit_hash
from bot.domain.schedule import SpreadPlans, launch_start
from bot.domain.spec import Campaign
from bot.domain.yaml_lines import read_yaml
from bot.storage import asks as store
from bot.storage.audience import audience_query, count_audience
from bot.storage.models import (
    CANCELLED,
    FAILED,
    FIRST_STEP,
    HOLDOUT,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
)
from bot.storage.models import Campaign as CampaignRow

log = logging.getLogger(__name__)

DRAFT = "draft"
LAUNCHING = "launching"
RUNNING = "running"
PAUSED = "paused"
FINISHED = "finished"
CANCEL_REASON = "campaign cancelled before this ask was sent"
LAUNCH_BATCH = 20000
# Launch batches written at once on PostgreSQL (each on its own connection).
LAUNCH_WRITERS = 2


class CampaignStateError(Exception):
    """A campaign cannot make the change asked for in its current state."""


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


def arm_picker(campaign_name: str, weights: Mapping[str, float]) -> Callable[[int], str]:
    """Give a fast stand-in for assign_arm(campaign_name, supporter_id, weights).

    Same arms in the same name order, same cumulative sums, same hash: the same answer for
    every supporter, without sorting the weights again a million times.
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
        return names[min(bisect.bisect_right(bounds, point), last)]

    return pick


def new_tokens(count: int) -> list[str]:
    """Make `count` tracking tokens like secrets.token_urlsafe(12), in one call to the OS."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode()
    return [text[i : i + 16] for i in range(0, 16 * count, 16)]


def spec_hash(spec_yaml: str) -> str:
    """Fingerprint a frozen spec, so a worker can cache the parsed campaign."""
    return hashlib.sha256(spec_yaml.encode()).hexdigest()


@functools.lru_cache(maxsize=64)
def _parse_frozen(spec_yaml: str) -> Campaign:
    data, _ = read_yaml(spec_yaml)
    return Campaign.model_validate(data)


def frozen_spec(spec_yaml: str) -> Campaign:
    """Read back the copy of a campaign frozen at launch."""
    return _parse_frozen(spec_yaml)


def _cap(settings: Settings) -> timedelta | None:
    return timedelta(days=settings.frequency_cap_days) if settings.frequency_cap_days else None


# --- launch ----------------------------------------------------------------------------------


async def _begin_launch(
    sessions: async_sessionmaker[AsyncSession], campaign: Campaign, *, now: datetime
) -> tuple[CampaignRow, Campaign, bool]:
    """Create or find the run-state row; return (row, spec to use, already launched)."""
    async with sessions() as session, session.begin():
        row = await store.campaign_row(session=session, name=campaign.name, lock=True)
        if row is not None and row.state in (RUNNING, PAUSED, FINISHED):
            return row, campaign, True
        if row is not None and row.state == CANCELLED:
            raise CampaignStateError(
                f"{campaign.name} was cancelled; a cancelled campaign cannot be launched again "
                "(copy the file under a new name to run it again)"
            )
        if row is not None and row.state == LAUNCHING and row.spec_yaml:
            # An interrupted launch: carry on with the spec it started with.
            return row, frozen_spec(row.spec_yaml), False
        frozen = dump_campaign(campaign)
        if row is None:
            row = CampaignRow(name=campaign.name, created_at=now)
            session.add(row)
        row.title = campaign.title
        row.state = LAUNCHING
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
        done = await store.count_asks(session=reader, campaign_id=campaign_id, step=FIRST_STEP)
        remaining = await count_audience(reader, spec, now=now, cap=cap, zone=settings.timezone)
        size = done + remaining
        position = done
        # stream_audience's query, read as plain tuples (supporter_id, rule, language,
        # chat_id, timezone, source): at a million rows an object per row costs ~10 s.
        postgres = reader.get_bind().dialect.name == "postgresql"
        if postgres:
            # As stream_audience does: JIT compiling this query costs more than it saves.
            await reader.execute(text("SET LOCAL jit = off"))
        # PostgreSQL spends a core on each batch it writes (index entries and a foreign-key
        # check per row): two in flight use both cores. SQLite writes one at a time anyway.
        writers = LAUNCH_WRITERS if postgres else 1
        query = audience_query(spec, now=now, cap=cap, zone=settings.timezone)
        result = await reader.stream(query.execution_options(yield_per=batch))
        async with _BatchWriter(sessions, writers) as writer:
            async for partition in result.partitions(batch):
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
            await store.insert_post(
                session=session,
                campaign_id=campaign_id,
                chat=spec.broadcast_post.chat,
                token=secrets.token_urlsafe(12),
                due_at=post_due,
            )
    async with sessions() as session, session.begin():
        final = await store.campaign_row(session=session, name=spec.name, lock=True)
        assert final is not None
        final.audience_size = await store.count_asks(
            session=session, campaign_id=campaign_id, step=FIRST_STEP
        )
        if final.state == LAUNCHING:
            final.state = RUNNING
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
            await store.insert_asks(session=writer, rows=rows, rewritten_if_lost=True)


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
        counts = await store.ask_state_counts(session=session, campaign_id=row.id)
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


# --- pause, resume, cancel -------------------------------------------------------------------


async def _change_state(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    *,
    allowed: frozenset[str],
    refusal: str,
    target: str,
    now: datetime,
) -> CampaignRow:
    async with sessions() as session, session.begin():
        row = await store.campaign_row(session=session, name=name, lock=True)
        if row is None:
            raise CampaignStateError(f"{name} has not been launched")
        if row.state == target:
            raise CampaignStateError(f"{name} is already {target}")
        if row.state not in allowed:
            raise CampaignStateError(f"{name} is {row.state}; {refusal}")
        row.state = target
        if target == PAUSED:
            row.paused_at = now
        elif target == RUNNING:
            row.paused_at = None
        elif target == CANCELLED:
            row.cancelled_at = now
            assert row.id is not None
            await store.cancel_pending(session=session, campaign_id=row.id, reason=CANCEL_REASON)
            await store.cancel_posts(session=session, campaign_id=row.id)
        return row


async def pause_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Hold a running campaign: its pending asks stay queued and nothing more is sent."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({RUNNING}),
        refusal="only a running campaign can be paused",
        target=PAUSED,
        now=now,
    )


async def resume_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Let a paused campaign send again; asks that fell due meanwhile go out first."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({PAUSED}),
        refusal="only a paused campaign can be resumed",
        target=RUNNING,
        now=now,
    )


async def cancel_campaign(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> None:
    """Stop a campaign for good: every ask not yet sent is marked cancelled."""
    await _change_state(
        sessions,
        name,
        allowed=frozenset({RUNNING, PAUSED, LAUNCHING}),
        refusal="only a running or paused campaign can be cancelled",
        target=CANCELLED,
        now=now,
    )


# --- status and list -------------------------------------------------------------------------


async def campaign_status(
    sessions: async_sessionmaker[AsyncSession], name: str, *, now: datetime
) -> CampaignStatus:
    """Report a campaign's queue, outcomes by reason, next due ask and recent send rate."""
    async with sessions() as session:
        row = await store.campaign_row(session=session, name=name)
        if row is None or row.id is None:
            return _empty_status(name)
        counts = await store.ask_state_counts(session=session, campaign_id=row.id)
        reasons = await store.reason_counts(session=session, campaign_id=row.id)
        next_due = await store.campaign_next_due(session=session, campaign_id=row.id)
        last_five = await store.sent_between(
            session=session, campaign_id=row.id, start=now - timedelta(minutes=5), end=now
        )
        last_hour = await store.sent_between(
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
        name=name, state=DRAFT, audience_size=0, launched_at=None, queued=0, sending=0, sent=0,
        failed=0, unknown=0, skipped=0, holdout=0, cancelled=0, failed_by_reason={},
        skipped_by_reason={}, unknown_by_reason={}, by_step={}, next_due_at=None,
        sent_last_hour=0, rate_per_minute=0.0,
    )  # fmt: skip


async def list_campaigns(
    sessions: async_sessionmaker[AsyncSession], specs: Mapping[str, Campaign]
) -> list[CampaignSummary]:
    """List every loaded or launched campaign with state, audience, sent, replies and gifts."""
    async with sessions() as session:
        rows = {row.name: row for row in await store.campaign_rows(session=session)}
        totals = await store.campaign_totals(session=session)
    summaries = []
    for name in sorted(set(specs) | set(rows)):
        row = rows.get(name)
        spec = specs.get(name)
        total = totals.get(row.id) if row is not None and row.id is not None else None
        total = total or store.CampaignTotals()
        summaries.append(
            CampaignSummary(
                name=name,
                title=spec.title if spec is not None else (row.title if row else name),
                state=row.state if row is not None else DRAFT,
                audience_size=row.audience_size if row is not None else 0,
                sent=total.sent,
                replies=total.replies,
                gifts=total.gifts,
                amounts=dict(total.amounts or {}),
                has_spec=spec is not None,
            )
        )
    return summaries
