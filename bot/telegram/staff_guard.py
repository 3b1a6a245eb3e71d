"""Who may run staff commands: the staff check, refusals, the audit log and the decorator."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from typing import Any

from telegram import Update, User
from telegram.constants import ChatType

from bot.domain.i18n import pick_language, text
from bot.services.audit import record_audit
from bot.telegram.context import BotContext

WRONG_CHAT = "Staff commands work in the staff chat or in a private chat with me."


@dataclass(frozen=True)
class AuditNote:
    """An audit entry's detail, with the supporter it is about and its campaign."""

    detail: str
    supporter_id: int | None = None
    campaign: str | None = None


# A staff handler returns the detail its audit entry records (a note when it names someone).
StaffHandler = Callable[[Update, BotContext], Coroutine[Any, Any, str | AuditNote | None]]
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def _name_of(user: User | None) -> str | None:
    if user is None:
        return None
    return f"{user.full_name} (@{user.username})" if user.username else user.full_name


async def audit(
    context: BotContext,
    user: User | None,
    action: str,
    *,
    campaign: str | None = None,
    allowed: bool = True,
    detail: str | None = None,
    supporter_id: int | None = None,
) -> None:
    """Write a staff action (or a refused attempt) to the audit log."""
    await record_audit(
        context.sessions,
        now=context.now(),
        actor_user_id=user.id if user else None,
        actor_name=_name_of(user),
        action=action,
        campaign=campaign,
        allowed=allowed,
        detail=detail,
        supporter_id=supporter_id,
    )


def is_staff(context: BotContext, user: User | None) -> bool:
    """Tell whether a Telegram user is one of the organisation's staff."""
    return user is not None and user.id in context.settings.staff_user_ids


async def refuse(update: Update, context: BotContext, action: str) -> bool:
    """Refuse and audit a staff action by the wrong person or in the wrong chat; tell if so."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if not is_staff(context, user):
        reason = "not staff"
        answer = text("staff_only", pick_language(user.language_code if user else None))
    elif (
        chat is not None
        and chat.type != ChatType.PRIVATE
        and chat.id != (context.settings.staff_chat_id)
    ):
        reason = f"chat {chat.id} is not the staff chat"
        answer = WRONG_CHAT
    else:
        return False
    if update.callback_query is not None:
        tried = f"button {update.callback_query.data}"
    else:
        tried = message.text if message is not None and message.text else ""
    await audit(context, user, action, allowed=False, detail=f"refused: {reason}; {tried}")
    if update.callback_query is not None:
        await update.callback_query.answer(answer, show_alert=True)
    elif message is not None:
        await message.reply_html(answer)
    return True


def staff_command(action: str) -> Callable[[StaffHandler], Handler]:
    """Wrap a handler so only staff in the staff chat or a private chat may run it, audited."""

    def wrap(handler: StaffHandler) -> Handler:
        @wraps(handler)
        async def run(update: Update, context: BotContext) -> None:
            if await refuse(update, context, action):
                return
            result: str | AuditNote | None = "failed"
            try:
                result = await handler(update, context)
            finally:
                # Read after the handler: a button press names its campaign only there.
                campaign = context.args[0][:120] if context.args else None
                note = result if isinstance(result, AuditNote) else AuditNote(result or "")
                await audit(
                    context,
                    update.effective_user,
                    action,
                    campaign=note.campaign if isinstance(result, AuditNote) else campaign,
                    detail=note.detail if result is not None else None,
                    supporter_id=note.supporter_id,
                )

        return run

    return wrap
