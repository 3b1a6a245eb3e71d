"""What the community handlers share: the chats listened to, their administrators, the recorder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telegram import ChatMember

from bot.domain.flags import CAS_BANNED
from bot.services.community import CommunityRecorder, Flagged, MembershipChanged
from bot.services.flags import CasCheck
from bot.telegram.context import BotContext

# bot_data key of the Listening state.
LISTENING = "campaign_bot.community"
# The statuses that make someone an administrator of a chat.
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})


@dataclass
class Listening:
    """What the handlers know about the community chats, beside the recorder."""

    chat_ids: frozenset[int]
    recorder: CommunityRecorder
    # Chats where the bot is an administrator (and so receives chat_member updates).
    admin_in: set[int] = field(default_factory=set)
    # Each chat's administrators: their replies answer questions, and they are not members.
    admins: dict[int, set[int]] = field(default_factory=dict)
    linked: dict[int, int] = field(default_factory=dict)
    # The Combot Anti-Spam check of joining members (CAS_CHECK), and the checks under way.
    cas: CasCheck | None = None
    checks: set[asyncio.Task[None]] = field(default_factory=set)

    def joined(self, fact: MembershipChanged) -> None:
        """Record a join or leave; check a joining member against CAS in the background."""
        self.recorder.add(fact)
        if fact.joined and self.cas is not None:
            task = asyncio.create_task(self._check(self.cas, fact), name="cas-check")
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)

    async def _check(self, cas: CasCheck, fact: MembershipChanged) -> None:
        if await cas.banned(fact.member.user_id):
            self.recorder.add(
                Flagged(fact.member, fact.source, CAS_BANNED, "listed by CAS", fact.occurred_at)
            )

    async def checked(self) -> None:
        """Wait for the CAS checks under way (tests, and shutting down)."""
        while self.checks:
            await asyncio.gather(*self.checks, return_exceptions=True)


def listening_of(context: BotContext) -> Listening:
    """Return the community state of the running application."""
    found: Listening = context.application.bot_data[LISTENING]
    return found
