"""Conversations through the bot: supporters' messages relayed to staff, staff answers back."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop, CommandHandler, MessageHandler, filters

from bot.domain.callbacks import stop
from bot.domain.classify import OPT_OUT
from bot.domain.i18n import text
from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.domain.names import shown_name
from bot.services import conversation, desk
from bot.services.conversation import RecordedReply, RelayTarget
from bot.services.supporters import add_contact, remember_staff_messages
from bot.telegram.context import BotApplication, BotContext, services_of
from bot.telegram.desk_buttons import PROMPT_START, desk_buttons
from bot.telegram.staff_guard import audit, is_staff, refuse
from bot.telegram.supporters import language_of

log = logging.getLogger(__name__)

# Tries to relay a reply when Telegram answers "retry after"; the reply is stored either way.
RELAY_ATTEMPTS = 4


def _cut_visible(text: str, units: int) -> str:
    """Keep the start of text that fits `units` UTF-16 code units, never half a character."""
    return text.encode("utf-16-le")[: units * 2].decode("utf-16-le", "ignore")


def relay_text(reply: RecordedReply, message_text: str) -> str:
    """Return the staff-chat relay of a supporter's message, every part HTML-escaped."""
    who = reply.supporter
    name = shown_name(who.name)
    handle = f"@{shown_name(who.username)}, " if who.username else ""
    if reply.campaign:
        campaign, arm = shown_name(reply.campaign), shown_name(reply.arm or "?")
        where_shown = f"on {campaign} / {arm}"
        where = f"on <b>{html.escape(campaign)}</b> / {html.escape(arm)}"
    else:
        where_shown = where = "(no campaign)"
    tail = f" ({handle}{who.telegram_user_id}) "
    kind = reply.classification + (", offered to stop" if reply.maybe_opt_out else "")
    head_shown = f"💬 {name}{tail}{where_shown} [{kind}]:\n"
    head = f"💬 <b>{html.escape(name)}</b>{html.escape(tail)}{where} [{kind}]:\n"
    # Telegram counts the text the reader sees (after HTML parsing), so the cut counts that:
    # "&" is one character on screen though "&amp;" is five in the HTML.
    room = MESSAGE_MAX_UTF16 - utf16_length(head_shown)
    if utf16_length(message_text) > room:
        message_text = _cut_visible(message_text, room - 1) + "…"
    return head + html.escape(message_text)


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
    elif reply.maybe_opt_out:
        # Only the classifier's model reads an opt-out here ("stop" can mislead it): one tap
        # on the ask's own Stop button stops everything; doing nothing changes nothing.
        language = language_of(user)
        stop_button = InlineKeyboardButton(text("button_stop", language), callback_data=stop(""))
        await message.reply_html(
            text("opt_out_offer", language), reply_markup=InlineKeyboardMarkup([[stop_button]])
        )
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
    suggested = [a.key for a in desk.suggestions(context.registry.answers, message_text)]
    buttons = desk_buttons(reply.reply_id, suggested, waits=reply.classification != OPT_OUT)
    for attempt in range(RELAY_ATTEMPTS):
        try:
            relayed = await context.bot.send_message(
                staff_chat, body, parse_mode=ParseMode.HTML, reply_markup=buttons
            )
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
    """Send a staff reply to a relayed message (or to a desk prompt) back to the supporter."""
    message, user = update.effective_message, update.effective_user
    if message is None or message.reply_to_message is None or message.text is None:
        return
    if message.reply_to_message.from_user is None or (
        message.reply_to_message.from_user.id != context.bot.id
    ):
        return
    replied = message.reply_to_message.message_id
    target = await conversation.find_relay_target(context.sessions, relay_message_id=replied)
    if target is None:
        # A reply to the desk's forced-reply prompt after pressing Answer.
        reply_id = await desk.reply_of_prompt(context.sessions, prompt_message_id=replied)
        if reply_id is not None:
            target = await desk.answer_target(context.sessions, reply_id=reply_id)
        elif (message.reply_to_message.text or "").startswith(PROMPT_START):
            if not await refuse(update, context, "answer"):
                await message.reply_html(
                    "Not sent: that prompt has expired (the claim lapsed or the message was "
                    "settled). Press Answer again."
                )
            return
    if target is None:
        return
    if await refuse(update, context, "answer"):
        return
    assert user is not None
    await deliver_answer(message, context, user, target, message.text)


