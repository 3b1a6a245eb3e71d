"""The conversation desk in the staff chat: /inbox, /who, /answers and the buttons on messages."""

from __future__ import annotations

import html
import logging
import re

from telegram import ForceReply, Message, ReplyParameters, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.domain.i18n import text
from bot.domain.templating import TemplateProblem
from bot.services import desk
from bot.services.desk import SupporterCard
from bot.services.supporters import SupporterNotFound, remember_staff_messages
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.desk_buttons import (
    ANSWER_PATTERN,
    DONE_PATTERN,
    PROMPT_START,
    SAVED_PATTERN,
    STOP_PATTERN,
    WHO_PATTERN,
    desk_buttons,
    reply_id_of,
    saved_of,
)
from bot.telegram.desk_text import (
    age_text,
    answers_text,
    card_text,
    inbox_entry,
    inbox_head,
    who_text,
)
from bot.telegram.relay import deliver_answer
from bot.telegram.staff_guard import Handler, staff_command

log = logging.getLogger(__name__)

DESK_MENU: list[tuple[str, str]] = [
    ("inbox", "Supporters' messages waiting for an answer, oldest first"),
    ("who", "@user|id|external id: the supporter card"),
    ("answers", "The saved answers and their keywords"),
]
WHO_USAGE = "Usage: /who @username, /who TELEGRAM_ID or /who EXTERNAL_ID"


def _staff_name(user: User | None) -> str:
    return user.full_name if user is not None else "someone"


def _suggested(context: BotContext, message_text: str) -> list[str]:
    return [a.key for a in desk.suggestions(context.registry.answers, message_text)]


# --- commands ------------------------------------------------------------------------------


@staff_command("inbox")
async def inbox(update: Update, context: BotContext) -> str | None:
    """Show the messages still waiting for an answer, oldest first, each with its buttons."""
    message = update.effective_message
    assert message is not None
    now = context.now()
    found = await desk.inbox(context.sessions, now=now)
    await message.reply_html(inbox_head(len(found.items), found.total))
    for item in found.items:
        holder = item.holder.staff_name if item.holder else None
        entry = await message.reply_html(
            inbox_entry(item, now),
            reply_markup=desk_buttons(
                item.reply_id, _suggested(context, item.row.text), holder=holder
            ),
            do_quote=False,
        )
        # An entry quotes the supporter: forget deletes it with their other staff-chat copies.
        await remember_staff_messages(
            context.sessions,
            supporter_id=item.row.supporter_id,
            chat_id=entry.chat_id,
            message_ids=[entry.message_id],
            now=now,
        )
    return f"{found.total} waiting"


@staff_command("who")
async def who(update: Update, context: BotContext) -> str | None:
    """Show the card of one supporter: /who @username|telegram id|external id."""
    message = update.effective_message
    assert message is not None
    if not context.args:
        await message.reply_html(html.escape(WHO_USAGE))
        return "no supporter named"
    try:
        card = await desk.supporter_card(context.sessions, who=context.args[0])
    except SupporterNotFound as exc:
        await message.reply_html(
            f"{html.escape(str(exc), quote=False)}.\n{html.escape(WHO_USAGE)}"
        )
        return "not found"
    await _show_card(context, message, card)
    return f"supporter {card.supporter.id}"


async def _show_card(context: BotContext, message: Message, card: SupporterCard) -> None:
    """Send the card below `message`; forget deletes it with the supporter's other copies."""
    shown = await message.reply_html(card_text(card))
    assert card.supporter.id is not None
    await remember_staff_messages(
        context.sessions,
        supporter_id=card.supporter.id,
        chat_id=shown.chat_id,
        message_ids=[shown.message_id],
        now=context.now(),
    )


@staff_command("answers")
async def answers(update: Update, context: BotContext) -> str | None:
    """List the saved answers with their keywords and languages."""
    message = update.effective_message
    assert message is not None
    saved = list(context.registry.answers.values())
    await message.reply_html(answers_text(saved))
    return f"{len(saved)} saved answers"


# --- buttons -------------------------------------------------------------------------------


