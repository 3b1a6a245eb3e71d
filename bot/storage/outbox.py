"""The ask outbox: write asks in bulk, claim due ones safely, recover, record outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.flags import DELETED
from bot.storage.campaign_runs import running_campaign_ids
from bot.storage.dialect import dialect_name, driver_connection, sqlite_time
from bot.storage.flags import add_flags
from bot.storage.models import CANCELLED, PENDING, SENDING, SENT, UNKNOWN
from bot.storage.tables import ASK, SUPPORTER

# --- writing asks ----------------------------------------------------------------------------


# The columns a launch or a follow-up writes, in the order of the tuples insert_asks takes.
ASK_LOAD_COLUMNS = (
    "campaign_id", "supporter_id", "arm", "step", "rule", "language", "source", "token",
    "state", "due_at", "attempts",
)  # fmt: skip
_DUE_AT = ASK_LOAD_COLUMNS.index("due_at")
_SUPPORTER_ID = ASK_LOAD_COLUMNS.index("supporter_id")
_SQLITE_CACHE_KIB = 64 * 1024


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
    dialect = dialect_name(session)
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
        stored = [(*r[:at], sqlite_time(r[at]), *r[at + 1 :]) for r in rows]
        await raw.executemany(
            f"INSERT INTO ask ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", stored
        )
    else:
        await session.execute(
            insert(ASK), [dict(zip(ASK_LOAD_COLUMNS, r, strict=True)) for r in rows]
        )


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
    if dialect_name(session) == "postgresql":
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
    # Telegram said "user is deactivated": the account was deleted (flagged `deleted`).
    deactivated_at: datetime | None = None


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
    sent_asks = [u for u in asks if u.state == SENT]
    other_asks = [u for u in asks if u.state != SENT]
    if dialect_name(session) == "sqlite":
        await _apply_on_sqlite(session, worker, sent_asks, other_asks, supporters)
        await _apply_supporter_updates(session, supporters, asked_too=False)
        return
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
    sent = [_ask_params(u) for u in sent_asks]
    other = [_ask_params(u) for u in other_asks]
    if sent:
        await session.execute(update(ASK).where(mine).values(values), sent)
    if other:
        still_held = and_(mine, ASK.c.state == SENDING)
        await session.execute(update(ASK).where(still_held).values(values), other)
    await _apply_supporter_updates(session, supporters)


_SQLITE_OUTCOME = (
    "UPDATE ask SET state = ?, due_at = ?, attempts = ?, failure_reason = ?, sent_at = ?, "
    "chat_id = ?, telegram_message_id = ? WHERE id = ? AND worker = ?"
)


async def _apply_on_sqlite(
    session: AsyncSession,
    worker: str,
    sent: Sequence[AskUpdate],
    other: Sequence[AskUpdate],
    supporters: Sequence[SupporterUpdate],
) -> None:
    """The asks' two updates and the supporters' "asked" as plain tuples on the driver's
    connection; the rarer supporter updates (blocked, unreachable) are left to the caller.

    SQLAlchemy's per-row parameter handling was a fifth of the CPU of recording an outcome
    on SQLite (about 15 of 70 us an ask, A/B in one process on a loaded machine), and the
    outbox records every message it sends.
    """

    def row(u: AskUpdate) -> tuple[Any, ...]:
        sent_at = sqlite_time(u.sent_at) if u.sent_at is not None else None
        return (
            u.state, sqlite_time(u.due_at), u.attempts, u.failure_reason, sent_at,
            u.chat_id, u.telegram_message_id, u.id, worker,
        )  # fmt: skip

    raw = await driver_connection(session)
    if sent:
        await raw.executemany(_SQLITE_OUTCOME, [row(u) for u in sent])
    if other:
        await raw.executemany(
            _SQLITE_OUTCOME + f" AND state = '{SENDING}'", [row(u) for u in other]
        )
    asked = [(sqlite_time(u.asked_at), u.supporter_id) for u in supporters if u.asked_at]
    if asked:
        await raw.executemany("UPDATE supporter SET last_asked_at = ? WHERE id = ?", asked)


async def _apply_supporter_updates(
    session: AsyncSession, updates: Sequence[SupporterUpdate], *, asked_too: bool = True
) -> None:
    s = SUPPORTER.c
    asked = [
        {"b_id": u.supporter_id, "b_at": u.asked_at}
        for u in updates
        if u.asked_at is not None and asked_too
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
    deleted = [
        {"supporter_id": u.supporter_id, "reason": DELETED, "flagged_at": u.deactivated_at}
        for u in updates
        if u.deactivated_at is not None
    ]
    await add_flags(session=session, rows=deleted)
