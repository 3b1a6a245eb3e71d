"""Messages in groups and channels: who wrote them, their thread, whether the bot sees them."""

from __future__ import annotations

from bot.sandbox.chats import (
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    TELEGRAM_SERVICE,
    Chat,
    JsonDict,
)
from bot.sandbox.entities import commands_of, entities_of
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import SandboxState

# Service messages reach every bot in the chat, privacy mode or not.
SERVICE_FIELDS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "pinned_message",
        "group_chat_created",
        "supergroup_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
    }
)
# Fake senders stand for chats; their messages count as the chat's, not as another bot's.
_FAKE_SENDERS = frozenset(u["id"] for u in (TELEGRAM_SERVICE, GROUP_ANONYMOUS_BOT, CHANNEL_BOT))
_PHOTO_SIZE = {"width": 1280, "height": 960}


def quoted(message: JsonDict) -> JsonDict:
    """Return a message as Telegram embeds it in a reply: without its own reply."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _addressed_to(state: SandboxState, message: JsonDict) -> bool:
    """Tell whether a privacy-mode bot gets this message: a command for it or a reply to it."""
    replied = message.get("reply_to_message")
    if replied is not None and replied.get("from", {}).get("id") == state.bot_user["id"]:
        return True
    text = message.get("text") or message.get("caption") or ""
    entities = message.get("entities") or message.get("caption_entities") or []
    username = str(state.bot_user.get("username", "")).lower()
    for command in commands_of(text, entities):
        _, _, addressee = command.partition("@")
        # The sandbox has one bot, so it is always the last bot that wrote: a command
        # without @botname reaches it as it would reach the last bot in a real group.
        if not addressee or addressee.lower() == username:
            return True
    return False


def bot_sees(state: SandboxState, chat: Chat, message: JsonDict) -> bool:
    """Tell whether Telegram gives the bot this group or channel message as an update."""
    if not chat.bot_member.present:
        return False
    sender = message.get("from") or {}
    if sender.get("is_bot") and sender.get("id") not in _FAKE_SENDERS:
        return False  # bots never see other bots' messages
    if chat.type == "channel" or chat.bot_member.is_admin or not state.privacy_mode:
        return True
    if SERVICE_FIELDS.intersection(message):
        return True
    return _addressed_to(state, message)


def thread_of(chat: Chat, replied: JsonDict | None) -> int | None:
    """Return the thread a reply joins: in supergroups every reply chain is a thread."""
    if replied is None or chat.type != "supergroup":
        return None
    thread = replied.get("message_thread_id")
    return int(thread) if thread is not None else int(replied["message_id"])


def _content(text: str | None, caption: str | None, photo: bool) -> JsonDict:
    """Return the text, or the photo with its caption, of a message a person writes."""
    if photo:
        fields: JsonDict = {
            "photo": [{"file_id": "sandbox-member-photo", "file_unique_id": "mp", **_PHOTO_SIZE}]
        }
        if caption:
            fields["caption"] = caption
            if entities := entities_of(caption):
                fields["caption_entities"] = entities
        return fields
    if not text:
        raise SandboxError(400, "a message needs text, or a photo with an optional caption")
    fields = {"text": text}
    if entities := entities_of(text):
        fields["entities"] = entities
    return fields


def _sender(state: SandboxState, chat: Chat, user_id: int, as_chat_id: int | None) -> JsonDict:
    """Return the `from` and `sender_chat` fields of a message a person writes in a group."""
    user = state.user(user_id)
    member = chat.member(user_id)
    if member.status == "kicked":
        raise SandboxError(403, f"user {user_id} is banned from chat {chat.id}")
    anonymous = as_chat_id == chat.id or (member.is_admin and member.is_anonymous)
    if anonymous:
        if not member.is_admin:
            raise SandboxError(403, f"only administrators write anonymously; {user_id} is not one")
        fields: JsonDict = {"from": GROUP_ANONYMOUS_BOT, "sender_chat": chat.as_chat()}
        if member.custom_title:
            fields["author_signature"] = member.custom_title
        return fields
    if as_chat_id is not None:
        channel = state.chat(as_chat_id)
        if channel.type != "channel":
            raise SandboxError(400, "people write on behalf of a channel or of the group itself")
        return {"from": CHANNEL_BOT, "sender_chat": channel.as_chat()}
    return {"from": user.as_user()}


def post(
    state: SandboxState,
    chat_id: int,
    user_id: int,
    text: str | None = None,
    *,
    caption: str | None = None,
    photo: bool = False,
    reply_to_message_id: int | None = None,
    as_chat_id: int | None = None,
) -> JsonDict:
    """Have a person write in a group (as themselves, anonymously or as a channel)."""
    chat = state.chat(chat_id)
    if chat.type == "channel":
        raise SandboxError(400, "people do not write in channels; use a channel post")
    fields = _sender(state, chat, user_id, as_chat_id)
    replied = None
    if reply_to_message_id is not None:
        replied = state.find_message(chat_id, reply_to_message_id)
        if replied is None:
            raise SandboxError(404, f"no message {reply_to_message_id} in chat {chat_id}")
    thread = thread_of(chat, replied)
    if thread is not None:
        fields["message_thread_id"] = thread
    fields.update(_content(text, caption, photo))
    if replied is not None:
        fields["reply_to_message"] = quoted(replied)
    message = state.new_message(chat.as_chat(), fields)
    return state.enqueue("message", message, visible=bot_sees(state, chat, message))


def comment(
    state: SandboxState, user_id: int, channel_id: int, post_id: int, text: str
) -> JsonDict:
    """Have a person comment on a channel post: a reply to its copy in the discussion group."""
    channel = state.chat(channel_id)
    forward_id = state.discussion_posts.get((channel_id, post_id))
    if channel.linked_chat_id is None or forward_id is None:
        raise SandboxError(404, f"post {post_id} of chat {channel_id} has no discussion")
    return post(state, channel.linked_chat_id, user_id, text, reply_to_message_id=forward_id)


def forward_to_discussion(state: SandboxState, channel: Chat, channel_post: JsonDict) -> None:
    """Copy a new channel post into the channel's discussion group, as Telegram does."""
    if channel.linked_chat_id is None or channel.linked_chat_id not in state.chats:
        return
    group = state.chats[channel.linked_chat_id]
    origin: JsonDict = {
        "type": "channel",
        "chat": channel.as_chat(),
        "message_id": channel_post["message_id"],
        "date": channel_post["date"],
    }
    if "author_signature" in channel_post:
        origin["author_signature"] = channel_post["author_signature"]
    fields: JsonDict = {
        "from": TELEGRAM_SERVICE,
        "sender_chat": channel.as_chat(),
        "forward_origin": origin,
        "is_automatic_forward": True,
    }
    copied = ("text", "entities", "caption", "caption_entities", "photo", "document", "poll")
    fields.update({key: channel_post[key] for key in copied if key in channel_post})
    forward = state.new_message(group.as_chat(), fields)
    state.discussion_posts[(channel.id, channel_post["message_id"])] = forward["message_id"]
    state.enqueue("message", forward, visible=bot_sees(state, group, forward))


def channel_post(
    state: SandboxState,
    chat_id: int,
    text: str | None = None,
    *,
    caption: str | None = None,
    photo: bool = False,
    author_signature: str | None = None,
) -> JsonDict:
    """Have the channel's staff publish a post; it also appears in the discussion group."""
    channel = state.chat(chat_id)
    if channel.type != "channel":
        raise SandboxError(400, f"chat {chat_id} is not a channel")
    fields: JsonDict = {"sender_chat": channel.as_chat(), **_content(text, caption, photo)}
    if author_signature:
        fields["author_signature"] = author_signature
    message = state.new_message(channel.as_chat(), fields)
    update = state.enqueue("channel_post", message, visible=bot_sees(state, channel, message))
    forward_to_discussion(state, channel, message)
    return update
