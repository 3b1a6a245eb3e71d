"""The sandbox's world in memory: users, chats, messages, updates, records and counters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.sandbox.chats import (
    DEFAULT_TOKEN,
    TOKEN_PATTERN,
    Chat,
    ChatKey,
    InviteLink,
    JsonDict,
    Target,
    User,
    Webhook,
    bot_user_for,
)
from bot.sandbox.errors import ApiError, SandboxError
from bot.sandbox.limits import Clock, FaultInjector, Faults, Limits, RateLimiter

# What Telegram sends when allowed_updates is empty: everything but these three.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class _Counters:
    """Request counts by method and status."""

    by_method: dict[str, dict[str, int]] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    total: int = 0
    accepted_sends: int = 0
    rejected_sends: int = 0


class SandboxState:
    """Everything the sandbox knows; one instance per running server."""

    def __init__(
        self,
        *,
        token: str | None = None,
        limits: Limits | None = None,
        clock: Clock | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.fixed_token = token
        self.clock: Clock = clock or time.monotonic
        self.wall_clock = wall_clock or time.time
        self._initial_limits = limits or Limits()
        self.limiter = RateLimiter(Limits(**self._initial_limits.as_dict()), self.clock)
        self.faults = FaultInjector()
        self._tokens: dict[str, JsonDict] = {}
        self.bot_user = bot_user_for(token or DEFAULT_TOKEN)
        self.closed = False
        self._changed = asyncio.Event()
        self._recorded = asyncio.Event()
        self._recorded_waiters = 0
        # These outlive reset(): a running bot keeps its getUpdates offset and its long poll.
        self.next_update_id = 1
        self.next_query_id = 1
        self.poll_generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget users, chats, messages, updates, records, stats, faults and the webhook."""
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.usernames: dict[str, int] = {}
        self.messages: dict[int, dict[int, JsonDict]] = {}
        self._next_message_id: dict[int, int] = {}
        self.records: list[JsonDict] = []
        self.records_by_chat: dict[ChatKey, list[JsonDict]] = {}
        self.updates: deque[JsonDict] = deque()
        self.allowed_updates: frozenset[str] | None = None
        self.webhook: Webhook | None = None
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.files: dict[str, JsonDict] = {}
        self.callback_queries: dict[str, JsonDict] = {}
        self.pre_checkout_queries: dict[str, JsonDict] = {}
        # Group privacy (BotFather's /setprivacy) is on for every new bot.
        self.privacy_mode = True
        self.invite_links: dict[str, InviteLink] = {}
        self.polls: dict[str, JsonDict] = {}
        # (chat id, message id) -> user id -> the emoji that user reacted with.
        self.reactions: dict[tuple[int, int], dict[int, list[str]]] = {}
        # (channel id, post id) -> id of the post's automatic forward in the discussion group.
        self.discussion_posts: dict[tuple[int, int], int] = {}
        self.counters = _Counters()
        self.limiter.reset(Limits(**self._initial_limits.as_dict()))
        self.faults.configure(Faults())
        self._notify()

    # -- identity and time -------------------------------------------------------------

    def authorize(self, token: str) -> JsonDict:
        """Return the bot user for `token`, or raise 401 like Telegram for a wrong token."""
        bot = self._tokens.get(token)
        if bot is not None:
            return bot
        valid = TOKEN_PATTERN.match(token) is not None
        if not valid or (self.fixed_token is not None and token != self.fixed_token):
            raise ApiError(401, "Unauthorized")
        bot = bot_user_for(token)
        self._tokens[token] = bot
        self.bot_user = bot
        return bot

    def unix_now(self) -> int:
        """Return the current date in Unix seconds, as messages carry it."""
        return int(self.wall_clock())

    # -- users and chats ---------------------------------------------------------------

    def add_user(self, user: User) -> User:
        """Add or replace a user, keeping whether they started or blocked the bot."""
        old = self.users.get(user.id)
        if old is not None:
            user.started, user.blocked = old.started or user.started, old.blocked
        self.users[user.id] = user
        return user

    def user(self, user_id: int) -> User:
        """Return a known user or fail with 404."""
        found = self.users.get(user_id)
        if found is None:
            raise SandboxError(404, f"unknown user {user_id}; add it first")
        return found

    def add_chat(self, chat: Chat) -> Chat:
        """Add or replace a group, supergroup or channel."""
        if chat.type not in ("group", "supergroup", "channel"):
            raise SandboxError(400, f"chat type must be group, supergroup or channel: {chat.type}")
        if chat.id >= 0:
            raise SandboxError(400, "group and channel ids are negative")
        chat.username = chat.username.lstrip("@") if chat.username else None
        self.chats[chat.id] = chat
        if chat.username:
            self.usernames[chat.username.lower()] = chat.id
        return chat

    def chat(self, chat_id: int) -> Chat:
        """Return a known group, supergroup or channel or fail with 404."""
        found = self.chats.get(chat_id)
        if found is None:
            raise SandboxError(404, f"unknown chat {chat_id}; add it first")
        return found

    def resolve(self, chat_id: ChatKey) -> Target:
        """Find the chat a call names, or raise 400 chat not found."""
        if isinstance(chat_id, str):
            found = self.usernames.get(chat_id.lstrip("@").lower())
            if found is None:
                raise ApiError(400, "Bad Request: chat not found")
            chat_id = found
        if chat_id > 0:
            user = self.users.get(chat_id)
            if user is None:
                raise ApiError(400, "Bad Request: chat not found")
            return Target(chat_id, user.as_chat(), "private", user)
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return Target(chat_id, chat.as_chat(), chat.type, room=chat)

    @staticmethod
    def check_member(target: Target) -> None:
        """Raise 403 when the bot is not (or no longer) in a group or channel."""
        room = target.room
        if room is None or room.bot_member.present:
            return
        if room.bot_member.status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {room.type} chat")
        raise ApiError(403, f"Forbidden: bot is not a member of the {room.type} chat")

    @classmethod
    def check_reachable(cls, target: Target) -> None:
        """Raise 403 (400 for a channel) when the bot may not write to the chat."""
        cls.check_member(target)
        room = target.room
        if (
            room is not None
            and room.type == "channel"
            and not room.bot_member.can("can_post_messages")
        ):
            raise ApiError(400, "Bad Request: need administrator rights in the channel chat")
        user = target.user
        if user is None:
            return
        if user.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not user.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    # -- messages and records ----------------------------------------------------------

    def new_message(self, chat: JsonDict, fields: JsonDict) -> JsonDict:
        """Store a new message in `chat` with the next id of that chat and return it."""
        chat_id = chat["id"]
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        message: JsonDict = {"message_id": message_id, "date": self.unix_now(), "chat": chat}
        message.update(fields)
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message

    def find_message(self, chat_id: int, message_id: int) -> JsonDict | None:
        """Return a stored message or None."""
        return self.messages.get(chat_id, {}).get(message_id)

    def record(self, entry: JsonDict) -> JsonDict:
        """Keep one thing the bot sent or tried to send, in order."""
        entry["seq"] = len(self.records) + 1
        entry["time"] = self.clock()
        entry["date"] = self.unix_now()
        self.records.append(entry)
        self.records_by_chat.setdefault(entry["chat_id"], []).append(entry)
        if self._recorded_waiters:
            self._recorded.set()
            self._recorded = asyncio.Event()
        if entry["method"].startswith("send"):
            if entry["ok"]:
                self.counters.accepted_sends += 1
            else:
                self.counters.rejected_sends += 1
        return entry

    def sent(
        self, chat_id: ChatKey | None = None, *, accepted_only: bool = False
    ) -> list[JsonDict]:
        """Return what the bot sent or tried to send, in order, optionally to one chat."""
        if chat_id is None:
            entries = self.records
        else:
            if isinstance(chat_id, str) and chat_id.lstrip("@").lower() in self.usernames:
                chat_id = self.usernames[chat_id.lstrip("@").lower()]
            entries = self.records_by_chat.get(chat_id, [])
        return [e for e in entries if e["ok"]] if accepted_only else list(entries)

    async def wait_sent(
        self, chat_id: ChatKey | None, count: int, seconds: float, *, accepted_only: bool = False
    ) -> list[JsonDict]:
        """Wait up to `seconds` until `count` records exist (for the chat); return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self._recorded_waiters += 1
        try:
            while (
                len(found := self.sent(chat_id, accepted_only=accepted_only)) < count
                and (remaining := deadline - loop.time()) > 0
                and not self.closed
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._recorded.wait(), remaining)
        finally:
            self._recorded_waiters -= 1
        return found

    # -- stats -------------------------------------------------------------------------

    def count(self, method: str, status: str) -> None:
        """Count one answered call; `status` is the HTTP code as text or "dropped"."""
        c = self.counters
        c.total += 1
        per_method = c.by_method.setdefault(method, {})
        per_method[status] = per_method.get(status, 0) + 1
        c.by_status[status] = c.by_status.get(status, 0) + 1

    def stats(self) -> JsonDict:
        """Return request counts by method and status, and totals."""
        c = self.counters
        return {
            "total": c.total,
            "by_method": {m: dict(s) for m, s in c.by_method.items()},
            "by_status": dict(c.by_status),
            "rate_limited": c.by_status.get("429", 0),
            "dropped": c.by_status.get("dropped", 0),
            "accepted_sends": c.accepted_sends,
            "rejected_sends": c.rejected_sends,
            "pending_updates": len(self.updates),
            "limits": self.limiter.limits.as_dict(),
            "faults": self.faults.faults.as_dict(),
        }

    # -- updates -----------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every long poll and the webhook sender."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, seconds: float) -> None:
        """Wait up to `seconds` for an update, a webhook change or the server closing."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def enqueue(self, kind: str, payload: JsonDict, *, visible: bool = True) -> JsonDict:
        """Create an update with the next id; queue it if the bot may see it and asked for it."""
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        allowed = self.allowed_updates
        wanted = (kind in allowed) if allowed is not None else (kind not in OPT_IN_UPDATES)
        if visible and wanted:
            self.updates.append(update)
            self._notify()
        return update

    def set_allowed_updates(self, kinds: list[str] | None) -> None:
        """Remember which update kinds the bot wants; empty means the default set."""
        self.allowed_updates = frozenset(kinds) if kinds else None

    def confirm(self, offset: int | None) -> None:
        """Forget updates the bot confirmed with `offset`, as getUpdates does."""
        if offset is None:
            return
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()

    def peek(self, limit: int) -> list[JsonDict]:
        """Return up to `limit` pending updates without confirming them."""
        if not self.updates:
            return []
        return [self.updates[i] for i in range(min(limit, len(self.updates)))]

    def begin_poll(self) -> int:
        """Start a getUpdates call; older long polls end with 409 Conflict."""
        self.poll_generation += 1
        self._notify()
        return self.poll_generation

    def set_webhook(self, webhook: Webhook | None) -> None:
        """Set or clear the webhook and wake the sender."""
        self.webhook = webhook
        self._notify()

    def drop_pending(self) -> None:
        """Forget all pending updates."""
        self.updates.clear()

    def close(self) -> None:
        """End long polls and the webhook sender so the server can stop at once."""
        self.closed = True
        self._notify()

    def reopen(self) -> None:
        """Accept long polls again after close(), for a server started anew."""
        self.closed = False
        self._changed = asyncio.Event()