async def _show_claim(context: BotContext, message: Message | None, item: desk.DeskItem) -> None:
    """Show the claim on the pressed message's Answer button, and on the relay if elsewhere."""
    holder = item.holder.staff_name if item.holder else None
    markup = desk_buttons(item.reply_id, _suggested(context, item.row.text), holder=holder)
    targets: list[tuple[int, int]] = []
    if message is not None:
        targets.append((message.chat_id, message.message_id))
    staff_chat = context.settings.staff_chat_id
    relay = item.row.relay_message_id
    if staff_chat is not None and relay is not None and (staff_chat, relay) not in targets:
        targets.append((staff_chat, relay))
    for chat_id, message_id in targets:
        try:
            await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=markup)
        except BadRequest as exc:  # "not modified", or a relay deleted meanwhile
            log.debug("desk buttons of %s/%s unchanged: %s", chat_id, message_id, exc)


async def _settled(update: Update, item: desk.DeskItem | None) -> str:
    """Answer a press on a message that no longer waits, and take its buttons away."""
    query = update.callback_query
    assert query is not None
    await query.answer("Nothing to do: this message was answered or closed already.")
    if query.message is not None:
        try:
            await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            log.debug("desk buttons already gone: %s", exc)
    return "already settled" if item is not None else "unknown message"


