"""Control API routes for groups and channels: set them up, then play their members."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

import bot.sandbox.groups as groups
import bot.sandbox.polls as polls
import bot.sandbox.posts as posts
import bot.sandbox.reactions as reactions
from bot.sandbox.chats import JsonDict
from bot.sandbox.control import endpoint, opt_int
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import SandboxState


def _flag(args: JsonDict, name: str) -> bool:
    """Return a boolean argument given as JSON or query text."""
    value = args.get(name, False)
    return value.lower() in ("true", "1") if isinstance(value, str) else bool(value)


def _rights(args: JsonDict, name: str) -> dict[str, Any] | None:
    """Return a mapping of administrator rights, or None."""
    value = args.get(name)
    if value is not None and not isinstance(value, dict):
        raise SandboxError(400, f"{name} must be an object of right names to true or false")
    return value


def _get_chat(state: SandboxState, a: JsonDict) -> JsonDict:
    return state.chat(int(a["chat_id"])).as_dict()


def _link(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.link_discussion(state, int(a["channel_id"]), int(a["group_id"]))


def _member(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.set_member(
        state,
        int(a["chat_id"]),
        int(a["user_id"]),
        str(a.get("status", "member")),
        is_anonymous=_flag(a, "is_anonymous"),
        custom_title=a.get("custom_title"),
        rights=_rights(a, "rights"),
    )


def _bot_status(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.set_bot_status(
        state,
        int(a["chat_id"]),
        str(a["status"]),
        rights=_rights(a, "rights"),
        by_user_id=opt_int(a, "by_user_id"),
    )


def _privacy(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.set_privacy(state, _flag(a, "enabled"))


def _post(state: SandboxState, a: JsonDict) -> JsonDict:
    return posts.post(
        state,
        int(a["chat_id"]),
        int(a["user_id"]),
        a.get("text"),
        caption=a.get("caption"),
        photo=_flag(a, "photo"),
        reply_to_message_id=opt_int(a, "reply_to_message_id"),
        as_chat_id=opt_int(a, "as_chat_id"),
    )


def _comment(state: SandboxState, a: JsonDict) -> JsonDict:
    return posts.comment(
        state, int(a["user_id"]), int(a["channel_id"]), int(a["post_id"]), str(a["text"])
    )


def _channel_post(state: SandboxState, a: JsonDict) -> JsonDict:
    return posts.channel_post(
        state,
        int(a["chat_id"]),
        a.get("text"),
        caption=a.get("caption"),
        photo=_flag(a, "photo"),
        author_signature=a.get("author_signature"),
    )


def _react(state: SandboxState, a: JsonDict) -> JsonDict | None:
    emoji = a.get("emoji", [])
    chosen = [emoji] if isinstance(emoji, str) else [str(e) for e in emoji]
    return reactions.react(
        state, int(a["user_id"]), int(a["chat_id"]), int(a["message_id"]), chosen
    )


def _join(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.join(
        state,
        int(a["chat_id"]),
        int(a["user_id"]),
        invite_link=a.get("invite_link"),
        added_by=opt_int(a, "added_by"),
    )


def _join_many(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    users = a.get("user_ids")
    if not isinstance(users, list) or not users:
        raise SandboxError(400, "user_ids must be a non-empty list of user ids")
    return groups.join_many(
        state, int(a["chat_id"]), [int(u) for u in users], invite_link=a.get("invite_link")
    )


def _leave(state: SandboxState, a: JsonDict) -> JsonDict:
    return groups.leave(
        state, int(a["chat_id"]), int(a["user_id"]), banned_by=opt_int(a, "banned_by")
    )


def _vote(state: SandboxState, a: JsonDict) -> JsonDict:
    options = a.get("option_ids", [])
    chosen = [int(options)] if isinstance(options, int | str) else [int(o) for o in options]
    return polls.vote(state, int(a["user_id"]), str(a["poll_id"]), chosen)


def _invite_links(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    return [
        {**found.link, "chat_id": found.chat_id, "joined": found.joined}
        for found in state.invite_links.values()
    ]


COMMUNITY_ROUTES = [
    Route("/chats/{chat_id:int}", endpoint(_get_chat), methods=["GET"]),
    Route("/link_discussion", endpoint(_link), methods=["POST"]),
    Route("/members", endpoint(_member), methods=["POST"]),
    Route("/bot_status", endpoint(_bot_status), methods=["POST"]),
    Route("/privacy", endpoint(_privacy), methods=["POST"]),
    Route("/post", endpoint(_post), methods=["POST"]),
    Route("/comment", endpoint(_comment), methods=["POST"]),
    Route("/channel_post", endpoint(_channel_post), methods=["POST"]),
    Route("/react", endpoint(_react), methods=["POST"]),
    Route("/join", endpoint(_join), methods=["POST"]),
    Route("/join_many", endpoint(_join_many), methods=["POST"]),
    Route("/leave", endpoint(_leave), methods=["POST"]),
    Route("/vote", endpoint(_vote), methods=["POST"]),
    Route("/invite_links", endpoint(_invite_links), methods=["GET"]),
]
