"""Staff commands over the sandbox: permissions, the campaign lifecycle, reload, donations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from bot.storage.models import SENT, Ask, AuditEntry, Campaign, Donation
from tests.botharness import (
    SPRING_APPEAL,
    STAFF_CHAT_ID,
    STAFF_ID,
    BotHarness,
    bot_harness,
)
from tests.helpers import wait_for

OUTSIDER = 6666


async def _asks(bot: BotHarness, *states: str) -> int:
    async with bot.sessions() as session:
        query = select(func.count()).select_from(Ask)
        if states:
            query = query.where(col(Ask.state).in_(states))
        return int((await session.execute(query)).scalar_one())


async def _campaign_state(bot: BotHarness, name: str) -> str | None:
    rows = await bot.rows(Campaign, Campaign.name == name)
    return rows[0].state if rows else None


async def test_staff_list_preview_launch_pause_resume_and_status(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        for user_id, name in [(101, "Ann"), (102, "Bram"), (103, "Cor"), (104, "Dirk")]:
            await bot.supporter_starts(user_id, name)
        await bot.supporter_starts(105, "Eve", visited=None)  # not in the audience

        help_text = await bot.staff_command("/help", "Staff commands")
        assert "/launch" in help_text["text"] and "/donation" in help_text["text"]
        listing = await bot.staff_command("/campaigns", "spring-appeal")
        assert "[draft]" in listing["text"]

        preview = await bot.staff_command("/preview spring-appeal", "Preview of spring-appeal")
        assert "Audience if launched now: <b>4</b> supporter(s)" in preview["text"]
        for number in (1, 2, 3):
            sample = await bot.next_message(STAFF_CHAT_ID, f"<b>{number}. ")
            assert "/r/PREVIEW" in sample["text"]  # rendered as sent, with a dummy link
        assert await _asks(bot) == 0  # a preview sends nothing and queues nothing

        done = await bot.launch("spring-appeal")
        assert "4 asks queued" in done["text"]
        assert "broadcast" in done["text"] and "specific" in done["text"]
        # The campaign has no spread and the window is open: the asks go out at once.
        assert "Sending starts right away and takes under a minute for 4 asks" in done["text"]
        assert await _campaign_state(bot, "spring-appeal") == "running"
        # The outbox worker sends each ask, with its buttons, to the supporter's chat.
        ask = await bot.next_message(101, "href")
        buttons = [b for row in ask["reply_markup"]["inline_keyboard"] for b in row]
        assert "/r/" in buttons[0]["url"]
        assert [b["callback_data"].split(":")[0] for b in buttons[1:]] == ["notnow", "stop"]
        # All four go out without the clock moving on.
        assert await bot.wait_rows(Ask, Ask.state == SENT, count=4)
        assert await bot.quiet(105) == []

        again = await bot.staff_command("/launch spring-appeal", "Launch")
        await bot.client.press(
            STAFF_ID, again["message_id"], "launch:spring-appeal", STAFF_CHAT_ID
        )
        repeat = await bot.next_message(STAFF_CHAT_ID, "already launched")
        assert "nothing new was queued" in repeat["text"]
        assert await _asks(bot) == 4

        paused = await bot.staff_command("/pause spring-appeal", "paused")
        assert "spring-appeal" in paused["text"]
        assert await _campaign_state(bot, "spring-appeal") == "paused"
        twice = await bot.staff_command("/pause spring-appeal", "Cannot pause")
        assert "already paused" in twice["text"]
        status = await bot.staff_command("/status spring-appeal", "[paused]")
        assert "Sent 4" in status["text"]
        await bot.staff_command("/resume spring-appeal", "running again")
        assert await _campaign_state(bot, "spring-appeal") == "running"
        await bot.staff_command("/cancel spring-appeal", "cancelled")
        assert await _campaign_state(bot, "spring-appeal") == "cancelled"

        audit = await bot.rows(AuditEntry, AuditEntry.actor_user_id == STAFF_ID)
        actions = [entry.action for entry in audit]
        for action in ("help", "campaigns", "preview", "launch", "launch-confirmed", "pause"):
            assert action in actions
        confirmed = next(e for e in audit if e.action == "launch-confirmed")
        assert confirmed.campaign == "spring-appeal" and confirmed.allowed
        assert "4 asks queued" in (confirmed.detail or "")


async def test_launch_can_be_cancelled_and_only_staff_may_confirm(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.supporter_starts(101, "Ann")
        await bot.client.add_user(OUTSIDER, "Mallory", username="mallory")
        question = await bot.staff_command("/launch spring-appeal", "Launch")
        assert (
            "Sending starts right away and takes under a minute for 1 ask at 25 a second"
            in (question["text"])
        )
        # Someone who is not staff presses the button: refused, nothing launched.
        press = await bot.client.press(
            OUTSIDER, question["message_id"], "launch:spring-appeal", STAFF_CHAT_ID
        )
        query_id = press["callback_query"]["id"]

        async def answered() -> dict[str, object] | None:
            answer = await bot.client.callback_answer(query_id)
            return answer if answer and answer.get("answered") else None

        answer = await wait_for(answered, what="the answer to the button press")
        assert "staff" in str(answer.get("text"))
        refused = await bot.wait_rows(AuditEntry, col(AuditEntry.allowed).is_(False))
        assert refused[0].actor_user_id == OUTSIDER
        assert await _campaign_state(bot, "spring-appeal") is None

        await bot.client.press(STAFF_ID, question["message_id"], "cancel-launch", STAFF_CHAT_ID)
        edited = await bot.next_message(STAFF_CHAT_ID, "Launch cancelled")
        assert edited["method"] == "editMessageText"
        assert await _asks(bot) == 0


async def test_a_non_staff_user_is_refused_politely_and_audited(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.client.add_user(OUTSIDER, "Mallory", username="mallory", language_code="en")
        await bot.client.send_text(OUTSIDER, "/launch spring-appeal")
        refusal = await bot.next_message(OUTSIDER)
        assert refusal["text"] == "Sorry, this command is for the organisation's staff."
        await bot.client.add_user(OUTSIDER + 1, "Mies", language_code="nl")
        await bot.client.send_text(OUTSIDER + 1, "/campaigns")
        dutch = await bot.next_message(OUTSIDER + 1)
        assert "alleen voor de medewerkers" in dutch["text"]

        entries = await bot.wait_rows(AuditEntry, col(AuditEntry.allowed).is_(False), count=2)
        first = next(e for e in entries if e.actor_user_id == OUTSIDER)
        assert first.action == "launch"
        assert first.actor_name == "Mallory (@mallory)"
        assert "not staff" in (first.detail or "")
        assert await _campaign_state(bot, "spring-appeal") is None
        # Their /help is the supporters' help, not the staff's.
        await bot.client.send_text(OUTSIDER, "/help")
        help_text = await bot.next_message(OUTSIDER)
        assert "/stop" in help_text["text"] and "/launch" not in help_text["text"]


async def test_missing_or_unknown_names_get_the_usage_with_campaign_names(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        usage = await bot.staff_command("/preview", "Usage")
        assert usage["text"] == "Usage: /preview NAME\nCampaigns: spring-appeal"
        unknown = await bot.staff_command("/pause <i>nope", "No campaign")
        # The sandbox parses the HTML: the typed name arrived escaped, so it was accepted.
        assert unknown["text"] == (
            "No campaign called <b>&lt;i&gt;nope</b>.\n"
            "Usage: /pause NAME\nCampaigns: spring-appeal"
        )


async def test_reload_shows_file_line_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        spring = bot.campaigns_dir / "spring.yaml"
        broken = SPRING_APPEAL.replace(
            "weight: 1, message: generic", "weight: -2, message: generic"
        )
        spring.write_text(broken, encoding="utf-8")
        (bot.campaigns_dir / "typo.yaml").write_text("name: typo\ntitle: [oops\n")
        answer = await bot.staff_command("/reload", "problem")
        text = answer["text"]
        line = (
            broken.splitlines().index(
                "  broadcast: {kind: broadcast, weight: -2, message: generic}"
            )
            + 1
        )
        assert f"spring.yaml:{line}: arms.broadcast.weight" in text
        assert "typo.yaml:" in text
        assert "Still using the last good version of: spring-appeal" in text
        # The last good spec is still in force.
        preview = await bot.staff_command("/preview spring-appeal", "spring-appeal")
        assert "Usage" not in preview["text"]

        spring.write_text(SPRING_APPEAL.replace("this spring", "this April"), encoding="utf-8")
        (bot.campaigns_dir / "typo.yaml").unlink()
        fixed = await bot.staff_command("/reload", "Loaded")
        assert fixed["text"] == "Loaded 1 campaign(s): spring-appeal"
        assert bot.runtime.services.registry.campaigns["spring-appeal"].title.endswith("April")
        # The audit row is written after the answer is sent: wait for it, do not race it.
        audit = await bot.wait_rows(AuditEntry, AuditEntry.action == "reload", count=2)
        assert [e.detail for e in audit] == ["1 loaded, 2 problems", "1 loaded, 0 problems"]


async def test_donation_command_records_a_gift_in_minor_units(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.supporter_starts(101, "Ann", username="ann")
        await bot.staff_says("/donation @ann 25.50 EUR spring-appeal")
        note = await bot.next_message(STAFF_CHAT_ID, "🎁")
        assert "Ann" in note["text"]
        (gift,) = await bot.wait_rows(Donation)
        assert (gift.provider, gift.amount_minor, gift.currency) == ("staff", 2550, "EUR")
        assert len(gift.provider_event_id) == 32

        bad = await bot.staff_command("/donation @ann 25.505 EUR", "Usage")
        assert "decimals" in bad["text"]
        assert len(await bot.rows(Donation)) == 1


async def test_report_sends_text_and_a_chart(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.supporter_starts(101, "Ann")
        not_yet = await bot.staff_command("/report spring-appeal", "spring-appeal")
        assert "not been launched" in not_yet["text"]
        await bot.launch("spring-appeal", deliver_to=[101])
        await bot.wait_rows(Ask, Ask.state == SENT)
        await bot.staff_says("/report spring-appeal")
        text = await bot.next_message(STAFF_CHAT_ID, "sent", method="sendMessage")
        assert "<b>specific</b>" in text["text"] or "<b>broadcast</b>" in text["text"]
        photo = await bot.next_message(STAFF_CHAT_ID, method="sendPhoto")
        assert photo["photo"] is not None


async def test_command_menus_are_scoped_to_staff_and_supporters(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        menus = {
            (str(m["scope"].get("chat_id", m["scope"]["type"])), m["language_code"]): [
                c["command"] for c in m["commands"]
            ]
            for m in await bot.client.commands()
        }
        supporters = ["start", "stop", "privacy", "forget", "help"]
        assert menus[("default", "")] == supporters
        assert menus[("default", "nl")] == supporters
        for chat in (str(STAFF_ID), str(STAFF_CHAT_ID)):
            assert menus[(chat, "")][:3] == ["help", "campaigns", "preview"]
            assert "launch" in menus[(chat, "")]
