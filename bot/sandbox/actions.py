"""What the sandbox's users do (start, write, press, block, pay), each producing an update."""

from __future__ import annotations

from bot.sandbox.chats import JsonDict, User
from bot.sandbox.entities import entities_of
from bot.sandbox.errors import SandboxError
from bot.sandbox.markup import callback_data_of
from bot.sandbox.posts import bot_sees, post, quoted
from bot.sandbox.state import SandboxState


def _member(bot_user: JsonDict, status: str) -> JsonDict:
    """Return a ChatMember object for the bot with `status`."""
    member: JsonDict = {"user": bot_user, "status": status}
    if status == "kicked":
        member["until_date"] = 0
    return member


def _member_update(state: SandboxState, user: User, old: str, new: str) -> JsonDict:
    """Queue a my_chat_member update for the bot in the user's private chat."""
    payload = {
        "chat": user.as_chat(),
        "from": user.as_user(),
        "date": state.unix_now(),
        "old_chat_member": _member(state.bot_user, old),
        "new_chat_member": _member(state.bot_user, new),
    }
    return state.enqueue("my_chat_member", payload)


def _chat_of(state: SandboxState, user: User, chat_id: int | None) -> JsonDict:
    """Return the chat a user acts in: their private chat or a known group."""
    if chat_id is None or chat_id == user.id:
        return user.as_chat()
    chat = state.chats.get(chat_id)
    if chat is None:
        raise SandboxError(404, f"unknown chat {chat_id}; add it first")
    return chat.as_chat()


def _user_message(
    state: SandboxState,
    user: User,
    chat: JsonDict,
    text: str,
    reply_to_message_id: int | None = None,
) -> JsonDict:
    """Store a text message from `user` in their private chat with the bot and return it."""
    fields: JsonDict = {"from": user.as_user(), "text": text}
    if entities := entities_of(text):
        fields["entities"] = entities
    if reply_to_message_id is not None:
        replied = state.find_message(chat["id"], reply_to_message_id)
        if replied is None:
            raise SandboxError(404, f"no message {reply_to_message_id} in chat {chat['id']}")
        fields["reply_to_message"] = quoted(replied)
    return state.new_message(chat, fields)


def _reopen_private_chat(state: SandboxState, user: User) -> None:
    """Mark that the user talks to the bot; writing to a blocked bot unblocks it."""
    if user.is_bot:
        raise SandboxError(400, "bots cannot talk to other bots in private")
    if user.blocked:
        user.blocked = False
        _member_update(state, user, "kicked", "member")
    user.started = True


def start(state: SandboxState, user_id: int, payload: str | None = None) -> JsonDict:
    """Have the user send /start (with an optional deep-link payload) and return the update."""
    user = state.user(user_id)
    _reopen_private_chat(state, user)
    text = f"/start {payload}" if payload else "/start"
    return state.enqueue("message", _user_message(state, user, user.as_chat(), text))


def send_text(
    state: SandboxState,
    user_id: int,
    text: str,
    reply_to_message_id: int | None = None,
    chat_id: int | None = None,
) -> JsonDict:
    """Have the user write `text` to the bot or in a group, and return the update."""
    if not text:
        raise SandboxError(400, "text is empty")
    user = state.user(user_id)
    if chat_id is not None and chat_id != user.id:
        return post(state, chat_id, user_id, text, reply_to_message_id=reply_to_message_id)
    _reopen_private_chat(state, user)
    message = _user_message(state, user, user.as_chat(), text, reply_to_message_id)
    return state.enqueue("message", message)


def edit_text(
    state: SandboxState,
    user_id: int,
    message_id: int,
    text: str,
    chat_id: int | None = None,
) -> JsonDict:
    """Have the user edit a text message they wrote, and return the edited_message update."""
    if not text:
        raise SandboxError(400, "text is empty")
    user = state.user(user_id)
    chat = _chat_of(state, user, chat_id)
    message = state.find_message(chat["id"], message_id)
    if message is None or message.get("from", {}).get("id") != user_id:
        raise SandboxError(404, f"user {user_id} wrote no message {message_id} in {chat['id']}")
    message.pop("entities", None)
    message.update(text=text, edit_date=state.unix_now())
    if entities := entities_of(text):
        message["entities"] = entities
    group = state.chats.get(chat["id"])
    visible = group is None or bot_sees(state, group, message)
    return state.enqueue("edited_message", dict(message), visible=visible)


def press(
    state: SandboxState,
    user_id: int,
    message_id: int,
    callback_data: str,
    chat_id: int | None = None,
) -> JsonDict:
    """Have the user press an inline button of a bot message and return the update."""
    user = state.user(user_id)
    chat = _chat_of(state, user, chat_id)
    message = state.find_message(chat["id"], message_id)
    if message is None:
        raise SandboxError(404, f"no message {message_id} in chat {chat['id']}")
    if callback_data not in callback_data_of(message.get("reply_markup")):
        raise SandboxError(400, f"message {message_id} has no button with {callback_data!r}")
    query_id = str(state.next_query_id)
    state.next_query_id += 1
    state.callback_queries[query_id] = {
        "id": query_id,
        "user_id": user.id,
        "chat_id": chat["id"],
        "message_id": message_id,
        "data": callback_data,
        "answered": False,
    }
    payload = {
        "id": query_id,
        "from": user.as_user(),
        "message": message,
        "chat_instance": str(chat["id"]),
        "data": callback_data,
    }
    return state.enqueue("callback_query", payload)


def block(state: SandboxState, user_id: int) -> JsonDict | None:
    """Have the user block the bot; return the my_chat_member update, None if already blocked."""
    user = state.user(user_id)
    if user.blocked:
        return None
    user.blocked = True
    return _member_update(state, user, "member", "kicked")


def unblock(state: SandboxState, user_id: int) -> JsonDict | None:
    """Have the user unblock the bot; return the my_chat_member update, None if not blocked."""
    user = state.user(user_id)
    if not user.blocked:
        return None
    user.blocked = False
    return _member_update(state, user, "kicked", "member")


def pre_checkout(
    state: SandboxState, user_id: int, invoice_payload: str, currency: str, total_amount: int
) -> JsonDict:
    """Have the user confirm an invoice, producing a pre_checkout_query update."""
    user = state.user(user_id)
    query_id = f"pcq-{state.next_query_id}"
    state.next_query_id += 1
    payload = {
        "id": query_id,
        "from": user.as_user(),
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": invoice_payload,
    }
    state.pre_checkout_queries[query_id] = {**payload, "answered": False}
    return state.enqueue("pre_checkout_query", payload)


def successful_payment(
    state: SandboxState,
    user_id: int,
    invoice_payload: str,
    currency: str,
    total_amount: int,
    telegram_payment_charge_id: str | None = None,
    provider_payment_charge_id: str | None = None,
) -> JsonDict:
    """Have a payment succeed, producing a message update with successful_payment."""
    user = state.user(user_id)
    charge = telegram_payment_charge_id or f"tg-charge-{state.next_update_id}"
    payment = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": invoice_payload,
        "telegram_payment_charge_id": charge,
        "provider_payment_charge_id": provider_payment_charge_id or f"provider-{charge}",
    }
    message = state.new_message(
        user.as_chat(), {"from": user.as_user(), "successful_payment": payment}
    )
    return state.enqueue("message", message)
