"""The bot's rights in community chats: checked at start and on change, staff told what to fix."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application

from bot.telegram.community_state import ADMIN_STATUSES, Listening, listening_of
from bot.telegram.context import BotContext, services_of

log = logging.getLogger(__name__)

# How Telegram's member statuses read in the warning: "I am <this> there".
_STANDING = {
    "member": "a plain member",
    "restricted": "a restricted member",
    "left": "not a member",
    "kicked": "banned",
}


def _not_admin_line(chat_id: int, title: str | None, status: str) -> str:
    name = f"{title} ({chat_id})" if title else str(chat_id)
    standing = _STANDING.get(status, status)
    return (
        f"Community chat {name}: I am {standing} there, not an administrator, so I cannot hear "
        "members' messages, reactions and joins. Make me an administrator there, or remove "
        "the chat from COMMUNITY_CHAT_IDS."
    )


async def _tell_staff(application: Application[Any, Any, Any, Any, Any, Any], line: str) -> None:
    staff_chat = services_of(application).settings.staff_chat_id
    log.warning("%s", line)
    if staff_chat is None:
        return
    try:
        await application.bot.send_message(staff_chat, line)
    except TelegramError as error:
        log.warning("could not tell the staff chat: %s", error)


async def check_chat(
    application: Application[Any, Any, Any, Any, Any, Any], state: Listening, chat_id: int
) -> None:
    """Check the bot is an administrator in one community chat; tell staff if not."""
    bot = application.bot
    try:
        standing = await bot.get_chat_member(chat_id, bot.id)
        chat = await bot.get_chat(chat_id)
    except TelegramError as error:
        state.admin_in.discard(chat_id)
        await _tell_staff(
            application,
            f"Community chat {chat_id}: I cannot reach it ({error.message}). Add me to it as "
            "an administrator, or remove it from COMMUNITY_CHAT_IDS.",
        )
        return
    if chat.linked_chat_id is not None:
        state.linked[chat_id] = chat.linked_chat_id
    if chat.type == ChatType.CHANNEL:
        group = f" ({chat.linked_chat_id})" if chat.linked_chat_id is not None else ""
        await _tell_staff(
            application,
            f"Community chat {chat.title} ({chat_id}) is a channel: members comment in its "
            f"discussion group{group}. List that group in COMMUNITY_CHAT_IDS instead.",
        )
    if standing.status not in ADMIN_STATUSES:
        state.admin_in.discard(chat_id)
        await _tell_staff(application, _not_admin_line(chat_id, chat.title, standing.status))
        return
    state.admin_in.add(chat_id)
    try:
        admins = await bot.get_chat_administrators(chat_id)
    except TelegramError as error:
        log.warning("could not list the administrators of %s: %s", chat_id, error)
        return
    state.admins[chat_id] = {a.user.id for a in admins if not a.user.is_bot}


async def rights_changed(update: Update, context: BotContext) -> None:
    """Re-check the bot's standing when it changes in a community chat."""
    change = update.my_chat_member
    if change is None:
        return
    state = listening_of(context)
    status = change.new_chat_member.status
    if status in ADMIN_STATUSES:
        await check_chat(context.application, state, change.chat.id)
        return
    state.admin_in.discard(change.chat.id)
    await _tell_staff(
        context.application, _not_admin_line(change.chat.id, change.chat.title, status)
    )
