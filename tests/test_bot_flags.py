"""Low-value and fake followers through the sandbox: each flag, its exclusion, /trust, CAS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.sandbox.client import SandboxClient
from bot.services.community_report import take_member_counts
from bot.services.flags import evaluate_flags
from bot.storage.models import (
    Ask,
    AuditEntry,
    Campaign,
    Interaction,
    MemberCount,
    Supporter,
    SupporterFlag,
)
from bot.telegram.community_state import LISTENING, Listening
from bot.telegram.sender import TelegramSender
from tests.botharness import SPRING_APPEAL, STAFF_CHAT_ID, BotHarness, bot_harness
from tests.cas_fake import closed_port_url, fake_cas

GROUP, OWNER, PROBE = -1001000000002, 4000, 4099
BOUGHT = (4001, 4002, 4003)
EXPO, SPAMMER, CHATTY, GONE, LEAVER = 4010, 4011, 4012, 4013, 4014
SUMMER = SPRING_APPEAL.replace("spring-appeal", "summer-appeal")


async def museum_group(client: SandboxClient) -> None:
    """The museum's group, owned by Olga, with a probe member to settle on."""
    await client.add_user(OWNER, "Olga", username="olga")
    await client.add_user(PROBE, "Probe")
    await client.add_chat(GROUP, "supergroup", "Harbour Museum chat", owner_id=OWNER)
    await client.set_member(GROUP, PROBE)


@asynccontextmanager
async def flagging_bot(tmp_path: Path, **settings: Any) -> AsyncIterator[BotHarness]:
    """Run the bot listening to the museum's group; bursts are 3 joins within 10 minutes."""
    async with bot_harness(
        tmp_path,
        campaigns={"spring.yaml": SPRING_APPEAL, "summer.yaml": SUMMER},
        settings={
            "community_chat_ids": str(GROUP),
            "flag_burst_joins": 3,
            "flag_burst_seconds": 600,
            "frequency_cap_days": 0,
            **settings,
        },
        before_start=museum_group,
    ) as bot:
        yield bot


async def settled(bot: BotHarness) -> None:
    """Wait until every update so far is handled and its facts and flags are written."""
    said = await bot.client.post(GROUP, PROBE, "probe")
    await bot.wait_rows(
        Interaction, Interaction.event == f"c:{GROUP}:{said['message']['message_id']}"
    )
    state: Listening = bot.runtime.application.bot_data[LISTENING]
    await state.checked()
    await state.recorder.idle()


async def flags(bot: BotHarness) -> set[tuple[int, str]]:
    """Return (Telegram user, reason) of every flag not cleared."""
    async with bot.sessions() as session:
        rows = await session.execute(
            select(Supporter.telegram_user_id, SupporterFlag.reason)
            .join(Supporter, Supporter.id == SupporterFlag.supporter_id)  # type: ignore[arg-type]
            .where(SupporterFlag.cleared_at.is_(None))  # type: ignore[union-attr]
        )
        return {(int(user), str(reason)) for user, reason in rows}


async def asked(bot: BotHarness, campaign: str) -> set[int]:
    """Return the Telegram users a campaign queued asks for."""
    async with bot.sessions() as session:
        rows = await session.execute(
            select(Supporter.telegram_user_id)
            .join(Ask, Ask.supporter_id == Supporter.id)  # type: ignore[arg-type]
            .join(Campaign, Campaign.id == Ask.campaign_id)  # type: ignore[arg-type]
            .where(Campaign.name == campaign)
        )
        return {int(user) for (user,) in rows}


async def test_each_flag_keeps_its_member_out_of_launches_until_staff_trust_them(
    tmp_path: Path,
) -> None:
    async with flagging_bot(tmp_path) as bot:
        for user in (*BOUGHT, EXPO, SPAMMER, CHATTY, GONE, LEAVER):
            await bot.supporter_starts(user, f"User{user}", username=f"user{user}")
        create = bot.runtime.application.bot.create_chat_invite_link
        bought = (await create(GROUP, name="bought-followers")).invite_link
        expo = (await create(GROUP, name="expo-qr")).invite_link
        for user in BOUGHT:
            await bot.client.join(GROUP, user, invite_link=bought)
        await bot.client.join(GROUP, EXPO, invite_link=expo)
        await bot.client.join(GROUP, SPAMMER)
        await bot.client.post(GROUP, SPAMMER, "Free crypto at https://spam.example/x")
        await bot.client.join(GROUP, CHATTY)
        await bot.client.post(GROUP, CHATTY, "Hello all, lovely museum!")
        await bot.client.post(GROUP, CHATTY, "Photos from my visit: https://photos.example/a")
        await bot.client.join(GROUP, LEAVER)
        await bot.client.leave(GROUP, LEAVER)
        await settled(bot)
        now = datetime.now(UTC)
        assert await evaluate_flags(bot.sessions, now=now + timedelta(days=2)) == {
            "left_fast": 1,
            "inactive": 0,
        }
        found = {(u, "burst_join") for u in BOUGHT}
        found |= {(SPAMMER, "spam_first_message"), (LEAVER, "left_fast")}
        assert await flags(bot) == found

        preview = await bot.staff_command("/preview spring-appeal", "Left out as flagged")
        assert "Left out as flagged: <b>5</b> (" in preview["text"]
        assert "burst_join 3" in preview["text"]
        assert "left_fast 1" in preview["text"] and "spam_first_message 1" in preview["text"]

        await bot.client.deactivate(GONE)
        await bot.launch("spring-appeal", deliver_to=[EXPO, CHATTY])
        assert await asked(bot, "spring-appeal") == {EXPO, CHATTY, GONE}
        await bot.wait_rows(SupporterFlag, SupporterFlag.reason == "deleted")
        assert (GONE, "deleted") in await flags(bot)

        answer = await bot.staff_command(f"/trust @user{BOUGHT[0]}", "Trusted")
        assert "burst_join" in answer["text"]
        (entry,) = await bot.wait_rows(AuditEntry, AuditEntry.action == "trust")
        assert entry.allowed and entry.detail == "cleared burst_join"
        (first,) = await bot.rows(Supporter, Supporter.telegram_user_id == BOUGHT[0])
        assert entry.supporter_id == first.id

        await bot.launch("summer-appeal", deliver_to=[EXPO, CHATTY, BOUGHT[0]])
        assert await asked(bot, "summer-appeal") == {EXPO, CHATTY, BOUGHT[0]}


