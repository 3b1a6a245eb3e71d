"""Open a public ask privately: the /start payload of its button delivers the arm's message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.ask_rules import ask_buttons, ask_context, render_ask, supporter_zone, tracked_link
from bot.domain.campaign import frozen_spec
from bot.domain.campaign_state import RUNNING
from bot.domain.public_asks import GROUP_REPLY, token_of_payload
from bot.domain.sending import Button
from bot.domain.spec import Campaign
from bot.domain.templating import TemplateProblem
from bot.storage import recipients
from bot.storage.conversation import ask_by_token
from bot.storage.models import SENT
from bot.storage.models import Campaign as CampaignRow
from bot.storage.supporters import supporter_by_telegram


@dataclass(frozen=True)
class PrivateAsk:
    """The private message a public ask opens: its text and buttons (with the tracked link)."""

    text: str
    buttons: list[list[Button]]


async def open_public_ask(
    sessions: async_sessionmaker[AsyncSession],
    *,
    payload: str | None,
    telegram_user_id: int,
    now: datetime,
    settings: Settings,
    current: Mapping[str, Campaign] | None = None,
) -> PrivateAsk | None:
    """Render the arm's message for the supporter a public ask addressed, or return None.

    Only the member the ask mentioned gets it (anyone may press a button in a group); the
    ask must have been sent and its campaign be running. Its donate link is the ask's tracked
    link, so clicks and gifts from it are credited to the public ask.
    """
    token = token_of_payload(payload)
    if token is None:
        return None
    async with sessions() as session:
        ask = await ask_by_token(session=session, token=token)
        supporter = await supporter_by_telegram(session=session, user_id=telegram_user_id)
        if supporter is None or ask is None or ask.state != SENT:
            return None
        supporter_id = supporter.id
        if supporter_id is None or ask.supporter_id != supporter_id:
            return None
        run = await session.get(CampaignRow, ask.campaign_id)
        if run is None or run.state != RUNNING:
            return None
        spec = frozen_spec(run.spec_yaml)
        arm = spec.arms.get(ask.arm)
        if arm is None or arm.via != GROUP_REPLY or ask.step != "ask":
            return None
        people = await recipients.supporter_facts(session=session, ids=[supporter_id])
        history = await recipients.interaction_history(session=session, ids=[supporter_id])
    person = people[supporter_id]
    link = tracked_link(settings.public_base_url, token)
    language = person.language or ask.language
    zone = supporter_zone(person.timezone, spec, settings.timezone)
    context = ask_context(
        person,
        language=language,
        link=link,
        history=history.get(supporter_id, []),
        zone=zone,
        now=now,
    )
    try:
        assert ask.id is not None
        view = _AskView(ask.id, ask.campaign_id, ask.supporter_id, ask.arm, ask.step)
        text = render_ask(spec, (current or {}).get(spec.name), view, context)
    except (TemplateProblem, KeyError):
        return None
    buttons = ask_buttons(
        token, link, language, telegram_payments=bool(settings.payment_provider_token)
    )
    return PrivateAsk(text, buttons)


@dataclass(frozen=True)
class _AskView:
    """The fields of a stored ask that rendering reads."""

    id: int
    campaign_id: int
    supporter_id: int | None
    arm: str
    step: str
