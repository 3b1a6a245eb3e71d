"""The sandbox's groups and channels, driven by a real python-telegram-bot Bot over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberOwner,
    MessageOriginChannel,
    ReactionTypeEmoji,
    ReplyParameters,
    TelegramObject,
    Update,
)
from telegram.error import BadRequest, Forbidden
from telegram.request import HTTPXRequest

from bot.sandbox import Sandbox, run_sandbox, serve_asgi
from bot.sandbox.client import SandboxClientError, tls_context
from bot.sandbox.community_control import COMMUNITY_ROUTES

OLGA, ANN, BEN, CORA, HELPER_BOT = 3000, 3001, 3002, 3003, 3099
CHANNEL, GROUP = -1001000000001, -1001000000002
TELEGRAM, GROUP_ANONYMOUS_BOT, CHANNEL_BOT = 777000, 1087968824, 136817688
EVERYTHING = [
    "message",
    "channel_post",
    "my_chat_member",
    "chat_member",
    "message_reaction",
    "message_reaction_count",
    "poll",
    "poll_answer",
]


def unknown_fields(obj: object, path: str = "update") -> list[str]:
    """Return every field PTB did not recognise (kept in api_kwargs) anywhere in `obj`."""
    if isinstance(obj, tuple):
        return [f for n, item in enumerate(obj) for f in unknown_fields(item, f"{path}[{n}]")]
    if not isinstance(obj, TelegramObject):
        return []
    found = [f"{path}.{key}" for key in obj.api_kwargs]
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if not name.startswith("_") and name != "api_kwargs":
                found += unknown_fields(getattr(obj, name, None), f"{path}.{name}")
    return found


async def drain(bot: Bot, allowed: list[str] | None = None) -> tuple[Update, ...]:
    """Fetch and confirm the pending updates, checking PTB understood every field."""
    updates = await bot.get_updates(timeout=0, allowed_updates=allowed)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    for update in updates:
        assert unknown_fields(update) == []
    return updates


def kinds(updates: tuple[Update, ...]) -> list[str]:
    """Return the kind of each update (message, chat_member, ...)."""
    return [next(k for k in update.to_dict() if k != "update_id") for update in updates]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A museum channel with its discussion group; Olga owns both, Cora is an anonymous admin."""
    async with run_sandbox(limits_enabled=False) as running:
        client = running.client
        await client.add_user(OLGA, "Olga", "Owner", username="olga")
        await client.add_user(ANN, "Ann", "Archer", username="ann", language_code="nl")
        await client.add_user(BEN, "Ben")
        await client.add_user(CORA, "Cora")
        await client.add_user(HELPER_BOT, "Helper", username="helper_bot", is_bot=True)
        await client.add_chat(CHANNEL, "channel", "Harbour Museum", "harbourmuseum", 500)
        await client.add_chat(GROUP, "supergroup", "Harbour Museum chat", owner_id=OLGA)
        await client.link_discussion(CHANNEL, GROUP)
        await client.set_member(GROUP, ANN)
        await client.set_member(GROUP, BEN)
        await client.set_member(GROUP, HELPER_BOT)
        await client.set_member(
            GROUP, CORA, "administrator", is_anonymous=True, custom_title="Curator"
        )
        yield running


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    def request(pool_size: int) -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"verify": tls_context()})

    running = Bot(
        sandbox.token,
        base_url=sandbox.bot_base_url,
        request=request(8),
        get_updates_request=request(1),
    )
    async with running:
        await drain(running, EVERYTHING)
        yield running


