"""Broadcast posts: at its time, post a campaign's message to its channel or group, with reach."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.ask_rules import tracked_link
from bot.domain.campaign import frozen_spec
from bot.domain.i18n import text
from bot.domain.sending import Button, Result, Sender
from bot.domain.templating import MessageContext, TemplateProblem, render_message
from bot.services.outbox import INTERRUPTED
from bot.storage import campaign_runs
from bot.storage import posts as post_queries
from bot.storage.models import FAILED, PENDING, SENT, UNKNOWN

log = logging.getLogger(__name__)

# A post that failed for a passing reason (5xx, no connection) is tried again this much later.
RETRY_POST = timedelta(minutes=1)


def _chat_id(chat: str) -> int | str:
    """Give a numeric chat id as a number and a @channel name as text."""
    return int(chat) if chat.lstrip("-").isdigit() else chat


async def send_due_posts(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    settings: Settings,
    *,
    now: datetime,
) -> int:
    """Post every due broadcast post of a running campaign; return how many were sent.

    The post is rendered with no supporter (the name falls back to the language's "friend")
    and its own token in the donate link, so clicks and gifts from it are credited to it.
    """
    async with sessions() as session, session.begin():
        posts = await post_queries.claim_due_posts(session=session, now=now)
        runs = await campaign_runs.campaign_run_states(
            session=session, ids={p.campaign_id for p in posts}
        )
    sent = 0
    for post in posts:
        run = runs[post.campaign_id]
        spec = frozen_spec(run.spec_yaml)
        assert spec.broadcast_post is not None
        link = tracked_link(settings.public_base_url, post.token)
        context = MessageContext(
            today=now.astimezone(spec.zone(settings.timezone)).date(),
            language=spec.default_language,
            donate_link=link,
        )
        try:
            message = render_message(spec, spec.broadcast_post.message, context)
        except TemplateProblem as problem:
            await _finish(sessions, post.id, FAILED, now, reason=f"not rendered: {problem}")
            continue
        label = text("button_donate", spec.default_language)
        outcome = await sender.send_text(
            _chat_id(post.chat), message, buttons=[[Button(label, url=link)]]
        )
        if outcome.result is Result.SENT:
            reach = await sender.member_count(_chat_id(post.chat))
            await _finish(sessions, post.id, SENT, now, message_id=outcome.message_id, reach=reach)
            sent += 1
        elif outcome.result in (Result.RETRY_AFTER, Result.TRANSIENT, Result.HALT):
            wait = max(timedelta(seconds=outcome.retry_after), RETRY_POST)
            await _finish(
                sessions, post.id, PENDING, now, reason=outcome.description, due_at=now + wait
            )
        elif outcome.result is Result.AMBIGUOUS:
            reason = f"no answer after posting ({outcome.description}); not retried"
            await _finish(sessions, post.id, UNKNOWN, now, reason=reason)
        else:
            await _finish(sessions, post.id, FAILED, now, reason=outcome.description)
    return sent


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    post_id: int,
    state: str,
    now: datetime,
    *,
    message_id: int | None = None,
    reach: int | None = None,
    reason: str | None = None,
    due_at: datetime | None = None,
) -> None:
    async with sessions() as session, session.begin():
        await post_queries.finish_post(
            session=session,
            post_id=post_id,
            state=state,
            now=now,
            message_id=message_id,
            reach=reach,
            reason=reason[:300] if reason else None,
            due_at=due_at,
        )


async def recover_posts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Mark posts a crash left in `sending` unknown, so none is posted twice."""
    async with sessions() as session, session.begin():
        return await post_queries.recover_posts(session=session, reason=INTERRUPTED)
