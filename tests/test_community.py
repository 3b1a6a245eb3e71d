"""Community facts below the bot: settings, meanings, and batches written once, both databases."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SettingsError, load_settings
from bot.domain.classify import (
    NEGATIVE,
    OTHER,
    POSITIVE,
    QUESTION,
    THRESHOLD,
    polarity,
    read_reply,
)
from bot.domain.community import (
    NEGATIVE_SENTIMENT,
    NEUTRAL_SENTIMENT,
    POSITIVE_SENTIMENT,
    PollError,
    parse_poll,
    reaction_sentiment,
    read_message,
)
from bot.services.community import (
    Answered,
    CommunityRecorder,
    Fact,
    Member,
    MembershipChanged,
    Reacted,
    Spoke,
    ThreadStarted,
    Voted,
    record_facts,
    record_poll,
)
from bot.services.reading import MessageReader
from bot.services.supporters import export_supporter, forget_supporter
from bot.storage.models import CommunityMessage, Interaction, Supporter
from tests.factories import add_supporter

CHAT, SOURCE = -100123, "Harbour Museum chat"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ANN = Member(11, "Ann", "Archer", "ann", "nl")
BEN = Member(12, "Ben")


def test_community_chats_are_parsed_and_the_staff_chat_is_refused() -> None:
    settings = load_settings({"community_chat_ids": "-1001, -1002"}, env_file=None)
    assert settings.community_chat_ids == frozenset({-1001, -1002})
    with pytest.raises(SettingsError) as info:
        load_settings({"community_chat_ids": "-1001,-7", "staff_chat_id": -7}, env_file=None)
    assert info.value.lines[0].startswith("COMMUNITY_CHAT_IDS: must not include the staff chat")
    with pytest.raises(SettingsError):
        load_settings({"community_chat_ids": "-1001,museum"}, env_file=None)


@pytest.mark.parametrize(
    ("emoji", "sentiment"),
    [
        ("❤", "positive"),
        ("❤️", "positive"),
        ("👍", "positive"),
        ("🙏", "positive"),
        ("👎", "negative"),
        ("💩", "negative"),
        ("😡", "negative"),
        ("🤔", "neutral"),
        ("❤\u200d🔥", "neutral"),
        # Outside the table, neutral as documented, though a message's emoji may read them.
        ("💯", "neutral"),
        ("😢", "neutral"),
        ("💔", "neutral"),
    ],
)
def test_a_reactions_sentiment_comes_from_the_table(emoji: str, sentiment: str) -> None:
    assert reaction_sentiment(emoji) == sentiment


@pytest.mark.parametrize(
    ("said", "language", "expected"),
    [
        ("Prachtig, wat mooi!", "nl", ("positive", False)),
        ("Wonderful! When does it open?", "en", ("positive", True)),
        ("When does it open?", "en", ("neutral", True)),
        ("We came by last Sunday", "en", ("neutral", False)),
        ("Stop", "en", ("negative", False)),  # in a group, a word, not an opt-out
        ("Sorry, deze keer niet", "nl", ("negative", False)),
        ("👎", None, ("negative", False)),
    ],
)
def test_a_members_message_gets_a_sentiment_and_maybe_a_question(
    said: str, language: str | None, expected: tuple[str, bool]
) -> None:
    assert read_message(said, language) == expected


def test_a_poll_command_is_split_into_question_and_options() -> None:
    assert parse_poll(" Which next? | Ships |Maps | ") == ("Which next?", ["Ships", "Maps"])
    for bad in ("Which next?", "| a | b", "Q | only one", "Q | " + " | ".join("x" * 13)):
        with pytest.raises(PollError):
            parse_poll(bad)
    with pytest.raises(PollError, match="100"):
        parse_poll("Q | " + "a" * 101 + " | b")


def spoke(member: Member, message_id: int, **fields: object) -> Spoke:
    values: dict[str, object] = {"sentiment": "positive", "question": False} | fields
    return Spoke(CHAT, SOURCE, message_id, member, AT, **values)  # type: ignore[arg-type]


async def record(sessions: async_sessionmaker[AsyncSession], facts: list[Fact]) -> int:
    async with sessions() as session, session.begin():
        return await record_facts(session, facts, main_currency="EUR")


async def history(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                Supporter.telegram_user_id,
                Interaction.kind,
                Interaction.detail,
                Interaction.sentiment,
            )
            .join(Supporter, Supporter.id == Interaction.supporter_id)  # type: ignore[arg-type]
            .order_by(Interaction.id)  # type: ignore[arg-type]
        )
        return [tuple(row) for row in rows]


THREAD = [
    ThreadStarted(CHAT, 100, "ShipsInBottles"),
    spoke(ANN, 101, thread_id=100),
    spoke(BEN, 102, thread_id=100, sentiment="neutral", question=True),
    Answered(CHAT, SOURCE, 102, AT + timedelta(minutes=5)),
    Reacted(CHAT, SOURCE, 101, BEN, "👍", "positive", AT),
    MembershipChanged(CHAT, SOURCE, Member(13, "Dora"), True, AT, link_name="expo-ships"),
]


async def test_a_batch_delivered_twice_is_recorded_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await record(sessions, THREAD) == 6
    assert await record(sessions, THREAD) == 0
    # Split differently the second time: the keys, not the batches, make it once.
    assert await record(sessions, THREAD[3:]) + await record(sessions, THREAD[:3]) == 0
    assert await history(sessions) == [
        (11, "comment", "ShipsInBottles", "positive"),
        (12, "comment", "ShipsInBottles", "neutral"),
        (12, "question", "ShipsInBottles", "neutral"),
        (12, "question_answered", "ShipsInBottles", None),
        (12, "reaction", "ShipsInBottles", "positive"),
        (13, "joined", "expo-ships", None),
    ]
    async with sessions() as session:
        ben = await session.execute(select(Supporter).where(Supporter.telegram_user_id == 12))
        supporter = ben.scalar_one()
    assert supporter.interaction_count == 4 and supporter.last_interaction_at is not None
    assert supporter.consented_at is None and supporter.chat_id is None
    assert supporter.source == SOURCE


async def test_the_thread_topic_outlives_its_batch_and_falls_back_to_the_message(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(sessions, [ThreadStarted(CHAT, 200, "Maps")])
    await record(
        sessions,
        [
            spoke(ANN, 201, thread_id=200, own_topic="Other"),  # the thread's topic wins
            spoke(ANN, 202, own_topic="Clocks"),  # no thread: its own
            spoke(BEN, 204, thread_id=203, quoted_root_topic="Boats"),  # root quoted
            spoke(BEN, 205, thread_id=203),  # root learnt from the reply before
            spoke(BEN, 206, thread_id=999),  # root unknown, no hashtag: empty
        ],
    )
    assert [detail for _, _, detail, _ in await history(sessions)] == [
        "Maps",
        "Clocks",
        "Boats",
        "Boats",
        None,
    ]


async def test_a_question_is_answered_once_and_only_if_one_was_asked(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(sessions, [spoke(BEN, 300, question=True), spoke(ANN, 301)])
    later = AT + timedelta(hours=1)
    await record(
        sessions, [Answered(CHAT, SOURCE, 300, later), Answered(CHAT, SOURCE, 301, later)]
    )
    await record(sessions, [Answered(CHAT, SOURCE, 300, later + timedelta(hours=1))])
    kinds = [(user, kind) for user, kind, _, _ in await history(sessions)]
    assert kinds.count((12, "question_answered")) == 1 and (11, "question_answered") not in kinds
    async with sessions() as session:
        asked = await session.get(CommunityMessage, (CHAT, 300))
    assert asked is not None and asked.answered_at == later


async def test_poll_answers_name_the_option_and_other_polls_are_ignored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record_poll(
        sessions,
        poll_id="p1",
        chat_id=CHAT,
        message_id=400,
        source=SOURCE,
        question="Which next?",
        options=["Ships", "Maps"],
        now=AT,
    )
    votes: list[Fact] = [Voted("p1", ANN, (1,), AT), Voted("elsewhere", BEN, (0,), AT)]
    assert await record(sessions, votes) == 1
    assert await history(sessions) == [(11, "poll_answer", "Maps", None)]


async def test_a_member_with_an_imported_username_is_that_supporter(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        imported = await add_supporter(session, username="Ann", reachable=False)
    await record(sessions, [spoke(ANN, 500)])
    async with sessions() as session:
        people = list((await session.execute(select(Supporter))).scalars())
    assert [(p.id, p.telegram_user_id) for p in people] == [(imported.id, ANN.user_id)]


async def test_forget_erases_community_facts_and_export_shows_them_without_text(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(sessions, THREAD)
    async with sessions() as session:
        ben_id = (
            await session.execute(select(Supporter.id).where(Supporter.telegram_user_id == 12))
        ).scalar_one()
    exported = await export_supporter(sessions, ben_id)
    assert [q["message_id"] for q in exported["community_questions"]] == [102]
    assert {i["event"] for i in exported["interactions"]} >= {f"q:{CHAT}:102"}
    await forget_supporter(sessions, ben_id, now=AT)
    after = await export_supporter(sessions, ben_id)
    assert after["interactions"] == [] and after["community_questions"] == []
    async with sessions() as session:
        question = await session.get(CommunityMessage, (CHAT, 102))
    assert question is not None and question.asker_id is None


async def test_the_recorder_writes_what_it_is_given_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    recorder = CommunityRecorder(sessions, main_currency="EUR", batch=2, flush_seconds=0.01)
    async with recorder.running():
        for fact in THREAD:
            recorder.add(fact)
        await recorder.idle()
        assert recorder.recorded == 6
        recorder.add(spoke(ANN, 600))
    # Leaving the block writes what is still queued.
    assert recorder.recorded == 7
    assert len(await history(sessions)) == 7


def test_a_members_message_reads_as_the_classifier_says_on_the_whole_corpus() -> None:
    # read_message() leaves the opt-out check for last and skips it where it cannot change
    # the reading; on every labelled message it must read as read_reply() does.
    corpus = Path(__file__).parent / "data" / "replies.tsv"
    with corpus.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    by_class = {
        POSITIVE: POSITIVE_SENTIMENT,
        NEGATIVE: NEGATIVE_SENTIMENT,
        OTHER: NEUTRAL_SENTIMENT,
    }
    for row in rows:
        for language in (row["language"], "de"):
            text = row["text"]
            found = read_reply(text, language).handled_as
            if found in by_class:
                expected = (by_class[found], False)
            else:
                score = polarity(text, language)
                sign = (
                    POSITIVE_SENTIMENT
                    if score >= THRESHOLD
                    else NEGATIVE_SENTIMENT
                    if score <= -THRESHOLD
                    else NEUTRAL_SENTIMENT
                )
                expected = (sign, found == QUESTION)
            assert read_message(text, language) == expected, text


UNREAD = [
    ThreadStarted(CHAT, 200, "Maps"),
    spoke(ANN, 201, thread_id=200, unread="Wat een prachtige kaarten!", language="nl"),
    spoke(BEN, 202, thread_id=200, unread="When does the map room open", language="en-GB"),
    Answered(CHAT, SOURCE, 202, AT + timedelta(minutes=5)),
    spoke(ANN, 203, thread_id=200, unread="Stop", language=None, reply_to_id=202),
    Reacted(CHAT, SOURCE, 201, BEN, "❤", "positive", AT),
]


@pytest.mark.parametrize("processes", [0, 1])
async def test_members_messages_are_read_in_the_recorders_batches_and_written_in_order(
    sessions: async_sessionmaker[AsyncSession], processes: int
) -> None:
    # Batches of two: each batch's messages are read (in a worker process, or here) while
    # the batch before is written, and the answer and the reaction find what they refer to.
    recorder = CommunityRecorder(
        sessions,
        main_currency="EUR",
        batch=2,
        flush_seconds=0.01,
        reader=MessageReader(processes),
    )
    async with recorder.running():
        for fact in UNREAD:
            recorder.add(fact)
        await recorder.idle()
    ann, ben, stop = (
        read_message(fact.unread or "", fact.language)
        for fact in UNREAD
        if isinstance(fact, Spoke)
    )
    assert ben[1] and not ann[1] and not stop[1]  # only Ben asks
    assert await history(sessions) == [
        (11, "comment", "Maps", ann[0]),
        (12, "comment", "Maps", ben[0]),
        (12, "question", "Maps", ben[0]),
        (12, "question_answered", "Maps", None),
        (11, "comment", "Maps", stop[0]),
        (12, "reaction", "Maps", "positive"),
    ]
