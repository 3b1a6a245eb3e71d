"""The Bot API's deleteMessage, with Telegram's limits on what a bot may delete and when."""

from __future__ import annotations

from bot.sandbox.calls import Call, bot_method, record_attempt
from bot.sandbox.errors import ApiError

# Telegram lets a bot delete a message only within 48 hours of sending, unless it is an
# administrator with can_delete_messages in a supergroup or channel.
DELETE_WINDOW_SECONDS = 48 * 3600
_SERVICE_CREATIONS = ("group_chat_created", "supergroup_chat_created", "channel_chat_created")


@bot_method("deleteMessage", recorded=True)
def delete_message(call: Call) -> bool:
    """Delete a message from a chat, refusing what Telegram refuses."""
    state, p = call.state, call.params
    target = state.resolve(p.chat_id())
    state.check_member(target)
    message_id = p.require_int("message_id")
    message = state.find_message(target.key, message_id)
    if message is None:
        raise ApiError(400, "Bad Request: message to delete not found")
    if any(kind in message for kind in _SERVICE_CREATIONS):
        raise ApiError(400, "Bad Request: message can't be deleted")
    room = target.room
    own = message.get("from", {}).get("id") == call.bot["id"] or "sender_chat" in message
    admin_deletes = room is not None and room.bot_member.can("can_delete_messages")
    if room is None:
        allowed = True  # a private chat: the bot's own messages and the user's alike
    elif room.type == "channel":
        allowed = admin_deletes or (own and room.bot_member.can("can_post_messages"))
    else:
        allowed = own or admin_deletes or (room.type == "group" and room.bot_member.is_admin)
    if not allowed:
        raise ApiError(400, "Bad Request: message can't be deleted")
    too_old = state.unix_now() - int(message["date"]) >= DELETE_WINDOW_SECONDS
    if too_old and not (room is not None and room.type != "group" and admin_deletes):
        raise ApiError(400, "Bad Request: message can't be deleted for everyone")
    del state.messages[target.key][message_id]
    record_attempt(call, target.key, message_id=message_id)
    return True
