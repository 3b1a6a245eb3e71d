"""Outbox queries: write asks in bulk, claim due ones safely, record outcomes, run-state counts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.campaign_state import RUNNING
from bot.storage.db import driver_connection
from bot.storage.models import (
    CANCELLED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
)
from bot.storage.models import Campaign as CampaignRow
from bot.storage.tables import ASK, CAMPAIGN, CLICK, DONATION, INTERACTION, POST, REPLY, SUPPORTER

# Both SQLite and asyncpg take far more bound parameters than this per statement.
_CHUNK = 2000


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- campaign run state ----------------------------------------------------------------------


async def campaign_row(
    *, session: AsyncSession, name: str, lock: bool = False
) -> CampaignRow | None:
    """Return the run-state row of a campaign, locked for update when asked (PostgreSQL)."""
    stmt = select(CampaignRow).where(CAMPAIGN.c.name == name)
    if lock and _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def campaign_rows(*, session: AsyncSession) -> list[CampaignRow]:
    """Return every campaign run-state row, oldest first."""
    stmt = select(CampaignRow).order_by(CAMPAIGN.c.id)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class CampaignRunState:
    """What the worker needs to know about a campaign while sending its asks."""

    id: int
    name: str
    state: str
    spec_yaml: str
    spec_hash: str


async def campaign_run_states(
    *, session: AsyncSession, ids: Collection[int] | None = None
) -> dict[int, CampaignRunState]:
    """Return state and frozen spec of the given campaigns (or of all)."""
    c = CAMPAIGN.c
    stmt = select(c.id, c.name, c.state, c.spec_yaml, c.spec_hash)
    if ids is not None:
        stmt = stmt.where(c.id.in_(list(ids)))
    rows = (await session.execute(stmt)).all()
    return {
        row.id: CampaignRunState(row.id, row.name, row.state, row.spec_yaml, row.spec_hash)
        for row in rows
    }


async def campaign_states(*, session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    """Return just the state of the given campaigns, cheaply, for per-ask re-checks."""
    stmt = select(CAMPAIGN.c.id, CAMPAIGN.c.state).where(CAMPAIGN.c.id.in_(list(ids)))
    return {row.id: row.state for row in (await session.execute(stmt)).all()}


async def running_campaign_ids(*, session: AsyncSession) -> list[int]:
    """List the ids of running campaigns."""
    stmt = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING).order_by(CAMPAIGN.c.id)
    return list((await session.execute(stmt)).scalars())


# --- writing asks ----------------------------------------------------------------------------


# The columns a launch or a follow-up writes, in the order of the tuples insert_asks takes.
ASK_LOAD_COLUMNS = (
    "campaign_id", "supporter_id", "arm", "step", "rule", "language", "source", "token",
    "state", "due_at", "attempts",
)  # fmt: skip
_DUE_AT = ASK_LOAD_COLUMNS.index("due_at")
_SUPPORTER_ID = ASK_LOAD_COLUMNS.index("supporter_id")
_SQLITE_CACHE_KIB = 64 * 1024


def _sqlite_time(moment: datetime) -> str:
    """Write an aware time as SQLAlchemy stores it in SQLite: naive UTC text, microseconds."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(sep=" ", timespec="microseconds")[:26]