async def test_a_channel_post_arrives_and_is_forwarded_to_the_discussion_group(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.channel_post(CHANNEL, "Ships in Bottles opens today #ShipsInBottles")
    post, forward = await drain(bot)
    assert post.channel_post is not None and post.channel_post.sender_chat is not None
    assert post.channel_post.sender_chat.id == CHANNEL and post.channel_post.from_user is None
    message = forward.message
    assert message is not None and message.chat.id == GROUP and message.is_automatic_forward
    assert message.from_user is not None and message.from_user.id == TELEGRAM
    assert message.sender_chat is not None and message.sender_chat.id == CHANNEL
    origin = message.forward_origin
    assert isinstance(origin, MessageOriginChannel) and origin.chat.id == CHANNEL
    assert origin.message_id == post.channel_post.message_id
    assert list(message.parse_entities(["hashtag"]).values()) == ["#ShipsInBottles"]


async def test_comments_reply_to_the_forward_and_stay_in_its_thread(
    sandbox: Sandbox, bot: Bot
) -> None:
    published = await sandbox.client.channel_post(CHANNEL, "Ships in Bottles #ShipsInBottles")
    post_id = published["channel_post"]["message_id"]
    await sandbox.client.comment(ANN, CHANNEL, post_id, "Prachtig! Wanneer open?")
    _, forward, first = await drain(bot)
    assert forward.message is not None and first.message is not None
    thread = forward.message.message_id
    reply_to = first.message.reply_to_message
    assert reply_to is not None and reply_to.is_automatic_forward
    assert first.message.message_thread_id == thread and not first.message.is_topic_message
    await sandbox.client.post(GROUP, BEN, "Me too", reply_to_message_id=first.message.message_id)
    (second,) = await drain(bot)
    assert second.message is not None and second.message.message_thread_id == thread
    answer = await bot.send_message(
        GROUP, "From ten to five.", reply_parameters=ReplyParameters(first.message.message_id)
    )
    assert answer.message_thread_id == thread and answer.reply_to_message is not None


async def test_get_chat_names_the_linked_chat_on_both_sides(bot: Bot) -> None:
    channel, group = await bot.get_chat(CHANNEL), await bot.get_chat(GROUP)
    assert (channel.linked_chat_id, group.linked_chat_id) == (GROUP, CHANNEL)
    assert channel.username == "harbourmuseum" and group.type == "supergroup"


async def test_what_the_bot_posts_in_the_channel_is_copied_to_the_discussion_group(
    bot: Bot,
) -> None:
    post = await bot.send_message(CHANNEL, "Our winter appeal #Winter")
    (forward,) = await drain(bot)
    assert forward.message is not None and forward.message.is_automatic_forward
    origin = forward.message.forward_origin
    assert isinstance(origin, MessageOriginChannel) and origin.message_id == post.message_id


async def test_privacy_mode_hides_member_messages_from_a_bot_that_is_not_an_administrator(
    sandbox: Sandbox, bot: Bot
) -> None:
    client = sandbox.client
    own = await bot.send_message(GROUP, "Welcome to the museum chat")
    demoted = await client.set_bot_status(GROUP, "member")
    assert (await drain(bot))[0].update_id == demoted["update_id"]
    assert not (await bot.get_me()).can_read_all_group_messages
    await client.post(GROUP, ANN, "Lovely exhibition")
    await client.post(GROUP, ANN, "/help@helper_bot")
    seen = [
        await client.post(GROUP, ANN, "/poll@campaign_demo_bot"),
        await client.post(GROUP, BEN, "Thanks!", reply_to_message_id=own.message_id),
        (await client.leave(GROUP, BEN))["update_id"] - 1,  # the service message
    ]
    updates = await drain(bot)
    assert [u.update_id for u in updates] == [
        seen[0]["update_id"],
        seen[1]["update_id"],
        seen[2],
    ]
    assert updates[2].message is not None and updates[2].message.left_chat_member is not None
    await client.set_privacy(False)
    assert (await bot.get_me()).can_read_all_group_messages
    heard = await client.post(GROUP, ANN, "Now the bot reads everything")
    assert [u.update_id for u in await drain(bot)] == [heard["update_id"]]


async def test_a_bot_removed_from_a_group_hears_nothing_and_may_not_write(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.set_bot_status(GROUP, "kicked")
    await sandbox.client.post(GROUP, ANN, "/start")
    assert kinds(await drain(bot)) == ["my_chat_member"]
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "Hello?")


QUESTION = "Is it open on Sunday? #ShipsInBottles"
CAPTION = "My ship #ShipsInBottles"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": "❤️"}, ("❤️", None, False)),
        ({"text": QUESTION}, (QUESTION, None, False)),
        ({"photo": True, "caption": CAPTION}, (None, CAPTION, True)),
    ],
)
async def test_member_messages_carry_text_emoji_or_a_captioned_photo(
    sandbox: Sandbox, bot: Bot, fields: dict[str, object], expected: tuple[object, ...]
) -> None:
    await sandbox.client.post(GROUP, ANN, **fields)  # type: ignore[arg-type]
    (update,) = await drain(bot)
    message = update.message
    assert message is not None and message.from_user is not None
    assert (message.text, message.caption, bool(message.photo)) == expected
    assert message.from_user.id == ANN and message.from_user.language_code == "nl"
    hashtags = message.parse_caption_entities(["hashtag"]) if message.caption else {}
    hashtags = hashtags or message.parse_entities(["hashtag"])
    assert list(hashtags.values()) == (["#ShipsInBottles"] if "#" in str(fields) else [])


