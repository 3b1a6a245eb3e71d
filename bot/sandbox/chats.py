"""The bot, users and chats of the sandbox, as the Bot API objects they show up as."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.members import Member

JsonDict = dict[str, Any]
ChatKey = int | str

TOKEN_PATTERN = re.compile(r"^(\d+):[A-Za-z0-9_-]{20,}$")
BOT_USERNAME = "campaign_demo_bot"
BOT_FIRST_NAME = "Campaign Demo Bot"
DEFAULT_TOKEN = "123456789:sandbox-demo-token-0123456789"

# The senders Telegram puts in `from` when a message is not from a person.
TELEGRAM_SERVICE: dict[str, Any] = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
GROUP_ANONYMOUS_BOT: dict[str, Any] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT: dict[str, Any] = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}


@dataclass
class User:
    """A Telegram user the sandbox plays; their private chat id equals their user id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    started: bool = False
    blocked: bool = False
    is_bot: bool = False
    # The account was deleted: Telegram answers 403 "user is deactivated".
    deactivated: bool = False

    def as_user(self) -> JsonDict:
        """Return the Bot API User object."""
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def as_chat(self) -> JsonDict:
        """Return the Bot API Chat object of the private chat with this user."""
        data: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    def as_dict(self) -> JsonDict:
        """Return the user as the control API shows it, with started and blocked."""
        return {**self.as_user(), "started": self.started, "blocked": self.blocked}


def _administrator() -> Member:
    return Member("administrator")


@dataclass
class Chat:
    """A group, supergroup or channel, its members and the bot's standing in it."""

    id: int
    type: str
    title: str
    username: str | None = None
    # Members the sandbox does not play one by one; getChatMemberCount adds the played ones.
    member_count: int = 0
    # The bot is an administrator unless told otherwise, so a chat added without a word
    # about rights behaves as before: the bot sees and may send everything.
    bot_member: Member = field(default_factory=_administrator)
    members: dict[int, Member] = field(default_factory=dict)
    # A channel's discussion group, or the channel a discussion group belongs to.
    linked_chat_id: int | None = None

    def as_chat(self) -> JsonDict:
        """Return the Bot API Chat object."""
        data: JsonDict = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            data["username"] = self.username
        return data

    def member(self, user_id: int) -> Member:
        """Return a user's standing; someone never seen in the chat has left it."""
        return self.members.get(user_id) or Member("left")

    def as_dict(self) -> JsonDict:
        """Return the chat as the control API shows it, with the bot's and members' status."""
        return {
            **self.as_chat(),
            "member_count": self.member_count,
            "bot_status": self.bot_member.status,
            "linked_chat_id": self.linked_chat_id,
            "members": {str(uid): m.status for uid, m in self.members.items()},
        }


@dataclass
class Target:
    """A resolved destination of a Bot API call."""

    key: int
    chat: JsonDict
    kind: str
    user: User | None = None
    # The group, supergroup or channel behind a non-private target.
    room: Chat | None = None


@dataclass
class Webhook:
    """The webhook the bot set, and how delivery to it last failed."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


def bot_user_for(token: str) -> JsonDict:
    """Return the bot's User object; its id is the token's numeric prefix."""
    return {
        "id": int(token.split(":", 1)[0]),
        "is_bot": True,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@dataclass
class InviteLink:
    """An invite link the bot created: its ChatInviteLink object and who joined through it."""

    chat_id: int
    link: JsonDict
    joined: int = 0