@staff_command("desk-answer")
async def answer_pressed(update: Update, context: BotContext) -> str | None:
    """Claim the supporter for the presser and ask for the answer with a forced reply."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    reply_id = reply_id_of(query.data, ANSWER_PATTERN)
    if reply_id is None:
        await query.answer()
        return "bad button"
    now = context.now()
    result = await desk.claim(
        context.sessions,
        reply_id=reply_id,
        staff_user_id=user.id,
        staff_name=_staff_name(user),
        now=now,
    )
    if result.item is None or not result.item.waiting or result.holder is None:
        return await _settled(update, result.item)
    if not result.won:
        since = age_text(result.holder.claimed_at, now)
        await query.answer(
            f"{result.holder.staff_name} is answering this supporter (for {since}).",
            show_alert=True,
        )
        return f"held by {result.holder.staff_user_id}"
    await query.answer("Write your answer as a reply to my message.")
    item = desk.DeskItem(row=result.item.row, holder=result.holder, waiting=True)
    await _show_claim(context, query.message if isinstance(query.message, Message) else None, item)
    staff_chat = context.settings.staff_chat_id
    pressed = query.message
    # The answer is read from the staff chat, so the prompt goes there.
    chat_id = staff_chat if staff_chat is not None else user.id
    reply_to = item.row.relay_message_id
    if pressed is not None and pressed.chat.id == chat_id:
        reply_to = pressed.message_id
    mention = f'<a href="tg://user?id={user.id}">{html.escape(_staff_name(user))}</a>'
    prompt = await context.bot.send_message(
        chat_id,
        f"{PROMPT_START} {mention}, write your answer to {who_text(item)} "
        "as a reply to this message.",
        parse_mode=ParseMode.HTML,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        ),
        reply_markup=ForceReply(selective=True, input_field_placeholder="Your answer"),
    )
    await desk.remember_prompt(
        context.sessions,
        supporter_id=item.row.supporter_id,
        staff_user_id=user.id,
        prompt_message_id=prompt.message_id,
    )
    return f"claimed supporter {item.row.supporter_id}"


async def _close(update: Update, context: BotContext, how: str) -> str:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    pattern = STOP_PATTERN if how == desk.STOP else DONE_PATTERN
    reply_id = reply_id_of(query.data, pattern)
    now = context.now()
    if reply_id is not None:
        holder = await _holder_of(context, reply_id, user.id)
        if holder is not None:
            await query.answer(f"{holder} is answering this supporter.", show_alert=True)
            return "held by someone else"
    closed = (
        await desk.close(
            context.sessions, reply_id=reply_id, how=how, staff_user_id=user.id, now=now
        )
        if reply_id is not None
        else None
    )
    if closed is None or (not closed.closed and not closed.opted_out_now):
        return await _settled(update, closed.item if closed else None)
    name = _staff_name(user)
    if how == desk.STOP:
        await query.answer("Opted out: they get no more asks.")
        note = f"⛔ {html.escape(name)} opted out {who_text(closed.item)} at their request."
        await _tell_supporter_stopped(context, closed.item)
    else:
        await query.answer("Marked done: no answer needed.")
        note = f"✓ {html.escape(name)} marked {who_text(closed.item)}'s message done."
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        log.debug("desk buttons already gone: %s", exc)
    if isinstance(query.message, Message):
        await query.message.reply_html(note, do_quote=False)
    return f"{how}: supporter {closed.item.row.supporter_id}, {closed.closed} message(s)"


async def _holder_of(context: BotContext, reply_id: int, staff_user_id: int) -> str | None:
    item = await desk.desk_item(context.sessions, reply_id=reply_id, now=context.now())
    if item is None or item.holder is None or item.holder.staff_user_id == staff_user_id:
        return None
    return item.holder.staff_name


async def _tell_supporter_stopped(context: BotContext, item: desk.DeskItem) -> None:
    """Confirm the opt-out to the supporter, as /stop does."""
    target = await desk.answer_target(context.sessions, reply_id=item.reply_id)
    if target is None or target.supporter.chat_id is None:
        return
    try:
        await context.bot.send_message(
            target.supporter.chat_id, text("opted_out", target.supporter.language)
        )
    except (Forbidden, TelegramError) as exc:
        log.info("opt-out confirmation to supporter %s not sent: %s", target.supporter.id, exc)


@staff_command("desk-done")
async def done_pressed(update: Update, context: BotContext) -> str | None:
    """Close a message that needs no answer."""
    return await _close(update, context, desk.DONE)


@staff_command("desk-stop")
async def stop_pressed(update: Update, context: BotContext) -> str | None:
    """Opt the supporter out at their request and close what they wrote."""
    return await _close(update, context, desk.STOP)


@staff_command("desk-who")
async def who_pressed(update: Update, context: BotContext) -> str | None:
    """Show the card of the supporter who wrote a message."""
    query = update.callback_query
    assert query is not None
    reply_id = reply_id_of(query.data, WHO_PATTERN)
    card = (
        await desk.card_of_message(context.sessions, reply_id=reply_id)
        if reply_id is not None
        else None
    )
    if card is None:
        await query.answer("That supporter is no longer known.")
        return "unknown"
    await query.answer()
    if isinstance(query.message, Message):
        await _show_card(context, query.message, card)
    return f"supporter {card.supporter.id}"


@staff_command("desk-saved")
async def saved_pressed(update: Update, context: BotContext) -> str | None:
    """Send a saved answer in the supporter's language and record it as the staff answer."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    picked = saved_of(query.data)
    answer = context.registry.answers.get(picked[1]) if picked else None
    if picked is None or answer is None:
        await query.answer("That saved answer is not loaded any more; see /answers.")
        return "unknown answer"
    reply_id, key = picked
    # Claimed like Answer, so two presses at once send one answer.
    claimed = await desk.claim(
        context.sessions,
        reply_id=reply_id,
        staff_user_id=user.id,
        staff_name=_staff_name(user),
        now=context.now(),
    )
    target = await desk.answer_target(context.sessions, reply_id=reply_id)
    if claimed.item is None or target is None or not claimed.item.waiting:
        return await _settled(update, claimed.item)
    if not claimed.won and claimed.holder is not None:
        await query.answer(
            f"{claimed.holder.staff_name} is answering this supporter.", show_alert=True
        )
        return f"held by {claimed.holder.staff_user_id}"
    spec = context.registry.get(target.campaign) if target.campaign else None
    organisation = spec.organisation if spec else _any_organisation(context)
    try:
        body = desk.saved_answer_text(answer, target, organisation=organisation, now=context.now())
    except TemplateProblem as exc:
        await query.answer(f"Cannot send it: {exc.reason}"[:190], show_alert=True)
        return f"{key}: {exc.reason}"
    await query.answer()
    if not isinstance(query.message, Message):
        return "no message"
    sent = await deliver_answer(
        query.message, context, user, target, body, parse_mode=ParseMode.HTML
    )
    if sent:
        try:
            await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            log.debug("desk buttons already gone: %s", exc)
    return f"{key} to supporter {target.supporter.id}" if sent else f"{key} not sent"


def _any_organisation(context: BotContext) -> str:
    """Name the organisation from any loaded campaign, for answers to messages without one."""
    for campaign in context.registry.campaigns.values():
        return campaign.organisation
    return ""


def add_handlers(application: BotApplication) -> None:
    """Register the desk's commands and buttons."""
    commands: list[tuple[str, Handler]] = [("inbox", inbox), ("who", who), ("answers", answers)]
    for name, handler in commands:
        application.add_handler(CommandHandler(name, handler))
    presses: list[tuple[Handler, re.Pattern[str]]] = [
        (answer_pressed, ANSWER_PATTERN),
        (done_pressed, DONE_PATTERN),
        (stop_pressed, STOP_PATTERN),
        (who_pressed, WHO_PATTERN),
        (saved_pressed, SAVED_PATTERN),
    ]
    for handler, pattern in presses:
        application.add_handler(CallbackQueryHandler(handler, pattern=pattern))
