"""Community listening: turn what members do in community chats into supporters' history.

Handlers hand over facts (who did what, where, with which topic and sentiment; never the
text); a CommunityRecorder writes them in batches. Every interaction carries an event key
built from Telegram's own ids, so an update delivered twice is recorded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import flags as flag_rules
from bot.domain.community import NEUTRAL_SENTIMENT, thread_topic
from bot.domain.flags import BurstRule
from bot.domain.i18n import DEFAULT_LANGUAGE, language_tag
from bot.services.reading import MessageReader
from bot.services.referrals import VIA_JOIN, code_of_payload, credit_referral
from bot.services.sources import record_source_visit
from bot.storage import community as store
from bot.storage import flags as flag_store
from bot.storage import sources as source_store
from bot.storage.community import MessageFact, MessageKey
from bot.storage.community_rollup import rebuild
from bot.storage.supporters import refresh_supporter_scores

log = logging.getLogger(__name__)

COMMENT = "comment"
QUESTION = "question"
QUESTION_ANSWERED = "question_answered"
REACTION = "reaction"
JOINED = "joined"
LEFT = "left"
POLL_ANSWER = "poll_answer"
KINDS = (COMMENT, QUESTION, QUESTION_ANSWERED, REACTION, JOINED, LEFT, POLL_ANSWER)

# A batch is written when it has this many facts, or FLUSH_SECONDS after its first fact: a
# batch costs about fifteen statements whatever its size. In benchmarks/community.py (10,000
# updates, a busy machine) 0.2 s gave 0.60 and 0.89 of a bare bot's rate where 50 ms gave
# 0.61 and 0.49: noisy, but never worse, and facts need no haste.
BATCH = 1000
FLUSH_SECONDS = 0.2
ATTEMPTS = 3


@dataclass(frozen=True)
class Member:
    """A community member as Telegram names them."""

    user_id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class ThreadStarted:
    """A channel post arrived in the discussion group: its thread's topic."""

    chat_id: int
    message_id: int
    topic: str


@dataclass(frozen=True)
class Spoke:
    """A member wrote in a community chat (text, caption or emoji)."""

    chat_id: int
    source: str
    message_id: int
    member: Member
    occurred_at: datetime
    sentiment: str = NEUTRAL_SENTIMENT
    question: bool = False
    # The member's words and Telegram language until the recorder reads them (the sentiment
    # and the question above come from that); they are never written anywhere.
    unread: str | None = field(default=None, repr=False)
    language: str | None = None
    own_topic: str = ""
    thread_id: int | None = None
    # The topic of the thread's first message when the reply quotes it (Telegram includes it).
    quoted_root_topic: str = ""
    # It carries a link or names another chat (bot/domain/flags.py): a fact, not the text.
    points_elsewhere: bool = False
    # The message it replies to: a reply to another member's message adds to their influence.
    reply_to_id: int | None = None


@dataclass(frozen=True)
class Answered:
    """Staff or a chat administrator replied to a message, perhaps a member's question."""

    chat_id: int
    source: str
    message_id: int
    occurred_at: datetime


@dataclass(frozen=True)
class Reacted:
    """A member added a reaction to a message."""

    chat_id: int
    source: str
    message_id: int
    member: Member
    emoji: str
    sentiment: str
    occurred_at: datetime


@dataclass(frozen=True)
class MembershipChanged:
    """A member joined (perhaps through a named invite link) or left."""

    chat_id: int
    source: str
    member: Member
    joined: bool
    occurred_at: datetime
    link_name: str | None = None


