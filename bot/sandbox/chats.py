"""The bot, users and chats of the sandbox, as the Bot API objects they show up as."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]
ChatKey = int | str

TOKEN_PATTERN = re.compile(r"^(\d+):[A-Za-z0-9_-]{20,}$")
BOT_USERNAME = "campaign_demo_bot"
BOT_FIRST_NAME = "Campaign Demo Bot"
DEFAULT_TOKEN = "123456789:sandbox-demo-token-0123456789"


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

    def as_user(self) -> JsonDict:
        """Return the Bot API User object."""
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
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


@dataclass
class Chat:
    """A group, supergroup or channel the bot is a member of."""

    id: int
    type: str
    title: str
    username: str | None = None
    member_count: int = 0

    def as_chat(self) -> JsonDict:
        """Return the Bot API Chat object."""
        data: JsonDict = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            data["username"] = self.username
        return data

    def as_dict(self) -> JsonDict:
        """Return the chat as the control API shows it."""
        return {**self.as_chat(), "member_count": self.member_count}


@dataclass
class Target:
    """A resolved destination of a Bot API call."""

    key: int
    chat: JsonDict
    kind: str
    user: User | None = None


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
