"""Bot API methods about chats: their details, members, administrators and invite links."""

from __future__ import annotations

from bot.sandbox.calls import Call, bot_method
from bot.sandbox.chats import Chat, JsonDict, Target
from bot.sandbox.errors import ApiError
from bot.sandbox.groups import new_invite_link
from bot.sandbox.members import Member

_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}
MAX_LINK_NAME = 32
MAX_MEMBER_LIMIT = 99_999


def _room(call: Call) -> tuple[Target, Chat]:
    """Resolve chat_id to a group, supergroup or channel the bot is in."""
    target = call.state.resolve(call.params.chat_id())
    call.state.check_member(target)
    if target.room is None:
        raise ApiError(400, "Bad Request: method is available for group and channel chats only")
    return target, target.room


@bot_method("getChat")
def get_chat(call: Call) -> JsonDict:
    """Return full information about a chat, with the linked channel or discussion group."""
    target = call.state.resolve(call.params.chat_id())
    info: JsonDict = {
        **target.chat,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": _NO_GIFTS,
    }
    if target.room is not None and target.room.linked_chat_id is not None:
        info["linked_chat_id"] = target.room.linked_chat_id
    return info


@bot_method("getChatMemberCount")
def get_chat_member_count(call: Call) -> int:
    """Return how many members a chat has (two in a private chat)."""
    target = call.state.resolve(call.params.chat_id())
    if target.room is None:
        return 2
    played = sum(member.present for member in target.room.members.values())
    return target.room.member_count + played


def _user_json(call: Call, user_id: int) -> JsonDict:
    """Return the User object of the bot or of a person, or refuse an unknown user."""
    if user_id == call.bot["id"]:
        return call.bot
    user = call.state.users.get(user_id)
    if user is None:
        raise ApiError(400, "Bad Request: user not found")
    return user.as_user()


@bot_method("getChatMember")
def get_chat_member(call: Call) -> JsonDict:
    """Return a user's standing in a chat (the bot's own too)."""
    p = call.params
    target = call.state.resolve(p.chat_id())
    call.state.check_member(target)
    user_id = p.require_int("user_id")
    user = _user_json(call, user_id)
    room = target.room
    if room is None:
        if user_id not in (target.key, call.bot["id"]):
            raise ApiError(400, "Bad Request: user not found")
        return Member("member").as_chat_member(user, "private")
    member = room.bot_member if user_id == call.bot["id"] else room.member(user_id)
    return member.as_chat_member(user, room.type)


@bot_method("getChatAdministrators")
def get_chat_administrators(call: Call) -> list[JsonDict]:
    """Return the owner and administrators; other bots only with return_bots."""
    _, room = _room(call)
    with_bots = call.params.get_bool("return_bots")
    found: list[tuple[bool, JsonDict]] = []
    for user_id, member in room.members.items():
        user = call.state.users.get(user_id)
        if user is None or not member.is_admin or (user.is_bot and not with_bots):
            continue
        found.append(
            (member.status != "creator", member.as_chat_member(user.as_user(), room.type))
        )
    if room.bot_member.is_admin:
        found.append((True, room.bot_member.as_chat_member(call.bot, room.type)))
    return [member for _, member in sorted(found, key=lambda pair: pair[0])]


@bot_method("createChatInviteLink")
def create_chat_invite_link(call: Call) -> JsonDict:
    """Create an extra invite link (optionally named, limited or expiring)."""
    p = call.params
    _, room = _room(call)
    if not room.bot_member.can("can_invite_users"):
        raise ApiError(400, "Bad Request: not enough rights to manage chat invite links")
    name = p.get_str("name")
    if name is not None and len(name) > MAX_LINK_NAME:
        raise ApiError(400, "Bad Request: invite link name is too long")
    member_limit = p.get_int("member_limit")
    if member_limit is not None and not 1 <= member_limit <= MAX_MEMBER_LIMIT:
        raise ApiError(400, "Bad Request: member limit must be between 1 and 99999")
    joins_by_request = p.get_bool("creates_join_request")
    if joins_by_request and member_limit is not None:
        raise ApiError(400, "Bad Request: member limit can't be set for join request links")
    return new_invite_link(
        call.state,
        room,
        name=name,
        expire_date=p.get_int("expire_date"),
        member_limit=member_limit,
        creates_join_request=joins_by_request,
    )


@bot_method("revokeChatInviteLink")
def revoke_chat_invite_link(call: Call) -> JsonDict:
    """Revoke an invite link the bot created and return it."""
    _, room = _room(call)
    found = call.state.invite_links.get(call.params.require_str("invite_link"))
    if found is None or found.chat_id != room.id:
        raise ApiError(400, "Bad Request: INVITE_HASH_EXPIRED")
    found.link["is_revoked"] = True
    return dict(found.link)