@dataclass(frozen=True)
class Voted:
    """A member answered a poll (option indexes; none when they took their vote back)."""

    poll_id: str
    member: Member
    option_ids: tuple[int, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class Flagged:
    """Something outside Telegram flagged a member (the CAS list), with its detail."""

    member: Member
    source: str
    reason: str
    detail: str
    occurred_at: datetime


Fact = ThreadStarted | Spoke | Answered | Reacted | MembershipChanged | Voted | Flagged


def _member_of(fact: Fact) -> tuple[Member, str, datetime] | None:
    if isinstance(fact, Spoke | Reacted | MembershipChanged | Flagged):
        return fact.member, fact.source, fact.occurred_at
    if isinstance(fact, Voted):
        return fact.member, "", fact.occurred_at
    return None


async def _supporters(session: AsyncSession, facts: Sequence[Fact]) -> dict[int, int]:
    """Return the supporter id of every member in the facts, adding the new ones."""
    members: dict[int, tuple[Member, str, datetime]] = {}
    for fact in facts:
        found = _member_of(fact)
        if found is not None:
            members.setdefault(found[0].user_id, found)
    ids = await store.supporter_ids(session=session, user_ids=list(members))
    missing = [members[user] for user in members if user not in ids]
    if not missing:
        return ids
    # Like /start: an imported supporter with the same username is the same person.
    named = await store.unlinked_by_username(
        session=session, usernames=[m.username for m, _, _ in missing if m.username]
    )
    for member, _, _ in missing:
        supporter_id = named.pop((member.username or "").lower(), None)
        if supporter_id is not None:
            await store.link_telegram(
                session=session, supporter_id=supporter_id, user_id=member.user_id
            )
    await store.add_members(
        session=session,
        members=[
            {
                "telegram_user_id": m.user_id,
                "first_name": m.first_name[:200],
                "last_name": m.last_name[:200],
                "username": m.username,
                "language": (language_tag(m.language) or DEFAULT_LANGUAGE)[:8],
                "source": source[:120] or None,
                "created_at": at,
            }
            for m, source, at in missing
        ],
    )
    added = await store.supporter_ids(session=session, user_ids=[m.user_id for m, _, _ in missing])
    # The chat they were first seen in is their source, a way in.
    await rebuild(session=session, supporter_ids=added.values())
    ids.update(added)
    return ids


def _lookups(facts: Sequence[Fact]) -> tuple[set[MessageKey], set[str]]:
    """Return the message facts and polls that the batch needs to read."""
    keys: set[MessageKey] = set()
    poll_ids: set[str] = set()
    for fact in facts:
        if isinstance(fact, Spoke):
            if fact.thread_id is not None:
                keys.add((fact.chat_id, fact.thread_id))
            if fact.reply_to_id is not None:
                keys.add((fact.chat_id, fact.reply_to_id))
        elif isinstance(fact, Reacted | Answered):
            keys.add((fact.chat_id, fact.message_id))
        elif isinstance(fact, Voted):
            poll_ids.add(fact.poll_id)
    return keys, poll_ids


@dataclass
class _Batch:
    """What one batch writes, built fact by fact in order."""

    known: dict[MessageKey, MessageFact]
    polls: dict[str, tuple[str, str]]
    supporters: dict[int, int]
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    answered: list[tuple[MessageKey, datetime]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    # Messages that may be spam: (supporter, chat source, time, the comment's event key).
    pointing: list[tuple[int, str, datetime, str]] = field(default_factory=list)
    # Joins through named links: (chat source, link name) -> first and last join time.
    link_joins: dict[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def responded(self, event: str, key: MessageKey, by: int, kind: str, at: datetime) -> None:
        """Note a reply or reaction to a member's message by someone else (their influence)."""
        fact = self.known.get(key)
        if fact is None or fact.author_id is None or fact.author_id == by:
            return
        self.responses.append(
            {
                "event": event,
                "author_id": fact.author_id,
                "responder_id": by,
                "kind": kind,
                "at": at,
            }
        )

    def event(
        self,
        key: str,
        supporter_id: int,
        kind: str,
        at: datetime,
        *,
        source: str,
        detail: str | None = None,
        sentiment: str | None = None,
    ) -> None:
        self.events.append(
            {
                "event": key,
                "supporter_id": supporter_id,
                "kind": kind,
                "detail": (detail or None) and detail[:500],
                "sentiment": sentiment,
                "occurred_at": at,
                "source": source[:120] or None,
            }
        )

    def remember(
        self,
        key: MessageKey,
        topic: str,
        asker_id: int | None = None,
        *,
        author: tuple[int, datetime, str] | None = None,
    ) -> None:
        if key in self.known:
            return
        author_id, sent_at, sentiment = author or (None, None, None)
        self.known[key] = MessageFact(topic, asker_id, None, author_id)
        self.messages.append(
            {
                "chat_id": key[0],
                "message_id": key[1],
                "topic": topic,
                "asker_id": asker_id,
                "author_id": author_id,
                "sent_at": sent_at,
                "sentiment": sentiment,
            }
        )

    def topic_of(self, key: MessageKey) -> str:
        fact = self.known.get(key)
        return fact.topic if fact is not None else ""

    def add(self, fact: Fact) -> None:
        if isinstance(fact, ThreadStarted):
            if fact.topic:
                self.remember((fact.chat_id, fact.message_id), fact.topic)
        elif isinstance(fact, Spoke):
            self._spoke(fact)
        elif isinstance(fact, Answered):
            self._answered(fact)
        elif isinstance(fact, Reacted):
            sid = self.supporters[fact.member.user_id]
            key = f"r:{fact.chat_id}:{fact.message_id}:{fact.member.user_id}:{fact.emoji}"
            topic = self.topic_of((fact.chat_id, fact.message_id))
            self.responded(key, (fact.chat_id, fact.message_id), sid, REACTION, fact.occurred_at)
            self.event(
                key,
                sid,
                REACTION,
                fact.occurred_at,
                source=fact.source,
                detail=topic,
                sentiment=fact.sentiment,
            )
        elif isinstance(fact, MembershipChanged):
            sid = self.supporters[fact.member.user_id]
            kind = JOINED if fact.joined else LEFT
            stamp = int(fact.occurred_at.timestamp())
            key = f"{kind[0]}:{fact.chat_id}:{fact.member.user_id}:{stamp}"
            detail = fact.link_name if fact.joined else None
            self.event(key, sid, kind, fact.occurred_at, source=fact.source, detail=detail)
            if detail:
                where = (fact.source[:120], detail[:500])
                first, last = self.link_joins.get(where, (fact.occurred_at, fact.occurred_at))
                self.link_joins[where] = (
                    min(first, fact.occurred_at),
                    max(last, fact.occurred_at),
                )
        elif isinstance(fact, Flagged):
            self.flags.append(
                {
                    "supporter_id": self.supporters[fact.member.user_id],
                    "reason": fact.reason,
                    "detail": fact.detail,
                    "flagged_at": fact.occurred_at,
                }
            )
        else:
            self._voted(fact)

    def _spoke(self, fact: Spoke) -> None:
        sid = self.supporters[fact.member.user_id]
        root = ""
        if fact.thread_id is not None:
            root = self.topic_of((fact.chat_id, fact.thread_id)) or fact.quoted_root_topic
            if fact.quoted_root_topic:
                self.remember((fact.chat_id, fact.thread_id), fact.quoted_root_topic)
        topic = thread_topic(root, fact.own_topic)
        key = (fact.chat_id, fact.message_id)
        # Reactions to it, replies under it and answers to it need these facts, and a public
        # reply to its author needs its id (bot.services.group_replies).
        self.remember(
            key,
            topic,
            sid if fact.question else None,
            author=(sid, fact.occurred_at, fact.sentiment),
        )
        where = f"{fact.chat_id}:{fact.message_id}"
        if fact.reply_to_id is not None:
            replied = (fact.chat_id, fact.reply_to_id)
            self.responded(f"c:{where}", replied, sid, COMMENT, fact.occurred_at)
        common = {"source": fact.source, "detail": topic, "sentiment": fact.sentiment}
        self.event(f"c:{where}", sid, COMMENT, fact.occurred_at, **common)
        if fact.points_elsewhere:
            self.pointing.append((sid, fact.source[:120], fact.occurred_at, f"c:{where}"))
        if fact.question:
            self.event(f"q:{where}", sid, QUESTION, fact.occurred_at, **common)

    def _answered(self, fact: Answered) -> None:
        key = (fact.chat_id, fact.message_id)
        asked = self.known.get(key)
        if asked is None or asked.asker_id is None:
            return
        self.event(
            f"a:{fact.chat_id}:{fact.message_id}",
            asked.asker_id,
            QUESTION_ANSWERED,
            fact.occurred_at,
            source=fact.source,
            detail=asked.topic,
        )
        if asked.answered_at is None:
            self.answered.append((key, fact.occurred_at))
            self.known[key] = MessageFact(
                asked.topic, asked.asker_id, fact.occurred_at, asked.author_id
            )

    def _voted(self, fact: Voted) -> None:
        poll = self.polls.get(fact.poll_id)
        if poll is None:
            return  # not a poll the bot sent in a community chat
        source, options_json = poll
        options = json.loads(options_json)
        sid = self.supporters[fact.member.user_id]
        for index in fact.option_ids:
            if 0 <= index < len(options):
                key = f"p:{fact.poll_id}:{fact.member.user_id}:{index}"
                self.event(
                    key, sid, POLL_ANSWER, fact.occurred_at, source=source, detail=options[index]
                )


async def _raise_flags(session: AsyncSession, batch: _Batch, burst: BurstRule) -> None:
    """Flag bursts of joins through one link and links in a member's first message."""
    rows = list(batch.flags)
    window = timedelta(seconds=burst.seconds)
    for (source, link), (first, last) in batch.link_joins.items():
        joins = await flag_store.link_joins(
            session=session, source=source, link=link, start=first - window, end=last + window
        )
        for sid in sorted(flag_rules.burst_members(joins, burst)):
            rows.append(
                {
                    "supporter_id": sid,
                    "reason": flag_rules.BURST_JOIN,
                    "detail": f"{link} in {source}",
                    "flagged_at": last,
                }
            )
    for sid, source, at, event in batch.pointing:
        if await flag_store.first_message_soon_after_join(
            session=session, supporter_id=sid, source=source, at=at, event=event
        ):
            rows.append(
                {
                    "supporter_id": sid,
                    "reason": flag_rules.SPAM_FIRST_MESSAGE,
                    "detail": source,
                    "flagged_at": at,
                }
            )
    await flag_store.add_flags(session=session, rows=rows)


async def record_facts(
    session: AsyncSession,
    facts: Sequence[Fact],
    *,
    main_currency: str,
    burst: BurstRule | None = None,
) -> int:
    """Write a batch of facts in one transaction; return how many interactions are new.

    Scores are refreshed here only for members a named source gave a kind (joins through its
    link); the daily `scores` job refreshes everyone's, gifts counted in `main_currency`.
    """
    referred = [
        joined
        for joined in facts
        if isinstance(joined, MembershipChanged)
        and joined.joined
        and code_of_payload(joined.link_name) is not None
    ]
    known = await store.supporter_ids(
        session=session, user_ids=[f.member.user_id for f in referred]
    )
    supporters = await _supporters(session, facts)
    for joined in referred:
        await credit_referral(
            session,
            supporter_id=supporters[joined.member.user_id],
            name=joined.link_name,
            existed=joined.member.user_id in known,
            via=VIA_JOIN,
            now=joined.occurred_at,
        )
    keys, poll_ids = _lookups(facts)
    batch = _Batch(
        known=await store.message_facts(session=session, keys=keys),
        polls=await store.polls(session=session, poll_ids=poll_ids),
        supporters=supporters,
    )
    for fact in facts:
        batch.add(fact)
    await store.save_message_facts(session=session, rows=batch.messages)
    await store.mark_answered(session=session, answers=batch.answered)
    await store.save_responses(session=session, rows=batch.responses)
    added = await store.add_events(session=session, rows=batch.events)
    added += await _source_visits(session, facts, supporters, main_currency)
    await _raise_flags(session, batch, burst or BurstRule())
    return added


async def _source_visits(
    session: AsyncSession, facts: Sequence[Fact], supporters: dict[int, int], main_currency: str
) -> int:
    """Record what joins through named sources' invite links mean; return how many added.

    The batch has recorded each `joined` (detail: the link's name); a named source adds its
    kind once per supporter. Joins through named links are few, so one call each is cheap.
    """
    touched: dict[int, datetime] = {}
    added = 0
    joins = [
        fact
        for fact in facts
        if isinstance(fact, MembershipChanged) and fact.joined and fact.link_name
    ]
    # A link that names no source adds nothing: ask once a batch, not once a join.
    named = await source_store.existing_names(
        session=session, names={fact.link_name for fact in joins if fact.link_name}
    )
    for fact in joins:
        if fact.link_name not in named:
            continue
        sid = supporters[fact.member.user_id]
        kinds = await record_source_visit(
            session,
            sid,
            fact.link_name,
            fact.occurred_at,
            chat_id=fact.chat_id,
            main_currency=None,
        )
        if kinds:
            added += len(kinds)
            touched[sid] = max(fact.occurred_at, touched.get(sid, fact.occurred_at))
    if touched:
        now = max(touched.values())
        await refresh_supporter_scores(
            session=session, now=now, supporter_ids=list(touched), main_currency=main_currency
        )
    return added


async def record_poll(
    sessions: async_sessionmaker[AsyncSession],
    *,
    poll_id: str,
    chat_id: int,
    message_id: int,
    source: str,
    question: str,
    options: Sequence[str],
    now: datetime,
) -> None:
    """Remember a poll the bot sent in a community chat, so its answers are recorded."""
    async with sessions() as session, session.begin():
        await store.add_poll(
            session=session,
            poll_id=poll_id,
            chat_id=chat_id,
            message_id=message_id,
            source=source,
            question=question,
            options=json.dumps(list(options), ensure_ascii=False),
            sent_at=now,
        )


class CommunityRecorder:
    """Collect facts from the handlers and write them in batches, in order, in the background.

    A fact waits at most FLUSH_SECONDS (or until BATCH more arrive). In polling mode
    python-telegram-bot confirms updates as soon as it has fetched them, so a crash loses
    what was fetched but not handled either way; the wait adds FLUSH_SECONDS to that window.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch: int = BATCH,
        flush_seconds: float = FLUSH_SECONDS,
        on_written: Callable[[int], None] | None = None,
        main_currency: str,
        burst: BurstRule | None = None,
        reader: MessageReader | None = None,
    ) -> None:
        self.sessions = sessions
        self.reader = reader or MessageReader()
        self.main_currency = main_currency
        self.burst = burst or BurstRule()
        self.batch = batch
        self.flush_seconds = flush_seconds
        self.on_written = on_written
        self.recorded = 0  # new interactions written since start
        self._pending: list[Fact] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._hurry = False

    def add(self, fact: Fact) -> None:
        """Queue a fact for the next batch."""
        self._pending.append(fact)
        self._idle.clear()
        if len(self._pending) in (1, self.batch):
            self._wake.set()

    async def idle(self) -> None:
        """Wait until every queued fact is written (or given up on)."""
        self._hurry = True
        self._wake.set()
        await self._idle.wait()

    async def _read(self, facts: list[Fact]) -> list[Fact]:
        """Return the facts with each member's message read, and its words dropped."""
        unread = [
            i
            for i, fact in enumerate(facts)
            if isinstance(fact, Spoke) and fact.unread is not None
        ]
        if not unread:
            return facts
        said = [facts[i] for i in unread]
        readings = await self.reader.read(
            [(fact.unread or "", fact.language) for fact in said if isinstance(fact, Spoke)]
        )
        read = list(facts)
        for i, fact, (sentiment, question) in zip(unread, said, readings, strict=True):
            assert isinstance(fact, Spoke)
            read[i] = replace(fact, sentiment=sentiment, question=question, unread=None)
        return read

    async def _write_when_read(self, reading: asyncio.Future[list[Fact]]) -> None:
        try:
            facts = await reading
        except Exception:
            log.exception("community facts lost: their messages could not be read")
            return
        await self._write(facts)

    async def _write(self, facts: list[Fact]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.sessions() as session, session.begin():
                    added = await record_facts(
                        session, facts, main_currency=self.main_currency, burst=self.burst
                    )
            except Exception:
                if attempt == ATTEMPTS:
                    log.exception("%d community facts lost after %d attempts", len(facts), attempt)
                    return
                log.warning("community facts not written (attempt %d); retrying", attempt)
                await asyncio.sleep(self.flush_seconds * 2**attempt)
                continue
            self.recorded += added
            if self.on_written is not None:
                self.on_written(added)
            return

    async def _run(self) -> None:
        writing: asyncio.Task[None] | None = None  # the batch before, still being written
        while not (self._stopping and not self._pending):
            if not self._pending:
                if writing is not None:
                    await writing
                    writing = None
                    continue  # more may have come meanwhile
                self._idle.set()
                self._hurry = False
                await self._wake.wait()
            self._wake.clear()
            if len(self._pending) < self.batch and not (self._stopping or self._hurry):
                # Gather a little more: one write for many facts costs about what one does.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
                self._wake.clear()
            facts, self._pending = self._pending[: self.batch], self._pending[self.batch :]
            if facts:
                # A batch's messages are read while the batch before is written; the writes
                # keep their order.
                reading = asyncio.ensure_future(self._read(facts))
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self._write_when_read(reading))
        if writing is not None:
            await writing
        self._idle.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CommunityRecorder]:
        """Write facts in the background while the block runs; write the rest on exit."""
        self._stopping = False
        self.reader.start()
        task = asyncio.create_task(self._run(), name="community-recorder")
        try:
            yield self
        finally:
            self._stopping = True
            self._wake.set()
            try:
                await task
            finally:
                await asyncio.to_thread(self.reader.close)