async def insert_asks(
    *, session: AsyncSession, rows: Sequence[tuple[Any, ...]], rewritten_if_lost: bool = False
) -> None:
    """Insert ask rows (tuples in ASK_LOAD_COLUMNS order); an existing (campaign, supporter,
    step) is left alone, so an interrupted launch can simply run again.

    A launch writes up to a million rows, so this skips SQLAlchemy's per-row parameter
    handling: PostgreSQL gets a COPY into a temporary table and one INSERT ... SELECT,
    SQLite one executemany of plain tuples with times in SQLAlchemy's own storage format.
    Rows go in supporter order, so neighbours share pages of the supporter indexes and of
    the supporter rows each foreign-key check reads.

    `rewritten_if_lost`: the caller writes these rows again should the commit be lost (a
    launch, which stays `launching` until its last, durable, commit); on PostgreSQL the commit
    then does not wait for the disk.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r[_SUPPORTER_ID] is None, r[_SUPPORTER_ID] or 0))
    raw = await driver_connection(session)
    columns = ", ".join(ASK_LOAD_COLUMNS)
    dialect = _dialect(session)
    if dialect == "postgresql":
        if rewritten_if_lost:
            await raw.execute("SET LOCAL synchronous_commit = off")
        await raw.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ask_load "
            "(LIKE ask INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await raw.copy_records_to_table("ask_load", records=rows, columns=ASK_LOAD_COLUMNS)
        await raw.execute(
            f"INSERT INTO ask ({columns}) SELECT {columns} FROM ask_load ON CONFLICT DO NOTHING"
        )
        await raw.execute("TRUNCATE ask_load")
    elif dialect == "sqlite":
        # Eight indexes take random inserts (tokens above all): give this connection a page
        # cache that holds them, instead of SQLite's 2 MB default.
        await raw.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        marks = ", ".join("?" for _ in ASK_LOAD_COLUMNS)
        at = _DUE_AT
        stored = [(*r[:at], _sqlite_time(r[at]), *r[at + 1 :]) for r in rows]
        await raw.executemany(
            f"INSERT INTO ask ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", stored
        )
    else:
        await session.execute(
            insert(ASK), [dict(zip(ASK_LOAD_COLUMNS, r, strict=True)) for r in rows]
        )


async def count_asks(*, session: AsyncSession, campaign_id: int, step: str | None = None) -> int:
    """Count a campaign's asks (of one step, when given)."""
    stmt = select(func.count()).select_from(ASK).where(ASK.c.campaign_id == campaign_id)
    if step is not None:
        stmt = stmt.where(ASK.c.step == step)
    return int(await session.scalar(stmt) or 0)


