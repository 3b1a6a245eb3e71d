"""Community listening through python-telegram-bot and the sandbox, as members and staff act."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.sandbox.client import SandboxClient
from bot.services.supporters import export_supporter
from bot.storage.models import Ask, AuditEntry, CommunityMessage, Interaction, Supporter
from bot.telegram.application import ALLOWED_UPDATES
from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH
from tests.botharness import SPRING_APPEAL, STAFF_CHAT_ID, STAFF_ID, BotHarness, bot_harness

OLGA, ANN, BEN, CORA, DORA, PROBE, HELPER_BOT = 3000, 3001, 3002, 3003, 3004, 3098, 3099
CHANNEL, GROUP, QUIET = -1001000000001, -1001000000002, -1001000000003
TELEGRAM, GROUP_ANONYMOUS_BOT, CHANNEL_BOT = 777000, 1087968824, 136817688
GROUP_TITLE = "Harbour Museum chat"
OPT_IN = {"chat_member", "message_reaction", "message_reaction_count", "poll_answer"}


async def museum(client: SandboxClient) -> None:
    """A channel with its discussion group; Olga owns it, Cora is an anonymous admin."""
    await client.add_user(OLGA, "Olga", "Owner", username="olga")
    await client.add_user(ANN, "Ann", "Archer", username="ann", language_code="nl")
    await client.add_user(BEN, "Ben")
    await client.add_user(CORA, "Cora")
    await client.add_user(DORA, "Dora", username="dora")
    await client.add_user(HELPER_BOT, "Helper", username="helper_bot", is_bot=True)
    await client.add_chat(CHANNEL, "channel", "Harbour Museum", "harbourmuseum", 500)
    await client.add_chat(GROUP, "supergroup", GROUP_TITLE, owner_id=OLGA)
    await client.link_discussion(CHANNEL, GROUP)
    await client.add_user(PROBE, "Probe")
    for member in (ANN, BEN, PROBE, HELPER_BOT, STAFF_ID):
        await client.set_member(GROUP, member)
    await client.set_member(
        GROUP, CORA, "administrator", is_anonymous=True, custom_title="Curator"
    )


async def with_quiet(client: SandboxClient) -> None:
    """The museum, plus a group of friends where the bot is a member but no administrator."""
    await museum(client)
    await client.add_chat(QUIET, "supergroup", "Friends of the museum", bot_status="member")


@asynccontextmanager
async def listening_bot(tmp_path: Path, **options: Any) -> AsyncIterator[BotHarness]:
    """Run the bot listening to the museum's discussion group."""
    async with bot_harness(
        tmp_path,
        settings={"community_chat_ids": str(GROUP), **options.pop("settings", {})},
        before_start=options.pop("before_start", museum),
        **options,
    ) as bot:
        yield bot


async def interactions(bot: BotHarness, *kinds: str) -> list[tuple[Any, ...]]:
    """Return (telegram user, kind, detail, sentiment, source) of community interactions."""
    async with bot.sessions() as session:
        rows = await session.execute(
            select(
                Supporter.telegram_user_id,
                Interaction.kind,
                Interaction.detail,
                Interaction.sentiment,
                Interaction.source,
            )
            .join(Supporter, Supporter.id == Interaction.supporter_id)  # type: ignore[arg-type]
            .where(
                Interaction.kind.in_(kinds),  # type: ignore[attr-defined]
                Supporter.telegram_user_id != PROBE,
            )
            .order_by(Interaction.id)  # type: ignore[arg-type]
        )
        return [tuple(row) for row in rows]


async def settled(bot: BotHarness) -> None:
    """Wait until the bot has handled and written everything so far.

    The bot handles updates one at a time, in order, and writes facts in order: once a
    probe member's message is written, so is everything that came before it.
    """
    said = await bot.client.post(GROUP, PROBE, "probe")
    await bot.wait_rows(
        Interaction, Interaction.event == f"c:{GROUP}:{said['message']['message_id']}"
    )


async def comment_on_new_post(bot: BotHarness, user: int, post: str, comment: str) -> int:
    """Publish a channel post and have a member comment on it; return the comment's id."""
    published = await bot.client.channel_post(CHANNEL, post)
    said = await bot.client.comment(
        user, CHANNEL, published["channel_post"]["message_id"], comment
    )
    await settled(bot)
    return int(said["message"]["message_id"])


