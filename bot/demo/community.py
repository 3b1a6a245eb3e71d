"""The demo's community: the channel's discussion group, its members, and what the bot learns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from bot.demo.behaviour import (
    COMMENTS,
    QUESTIONS,
    REACTIONS,
    STAFF_ANSWERS,
    CommunityBehaviour,
    community_rng,
)
from bot.demo.population import FIRST_NAMES, LAST_NAMES, SimulatedSupporter
from bot.demo.stage import CAMPAIGN, CHANNEL_ID, GROUP_ID, GROUP_TITLE, STAFF_ID, Stage, wait_until
from bot.demo.week import Week
from bot.domain.community import normalise_emoji
from bot.sandbox import Sandbox
from bot.sandbox.chats import User
from bot.storage import community_tally

SOURCE = "expo-ships"
SOURCE_COMMAND = f"/source {SOURCE} visited_exhibition Ships in Bottles"
SHIPS_POST = (
    "Ships in Bottles opens today: 140 tiny ships, each one built inside a bottle by a "
    "lighthouse keeper over forty winters. #ShipsInBottles"
)
OTHER_POSTS = (
    "Behind the scenes: our volunteers are restoring the figurehead of the Amalia. #Restoration",
    "Winter opening hours: Tuesday to Sunday, 10:00 to 17:00. #VisitUs",
)
NEWCOMER_IDS = 710_000_000
# Simulated time between two things members do, so each has its own date.
BEAT = timedelta(seconds=10)


@dataclass(frozen=True)
class GroupMember:
    """Someone in the discussion group: an imported supporter, or a newcomer."""

    user_id: int
    first_name: str
    language: str
    newcomer: bool


@dataclass
class Community:
    """The discussion group's cast and the scenes it plays in."""

    seed: int
    model: CommunityBehaviour = field(default_factory=CommunityBehaviour)
    members: list[GroupMember] = field(default_factory=list)
    newcomers: list[GroupMember] = field(default_factory=list)

    async def set_up(self, sandbox: Sandbox, people: list[SimulatedSupporter]) -> None:
        """Make the discussion group before the bot starts, with the bot not yet an admin."""
        client = sandbox.client
        # Staff added the bot to the group but forgot to make it an administrator: the bot's
        # check at start-up tells them so in the staff chat.
        await client.add_chat(
            GROUP_ID, "supergroup", GROUP_TITLE, owner_id=STAFF_ID, bot_status="member"
        )
        await client.link_discussion(CHANNEL_ID, GROUP_ID)
        rng = community_rng(self.seed, "cast")
        self.members = [
            GroupMember(p.telegram_user_id, p.first_name, p.language, newcomer=False)
            for p in people
            if rng.random() < self.model.members_share
        ]
        for member in self.members:
            await client.set_member(GROUP_ID, member.user_id)
        for index in range(self.model.newcomers):
            language = "nl" if rng.random() < 0.65 else "en"
            first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
            user = User(NEWCOMER_IDS + index, first, last, None, language, started=False)
            sandbox.state.add_user(user)
            self.newcomers.append(GroupMember(user.id, first, language, newcomer=True))

    async def listen(self, stage: Stage) -> None:
        """Staff fix the bot's rights and make the poster's link; the community talks."""
        staff, client = stage.staff, stage.sandbox.client
        began = stage.clock.now
        await staff.answer("not an administrator", 0)
        await staff.note(f"makes the bot an administrator of {GROUP_TITLE}")
        await client.set_bot_status(GROUP_ID, "administrator", by_user_id=STAFF_ID)
        await staff.command(SOURCE_COMMAND, f"?start={SOURCE}")
        link = next(x for x in await client.invite_links() if x["name"] == SOURCE)
        talk = _Talk(stage, self)
        await talk.posts()
        for newcomer in self.newcomers:
            await talk.join(newcomer, link["invite_link"])
        everyone = self.members + self.newcomers
        community_rng(self.seed, "order").shuffle(everyone)
        for member in everyone:
            await talk.member_acts(member)
        await talk.staff_answer_questions()
        await talk.settled()
        started = await talk.newcomers_start()
        await staff.command("/sources", "Named sources")
        stage.say(
            f"community: {len(talk.posts_sent)} channel posts; {talk.comments} comments "
            f"({talk.dutch} in Dutch), {len(talk.questions)} questions answered by staff in the "
            f"group, {talk.reactions} reactions; {len(self.newcomers)} newcomers joined through "
            f"the {SOURCE} poster's invite link and {started} of them started the bot"
        )
        stage.say("the bot recorded from the group: " + await _recorded(stage))
        # The campaign starts on the next whole hour, so the week keeps its hourly rhythm.
        later = max(stage.clock.now, began + timedelta(hours=2))
        stage.clock.now = later.replace(minute=0, second=0) + timedelta(hours=1)

    async def finding(self, stage: Stage) -> None:
        """Say how much of the campaign's audience the bot found in the community group."""
        asked, in_group, only_group = await _audience_from_group(stage)
        line = (
            f"{in_group} of the {asked} supporters asked were found in the community group "
            f"({GROUP_TITLE}); {only_group} of them the museum knew only from there, having "
            f"joined through the {SOURCE} poster's invite link and started the bot."
        )
        stage.findings.append(line)
        stage.say(line)


