"""The control client's calls for groups and channels: set them up, then act as their members."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class CommunityCalls:
    """Calls that play a community; SandboxClient provides `_call`."""

    async def _call(self, verb: str, path: str, body: JsonDict | None = None) -> Any:
        raise NotImplementedError

    async def _update(self, path: str, body: JsonDict) -> JsonDict | None:
        """Send one action and return the update it made (None when nothing changed)."""
        result = await self._call("POST", path, body)
        return dict(result) if result is not None else None

    # -- the world ---------------------------------------------------------------------

    async def chat(self, chat_id: int) -> JsonDict:
        """Return a chat with the bot's status, its linked chat and its members' statuses."""
        return dict(await self._call("GET", f"/chats/{chat_id}"))

    async def link_discussion(self, channel_id: int, group_id: int) -> JsonDict:
        """Make a supergroup the discussion group of a channel."""
        body = {"channel_id": channel_id, "group_id": group_id}
        return dict(await self._call("POST", "/link_discussion", body))

    async def set_member(
        self,
        chat_id: int,
        user_id: int,
        status: str = "member",
        *,
        is_anonymous: bool = False,
        custom_title: str | None = None,
        rights: dict[str, bool] | None = None,
    ) -> JsonDict:
        """Make a user a member, administrator or owner beforehand (no update); return it."""
        body = {
            "chat_id": chat_id,
            "user_id": user_id,
            "status": status,
            "is_anonymous": is_anonymous,
            "custom_title": custom_title,
            "rights": rights,
        }
        return dict(await self._call("POST", "/members", body))

    async def set_bot_status(
        self,
        chat_id: int,
        status: str,
        *,
        rights: dict[str, bool] | None = None,
        by_user_id: int | None = None,
    ) -> JsonDict:
        """Add, promote, demote or remove the bot; return the my_chat_member update."""
        body = {"chat_id": chat_id, "status": status, "rights": rights, "by_user_id": by_user_id}
        return dict(await self._call("POST", "/bot_status", body))

    async def set_privacy(self, enabled: bool) -> JsonDict:
        """Switch the bot's group privacy mode (on for a new bot)."""
        return dict(await self._call("POST", "/privacy", {"enabled": enabled}))

    async def invite_links(self) -> list[JsonDict]:
        """Return the invite links the bot created, with their chat and how many joined."""
        return list(await self._call("GET", "/invite_links"))

    # -- what members do ---------------------------------------------------------------

    async def post(
        self,
        chat_id: int,
        user_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
        photo: bool = False,
        reply_to_message_id: int | None = None,
        as_chat_id: int | None = None,
    ) -> JsonDict:
        """Have a user write in a group (as a channel, or anonymously); return the update."""
        body = {
            "chat_id": chat_id,
            "user_id": user_id,
            "text": text,
            "caption": caption,
            "photo": photo,
            "reply_to_message_id": reply_to_message_id,
            "as_chat_id": as_chat_id,
        }
        return dict(await self._call("POST", "/post", body))

    async def comment(self, user_id: int, channel_id: int, post_id: int, text: str) -> JsonDict:
        """Have a user comment on a channel post in its discussion group; return the update."""
        body = {"user_id": user_id, "channel_id": channel_id, "post_id": post_id, "text": text}
        return dict(await self._call("POST", "/comment", body))

    async def channel_post(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
        photo: bool = False,
        author_signature: str | None = None,
    ) -> JsonDict:
        """Publish a post in a channel (copied to its discussion group); return the update."""
        body = {
            "chat_id": chat_id,
            "text": text,
            "caption": caption,
            "photo": photo,
            "author_signature": author_signature,
        }
        return dict(await self._call("POST", "/channel_post", body))

    async def react(
        self, user_id: int, chat_id: int, message_id: int, emoji: str | list[str]
    ) -> JsonDict | None:
        """Set a user's reactions on a message ([] takes them back); return the update."""
        body = {"user_id": user_id, "chat_id": chat_id, "message_id": message_id, "emoji": emoji}
        return await self._update("/react", body)

    async def join(
        self,
        chat_id: int,
        user_id: int,
        *,
        invite_link: str | None = None,
        added_by: int | None = None,
    ) -> JsonDict:
        """Have a user join, optionally through an invite link; return the chat_member update."""
        body = {
            "chat_id": chat_id,
            "user_id": user_id,
            "invite_link": invite_link,
            "added_by": added_by,
        }
        return dict(await self._call("POST", "/join", body))

    async def join_many(
        self, chat_id: int, user_ids: list[int], *, invite_link: str | None = None
    ) -> list[JsonDict]:
        """Have several users join in one call (all or none); return their chat_member updates."""
        body = {"chat_id": chat_id, "user_ids": user_ids, "invite_link": invite_link}
        return list(await self._call("POST", "/join_many", body))

    async def leave(self, chat_id: int, user_id: int, *, banned_by: int | None = None) -> JsonDict:
        """Have a user leave (or be banned); return the chat_member update."""
        body = {"chat_id": chat_id, "user_id": user_id, "banned_by": banned_by}
        return dict(await self._call("POST", "/leave", body))

    async def vote(self, user_id: int, poll_id: str, option_ids: list[int]) -> JsonDict:
        """Have a user vote in a poll the bot sent ([] retracts); return poll_answer (or poll)."""
        body = {"user_id": user_id, "poll_id": poll_id, "option_ids": option_ids}
        return dict(await self._call("POST", "/vote", body))