async def test_the_bot_asks_for_member_reaction_and_poll_updates_when_polling(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        assert bot.sandbox.state.allowed_updates is not None
        assert bot.sandbox.state.allowed_updates >= OPT_IN
    assert set(ALLOWED_UPDATES) >= OPT_IN


@pytest.mark.parametrize("readers", [0, 1])
async def test_a_comment_under_a_tagged_channel_post_carries_the_posts_topic(
    tmp_path: Path, readers: int
) -> None:
    # Read in the bot's process, and in a worker process as `campaign-bot run` does by default.
    async with listening_bot(tmp_path, settings={"community_reader_processes": readers}) as bot:
        post = "Ships in Bottles opens today #ShipsInBottles"
        await comment_on_new_post(bot, ANN, post, "Prachtig, wat een mooie tentoonstelling!")
        await comment_on_new_post(bot, BEN, "A quiet week at the museum", "Dull. #Boring")
        assert await interactions(bot, "comment", "question") == [
            (ANN, "comment", "ShipsInBottles", "positive", GROUP_TITLE),
            (BEN, "comment", "Boring", "negative", GROUP_TITLE),
        ]
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        # A member, not a started supporter: no consent, no private chat to write to.
        assert (ann.first_name, ann.username, ann.language) == ("Ann", "ann", "nl")
        assert ann.consented_at is None and ann.chat_id is None
        assert ann.interaction_count == 1


async def test_emoji_alone_and_a_photo_caption_are_comments(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        await bot.client.post(GROUP, ANN, "👍🔥")
        await settled(bot)
        await bot.client.post(GROUP, BEN, photo=True, caption="Meh #Maps")
        await settled(bot)
        await bot.client.post(GROUP, BEN, photo=True)
        await settled(bot)
        assert await interactions(bot, "comment") == [
            (ANN, "comment", None, "positive", GROUP_TITLE),
            (BEN, "comment", "Maps", "negative", GROUP_TITLE),
        ]


async def test_a_question_answered_by_an_administrator_counts_once(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        question = await comment_on_new_post(
            bot, BEN, "Ships in Bottles #ShipsInBottles", "When does it open on Sunday?"
        )
        await bot.client.post(GROUP, OLGA, "From ten to five.", reply_to_message_id=question)
        await bot.client.post(GROUP, CORA, "And on Monday too.", reply_to_message_id=question)
        await bot.client.post(GROUP, STAFF_ID, "Yes, see you!", reply_to_message_id=question)
        await settled(bot)
        assert await interactions(bot, "question", "question_answered") == [
            (BEN, "question", "ShipsInBottles", "neutral", GROUP_TITLE),
            (BEN, "question_answered", "ShipsInBottles", None, GROUP_TITLE),
        ]
        # The administrators and staff speak for the museum: they are not recorded as members.
        people = {s.telegram_user_id for s in await bot.rows(Supporter)}
        assert {OLGA, CORA, STAFF_ID}.isdisjoint(people)


async def test_a_members_reply_to_a_question_does_not_answer_it(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        question = await comment_on_new_post(bot, BEN, "New maps room", "Is it open today?")
        await bot.client.post(GROUP, ANN, "No idea", reply_to_message_id=question)
        await settled(bot)
        assert await interactions(bot, "question_answered") == []


async def test_fake_senders_and_bots_never_become_supporters(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        await bot.client.channel_post(CHANNEL, "An automatic forward arrives #Winter")
        await bot.client.post(GROUP, CORA, "Posted anonymously by an admin")
        await bot.client.post(GROUP, ANN, "Posted as the channel", as_chat_id=CHANNEL)
        await bot.client.post(GROUP, HELPER_BOT, "A bot speaks")
        await bot.client.post(GROUP, BEN, "A person speaks")
        await settled(bot)
        ids = {s.telegram_user_id for s in await bot.rows(Supporter)}
        assert ids & {TELEGRAM, GROUP_ANONYMOUS_BOT, CHANNEL_BOT, HELPER_BOT, CORA, ANN} == set()
        assert BEN in ids
        assert [row[0] for row in await interactions(bot, "comment")] == [BEN]


async def test_reactions_take_their_sentiment_from_the_table_and_count_once(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        published = await bot.client.channel_post(CHANNEL, "Ships in Bottles #ShipsInBottles")
        forward = bot.sandbox.state.discussion_posts[
            (CHANNEL, published["channel_post"]["message_id"])
        ]
        client = bot.client
        await client.react(ANN, GROUP, forward, "❤")
        await client.react(ANN, GROUP, forward, [])  # taken back ...
        await client.react(ANN, GROUP, forward, "❤")  # ... and given again: one fact
        await client.react(BEN, GROUP, forward, ["👎", "🤔"])
        await client.react(OLGA, GROUP, forward, "🔥")  # the owner speaks for the museum
        await settled(bot)
        assert await interactions(bot, "reaction") == [
            (ANN, "reaction", "ShipsInBottles", "positive", GROUP_TITLE),
            (BEN, "reaction", "ShipsInBottles", "negative", GROUP_TITLE),
            (BEN, "reaction", "ShipsInBottles", "neutral", GROUP_TITLE),
        ]


async def test_a_join_through_a_named_invite_link_records_the_links_name_once(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        link = await bot.runtime.application.bot.create_chat_invite_link(GROUP, name="expo-ships")
        joined = await bot.client.join(GROUP, DORA, invite_link=link.invite_link)
        assert joined["chat_member"]["invite_link"]["name"] == "expo-ships"
        await bot.client.leave(GROUP, DORA)
        await settled(bot)
        assert await interactions(bot, "joined", "left") == [
            (DORA, "joined", "expo-ships", None, GROUP_TITLE),
            (DORA, "left", None, None, GROUP_TITLE),
        ]


async def test_a_poll_sent_by_staff_records_members_answers_with_the_option(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        await bot.client.post(GROUP, STAFF_ID, "/poll What next? | Ships | Maps | Clocks")
        sent = await bot.next_message(GROUP, method="sendPoll")
        poll_id = sent["poll"]["id"]
        await bot.client.vote(ANN, poll_id, [1])
        await bot.client.vote(BEN, poll_id, [2])
        await settled(bot)
        assert await interactions(bot, "poll_answer") == [
            (ANN, "poll_answer", "Maps", None, GROUP_TITLE),
            (BEN, "poll_answer", "Clocks", None, GROUP_TITLE),
        ]
        # A member's /poll (perhaps for another bot) and /help get no answer in the group.
        await bot.client.post(GROUP, ANN, "/poll Mine? | a | b")
        await bot.client.post(GROUP, ANN, "/help")
        await settled(bot)
        assert [e["method"] for e in await bot.client.sent(GROUP)] == ["sendPoll"]
        refused = await bot.rows(AuditEntry, AuditEntry.action == "poll")
        assert [(a.actor_user_id, a.allowed) for a in refused] == [(STAFF_ID, True), (ANN, False)]


async def test_a_bot_that_is_not_an_administrator_tells_staff_what_to_fix(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path, settings={"community_chat_ids": f"{GROUP},{QUIET}"}, before_start=with_quiet
    ) as bot:
        warning = await bot.next_message(STAFF_CHAT_ID, "not an administrator")
        assert "Friends of the museum" in warning["text"] and "\n" not in warning["text"]
        assert str(QUIET) in warning["text"] and "COMMUNITY_CHAT_IDS" in warning["text"]
        await bot.client.set_bot_status(GROUP, "member")
        demoted = await bot.next_message(STAFF_CHAT_ID, GROUP_TITLE)
        assert "I am a plain member there, not an administrator" in demoted["text"]


async def test_a_member_who_starts_the_bot_is_the_same_supporter(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        await comment_on_new_post(bot, ANN, "Maps #Maps", "Mooi!")
        (before,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        await bot.client.start(ANN)
        await bot.next_message(ANN)
        (after,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        assert after.id == before.id
        assert after.consented_at is not None and after.chat_id == ANN


async def test_an_export_holds_the_facts_and_none_of_the_text(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        words = "Wanneer gaat de zaal met scheepjes open?"
        await comment_on_new_post(bot, ANN, "Ships #ShipsInBottles", words)
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        assert ann.id is not None
        exported = await export_supporter(bot.sessions, ann.id)
        kinds = sorted(i["kind"] for i in exported["interactions"])
        assert kinds == ["comment", "question"]
        assert exported["community_questions"][0]["topic"] == "ShipsInBottles"
        dumped = json.dumps(exported)
        assert "scheepjes" not in dumped and "Wanneer" not in dumped


async def test_a_redelivered_webhook_update_is_recorded_once(tmp_path: Path) -> None:
    async with listening_bot(tmp_path, webhook=True) as bot:
        hook = bot.sandbox.state.webhook
        assert hook is not None and set(hook.allowed_updates or []) >= OPT_IN
        said = await bot.client.post(GROUP, ANN, "Wat een mooie zaal!")
        await settled(bot)
        assert bot.runtime.web_url is not None
        async with httpx.AsyncClient() as http:
            for _ in range(2):
                answer = await http.post(
                    bot.runtime.web_url + WEBHOOK_PATH,
                    json=said,
                    headers={SECRET_HEADER: "test-webhook-secret"},
                )
                assert answer.status_code == 200
        await settled(bot)
        assert len(await interactions(bot, "comment")) == 1
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        assert ann.interaction_count == 1


async def test_without_community_chats_nothing_is_heard(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, before_start=museum) as bot:
        await bot.client.post(GROUP, ANN, "Hello")
        await bot.staff_command("/help")
        assert await bot.rows(Supporter, Supporter.telegram_user_id == ANN) == []
        assert await bot.rows(CommunityMessage) == []


async def test_privacy_tells_what_is_kept_from_groups(tmp_path: Path) -> None:
    async with listening_bot(tmp_path) as bot:
        await bot.client.start(ANN)
        await bot.next_message(ANN)
        await bot.client.send_text(ANN, "/privacy")
        answer = await bot.next_message(ANN, "groepen")
        assert "nooit de tekst" in answer["text"]


def test_the_community_notice_names_the_bot_and_what_it_keeps() -> None:
    result = CliRunner().invoke(app, ["community", "notice", "--bot", "harbour_bot"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.count("@harbour_bot") == 2 and "never keeps what you write" in result.output
    )
    assert "\n" not in result.output.strip()


SHIPS_APPEAL = SPRING_APPEAL.replace("name: spring-appeal", "name: ships-appeal").replace(
    "    - {interaction: visited_exhibition}",
    '    - {interaction: comment, detail: "Ships*", sentiment: positive}',
)


async def test_a_campaign_selects_members_who_praised_a_tagged_post_once_they_start(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path, campaigns={"ships.yaml": SHIPS_APPEAL}) as bot:
        post = "Ships in Bottles opens today #ShipsInBottles"
        await comment_on_new_post(bot, ANN, post, "Prachtig, wat een mooie schepen!")
        await comment_on_new_post(bot, BEN, post, "Boring and far too expensive.")
        await comment_on_new_post(bot, DORA, "Maps of the North #Maps", "Wonderful maps!")
        before = await bot.staff_command("/preview ships-appeal", "ships-appeal")
        # Nobody has started the bot yet: members are not reachable.
        assert "Audience if launched now: <b>0</b>" in before["text"]
        for user in (ANN, BEN, DORA):
            await bot.client.start(user)
            await bot.next_message(user)
        await bot.launch("ships-appeal", deliver_to=[ANN])
        asked = await bot.rows(Ask)
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        assert [a.supporter_id for a in asked] == [ann.id]


async def test_where_the_bot_is_no_administrator_joins_come_from_service_messages(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path, settings={"community_chat_ids": f"{GROUP},{QUIET}"}, before_start=with_quiet
    ) as bot:
        await bot.next_message(STAFF_CHAT_ID, "not an administrator")
        await bot.client.join(QUIET, DORA)
        await bot.client.join(GROUP, DORA)  # here through chat_member: once, not twice
        await settled(bot)
        assert await interactions(bot, "joined") == [
            (DORA, "joined", None, None, "Friends of the museum"),
            (DORA, "joined", None, None, GROUP_TITLE),
        ]


async def test_a_channel_listed_as_a_community_chat_points_staff_to_its_group(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path, settings={"community_chat_ids": f"{GROUP},{CHANNEL}"}
    ) as bot:
        line = (await bot.next_message(STAFF_CHAT_ID, "is a channel"))["text"]
        assert f"({CHANNEL})" in line and f"({GROUP})" in line and "\n" not in line
