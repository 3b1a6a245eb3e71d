"""Supporter conversations: replies against asks, relays to staff, opt-out, not-now, blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.classify import NEGATIVE, OPT_OUT, POSITIVE, QUESTION, read_reply
from bot.storage import conversation, desk
from bot.storage.models import Ask, Campaign, Reply, Supporter, known_reached
from bot.storage.personal import remember_staff_message
from bot.storage.supporters import supporter_by_telegram

# A reply that quotes no message is credited to the latest ask sent within this window.
REPLY_WINDOW = timedelta(days=30)
_SENTIMENT = {POSITIVE: "positive", NEGATIVE: "negative", OPT_OUT: "negative"}


@dataclass(frozen=True)
class SupporterView:
    """Who a supporter is, as staff see them in a relayed message."""

    id: int
    telegram_user_id: int | None
    chat_id: int | None
    first_name: str
    last_name: str
    username: str | None
    language: str

    @property
    def name(self) -> str:
        """Give the supporter's full name, or a placeholder when Telegram gave none."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or "(no name)"


@dataclass(frozen=True)
class RecordedReply:
    """A supporter's message, stored and classified, with the ask it answers."""

    reply_id: int
    supporter: SupporterView
    classification: str
    campaign: str | None
    arm: str | None
    step: str | None
    opted_out_now: bool
    # Only the classifier's model reads an opt-out: the supporter is offered the Stop button,
    # and the reply is kept as its next likeliest class (staff still see and answer it).
    maybe_opt_out: bool


@dataclass(frozen=True)
class RelayTarget:
    """Where a staff answer to a relayed message goes."""

    reply_id: int
    supporter: SupporterView
    classification: str | None
    campaign: str | None


@dataclass(frozen=True)
class PressedAsk:
    """The ask whose button a supporter pressed."""

    campaign: str | None
    supporter_id: int | None


def _view(supporter: Supporter) -> SupporterView:
    assert supporter.id is not None
    return SupporterView(
        id=supporter.id,
        telegram_user_id=supporter.telegram_user_id,
        chat_id=supporter.chat_id,
        first_name=supporter.first_name,
        last_name=supporter.last_name,
        username=supporter.username,
        language=supporter.language,
    )


async def _campaign_name(session: AsyncSession, campaign_id: int | None) -> str | None:
    if campaign_id is None:
        return None
    campaign = await session.get(Campaign, campaign_id)
    return campaign.name if campaign else None


async def _opt_out(
    session: AsyncSession, supporter: Supporter, *, now: datetime, via: str
) -> bool:
    """Opt a supporter out; return False if they already were."""
    if supporter.opted_out_at is not None:
        return False
    supporter.opted_out_at = now
    await conversation.add_interaction(
        session=session, supporter=supporter, kind="opt_out", now=now, detail=via
    )
    return True


async def supporter_view(
    sessions: async_sessionmaker[AsyncSession], *, telegram_user_id: int
) -> SupporterView | None:
    """Return the supporter with this Telegram id, if known."""
    async with sessions() as session:
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        return _view(supporter) if supporter else None


async def record_reply(
    sessions: async_sessionmaker[AsyncSession],
    *,
    telegram_user_id: int,
    chat_id: int,
    text: str,
    message_id: int,
    reply_to_message_id: int | None,
    now: datetime,
) -> RecordedReply | None:
    """Store a supporter's message against the ask it answers; opt them out if they ask to.

    Returns None when the sender is not a known supporter.
    """
    async with sessions() as session, session.begin():
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        if supporter is None or supporter.id is None:
            return None
        ask: Ask | None = None
        if reply_to_message_id is not None:
            ask = await conversation.ask_by_message(
                session=session, chat_id=chat_id, message_id=reply_to_message_id
            )
        if ask is None:
            ask = await conversation.latest_sent_ask(
                session=session, supporter_id=supporter.id, since=now - REPLY_WINDOW
            )
        reading = read_reply(text, supporter.language)
        classification = reading.handled_as
        campaign = await _campaign_name(session, ask.campaign_id if ask else None)
        reply = Reply(
            supporter_id=supporter.id,
            ask_id=ask.id if ask else None,
            campaign_id=ask.campaign_id if ask else None,
            direction="in",
            text=text,
            classification=classification,
            telegram_message_id=message_id,
            received_at=now,
            arm=ask.arm if ask else None,
            reached=known_reached(ask.step, ask.state) if ask else None,
        )
        session.add(reply)
        await conversation.add_interaction(
            session=session,
            supporter=supporter,
            kind="reply",
            now=now,
            detail=campaign,
            sentiment=_SENTIMENT.get(classification, "neutral"),
        )
        opted_out_now = classification == OPT_OUT and await _opt_out(
            session, supporter, now=now, via="word"
        )
        if supporter.chat_id is None:
            supporter.chat_id = chat_id
        await session.flush()
        assert reply.id is not None
        return RecordedReply(
            reply_id=reply.id,
            supporter=_view(supporter),
            classification=classification,
            campaign=campaign,
            arm=ask.arm if ask else None,
            step=ask.step if ask else None,
            opted_out_now=opted_out_now,
            maybe_opt_out=reading.maybe_opt_out,
        )


