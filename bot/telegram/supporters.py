"""Supporter handlers: /start, /stop, /privacy, /forget, ask buttons and blocking the bot."""

from __future__ import annotations

import logging

from telegram import (
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    filters,
)

from bot.domain import callbacks
from bot.domain.i18n import pick_language, text
from bot.domain.public_asks import token_of_payload
from bot.services import conversation, referrals
from bot.services.public_asks import open_public_ask
from bot.services.sources import record_source_visit
from bot.services.supporters import forget_supporter, upsert_started_supporter
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.deleter import BotMessageDeleter
from bot.telegram.sender import TelegramSender, keyboard

log = logging.getLogger(__name__)

FORGET_YES = "forget:yes"
FORGET_NO = "forget:no"


def language_of(user: User | None) -> str:
    """Return the language we write to a Telegram user in (their app's, else English)."""
    return pick_language(user.language_code if user else None)


async def start_supporter(context: BotContext, user: User, payload: str | None) -> bool:
    """Create or link the supporter for a Telegram user; return True if they opted back in."""
    now = context.now()
    async with context.sessions() as session, session.begin():
        existed = await referrals.is_known(session, user.id)
        currency = context.settings.main_currency
        supporter = await upsert_started_supporter(
            session, telegram_user=user, payload=payload, now=now, main_currency=currency
        )
        supporter_id = supporter.id
        assert supporter_id is not None
        if payload:
            await record_source_visit(
                session, supporter_id, payload, now, started=True, main_currency=currency
            )
            await referrals.credit_referral(
                session,
                supporter_id=supporter_id,
                name=payload,
                existed=existed,
                via=referrals.VIA_START,
                now=now,
            )
    return await conversation.opt_in(context.sessions, supporter_id=supporter_id, now=now)


async def start(update: Update, context: BotContext) -> None:
    """Greet a supporter who starts the bot, from a deep link or not, and record consent."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    payload = context.args[0] if context.args else None
    came_back = await start_supporter(context, user, payload)
    key = "welcome_back" if came_back else "greeting"
    await message.reply_html(text(key, language_of(user), name=user.first_name))
    if token_of_payload(payload) is not None:
        await _deliver_public_ask(context, user, payload)


async def _deliver_public_ask(context: BotContext, user: User, payload: str | None) -> None:
    """Send the private message of the public ask whose button the supporter opened."""
    private = await open_public_ask(
        context.sessions,
        payload=payload,
        telegram_user_id=user.id,
        now=context.now(),
        settings=context.settings,
        current=context.registry.campaigns,
    )
    if private is not None:
        await context.bot.send_message(
            user.id,
            private.text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(private.buttons),
        )


async def share(update: Update, context: BotContext) -> None:
    """Give a supporter their own links to share: to start the bot, to join the community."""
    user = update.effective_user
    if user is None or update.effective_chat is None:
        return
    query = update.callback_query
    if query is not None:
        await query.answer()
    language = language_of(user)
    links = await referrals.share_links(
        context.sessions,
        TelegramSender(context.bot),
        telegram_user_id=user.id,
        settings=context.settings,
        now=context.now(),
    )
    if links is None:
        answer = text("share_unavailable", language)
    else:
        answer = text("share_links", language, link=links.start)
        if links.invite:
            answer += "\n" + text("share_invite", language, link=links.invite)
    await context.bot.send_message(update.effective_chat.id, answer, parse_mode=ParseMode.HTML)


async def stop(update: Update, context: BotContext) -> None:
    """Opt the supporter out of all messages at once and confirm it."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    await conversation.opt_out(
        context.sessions, telegram_user_id=user.id, now=context.now(), via="command"
    )
    await message.reply_html(text("opted_out", language_of(user)))


async def privacy(update: Update, context: BotContext) -> None:
    """Explain what the bot stores about a supporter."""
    message, user = update.effective_message, update.effective_user
    if message is not None:
        await message.reply_html(text("privacy", language_of(user)))


async def supporter_help(update: Update, context: BotContext) -> None:
    """Explain the supporter commands."""
    message, user = update.effective_message, update.effective_user
    if message is not None:
        await message.reply_html(text("help", language_of(user)))


async def forget(update: Update, context: BotContext) -> None:
    """Ask a supporter to confirm that their personal data should be deleted."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    language = language_of(user)
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text("forget_yes", language), callback_data=FORGET_YES),
                InlineKeyboardButton(text("forget_no", language), callback_data=FORGET_NO),
            ]
        ]
    )
    await message.reply_html(text("forget_question", language), reply_markup=buttons)


async def forget_answer(update: Update, context: BotContext) -> None:
    """Delete the supporter's personal data if they confirmed, and say what happened."""
    query = update.callback_query
    if query is None:
        return
    language = language_of(query.from_user)
    await query.answer()
    if query.data != FORGET_YES:
        await query.edit_message_text(text("forget_kept", language), parse_mode=ParseMode.HTML)
        return
    supporter = await conversation.supporter_view(
        context.sessions, telegram_user_id=query.from_user.id
    )
    if supporter is None:
        await query.edit_message_text(
            text("nothing_to_forget", language), parse_mode=ParseMode.HTML
        )
        return
    await forget_supporter(
        context.sessions,
        supporter.id,
        now=context.now(),
        deleter=BotMessageDeleter(context.bot),
        staff_chat_id=context.settings.staff_chat_id,
    )
    await query.edit_message_text(text("forgotten", language), parse_mode=ParseMode.HTML)


async def not_now(update: Update, context: BotContext) -> None:
    """Record a "Not now" press on an ask and acknowledge it."""
    query = update.callback_query
    if query is None:
        return
    await conversation.record_not_now(
        context.sessions,
        telegram_user_id=query.from_user.id,
        token=callbacks.token_of(query.data, callbacks.NOT_NOW),
        now=context.now(),
    )
    await query.answer(text("not_now", language_of(query.from_user)))


async def stop_button(update: Update, context: BotContext) -> None:
    """Opt the supporter out from an ask's "Stop messages" button and confirm it."""
    query = update.callback_query
    if query is None:
        return
    user = query.from_user
    await conversation.opt_out(
        context.sessions, telegram_user_id=user.id, now=context.now(), via="button"
    )
    confirmation = text("opted_out", language_of(user))
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(
            query.message.chat.id, confirmation, parse_mode=ParseMode.HTML
        )


async def member_changed(update: Update, context: BotContext) -> None:
    """Mark a supporter blocked when they block the bot, and reachable when they return."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    status = change.new_chat_member.status
    if status not in (ChatMember.BANNED, ChatMember.MEMBER):
        return
    await conversation.set_blocked(
        context.sessions,
        telegram_user_id=change.from_user.id,
        blocked=status == ChatMember.BANNED,
        now=context.now(),
    )


def add_handlers(application: BotApplication) -> None:
    """Register the supporter handlers (private chats only; /help is in staff.py)."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", start, filters=private))
    application.add_handler(CommandHandler("stop", stop, filters=private))
    application.add_handler(CommandHandler("privacy", privacy, filters=private))
    application.add_handler(CommandHandler("forget", forget, filters=private))
    application.add_handler(CallbackQueryHandler(not_now, pattern=callbacks.NOT_NOW_PATTERN))
    application.add_handler(CallbackQueryHandler(stop_button, pattern=callbacks.STOP_PATTERN))
    application.add_handler(CallbackQueryHandler(forget_answer, pattern="^forget:"))
    application.add_handler(CommandHandler("share", share, filters=private))
    application.add_handler(CallbackQueryHandler(share, pattern=callbacks.SHARE_PATTERN))
    application.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER))
