"""Setting up groups and channels, and people joining and leaving them, as Telegram reports it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from bot.sandbox.chats import GROUP_ANONYMOUS_BOT, Chat, InviteLink, JsonDict, User
from bot.sandbox.errors import SandboxError
from bot.sandbox.members import Member, member_from
from bot.sandbox.posts import bot_sees
from bot.sandbox.state import SandboxState


def add_chat(
    state: SandboxState,
    chat: Chat,
    *,
    owner_id: int | None = None,
    bot_status: str = "administrator",
    bot_rights: dict[str, Any] | None = None,
) -> Chat:
    """Add a group, supergroup or channel with its owner and the bot's standing in it."""
    chat.bot_member = _bot_member(chat, bot_status, bot_rights)
    if owner_id is not None:
        state.user(owner_id)
        chat.members[owner_id] = Member("creator")
    return state.add_chat(chat)


def _bot_member(chat: Chat, status: str, rights: dict[str, Any] | None) -> Member:
    """Build the bot's standing, refusing what Telegram does not allow a bot."""
    if status == "creator":
        raise SandboxError(400, "a bot cannot own a chat")
    if chat.type == "channel" and status == "member":
        raise SandboxError(400, "bots join channels only as administrators")
    try:
        return member_from(status, rights=rights)
    except ValueError as error:
        raise SandboxError(400, str(error)) from None


def link_discussion(state: SandboxState, channel_id: int, group_id: int) -> JsonDict:
    """Make a supergroup the discussion group of a channel (both name each other)."""
    channel, group = state.chat(channel_id), state.chat(group_id)
    if channel.type != "channel" or group.type != "supergroup":
        raise SandboxError(400, "a channel's discussion group is a supergroup")
    channel.linked_chat_id, group.linked_chat_id = group.id, channel.id
    return {"channel": channel.as_dict(), "group": group.as_dict()}


def set_member(
    state: SandboxState,
    chat_id: int,
    user_id: int,
    status: str = "member",
    *,
    is_anonymous: bool = False,
    custom_title: str | None = None,
    rights: dict[str, Any] | None = None,
) -> JsonDict:
    """Set a person's standing in a chat as it was before the story starts: no updates."""
    chat, user = state.chat(chat_id), state.user(user_id)
    try:
        member = member_from(
            status, is_anonymous=is_anonymous, custom_title=custom_title, rights=rights
        )
    except ValueError as error:
        raise SandboxError(400, str(error)) from None
    chat.members[user_id] = member
    return member.as_chat_member(user.as_user(), chat.type)


def _acting_user(state: SandboxState, chat: Chat, by_user_id: int | None) -> JsonDict:
    """Return who changes someone's rights: the named person, the owner, or an anonymous admin."""
    if by_user_id is not None:
        return state.user(by_user_id).as_user()
    for user_id, member in chat.members.items():
        if member.status == "creator" and user_id in state.users:
            return state.users[user_id].as_user()
    return GROUP_ANONYMOUS_BOT


def set_bot_status(
    state: SandboxState,
    chat_id: int,
    status: str,
    *,
    rights: dict[str, Any] | None = None,
    by_user_id: int | None = None,
) -> JsonDict:
    """Add, promote, demote or remove the bot; the bot hears of it in my_chat_member."""
    chat = state.chat(chat_id)
    old, new = chat.bot_member, _bot_member(chat, status, rights)
    chat.bot_member = new
    actor = _acting_user(state, chat, by_user_id)
    if not old.present and new.present and chat.type != "channel":
        _service_message(state, chat, actor, {"new_chat_members": [state.bot_user]})
    payload = {
        "chat": chat.as_chat(),
        "from": actor,
        "date": state.unix_now(),
        "old_chat_member": old.as_chat_member(state.bot_user, chat.type),
        "new_chat_member": new.as_chat_member(state.bot_user, chat.type),
    }
    return state.enqueue("my_chat_member", payload)


def set_privacy(state: SandboxState, enabled: bool) -> JsonDict:
    """Switch the bot's group privacy mode, as /setprivacy in BotFather does."""
    state.privacy_mode = enabled
    return {"privacy_mode": enabled}


def _service_message(state: SandboxState, chat: Chat, sender: JsonDict, fields: JsonDict) -> None:
    """Store a service message (a join or a leave) and give it to the bot if it is there."""
    message = state.new_message(chat.as_chat(), {"from": sender, **fields})
    state.enqueue("message", message, visible=bot_sees(state, chat, message))


def _member_update(
    state: SandboxState,
    chat: Chat,
    user: User,
    actor: JsonDict,
    old: Member,
    new: Member,
    invite_link: JsonDict | None = None,
) -> JsonDict:
    """Queue a chat_member update; Telegram sends it only to administrators who asked."""
    payload: JsonDict = {
        "chat": chat.as_chat(),
        "from": actor,
        "date": state.unix_now(),
        "old_chat_member": old.as_chat_member(user.as_user(), chat.type),
        "new_chat_member": new.as_chat_member(user.as_user(), chat.type),
    }
    if invite_link is not None:
        payload["invite_link"] = invite_link
    return state.enqueue("chat_member", payload, visible=chat.bot_member.is_admin)


