"""Referrals: a supporter's own share links, and crediting the people they bring in.

A supporter who starts the bot through t.me/<bot>?start=r-<code>, or joins the community chat
through the named invite link r-<code>, is credited to the code's owner: first touch only,
new supporters apart from existing ones (re-engaged). Gifts by referred supporters are the
referrer's peer-to-peer credit, reported apart (bot.storage.referrals.referrer_rows) and
never added to the referrer's own giving, counts or scores.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.public_asks import REFERRAL_PREFIX, start_url
from bot.domain.sending import Sender, SendRefused
from bot.storage import referrals
from bot.storage.supporters import supporter_by_telegram

log = logging.getLogger(__name__)

VIA_START = "start"
VIA_JOIN = "join"


@dataclass(frozen=True)
class ShareLinks:
    """A supporter's own links: to start the bot, and to join the community chat."""

    start: str
    invite: str | None


def code_of_payload(payload: str | None) -> str | None:
    """Return the referral code a /start payload or invite link name carries, if any."""
    if payload and payload.startswith(REFERRAL_PREFIX) and len(payload) > len(REFERRAL_PREFIX):
        return payload[len(REFERRAL_PREFIX) :]
    return None


async def share_links(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    *,
    telegram_user_id: int,
    settings: Settings,
    now: datetime,
) -> ShareLinks | None:
    """Give a consented supporter their own links (making their code once); None otherwise."""
    async with sessions() as session, session.begin():
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        if supporter is None or supporter.id is None or supporter.consented_at is None:
            return None
        code = await referrals.add_code(
            session=session, supporter_id=supporter.id, code=secrets.token_urlsafe(6), now=now
        )
    username = await sender.bot_username()
    if not username:
        return None
    payload = REFERRAL_PREFIX + code
    invite = None
    if settings.community_chat_ids:
        chat = min(settings.community_chat_ids)
        try:
            invite = await sender.create_invite_link(chat, name=payload)
        except SendRefused as refused:
            log.warning("no invite link for a referral to %s: %s", chat, refused)
    return ShareLinks(start_url(username, payload), invite)


async def credit_referral(
    session: AsyncSession,
    *,
    supporter_id: int,
    name: str | None,
    existed: bool,
    via: str,
    now: datetime,
) -> bool:
    """Credit a supporter who came through a referral link or invite name; return whether it
    was recorded (a first touch by someone else's code). The caller commits."""
    code = code_of_payload(name)
    if code is None:
        return False
    referrer = await referrals.referrer_of_code(session=session, code=code)
    if referrer is None:
        return False
    return await referrals.credit(
        session=session,
        referred_id=supporter_id,
        referrer_id=referrer,
        via=via,
        new=not existed,
        at=now,
    )


async def is_known(session: AsyncSession, telegram_user_id: int) -> bool:
    """Tell whether a Telegram user is a supporter already (before a /start creates them)."""
    return await supporter_by_telegram(session=session, user_id=telegram_user_id) is not None