async def test_only_staff_may_trust_and_an_unknown_member_is_named(tmp_path: Path) -> None:
    async with flagging_bot(tmp_path) as bot:
        await bot.supporter_starts(EXPO, "Eve", username="eve")
        await bot.client.send_text(EXPO, "/trust @eve")
        await bot.wait_rows(AuditEntry, AuditEntry.action == "trust")
        (refused,) = await bot.rows(AuditEntry, AuditEntry.action == "trust")
        assert not refused.allowed
        answer = await bot.staff_command("/trust @nobody", "no supporter")
        assert "Usage: /trust" in answer["text"]
        await bot.staff_command("/trust @eve", "had no flags to clear")


async def test_a_member_on_the_cas_list_is_flagged_when_joining(tmp_path: Path) -> None:
    banned, clean, slow = 4020, 4021, 4022
    async with (
        # The fake serves on the bot's own event loop, so a busy machine can delay even the
        # quick answers: the timeout leaves room for them, and the slow answer never comes.
        fake_cas(banned={banned}, slow={slow}, delay=60.0) as cas,
        flagging_bot(
            tmp_path, cas_check=True, cas_api_url=cas.url, cas_timeout_seconds=2.0
        ) as bot,
    ):
        for user in (banned, clean, slow):
            await bot.client.add_user(user, f"User{user}")
            await bot.client.join(GROUP, user)
        await settled(bot)
        assert await flags(bot) == {(banned, "cas_banned")}
        assert sorted(cas.asked) == [banned, clean, slow]
        joined = await bot.rows(Interaction, Interaction.kind == "joined")
        assert len(joined) == 3


async def test_when_cas_is_down_joins_are_recorded_and_nobody_is_flagged(tmp_path: Path) -> None:
    async with flagging_bot(
        tmp_path, cas_check=True, cas_api_url=closed_port_url(), cas_timeout_seconds=0.3
    ) as bot:
        await bot.client.add_user(4030, "Dan")
        await bot.client.join(GROUP, 4030)
        await settled(bot)
        assert await flags(bot) == set()
        assert len(await bot.rows(Interaction, Interaction.kind == "joined")) == 1


async def test_cas_is_not_asked_unless_switched_on(tmp_path: Path) -> None:
    async with fake_cas(banned={4040}) as cas, flagging_bot(tmp_path, cas_api_url=cas.url) as bot:
        await bot.client.add_user(4040, "Bad")
        await bot.client.join(GROUP, 4040)
        await settled(bot)
        assert cas.asked == [] and await flags(bot) == set()


async def test_staff_see_the_community_report_with_member_counts_and_a_chart(
    tmp_path: Path,
) -> None:
    async with flagging_bot(tmp_path) as bot:
        create = bot.runtime.application.bot.create_chat_invite_link
        bought = (await create(GROUP, name="bought-followers")).invite_link
        for user in BOUGHT:
            await bot.client.add_user(user, f"User{user}")
            await bot.client.join(GROUP, user, invite_link=bought)
        await settled(bot)
        sender = TelegramSender(bot.runtime.application.bot)
        taken = await take_member_counts(bot.sessions, sender, {GROUP}, now=bot.clock.now)
        assert taken == 1
        (snapshot,) = await bot.rows(MemberCount)
        assert snapshot.members == await sender.member_count(GROUP)
        answer = await bot.staff_command("/community", "Community report")
        assert f"Chat {GROUP}: {snapshot.members} members now" in answer["text"]
        assert "invite link bought-followers: 3, 3, 0, 0, 3" in answer["text"]
        assert "Flagged: burst_join 3" in answer["text"]
        await bot.next_message(STAFF_CHAT_ID, method="sendPhoto")
        await bot.wait_rows(AuditEntry, AuditEntry.action == "community")