async def cancel_pending(*, session: AsyncSession, campaign_id: int, reason: str) -> int:
    """Mark every pending ask of a campaign cancelled; return how many."""
    stmt = (
        update(ASK)
        .where(ASK.c.campaign_id == campaign_id, ASK.c.state == PENDING)
        .values(state=CANCELLED, failure_reason=reason)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


# --- claiming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedAsk:
    """An ask this worker now owns in state `sending`."""

    id: int
    campaign_id: int
    supporter_id: int | None
    arm: str
    step: str
    language: str
    token: str
    attempts: int
    due_at: datetime


_CLAIMED_COLUMNS = (
    ASK.c.id,
    ASK.c.campaign_id,
    ASK.c.supporter_id,
    ASK.c.arm,
    ASK.c.step,
    ASK.c.language,
    ASK.c.token,
    ASK.c.attempts,
    ASK.c.due_at,
)


async def claim_due_asks(
    *,
    session: AsyncSession,
    campaign_id: int,
    now: datetime,
    limit: int,
    worker: str,
) -> list[ClaimedAsk]:
    """Move up to `limit` due pending asks of one campaign to `sending`, owned by `worker`.

    Selecting and marking happen in one UPDATE, so two workers can never claim the same ask:
    on PostgreSQL the inner SELECT locks with FOR UPDATE SKIP LOCKED (a second worker skips
    rows the first is claiming); SQLite takes its single write lock before it reads.
    """
    queued = ASK.alias("queued")
    due = (
        select(queued.c.id)
        .where(
            queued.c.campaign_id == campaign_id,
            queued.c.state == PENDING,
            queued.c.due_at <= now,
        )
        .order_by(queued.c.due_at, queued.c.id)
        .limit(limit)
    )
    claim = update(ASK).values(state=SENDING, claimed_at=now, worker=worker)
    if _dialect(session) == "postgresql":
        # A materialized CTE runs the locking SELECT exactly once. As `id IN (subquery)`
        # PostgreSQL may rescan it per row, and each rescan skips the rows just updated and
        # locks the next ones: the LIMIT would be ignored.
        locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        stmt = claim.where(ASK.c.id == locked.c.id, ASK.c.state == PENDING)
    else:
        stmt = claim.where(ASK.c.id.in_(due.scalar_subquery()), ASK.c.state == PENDING)
    stmt = stmt.returning(*_CLAIMED_COLUMNS)
    rows = (await session.execute(stmt)).all()
    claimed = [ClaimedAsk(*row) for row in rows]
    claimed.sort(key=lambda ask: (ask.due_at, ask.id))
    return claimed


async def next_due_at(*, session: AsyncSession) -> datetime | None:
    """Return the earliest due time of a pending ask of a running campaign."""
    earliest: datetime | None = None
    for campaign_id in await running_campaign_ids(session=session):
        stmt = select(func.min(ASK.c.due_at)).where(
            ASK.c.campaign_id == campaign_id, ASK.c.state == PENDING
        )
        found = await session.scalar(stmt)
        if found is not None and (earliest is None or found < earliest):
            earliest = found
    return earliest


async def recover_interrupted(
    *,
    session: AsyncSession,
    reason: str,
    stale_before: datetime,
    worker: str | None = None,
) -> int:
    """Mark `sending` asks left by a dead worker `unknown`; never put them back to pending.

    An ask is taken to be abandoned when it was claimed before `stale_before` (a lease no
    live worker holds that long), or, with `worker`, when it belongs to this worker id, whose
    earlier process must have died since ids are unique among running workers.
    """
    abandoned = [ASK.c.claimed_at < stale_before]
    if worker is not None:
        abandoned.append(ASK.c.worker == worker)
    stmt = (
        update(ASK)
        .where(ASK.c.state == SENDING, or_(*abandoned))
        .values(state=UNKNOWN, failure_reason=reason)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


# --- what the worker needs to send -----------------------------------------------------------


@dataclass(frozen=True)
class SupporterFacts:
    """The supporter fields a send decision and a message need."""

    id: int
    chat_id: int | None
    first_name: str
    last_name: str
    username: str | None
    language: str
    timezone: str | None
    consented_at: datetime | None
    opted_out_at: datetime | None
    blocked_at: datetime | None
    forgotten_at: datetime | None


async def supporter_facts(
    *, session: AsyncSession, ids: Collection[int]
) -> dict[int, SupporterFacts]:
    """Return the send-time facts of these supporters."""
    s = SUPPORTER.c
    columns = (
        s.id, s.chat_id, s.first_name, s.last_name, s.username, s.language, s.timezone,
        s.consented_at, s.opted_out_at, s.blocked_at, s.forgotten_at,
    )  # fmt: skip
    found: dict[int, SupporterFacts] = {}
    for chunk in _chunks(list(ids)):
        rows = await session.execute(select(*columns).where(s.id.in_(chunk)))
        found.update({row.id: SupporterFacts(*row) for row in rows})
    return found


async def interaction_history(
    *, session: AsyncSession, ids: Collection[int]
) -> dict[int, list[tuple[str, str | None, datetime]]]:
    """Return (kind, detail, occurred_at) of every interaction of these supporters."""
    i = INTERACTION.c
    found: dict[int, list[tuple[str, str | None, datetime]]] = {}
    for chunk in _chunks(list(ids)):
        stmt = select(i.supporter_id, i.kind, i.detail, i.occurred_at).where(
            i.supporter_id.in_(chunk)
        )
        for row in await session.execute(stmt):
            found.setdefault(row.supporter_id, []).append((row.kind, row.detail, row.occurred_at))
    return found


async def recent_sends(
    *, session: AsyncSession, supporter_ids: Collection[int], since: datetime
) -> list[tuple[int, int, datetime]]:
    """List (supporter_id, campaign_id, sent_at) of asks sent to these supporters since `since`."""
    found: list[tuple[int, int, datetime]] = []
    for chunk in _chunks(list(supporter_ids)):
        stmt = select(ASK.c.supporter_id, ASK.c.campaign_id, ASK.c.sent_at).where(
            ASK.c.supporter_id.in_(chunk), ASK.c.sent_at >= since
        )
        found += [(r.supporter_id, r.campaign_id, r.sent_at) for r in await session.execute(stmt)]
    return found


async def said_not_now(
    *, session: AsyncSession, supporter_ids: Collection[int], campaign_name: str
) -> set[int]:
    """Return the supporters who pressed "Not now" on this campaign."""
    i = INTERACTION.c
    found: set[int] = set()
    for chunk in _chunks(list(supporter_ids)):
        stmt = select(i.supporter_id).where(
            i.supporter_id.in_(chunk), i.kind == "not_now", i.detail == campaign_name
        )
        found.update((await session.execute(stmt)).scalars())
    return found


# --- recording outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class AskUpdate:
    """The new state of one claimed ask after its send (or its decision not to send)."""

    id: int
    state: str
    due_at: datetime
    attempts: int
    failure_reason: str | None = None
    sent_at: datetime | None = None
    chat_id: int | None = None
    telegram_message_id: int | None = None


@dataclass(frozen=True)
class SupporterUpdate:
    """A change to a supporter learnt while sending: asked, blocked the bot, or unreachable."""

    supporter_id: int
    asked_at: datetime | None = None
    blocked_at: datetime | None = None
    unreachable: bool = False


def _ask_params(u: AskUpdate) -> dict[str, Any]:
    return {
        "b_id": u.id,
        "b_state": u.state,
        "b_due_at": u.due_at,
        "b_attempts": u.attempts,
        "b_reason": u.failure_reason,
        "b_sent_at": u.sent_at,
        "b_chat_id": u.chat_id,
        "b_message_id": u.telegram_message_id,
    }


async def apply_outcomes(
    *,
    session: AsyncSession,
    worker: str,
    asks: Sequence[AskUpdate],
    supporters: Sequence[SupporterUpdate] = (),
) -> None:
    """Write the outcomes of claimed asks (one executemany) and what they taught about people.

    A `sent` outcome is written even if a recovery already called the ask unknown: the
    message went out, and the record should say so. Anything else only changes an ask this
    worker still holds in `sending`, so a stale worker can never put an ask back in play.
    """
    values = {
        "state": bindparam("b_state"),
        "due_at": bindparam("b_due_at", type_=ASK.c.due_at.type),
        "attempts": bindparam("b_attempts"),
        "failure_reason": bindparam("b_reason"),
        "sent_at": bindparam("b_sent_at", type_=ASK.c.sent_at.type),
        "chat_id": bindparam("b_chat_id", type_=ASK.c.chat_id.type),
        "telegram_message_id": bindparam("b_message_id", type_=ASK.c.telegram_message_id.type),
    }
    mine = and_(ASK.c.id == bindparam("b_id"), ASK.c.worker == worker)
    sent = [_ask_params(u) for u in asks if u.state == SENT]
    other = [_ask_params(u) for u in asks if u.state != SENT]
    if sent:
        await session.execute(update(ASK).where(mine).values(values), sent)
    if other:
        still_held = and_(mine, ASK.c.state == SENDING)
        await session.execute(update(ASK).where(still_held).values(values), other)
    await _apply_supporter_updates(session, supporters)


async def _apply_supporter_updates(
    session: AsyncSession, updates: Sequence[SupporterUpdate]
) -> None:
    s = SUPPORTER.c
    asked = [
        {"b_id": u.supporter_id, "b_at": u.asked_at} for u in updates if u.asked_at is not None
    ]
    if asked:
        stmt = (
            update(SUPPORTER)
            .where(s.id == bindparam("b_id"))
            .values(last_asked_at=bindparam("b_at", type_=s.last_asked_at.type))
        )
        await session.execute(stmt, asked)
    blocked = [
        {"b_id": u.supporter_id, "b_at": u.blocked_at} for u in updates if u.blocked_at is not None
    ]
    if blocked:
        stmt = (
            update(SUPPORTER)
            .where(s.id == bindparam("b_id"), s.blocked_at.is_(None))
            .values(blocked_at=bindparam("b_at", type_=s.blocked_at.type))
        )
        await session.execute(stmt, blocked)
    unreachable = [u.supporter_id for u in updates if u.unreachable]
    if unreachable:
        # Telegram refuses to open the chat: they must /start the bot again to be reachable.
        stmt = update(SUPPORTER).where(s.id.in_(unreachable)).values(chat_id=None)
        await session.execute(stmt)


# --- status ----------------------------------------------------------------------------------


async def ask_state_counts(
    *, session: AsyncSession, campaign_id: int
) -> dict[tuple[str, str], int]:
    """Count a campaign's asks by (step, state)."""
    stmt = (
        select(ASK.c.step, ASK.c.state, func.count())
        .where(ASK.c.campaign_id == campaign_id)
        .group_by(ASK.c.step, ASK.c.state)
    )
    return {(row[0], row[1]): int(row[2]) for row in await session.execute(stmt)}


async def reason_counts(
    *,
    session: AsyncSession,
    campaign_id: int,
    states: Collection[str] = (FAILED, SKIPPED, UNKNOWN),
) -> dict[tuple[str, str], int]:
    """Count a campaign's asks in the given states by (state, reason)."""
    stmt = (
        select(ASK.c.state, ASK.c.failure_reason, func.count())
        .where(ASK.c.campaign_id == campaign_id, ASK.c.state.in_(list(states)))
        .group_by(ASK.c.state, ASK.c.failure_reason)
    )
    return {
        (row[0], row[1] or "no reason given"): int(row[2]) for row in await session.execute(stmt)
    }


async def campaign_next_due(*, session: AsyncSession, campaign_id: int) -> datetime | None:
    """Return the due time of a campaign's next pending ask."""
    stmt = select(func.min(ASK.c.due_at)).where(
        ASK.c.campaign_id == campaign_id, ASK.c.state == PENDING
    )
    found: datetime | None = await session.scalar(stmt)
    return found


async def sent_between(
    *, session: AsyncSession, campaign_id: int, start: datetime, end: datetime
) -> int:
    """Count a campaign's asks sent in [start, end)."""
    stmt = select(func.count()).where(
        ASK.c.campaign_id == campaign_id,
        ASK.c.state == SENT,
        ASK.c.sent_at >= start,
        ASK.c.sent_at < end,
    )
    return int(await session.scalar(stmt) or 0)


@dataclass(frozen=True)
class CampaignTotals:
    """Sent asks, replies and gifts of one campaign."""

    sent: int = 0
    replies: int = 0
    gifts: int = 0
    amounts: Mapping[str, int] | None = None


async def campaign_totals(*, session: AsyncSession) -> dict[int, CampaignTotals]:
    """Return sent asks, inbound replies and gifts (count, total per currency) per campaign."""
    sent = dict(
        (await session.execute(
            select(ASK.c.campaign_id, func.count()).where(ASK.c.state == SENT)
            .group_by(ASK.c.campaign_id)
        )).tuples().all()
    )  # fmt: skip
    replies = dict(
        (await session.execute(
            select(REPLY.c.campaign_id, func.count())
            .where(REPLY.c.direction == "in", REPLY.c.campaign_id.is_not(None))
            .group_by(REPLY.c.campaign_id)
        )).tuples().all()
    )  # fmt: skip
    gifts: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    stmt = (
        select(
            DONATION.c.campaign_id,
            DONATION.c.currency,
            func.count(),
            func.sum(DONATION.c.amount_minor),
        )
        .where(DONATION.c.campaign_id.is_not(None))
        .group_by(DONATION.c.campaign_id, DONATION.c.currency)
    )
    for campaign_id, currency, count, total in await session.execute(stmt):
        gifts[campaign_id] = gifts.get(campaign_id, 0) + int(count)
        amounts.setdefault(campaign_id, {})[currency] = int(total or 0)
    ids = set(sent) | set(replies) | set(gifts)
    return {
        cid: CampaignTotals(
            sent=int(sent.get(cid, 0)),
            replies=int(replies.get(cid, 0)),
            gifts=gifts.get(cid, 0),
            amounts=amounts.get(cid, {}),
        )
        for cid in ids
    }


# --- follow-ups ----------------------------------------------------------------------------------


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


# --- broadcast posts -------------------------------------------------------------------------


async def insert_post(
    *, session: AsyncSession, campaign_id: int, chat: str, token: str, due_at: datetime
) -> None:
    """Create a campaign's broadcast post, unless it has one already."""
    have = await session.scalar(
        select(func.count()).select_from(POST).where(POST.c.campaign_id == campaign_id)
    )
    if not have:
        await session.execute(
            insert(POST).values(
                campaign_id=campaign_id, chat=chat, token=token, state=PENDING, due_at=due_at
            )
        )


@dataclass(frozen=True)
class ClaimedPost:
    """A broadcast post this process now owns in state `sending`."""

    id: int
    campaign_id: int
    chat: str
    token: str
    due_at: datetime


async def claim_due_posts(*, session: AsyncSession, now: datetime) -> list[ClaimedPost]:
    """Move due pending posts of running campaigns to `sending`, in one UPDATE."""
    running = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING)
    queued = POST.alias("queued")
    due = select(queued.c.id).where(
        queued.c.state == PENDING, queued.c.due_at <= now, queued.c.campaign_id.in_(running)
    )
    claim = update(POST).values(state=SENDING)
    if _dialect(session) == "postgresql":
        locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        stmt = claim.where(POST.c.id == locked.c.id, POST.c.state == PENDING)
    else:
        stmt = claim.where(POST.c.id.in_(due.scalar_subquery()), POST.c.state == PENDING)
    stmt = stmt.returning(POST.c.id, POST.c.campaign_id, POST.c.chat, POST.c.token, POST.c.due_at)
    return [ClaimedPost(*row) for row in await session.execute(stmt)]


async def finish_post(
    *,
    session: AsyncSession,
    post_id: int,
    state: str,
    now: datetime,
    message_id: int | None = None,
    reach: int | None = None,
    reason: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Record what became of a claimed broadcast post (sent, failed, or back to pending)."""
    values: dict[str, Any] = {"state": state, "failure_reason": reason}
    if state == SENT:
        values.update(sent_at=now, telegram_message_id=message_id, reach=reach)
    if due_at is not None:
        values["due_at"] = due_at
    await session.execute(update(POST).where(POST.c.id == post_id).values(**values))


async def next_post_due(*, session: AsyncSession) -> datetime | None:
    """Return the due time of the next pending post of a running campaign."""
    running = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING)
    stmt = select(func.min(POST.c.due_at)).where(
        POST.c.state == PENDING, POST.c.campaign_id.in_(running)
    )
    found: datetime | None = await session.scalar(stmt)
    return found


async def recover_posts(*, session: AsyncSession, reason: str) -> int:
    """Mark posts left in `sending` by a crash `unknown` (a post is never sent twice)."""
    stmt = update(POST).where(POST.c.state == SENDING).values(state=UNKNOWN, failure_reason=reason)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def cancel_posts(*, session: AsyncSession, campaign_id: int) -> int:
    """Cancel a campaign's pending broadcast post."""
    stmt = (
        update(POST)
        .where(POST.c.campaign_id == campaign_id, POST.c.state == PENDING)
        .values(state=CANCELLED)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
