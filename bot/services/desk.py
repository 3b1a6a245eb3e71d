"""The conversation desk: the inbox, claims on supporters, Done and Stop, the supporter card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.answers import SavedAnswer, render_answer, suggest
from bot.services.conversation import RelayTarget, SupporterView
from bot.services.supporters import SupporterNotFound, find_supporter
from bot.storage import conversation, desk
from bot.storage.desk import AskOutcome as AskOutcome
from bot.storage.desk import Holder, WaitingRow
from bot.storage.models import Supporter

# A claim with no answer after this long lets someone else answer.
CLAIM_LAPSE = timedelta(minutes=15)
# The inbox shows the oldest waiting messages, this many at a time.
INBOX_SIZE = 10
CARD_INTERACTIONS = 15
CARD_ASKS = 10
CARD_GIFTS = 10
DONE = "done"
STOP = "stop"


@dataclass(frozen=True)
class DeskItem:
    """A supporter's message as the desk shows it, with a live claim if there is one."""

    row: WaitingRow
    holder: Holder | None
    waiting: bool

    @property
    def reply_id(self) -> int:
        """Give the id of the message."""
        return self.row.reply_id

    @property
    def supporter(self) -> SupporterView:
        """Give who wrote it."""
        r = self.row
        return SupporterView(
            id=r.supporter_id,
            telegram_user_id=r.telegram_user_id,
            chat_id=None,
            first_name=r.first_name,
            last_name=r.last_name,
            username=r.username,
            language=r.language,
        )


@dataclass(frozen=True)
class Inbox:
    """The oldest waiting messages and how many wait in all."""

    items: list[DeskItem]
    total: int


def _live(row: WaitingRow, now: datetime) -> Holder | None:
    if row.claimed_by_id is None or row.claimed_at is None:
        return None
    if row.claimed_at <= now - CLAIM_LAPSE:
        return None
    return Holder(row.claimed_by_id, row.claimed_by or "", row.claimed_at, None)


def _item(row: WaitingRow, now: datetime, *, waiting: bool = True) -> DeskItem:
    return DeskItem(row=row, holder=_live(row, now), waiting=waiting)


async def inbox(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, limit: int = INBOX_SIZE
) -> Inbox:
    """Return the messages still waiting for staff, oldest first."""
    async with sessions() as session:
        rows = await desk.waiting_messages(session=session, limit=limit)
        total = await desk.count_waiting(session=session)
    return Inbox([_item(row, now) for row in rows], total)


async def desk_item(
    sessions: async_sessionmaker[AsyncSession], *, reply_id: int, now: datetime
) -> DeskItem | None:
    """Return one inbound message as the desk shows it, and whether it still waits."""
    async with sessions() as session:
        row = await desk.waiting_row(session=session, reply_id=reply_id)
    return _item(row, now, waiting=row.waits) if row is not None else None


@dataclass(frozen=True)
class ClaimResult:
    """What pressing Answer gave: the claim, someone else's, or a message that no longer waits."""

    item: DeskItem | None
    holder: Holder | None
    won: bool


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reply_id: int,
    staff_user_id: int,
    staff_name: str,
    now: datetime,
) -> ClaimResult:
    """Claim the supporter behind a message for one member of staff, unless another holds it."""
    item = await desk_item(sessions, reply_id=reply_id, now=now)
    if item is None or not item.waiting:
        return ClaimResult(item, None, won=False)
    async with sessions() as session, session.begin():
        holder = await desk.claim_supporter(
            session=session,
            supporter_id=item.row.supporter_id,
            reply_id=reply_id,
            staff_user_id=staff_user_id,
            staff_name=staff_name,
            now=now,
            lapse=CLAIM_LAPSE,
        )
    return ClaimResult(item, holder, won=holder.staff_user_id == staff_user_id)


async def remember_prompt(
    sessions: async_sessionmaker[AsyncSession],
    *,
    supporter_id: int,
    staff_user_id: int,
    prompt_message_id: int,
) -> None:
    """Remember the forced-reply prompt that asks a member of staff for their answer."""
    async with sessions() as session, session.begin():
        await desk.set_prompt(
            session=session,
            supporter_id=supporter_id,
            staff_user_id=staff_user_id,
            prompt_message_id=prompt_message_id,
        )


async def reply_of_prompt(
    sessions: async_sessionmaker[AsyncSession], *, prompt_message_id: int
) -> int | None:
    """Return the message a forced-reply prompt asked an answer for."""
    async with sessions() as session:
        return await desk.claim_by_prompt(session=session, prompt_message_id=prompt_message_id)


async def answer_target(
    sessions: async_sessionmaker[AsyncSession], *, reply_id: int
) -> RelayTarget | None:
    """Return where a staff answer to this message goes, if the supporter can still get it."""
    async with sessions() as session:
        row = await desk.waiting_row(session=session, reply_id=reply_id)
        supporter = await session.get(Supporter, row.supporter_id) if row else None
        if row is None or supporter is None or supporter.id is None:
            return None
        if supporter.chat_id is None or supporter.forgotten_at is not None:
            return None
        view = SupporterView(
            id=supporter.id,
            telegram_user_id=supporter.telegram_user_id,
            chat_id=supporter.chat_id,
            first_name=supporter.first_name,
            last_name=supporter.last_name,
            username=supporter.username,
            language=supporter.language,
        )
        return RelayTarget(
            reply_id=row.reply_id,
            supporter=view,
            classification=row.classification,
            campaign=row.campaign,
        )


