"""Staff commands over the sandbox: permissions, the campaign lifecycle, reload, donations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
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
        # Four supporters cannot show any realistic difference, and the preview says so.
        assert "Power: " in preview["text"] and "(default)" in preview["text"]
        assert "Too small to learn anything" in preview["text"]
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


async def test_a_tagged_file_neither_stops_the_bot_nor_the_other_campaigns(
    tmp_path: Path,
) -> None:
    tagged = "name: tagged\ntitle: !custom [a, b]\n"
    files = {"spring.yaml": SPRING_APPEAL, "tagged.yaml": tagged}
    async with bot_harness(tmp_path, campaigns=files) as bot:
        assert bot.runtime.services.registry.names() == ["spring-appeal"]
        answer = await bot.staff_command("/reload", "problem")
        assert "Loaded 1 campaign(s): spring-appeal" in answer["text"]
        assert f"{bot.campaigns_dir / 'tagged.yaml'}:2: YAML feature not supported: the tag " \
            "!custom is not supported" in answer["text"]  # fmt: skip


async def test_reload_splits_long_problem_lists_into_messages_telegram_accepts(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        names = [f"broken-{n:02}-{'x' * 150}.yaml" for n in range(40)]
        for name in names:
            (bot.campaigns_dir / name).write_text("name: x\ntitle: [oops <&>\n")
        # One problem longer than a whole message, full of entities: it must be cut whole.
        long_key = "a&b<" * 1500
        (bot.campaigns_dir / "long.yaml").write_text(SPRING_APPEAL + f"? '{long_key}'\n: 1\n")
        await bot.staff_command("/reload", "problem")

        async def every_file_named() -> list[str] | None:
            texts = [entry["text"] for entry in await bot.sent(STAFF_CHAT_ID)]
            shown = "\n".join(texts)
            return texts if all(name in shown for name in [*names, "long.yaml"]) else None

        texts = await wait_for(every_file_named, what="every broken file in /reload's answer")
        assert len(texts) > 2
        attempts = await bot.client.sent(STAFF_CHAT_ID)
        assert [entry for entry in attempts if not entry["ok"]] == []
        lines = [line for text in texts for line in text.split("\n")]
        (long_line,) = [line for line in lines if "/long.yaml:" in line]
        line = len(SPRING_APPEAL.splitlines()) + 1
        assert long_line.startswith(f"<code>{bot.campaigns_dir / 'long.yaml'}:{line}: ")
        assert long_line.endswith("…</code>")


def heavy_campaign(number: int) -> str:
    """Write a valid campaign whose five messages each take about a twentieth of a second."""
    loop = (
        "{% for a in range(95) %}{% for b in range(95) %}{% set x = a ~ b %}{% endfor %}"
        "{% endfor %}"
    )
    messages = "\n".join(
        f"  m{i}: {{en: '{loop}<a href=\"{{{{ donate_link }}}}\">give</a>'}}" for i in range(5)
    )
    return (
        f"name: heavy-{number}\ntitle: Heavy\norganisation: Test Org\n"
        "donate_url: https://donate.example.org/x\n"
        f"arms:\n  specific: {{kind: specific, weight: 1, message: m0}}\nmessages:\n{messages}\n"
    )


async def test_the_web_app_stays_responsive_while_reload_validates(tmp_path: Path) -> None:
    async with bot_harness(
        tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}, serve_web=True
    ) as bot:
        for number in range(12):
            (bot.campaigns_dir / f"heavy-{number}.yaml").write_text(heavy_campaign(number))
        await bot.client.send_text(STAFF_ID, "/reload", chat_id=STAFF_CHAT_ID)
        slowest = 0.0
        started = time.perf_counter()
        async with httpx.AsyncClient() as http:
            while len(bot.runtime.services.registry.names()) < 13:
                asked = time.perf_counter()
                health = await http.get(f"http://127.0.0.1:{bot.settings.web_port}/healthz")
                assert health.json() == {"status": "ok"}
                slowest = max(slowest, time.perf_counter() - asked)
                assert time.perf_counter() - started < 60, "reload never finished"
                await asyncio.sleep(0.05)
        took = time.perf_counter() - started
        answer = await bot.next_message(STAFF_CHAT_ID, "Loaded 13 campaign(s)")
        assert "problem" not in answer["text"]
        # Only meaningful if validating took a while: it does, about 3 s on a 2-core machine.
        assert took > 1.0
        assert slowest < took / 3


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
        huge = await bot.staff_command("/donation @ann 92233720368547758.07 EUR", "Usage")
        assert "must be at most" in huge["text"]
        fake = await bot.staff_command("/donation @ann 25 ABC", "Usage")
        assert "ISO 4217" in fake["text"]
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
        supporters = ["start", "stop", "privacy", "forget", "share", "help"]
        assert menus[("default", "")] == supporters
        assert menus[("default", "nl")] == supporters
        for chat in (str(STAFF_ID), str(STAFF_CHAT_ID)):
            assert menus[(chat, "")][:3] == ["help", "campaigns", "preview"]
            assert "launch" in menus[(chat, "")]


async def test_three_presses_of_launch_at_once_launch_once(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.supporter_starts(101, "Ann")
        question = await bot.staff_command("/launch spring-appeal", "Launch")
        presses = await asyncio.gather(
            *(
                bot.client.press(
                    STAFF_ID, question["message_id"], "launch:spring-appeal", STAFF_CHAT_ID
                )
                for _ in range(3)
            )
        )
        await bot.next_message(STAFF_CHAT_ID, "asks queued")

        async def answers() -> list[str] | None:
            found = [await bot.client.callback_answer(p["callback_query"]["id"]) for p in presses]
            done = [a for a in found if a and a.get("answered")]
            return [str(a.get("text") or "") for a in done] if len(done) == 3 else None

        texts = await wait_for(answers, what="three answered presses")
        assert sorted(texts) == ["", *["This launch is already under way."] * 2]
        edits = [e["text"] for e in await bot.sent(STAFF_CHAT_ID)]
        assert sum("Launching" in t for t in edits) == 1
        assert not any("Not launched" in t for t in edits)
        assert await _campaign_state(bot, "spring-appeal") == "running"