class _Talk:
    """The discussion group's activity in one run, and what it expects the bot to record."""

    def __init__(self, stage: Stage, community: Community) -> None:
        self.stage = stage
        self.community = community
        self.posts_sent: list[int] = []
        self.questions: list[tuple[int, str]] = []
        self.comments = self.dutch = self.reactions = 0
        self.last_event = ""

    def beat(self) -> None:
        self.stage.clock.now += BEAT

    async def posts(self) -> None:
        """Publish the channel posts; each arrives in the group as an automatic forward."""
        for text in (SHIPS_POST, *OTHER_POSTS):
            self.beat()
            update = await self.stage.sandbox.client.channel_post(CHANNEL_ID, text)
            self.posts_sent.append(int(update["channel_post"]["message_id"]))

    async def join(self, member: GroupMember, invite_link: str) -> None:
        """Join the group through the poster's invite link."""
        self.beat()
        await self.stage.sandbox.client.join(GROUP_ID, member.user_id, invite_link=invite_link)
        self.last_event = f"j:{GROUP_ID}:{member.user_id}:{int(self.stage.clock.unix())}"

    async def _comment(self, member: GroupMember, post: int, text: str) -> int:
        self.beat()
        said = await self.stage.sandbox.client.comment(member.user_id, CHANNEL_ID, post, text)
        message_id = int(said["message"]["message_id"])
        self.comments += 1
        self.dutch += member.language == "nl"
        self.last_event = f"c:{GROUP_ID}:{message_id}"
        return message_id

    async def member_acts(self, member: GroupMember) -> None:
        """Comment, ask and react as this member would, drawn from the seed."""
        model, language = self.community.model, member.language
        rng = community_rng(self.community.seed, member.user_id)
        ships, others = self.posts_sent[0], self.posts_sent[1:]
        if rng.random() < model.comment_on_ships:
            await self._comment(member, ships, rng.choice(COMMENTS[model.tone(rng)][language]))
        if rng.random() < model.comment_on_other:
            text = rng.choice(COMMENTS[model.tone(rng)][language])
            await self._comment(member, rng.choice(others), text)
        if rng.random() < model.question:
            asked = await self._comment(member, ships, rng.choice(QUESTIONS[language]))
            self.questions.append((asked, language))
        if rng.random() < model.react:
            self.beat()
            emoji = rng.choice(REACTIONS[model.tone(rng)])
            forward = self.stage.sandbox.state.discussion_posts[(CHANNEL_ID, ships)]
            await self.stage.sandbox.client.react(member.user_id, GROUP_ID, forward, emoji)
            self.reactions += 1
            key = normalise_emoji(emoji)
            self.last_event = f"r:{GROUP_ID}:{forward}:{member.user_id}:{key}"

    async def staff_answer_questions(self) -> None:
        """Marieke answers each question in the group, as a reply to it."""
        for message_id, language in self.questions:
            self.beat()
            await self.stage.sandbox.client.post(
                GROUP_ID, STAFF_ID, STAFF_ANSWERS[language], reply_to_message_id=message_id
            )
            self.last_event = f"a:{GROUP_ID}:{message_id}"

    async def settled(self) -> None:
        """Wait until the bot has recorded everything: it writes facts in order."""
        if not self.last_event:
            return

        async def check() -> bool:
            async with self.stage.sessions() as session:
                return await community_tally.event_recorded(session=session, event=self.last_event)

        await wait_until(check, "the bot to record what the community did")

    async def newcomers_start(self) -> int:
        """Some newcomers open the bot from the poster's deep link, so they can be asked."""
        client, stage = self.stage.sandbox.client, self.stage
        starting = [
            member
            for member in self.community.newcomers
            if community_rng(self.community.seed, member.user_id, "start").random()
            < self.community.model.newcomers_who_start
        ]
        # Telegram lets a bot send 30 messages a second in all, and a welcome that meets its
        # flood limit is not sent again: let the second of the live starts' welcomes pass.
        await asyncio.sleep(1.0)
        for member in starting:
            self.beat()
            await client.start(member.user_id, SOURCE)
            stage.languages[member.user_id] = member.language
        for member in starting:
            await client.wait_sent(member.user_id, 1, within=10)
        model, week = self.community.model, Week(stage)
        for member in starting:
            rng = community_rng(self.community.seed, member.user_id, "gives")
            if rng.random() < model.newcomers_who_give:
                amount = rng.choice(stage.model.gift_amounts_minor)
                # No tracked link: the payment provider knows them by their Telegram id.
                event = f"demo-poster-{member.user_id}"
                await week.give(None, amount, event, telegram_user_id=member.user_id)
        return len(starting)


async def _recorded(stage: Stage) -> str:
    """Return how many interactions of each kind the bot recorded from the group."""
    async with stage.sessions() as session:
        counts = await community_tally.kinds_from(
            session=session, sources=[GROUP_TITLE, f"source:{SOURCE}"]
        )
    return ", ".join(f"{kind} {counts[kind]}" for kind in sorted(counts))


async def _audience_from_group(stage: Stage) -> tuple[int, int, int]:
    """Count the supporters asked, those met in the group, and those known only from it."""
    async with stage.sessions() as session:
        return await community_tally.asked_found_in(
            session=session, campaign=CAMPAIGN, source=GROUP_TITLE
        )