async def deliver_answer(
    message: Message,
    context: BotContext,
    user: User,
    target: RelayTarget,
    answer: str,
    *,
    parse_mode: str | None = None,
) -> bool:
    """Send a staff answer to the supporter, record it, and confirm it where staff are."""
    assert target.supporter.chat_id is not None
    holder = await desk.other_holder(
        context.sessions,
        supporter_id=target.supporter.id,
        staff_user_id=user.id,
        now=context.now(),
    )
    if holder is not None:
        await message.reply_html(
            f"✋ {html.escape(holder.staff_name)} is answering "
            f"{html.escape(target.supporter.name)}; yours was not sent."
        )
        return False
    try:
        sent = await context.bot.send_message(
            target.supporter.chat_id, answer, parse_mode=parse_mode
        )
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
        return False
    await conversation.record_staff_answer(
        context.sessions,
        reply_id=target.reply_id,
        staff_user_id=user.id,
        text=answer,
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
    confirmation = await message.reply_html(
        f"✓ Sent to {html.escape(shown_name(target.supporter.name))}."
    )
    # The answer and its confirmation are about the supporter too: forget deletes them.
    await remember_staff_messages(
        context.sessions,
        supporter_id=target.supporter.id,
        chat_id=message.chat_id,
        message_ids=[message.message_id, confirmation.message_id],
        now=context.now(),
    )
    return True


async def message_edited(update: Update, context: BotContext) -> None:
    """Act on no edit: an edit is not a new message, command or answer.

    Only a member of staff who edits an answer hears about it: the supporter keeps the first
    version, so a correction must be sent as a new reply.
    """
    message, user = update.edited_message, update.effective_user
    staff_chat = context.settings.staff_chat_id
    quoted = message.reply_to_message if message is not None else None
    if message is not None and quoted is not None and message.chat_id == staff_chat:
        target = await conversation.find_relay_target(
            context.sessions, relay_message_id=quoted.message_id
        )
        if target is not None and is_staff(context, user):
            name = html.escape(shown_name(target.supporter.name))
            await message.reply_html(
                f"✏️ Edits are not passed on: {name} has the first version. "
                "Reply to their message again to send a correction."
            )
    raise ApplicationHandlerStop


class _NoCommand(filters.UpdateFilter):
    """Updates no command handler takes: plain text, or a "/word" that is not our command."""

    def __init__(self, application: BotApplication) -> None:
        super().__init__(name="no_command")
        self._application = application

    def filter(self, update: Update) -> bool:
        return not any(
            isinstance(handler, CommandHandler) and handler.check_update(update)
            for handlers in self._application.handlers.values()
            for handler in handlers
        )


def add_handlers(application: BotApplication) -> None:
    """Register supporters' free text (private chats), staff answers and edits (staff chat)."""
    # A "/word" that is no command of ours is a message like any other, not something to drop.
    no_command = _NoCommand(application)
    private_text = filters.ChatType.PRIVATE & filters.TEXT & no_command
    application.add_handler(MessageHandler(private_text, reply_received))
    staff_chat = services_of(application).settings.staff_chat_id
    edits = filters.UpdateType.EDITED_MESSAGE & filters.ChatType.PRIVATE
    if staff_chat is not None:
        answers = filters.Chat(chat_id=staff_chat) & filters.REPLY & filters.TEXT
        application.add_handler(MessageHandler(answers & no_command, answer_supporter))
        edits = filters.UpdateType.EDITED_MESSAGE & (
            filters.ChatType.PRIVATE | filters.Chat(chat_id=staff_chat)
        )
    # First of all groups, so no command, relay or answer handler sees an edit again.
    application.add_handler(MessageHandler(edits, message_edited), group=-1)