def _usable_link(state: SandboxState, chat: Chat, url: str) -> InviteLink:
    """Return the bot's invite link named by `url` if it still lets people into `chat`."""
    found = state.invite_links.get(url)
    if found is None or found.chat_id != chat.id:
        raise SandboxError(404, f"no invite link {url} of chat {chat.id} made by the bot")
    link = found.link
    if link["is_revoked"]:
        raise SandboxError(400, "the invite link was revoked")
    if "expire_date" in link and link["expire_date"] <= state.unix_now():
        raise SandboxError(400, "the invite link has expired")
    if "member_limit" in link and found.joined >= link["member_limit"]:
        raise SandboxError(400, "the invite link reached its member limit")
    if link["creates_join_request"]:
        raise SandboxError(400, "links that need approval are not played by the sandbox")
    return found


def join(
    state: SandboxState,
    chat_id: int,
    user_id: int,
    *,
    invite_link: str | None = None,
    added_by: int | None = None,
) -> JsonDict:
    """Have a person join (through an invite link, or added by a member); return chat_member."""
    chat, user = state.chat(chat_id), state.user(user_id)
    old = chat.member(user_id)
    if old.present:
        raise SandboxError(400, f"user {user_id} is already in chat {chat_id}")
    if old.status == "kicked":
        raise SandboxError(403, f"user {user_id} is banned from chat {chat_id}")
    link = _usable_link(state, chat, invite_link) if invite_link else None
    actor = state.user(added_by).as_user() if added_by is not None else user.as_user()
    new = Member("member")
    chat.members[user_id] = new
    if link is not None:
        link.joined += 1
    if chat.type != "channel":
        _service_message(state, chat, actor, {"new_chat_members": [user.as_user()]})
    return _member_update(
        state, chat, user, actor, old, new, dict(link.link) if link is not None else None
    )


def join_many(
    state: SandboxState, chat_id: int, user_ids: list[int], *, invite_link: str | None = None
) -> list[JsonDict]:
    """Have several people join in turn through one link; all or none (checked first)."""
    chat = state.chat(chat_id)
    if len(set(user_ids)) != len(user_ids):
        raise SandboxError(400, "user_ids: a user is listed twice")
    for user_id in user_ids:
        state.user(user_id)
        standing = chat.member(user_id)
        if standing.present:
            raise SandboxError(400, f"user {user_id} is already in chat {chat_id}")
        if standing.status == "kicked":
            raise SandboxError(403, f"user {user_id} is banned from chat {chat_id}")
    if invite_link:
        link = _usable_link(state, chat, invite_link)
        limit = link.link.get("member_limit")
        if limit is not None and link.joined + len(user_ids) > limit:
            raise SandboxError(400, "the invite link would pass its member limit")
    return [join(state, chat_id, user_id, invite_link=invite_link) for user_id in user_ids]


def leave(
    state: SandboxState, chat_id: int, user_id: int, *, banned_by: int | None = None
) -> JsonDict:
    """Have a person leave (or be banned by an administrator); return chat_member."""
    chat, user = state.chat(chat_id), state.user(user_id)
    old = chat.member(user_id)
    if not old.present:
        raise SandboxError(400, f"user {user_id} is not in chat {chat_id}")
    if old.status == "creator":
        raise SandboxError(400, "the owner cannot leave the chat in the sandbox")
    new = Member("kicked" if banned_by is not None else "left")
    chat.members[user_id] = new
    actor = state.user(banned_by).as_user() if banned_by is not None else user.as_user()
    if chat.type != "channel":
        _service_message(state, chat, actor, {"left_chat_member": user.as_user()})
    return _member_update(state, chat, user, actor, old, new)


def new_invite_link(
    state: SandboxState,
    chat: Chat,
    *,
    name: str | None,
    expire_date: int | None,
    member_limit: int | None,
    creates_join_request: bool,
) -> JsonDict:
    """Create an invite link of the bot's and return its ChatInviteLink object."""
    serial = f"{chat.id}:{len(state.invite_links) + 1}".encode()
    code = base64.urlsafe_b64encode(hashlib.sha256(serial).digest()).decode()[:16]
    link: JsonDict = {
        "invite_link": f"https://t.me/+{code}",
        "creator": state.bot_user,
        "creates_join_request": creates_join_request,
        "is_primary": False,
        "is_revoked": False,
    }
    if name:
        link["name"] = name
    if expire_date is not None:
        link["expire_date"] = expire_date
    if member_limit is not None:
        link["member_limit"] = member_limit
    state.invite_links[link["invite_link"]] = InviteLink(chat.id, link)
    return dict(link)