async def other_holder(
    sessions: async_sessionmaker[AsyncSession],
    *,
    supporter_id: int,
    staff_user_id: int,
    now: datetime,
) -> Holder | None:
    """Return the live claim of someone else on this supporter, if there is one."""
    async with sessions() as session:
        holder = await desk.claim_of(session=session, supporter_id=supporter_id)
    if holder is None or holder.staff_user_id == staff_user_id:
        return None
    return holder if holder.claimed_at > now - CLAIM_LAPSE else None


@dataclass(frozen=True)
class Closed:
    """A message settled without an answer."""

    item: DeskItem
    closed: int
    opted_out_now: bool


async def close(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reply_id: int,
    how: str,
    staff_user_id: int,
    now: datetime,
) -> Closed | None:
    """Close a message as Done, or Stop: opt its supporter out and close all they wrote."""
    async with sessions() as session, session.begin():
        row = await desk.waiting_row(session=session, reply_id=reply_id)
        if row is None:
            return None
        opted_out_now = False
        if how == STOP:
            supporter = await session.get(Supporter, row.supporter_id)
            if supporter is not None and supporter.opted_out_at is None:
                supporter.opted_out_at = now
                await conversation.add_interaction(
                    session=session, supporter=supporter, kind="opt_out", now=now, detail="staff"
                )
                opted_out_now = True
            closed = await desk.close_supporter(
                session=session,
                supporter_id=row.supporter_id,
                how=how,
                staff_user_id=staff_user_id,
                now=now,
            )
        else:
            closed = int(
                await desk.close_message(
                    session=session,
                    reply_id=reply_id,
                    how=how,
                    staff_user_id=staff_user_id,
                    now=now,
                )
            )
        if closed:
            await desk.release_claim(session=session, supporter_id=row.supporter_id)
    return Closed(_item(row, now, waiting=False), closed, opted_out_now)


# --- saved answers -------------------------------------------------------------------------


def suggestions(answers: dict[str, SavedAnswer], message: str) -> list[SavedAnswer]:
    """Return the saved answers to offer for a supporter's message (at most three)."""
    return suggest(list(answers.values()), message)


def saved_answer_text(
    answer: SavedAnswer, target: RelayTarget, *, organisation: str, now: datetime
) -> str:
    """Render a saved answer for the supporter of a message, in their language."""
    who = target.supporter
    _, body = render_answer(
        answer,
        language=who.language,
        first_name=who.first_name,
        last_name=who.last_name,
        username=who.username,
        organisation=organisation,
        today=now.date(),
    )
    return body


# --- the supporter card ----------------------------------------------------------------------


@dataclass(frozen=True)
class SupporterCard:
    """Everything staff see about one supporter on the desk."""

    supporter: Supporter
    tags: list[str]
    interactions: list[tuple[str, str | None, str | None, datetime]]
    asks: list[AskOutcome]
    gifts: list[tuple[int, str, datetime, str | None, str]]
    waiting: int
    # Further lines about the supporter from other features (flags, influence): each adds
    # its own (label, value) pairs here, and the card shows them after the scores.
    more: tuple[tuple[str, str], ...] = ()


def _lookup(who: str) -> dict[str, str | int]:
    """Read `@username`, a Telegram id or an external id."""
    if who.startswith("@"):
        return {"username": who[1:]}
    if who.lstrip("-").isdigit():
        return {"telegram_id": int(who)}
    return {"external_id": who}


async def _card(session: AsyncSession, supporter: Supporter) -> SupporterCard:
    assert supporter.id is not None
    sid = supporter.id
    return SupporterCard(
        supporter=supporter,
        tags=await desk.supporter_tags(session=session, supporter_id=sid),
        interactions=await desk.recent_interactions(
            session=session, supporter_id=sid, limit=CARD_INTERACTIONS
        ),
        asks=await desk.asks_with_outcomes(session=session, supporter_id=sid, limit=CARD_ASKS),
        gifts=await desk.recent_gifts(session=session, supporter_id=sid, limit=CARD_GIFTS),
        waiting=len(await desk.waiting_for_supporter(session=session, supporter_id=sid)),
    )


async def supporter_card(sessions: async_sessionmaker[AsyncSession], *, who: str) -> SupporterCard:
    """Return the card of the supporter named by @username, Telegram id or external id.

    A number is tried as a Telegram id first, then as an external id. Raises
    SupporterNotFound saying why.
    """
    async with sessions() as session:
        try:
            supporter = await find_supporter(session, **_lookup(who))  # type: ignore[arg-type]
        except SupporterNotFound:
            if not who.lstrip("-").isdigit():
                raise
            supporter = await find_supporter(session, external_id=who)
        return await _card(session, supporter)


async def card_of_message(
    sessions: async_sessionmaker[AsyncSession], *, reply_id: int
) -> SupporterCard | None:
    """Return the card of the supporter who wrote a message."""
    async with sessions() as session:
        row = await desk.waiting_row(session=session, reply_id=reply_id)
        supporter = await session.get(Supporter, row.supporter_id) if row else None
        return await _card(session, supporter) if supporter is not None else None