async def test_anonymous_admins_and_channel_senders_carry_telegrams_fake_users(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.post(GROUP, CORA, "Answers at the desk")
    await sandbox.client.post(GROUP, ANN, "Posted as the museum", as_chat_id=CHANNEL)
    anonymous, as_channel = (u.message for u in await drain(bot))
    assert anonymous is not None and anonymous.from_user is not None
    assert anonymous.from_user.id == GROUP_ANONYMOUS_BOT
    assert anonymous.author_signature == "Curator"
    assert anonymous.sender_chat is not None and anonymous.sender_chat.id == GROUP
    assert as_channel is not None and as_channel.from_user is not None
    assert as_channel.from_user.id == CHANNEL_BOT
    assert as_channel.sender_chat is not None and as_channel.sender_chat.id == CHANNEL
    with pytest.raises(SandboxClientError, match="only administrators"):
        await sandbox.client.post(GROUP, ANN, "Anonymous?", as_chat_id=GROUP)


async def test_other_bots_messages_and_reactions_never_reach_the_bot(
    sandbox: Sandbox, bot: Bot
) -> None:
    written = await sandbox.client.post(GROUP, HELPER_BOT, "beep")
    await sandbox.client.react(HELPER_BOT, GROUP, written["message"]["message_id"], "👍")
    assert await drain(bot, ["message", "message_reaction"]) == ()


async def test_group_reactions_name_the_user_for_an_admin_bot_that_asked(
    sandbox: Sandbox, bot: Bot
) -> None:
    written = await sandbox.client.post(GROUP, ANN, "Ships!")
    message_id = written["message"]["message_id"]
    await drain(bot, ["message"])
    await sandbox.client.react(BEN, GROUP, message_id, "👍")
    assert await drain(bot, ["message", "message_reaction"]) == ()  # asked too late
    await sandbox.client.react(BEN, GROUP, message_id, ["❤", "🔥"])
    (update,) = await drain(bot)
    reaction = update.message_reaction
    assert reaction is not None and reaction.user is not None and reaction.user.id == BEN
    assert reaction.old_reaction == (ReactionTypeEmoji("👍"),)
    assert reaction.new_reaction == (ReactionTypeEmoji("❤"), ReactionTypeEmoji("🔥"))
    await sandbox.client.set_bot_status(GROUP, "member")
    await sandbox.client.react(ANN, GROUP, message_id, "🎉")
    assert await drain(bot) == ()  # only administrators hear of reactions
    with pytest.raises(SandboxClientError, match="not a reaction"):
        await sandbox.client.react(ANN, GROUP, message_id, "🦖")


async def test_channel_reactions_arrive_as_anonymous_counts(sandbox: Sandbox, bot: Bot) -> None:
    published = await sandbox.client.channel_post(CHANNEL, "New acquisition")
    post_id = published["channel_post"]["message_id"]
    await drain(bot, [*EVERYTHING])
    await sandbox.client.react(ANN, CHANNEL, post_id, "👍")
    await sandbox.client.react(BEN, CHANNEL, post_id, ["👍", "🔥"])
    first, second = await drain(bot)
    assert first.message_reaction_count is not None and second.message_reaction_count is not None
    counts = [(c.type, c.total_count) for c in second.message_reaction_count.reactions]
    assert counts == [(ReactionTypeEmoji("👍"), 2), (ReactionTypeEmoji("🔥"), 1)]
    assert [(c.type, c.total_count) for c in first.message_reaction_count.reactions] == [
        (ReactionTypeEmoji("👍"), 1)
    ]


async def test_chat_member_updates_come_only_when_asked_for(sandbox: Sandbox, bot: Bot) -> None:
    await drain(bot, [])  # an empty list asks for Telegram's default set
    await sandbox.client.leave(GROUP, ANN)
    (service,) = await drain(bot)
    assert service.message is not None and service.message.left_chat_member is not None
    await drain(bot, ["message", "chat_member"])
    await sandbox.client.join(GROUP, ANN, added_by=OLGA)
    service, joined = await drain(bot)
    assert joined.chat_member is not None and joined.chat_member.from_user.id == OLGA
    assert joined.chat_member.new_chat_member.status == "member"
    assert joined.chat_member.old_chat_member.status == "left"
    assert joined.chat_member.invite_link is None


async def test_a_join_through_the_bots_named_invite_link_carries_the_link(
    sandbox: Sandbox, bot: Bot
) -> None:
    link = await bot.create_chat_invite_link(GROUP, name="expo-ships", member_limit=1)
    assert link.invite_link.startswith("https://t.me/+") and link.name == "expo-ships"
    assert link.creator.id == bot.id and not link.is_primary
    await sandbox.client.add_user(4001, "Dirk", language_code="nl")
    await sandbox.client.join(GROUP, 4001, invite_link=link.invite_link)
    service, joined = await drain(bot)
    assert service.message is not None and [u.id for u in service.message.new_chat_members] == [
        4001
    ]
    member = joined.chat_member
    assert member is not None and member.invite_link is not None
    assert (member.invite_link.name, member.from_user.id) == ("expo-ships", 4001)
    assert (await bot.get_chat_member(GROUP, 4001)).status == "member"
    await sandbox.client.add_user(4002, "Eva")
    with pytest.raises(SandboxClientError, match="member limit"):
        await sandbox.client.join(GROUP, 4002, invite_link=link.invite_link)
    [listed] = await sandbox.client.invite_links()
    assert (listed["joined"], listed["chat_id"]) == (1, GROUP)


async def test_many_join_through_one_link_in_one_call_or_none_do(
    sandbox: Sandbox, bot: Bot
) -> None:
    await drain(bot, ["chat_member"])
    link = await bot.create_chat_invite_link(GROUP, name="promo-blast", member_limit=3)
    for user in (4101, 4102, 4103, 4104):
        await sandbox.client.add_user(user, f"Follower {user}")
    # Checked before anyone joins: past the member limit, listed twice, or unknown.
    with pytest.raises(SandboxClientError, match="member limit"):
        await sandbox.client.join_many(
            GROUP, [4101, 4102, 4103, 4104], invite_link=link.invite_link
        )
    with pytest.raises(SandboxClientError, match="listed twice"):
        await sandbox.client.join_many(GROUP, [4101, 4101], invite_link=link.invite_link)
    with pytest.raises(SandboxClientError, match="unknown user"):
        await sandbox.client.join_many(GROUP, [4101, 4999], invite_link=link.invite_link)
    assert await drain(bot) == ()
    updates = await sandbox.client.join_many(GROUP, [4101, 4102], invite_link=link.invite_link)
    assert len(updates) == 2
    joined = [u.chat_member for u in await drain(bot)]
    assert [(m.from_user.id, m.invite_link.name) for m in joined if m and m.invite_link] == [
        (4101, "promo-blast"),
        (4102, "promo-blast"),
    ]
    [listed] = await sandbox.client.invite_links()
    assert listed["joined"] == 2


async def test_only_an_admin_with_invite_rights_creates_invite_links(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.set_bot_status(GROUP, "administrator", rights={"can_invite_users": False})
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_chat_invite_link(GROUP, name="expo")
    await sandbox.client.set_bot_status(GROUP, "administrator")
    with pytest.raises(BadRequest, match=r"(?i)name is too long"):
        await bot.create_chat_invite_link(GROUP, name="x" * 33)


async def test_my_chat_member_reports_the_bots_own_rights(sandbox: Sandbox, bot: Bot) -> None:
    assert (await bot.get_chat_member(GROUP, bot.id)).status == "administrator"
    await sandbox.client.set_bot_status(GROUP, "member")
    (update,) = await drain(bot)
    change = update.my_chat_member
    assert change is not None and change.chat.id == GROUP and change.from_user.id == OLGA
    assert isinstance(change.old_chat_member, ChatMemberAdministrator)
    assert change.new_chat_member.status == "member"
    assert (await bot.get_chat_member(GROUP, bot.id)).status == "member"


async def test_adding_the_bot_to_a_group_is_a_service_message_and_my_chat_member(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.add_chat(-2024, "group", "Volunteers", owner_id=OLGA, bot_status="left")
    await sandbox.client.set_bot_status(-2024, "member")
    service, change = await drain(bot)
    assert service.message is not None and [u.id for u in service.message.new_chat_members] == [
        bot.id
    ]
    assert change.my_chat_member is not None and change.my_chat_member.from_user.id == OLGA
    assert change.my_chat_member.old_chat_member.status == "left"


async def test_a_banned_member_cannot_come_back_through_a_revoked_link(
    sandbox: Sandbox, bot: Bot
) -> None:
    link = await bot.create_chat_invite_link(GROUP, name="winter")
    await sandbox.client.leave(GROUP, ANN, banned_by=OLGA)
    _, banned = await drain(bot)
    assert banned.chat_member is not None and banned.chat_member.from_user.id == OLGA
    assert banned.chat_member.new_chat_member.status == "kicked"
    with pytest.raises(SandboxClientError, match="banned"):
        await sandbox.client.join(GROUP, ANN, invite_link=link.invite_link)
    assert (await bot.revoke_chat_invite_link(GROUP, link.invite_link)).is_revoked
    await sandbox.client.add_user(4003, "Femke")
    with pytest.raises(SandboxClientError, match="revoked"):
        await sandbox.client.join(GROUP, 4003, invite_link=link.invite_link)


async def test_members_administrators_and_counts(sandbox: Sandbox, bot: Bot) -> None:
    admins = await bot.get_chat_administrators(GROUP)
    assert isinstance(admins[0], ChatMemberOwner) and admins[0].user.id == OLGA
    assert {a.user.id for a in admins} == {OLGA, CORA, bot.id}
    cora = next(a for a in admins if a.user.id == CORA)
    assert isinstance(cora, ChatMemberAdministrator) and cora.is_anonymous
    assert cora.custom_title == "Curator" and cora.can_invite_users
    await sandbox.client.set_member(GROUP, HELPER_BOT, "administrator")
    assert HELPER_BOT not in {a.user.id for a in await bot.get_chat_administrators(GROUP)}
    with_bots = await bot.get_chat_administrators(GROUP, return_bots=True)
    assert HELPER_BOT in {a.user.id for a in with_bots}
    assert (await bot.get_chat_member(GROUP, ANN)).status == "member"
    assert (await bot.get_chat_member(CHANNEL, ANN)).status == "left"
    assert await bot.get_chat_member_count(GROUP) == 5  # Olga, Ann, Ben, Cora, the helper bot
    assert await bot.get_chat_member_count(CHANNEL) == 500
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(GROUP, 999)


async def test_non_anonymous_poll_answers_name_the_voter(sandbox: Sandbox, bot: Bot) -> None:
    message = await bot.send_poll(
        GROUP, "Which exhibition next?", ["Ships", "Maps", "Knots"], is_anonymous=False
    )
    poll = message.poll
    assert poll is not None and not poll.is_anonymous and poll.allows_revoting
    await sandbox.client.vote(ANN, poll.id, [1])
    await sandbox.client.vote(BEN, poll.id, [1])
    await sandbox.client.vote(ANN, poll.id, [])
    updates = await drain(bot)
    assert kinds(updates) == ["poll_answer", "poll"] * 3
    answer = updates[0].poll_answer
    assert answer is not None and answer.user is not None and answer.user.id == ANN
    assert (answer.poll_id, answer.option_ids) == (poll.id, (1,))
    assert updates[4].poll_answer is not None and updates[4].poll_answer.option_ids == ()
    final = updates[5].poll
    assert final is not None and [o.voter_count for o in final.options] == [0, 1, 0]
    stopped = await bot.stop_poll(GROUP, message.message_id)
    assert stopped.is_closed
    with pytest.raises(SandboxClientError, match="closed"):
        await sandbox.client.vote(ANN, poll.id, [0])
    [record] = [r for r in await sandbox.client.sent(GROUP) if r["method"] == "sendPoll"]
    assert record["poll"]["question"] == "Which exhibition next?"


async def test_anonymous_polls_report_counts_but_not_voters(sandbox: Sandbox, bot: Bot) -> None:
    message = await bot.send_poll(GROUP, "Coffee or tea?", ["Coffee", "Tea"])
    assert message.poll is not None and message.poll.is_anonymous
    await sandbox.client.vote(ANN, message.poll.id, [0])
    (update,) = await drain(bot)
    assert update.poll is not None and update.poll.total_voter_count == 1
    with pytest.raises(BadRequest, match=r"(?i)non-anonymous polls"):
        await bot.send_poll(CHANNEL, "Who are you?", ["Me", "You"], is_anonymous=False)


async def test_allowed_updates_filter_webhook_delivery_too(sandbox: Sandbox, bot: Bot) -> None:
    received: list[dict[str, object]] = []
    arrived = asyncio.Event()

    async def hook(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        arrived.set()
        return Response(status_code=200)

    async with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        assert await bot.set_webhook(f"{url}/hook", allowed_updates=["chat_member"])
        written = await sandbox.client.post(GROUP, ANN, "Not wanted by this webhook")
        await sandbox.client.react(BEN, GROUP, written["message"]["message_id"], "👍")
        left = await sandbox.client.leave(GROUP, ANN)
        await asyncio.wait_for(arrived.wait(), 5)
        info = await bot.get_webhook_info()
        assert await bot.delete_webhook()
    assert [body["update_id"] for body in received] == [left["update_id"]]
    assert info.allowed_updates == ("chat_member",)


def test_every_community_control_route_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    paths = {route.path.split("/{")[0] for route in COMMUNITY_ROUTES}
    assert sorted(path for path in paths if path not in readme) == []
