"""Conversations through the bot: supporters' messages relayed to staff, staff answers back."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import MessageHandler, filters

from bot.domain.classify import OPT_OUT
from bot.domain.i18n import text
from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.services import conversation
from bot.services.conversation import RecordedReply
from bot.services.supporters import add_contact, remember_staff_messages
from bot.telegram.context import BotApplication, BotContext, services_of
from bot.telegram.staff_guard import audit, refuse
from bot.telegram.supporters import language_of

log = logging.getLogger(__name__)

# Tries to relay a reply when Telegram answers "retry after"; the reply is stored either way.
RELAY_ATTEMPTS = 4


def relay_text(reply: RecordedReply, message_text: str) -> str:
    """Return the staff-chat relay of a supporter's message, every part HTML-escaped."""
    who = reply.supporter
    handle = f"@{who.username}, " if who.username else ""
    where = (
        f"on <b>{html.escape(reply.campaign)}</b> / {html.escape(reply.arm or '?')}"
        if reply.campaign
        else "(no campaign)"
    )
    head = (
        f"💬 <b>{html.escape(who.name)}</b> ({html.escape(handle)}{who.telegram_user_id}) "
        f"{where} [{reply.classification}]:\n"
    )
    body = html.escape(message_text)
    if utf16_length(head + body) <= MESSAGE_MAX_UTF16:
        return head + body
    # Telegram counts UTF-16 units; the raw HTML is never shorter than what it shows.
    while utf16_length(head + body) > MESSAGE_MAX_UTF16 - 1:
        body = body[: -max(1, (utf16_length(head + body) - MESSAGE_MAX_UTF16) // 2 + 1)]
    # Cut outside an entity so the HTML stays valid, and mark the cut.
    amp = body.rfind("&")
    if amp != -1 and ";" not in body[amp:]:
        body = body[:amp]
    return head + body + "…"


async def reply_received(update: Update, context: BotContext) -> None:
    """Record a supporter's message against their ask, relay it to staff, honour opt-outs."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.text is None:
        return
    quoted = message.reply_to_message.message_id if message.reply_to_message else None

    async def record() -> RecordedReply | None:
        return await conversation.record_reply(
            context.sessions,
            telegram_user_id=user.id,
            chat_id=message.chat_id,
            text=message.text or "",
            message_id=message.message_id,
            reply_to_message_id=quoted,
            now=context.now(),
        )

    reply = await record()
    if reply is None:
        # Unknown, or forgotten: they are heard, but consent only ever comes from /start.
        await add_contact(context.sessions, telegram_user=user, now=context.now())
        reply = await record()
    if reply is None:
        return
    if reply.classification == OPT_OUT:
        await message.reply_html(text("opted_out", language_of(user)))
    # In the background: a busy staff group may make Telegram ask us to wait (20 messages a
    # minute per group), and that wait must not hold up other supporters' messages.
    context.application.create_task(
        _relay(context, reply, message.text), update=update, name=f"relay-{reply.reply_id}"
    )


async def _relay(context: BotContext, reply: RecordedReply, message_text: str) -> None:
    """Relay a recorded reply to the staff chat and remember the relay's message id."""
    staff_chat = context.settings.staff_chat_id
    if staff_chat is None:
        return
    body = relay_text(reply, message_text)
    for attempt in range(RELAY_ATTEMPTS):
        try:
            relayed = await context.bot.send_message(staff_chat, body, parse_mode=ParseMode.HTML)
        except RetryAfter as exc:
            if attempt + 1 < RELAY_ATTEMPTS:
                await asyncio.sleep(_seconds(exc.retry_after))
            continue
        except TelegramError as exc:
            log.warning("could not relay reply %s to the staff chat: %s", reply.reply_id, exc)
            return
        await conversation.set_relay_message(
            context.sessions,
            reply_id=reply.reply_id,
            relay_message_id=relayed.message_id,
            chat_id=staff_chat,
            now=context.now(),
        )
        return
    log.warning("reply %s not relayed: the staff chat stayed rate-limited", reply.reply_id)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def answer_supporter(update: Update, context: BotContext) -> None:
    """Send a staff reply to a relayed message back to the supporter, and record it."""
    message, user = update.effective_message, update.effective_user
    if message is None or message.reply_to_message is None or message.text is None:
        return
    if message.reply_to_message.from_user is None or (
        message.reply_to_message.from_user.id != context.bot.id
    ):
        return
    target = await conversation.find_relay_target(
        context.sessions, relay_message_id=message.reply_to_message.message_id
    )
    if target is None:
        return
    if await refuse(update, context, "answer"):
        return
    assert user is not None and target.supporter.chat_id is not None
    try:
        sent = await context.bot.send_message(target.supporter.chat_id, message.text)
    except Forbidden as exc:
        await conversation.set_blocked(
            context.sessions,
            telegram_user_id=target.supporter.telegram_user_id or 0,
            blocked=True,
            now=context.now(),
        )
        await message.reply_html(f"Not delivered: {html.escape(exc.message)}.")
        await audit(
            context,
            user,
            "answer",
            campaign=target.campaign,
            detail=f"failed: {exc}",
            supporter_id=target.supporter.id,
        )
        return
    await conversation.record_staff_answer(
        context.sessions,
        reply_id=target.reply_id,
        staff_user_id=user.id,
        text=message.text,
        telegram_message_id=sent.message_id,
        now=context.now(),
    )
    await audit(
        context,
        user,
        "answer",
        campaign=target.campaign,
        detail=f"to supporter {target.supporter.id}",
        supporter_id=target.supporter.id,
    )
    confirmation = await message.reply_html(f"✓ Sent to {html.escape(target.supporter.name)}.")
    # The answer and its confirmation are about the supporter too: forget deletes them.
    await remember_staff_messages(
        context.sessions,
        supporter_id=target.supporter.id,
        chat_id=message.chat_id,
        message_ids=[message.message_id, confirmation.message_id],
        now=context.now(),
    )


def add_handlers(application: BotApplication) -> None:
    """Register supporters' free text (private chats) and staff answers (the staff chat)."""
    private_text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(private_text, reply_received))
    staff_chat = services_of(application).settings.staff_chat_id
    if staff_chat is not None:
        answers = filters.Chat(chat_id=staff_chat) & filters.REPLY & filters.TEXT
        application.add_handler(MessageHandler(answers & ~filters.COMMAND, answer_supporter))