async def set_relay_message(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reply_id: int,
    relay_message_id: int,
    chat_id: int,
    now: datetime,
) -> None:
    """Remember which staff-chat message relays a reply, so staff can answer it.

    It is also remembered as a staff-chat message about the supporter, which forget deletes.
    """
    async with sessions() as session, session.begin():
        reply = await session.get(Reply, reply_id)
        if reply is not None:
            reply.relay_message_id = relay_message_id
            if reply.supporter_id is not None:
                await remember_staff_message(
                    session=session,
                    supporter_id=reply.supporter_id,
                    chat_id=chat_id,
                    message_id=relay_message_id,
                    sent_at=now,
                )


async def find_relay_target(
    sessions: async_sessionmaker[AsyncSession], *, relay_message_id: int
) -> RelayTarget | None:
    """Return the supporter behind a relayed message, if the conversation still exists."""
    async with sessions() as session:
        reply = await conversation.reply_by_relay(
            session=session, relay_message_id=relay_message_id
        )
        if reply is None or reply.id is None or reply.supporter_id is None:
            return None
        supporter = await session.get(Supporter, reply.supporter_id)
        if supporter is None or supporter.chat_id is None or supporter.forgotten_at is not None:
            return None
        return RelayTarget(
            reply_id=reply.id,
            supporter=_view(supporter),
            classification=reply.classification,
            campaign=await _campaign_name(session, reply.campaign_id),
        )


async def record_staff_answer(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reply_id: int,
    staff_user_id: int,
    text: str,
    telegram_message_id: int | None,
    now: datetime,
) -> None:
    """Record a staff answer sent back to a supporter and mark their message answered."""
    async with sessions() as session, session.begin():
        inbound = await session.get(Reply, reply_id)
        if inbound is None:
            return
        session.add(
            Reply(
                supporter_id=inbound.supporter_id,
                ask_id=inbound.ask_id,
                campaign_id=inbound.campaign_id,
                direction="out",
                text=text,
                telegram_message_id=telegram_message_id,
                staff_user_id=staff_user_id,
                received_at=now,
                arm=inbound.arm,
                reached=inbound.reached,
            )
        )
        first_answer = inbound.answered_at is None
        if first_answer:
            inbound.answered_at = now
        if inbound.supporter_id is not None:
            # One answer covers what they wrote before it, and ends any claim on them.
            await desk.answer_earlier(
                session=session,
                supporter_id=inbound.supporter_id,
                up_to=inbound.received_at,
                now=now,
            )
            await desk.release_claim(session=session, supporter_id=inbound.supporter_id)
        supporter = (
            await session.get(Supporter, inbound.supporter_id) if inbound.supporter_id else None
        )
        # An answered question is history that audience rules can select on.
        if supporter is not None and first_answer and inbound.classification == QUESTION:
            await conversation.add_interaction(
                session=session,
                supporter=supporter,
                kind="question_answered",
                now=now,
                detail=await _campaign_name(session, inbound.campaign_id),
                sentiment="neutral",
            )


async def opt_out(
    sessions: async_sessionmaker[AsyncSession], *, telegram_user_id: int, now: datetime, via: str
) -> bool:
    """Stop all asks to a supporter at once; return False if unknown or already out."""
    async with sessions() as session, session.begin():
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        if supporter is None:
            return False
        return await _opt_out(session, supporter, now=now, via=via)


async def opt_in(
    sessions: async_sessionmaker[AsyncSession], *, supporter_id: int, now: datetime
) -> bool:
    """Let an opted-out supporter receive asks again; return True if they were out."""
    async with sessions() as session, session.begin():
        supporter = await session.get(Supporter, supporter_id)
        if supporter is None or supporter.opted_out_at is None:
            return False
        supporter.opted_out_at = None
        await conversation.add_interaction(
            session=session, supporter=supporter, kind="opt_in", now=now
        )
        return True


async def ask_of_button(
    sessions: async_sessionmaker[AsyncSession], *, token: str
) -> PressedAsk | None:
    """Return the campaign and supporter of the ask a button belongs to."""
    async with sessions() as session:
        ask = await conversation.ask_by_token(session=session, token=token)
        if ask is None:
            return None
        return PressedAsk(
            campaign=await _campaign_name(session, ask.campaign_id), supporter_id=ask.supporter_id
        )


async def record_not_now(
    sessions: async_sessionmaker[AsyncSession], *, telegram_user_id: int, token: str, now: datetime
) -> str | None:
    """Record a "Not now" press against the ask's campaign; return the campaign name."""
    async with sessions() as session, session.begin():
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        ask = await conversation.ask_by_token(session=session, token=token)
        if supporter is None or ask is None:
            return None
        campaign = await _campaign_name(session, ask.campaign_id)
        await conversation.add_interaction(
            session=session,
            supporter=supporter,
            kind="not_now",
            now=now,
            detail=campaign,
            sentiment="neutral",
        )
        return campaign


async def set_blocked(
    sessions: async_sessionmaker[AsyncSession],
    *,
    telegram_user_id: int,
    blocked: bool,
    now: datetime,
) -> bool:
    """Mark a supporter as having blocked (or unblocked) the bot; return False if unknown."""
    async with sessions() as session, session.begin():
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        if supporter is None:
            return False
        if blocked and supporter.blocked_at is None:
            supporter.blocked_at = now
        elif not blocked:
            supporter.blocked_at = None
        return True
