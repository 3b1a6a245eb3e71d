"""The community roll-ups, kept by the recording path, against counts over the raw history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.concentration import gini, top_shares
from bot.domain.flags import CAS_BANNED
from bot.services.community import (
    Fact,
    Flagged,
    Member,
    MembershipChanged,
    Reacted,
    Spoke,
    record_facts,
)
from bot.services.community_report import build_community_report
from bot.services.conversation import opt_in, opt_out, set_blocked
from bot.services.flags import trust
from bot.services.supporters import forget_supporter, upsert_started_supporter
from bot.storage.community_rollup import (
    ROLLUP_TABLES,
    chat_member_statements,
    rebuild,
    rebuild_statements,
)
from bot.storage.tables import COMMUNITY_CHAT_MEMBER, WAY_IN
from tests.factories import add_donation, add_interaction

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHAT, SOURCE = -100_1, "Harbour chat"
COMMUNITY = ("comment", "question", "question_answered", "reaction", "joined", "left")
ENGAGED = ("comment", "question", "question_answered", "reaction", "poll_answer")


@dataclass(frozen=True)
class User:
    """A Telegram user as /start sees them."""

    id: int
    username: str | None
    first_name: str
    last_name: str | None = None
    language_code: str | None = None


def day(n: int) -> datetime:
    return NOW - timedelta(days=100 - n)


def member(n: int) -> Member:
    return Member(user_id=n, first_name=f"M{n}", username=f"m{n}")


def joined(n: int, at: datetime, link: str | None = "poster") -> MembershipChanged:
    return MembershipChanged(CHAT, SOURCE, member(n), True, at, link_name=link)


def left(n: int, at: datetime) -> MembershipChanged:
    return MembershipChanged(CHAT, SOURCE, member(n), False, at)


def spoke(n: int, message: int, at: datetime) -> Spoke:
    return Spoke(CHAT, SOURCE, message, member(n), at, "neutral", False)


async def record(sessions: async_sessionmaker[AsyncSession], *facts: Fact) -> None:
    async with sessions() as session, session.begin():
        await record_facts(session, facts, main_currency="EUR")


async def supporter_of(sessions: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT id FROM supporter WHERE telegram_user_id = :u"), {"u": user_id}
        )
    return int(found)


async def build_history(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Seven members, each with one of the cases the roll-ups must get right."""
    await record(
        sessions,
        joined(1, day(0)),
        joined(2, day(0)),
        joined(3, day(10)),
        joined(4, day(40), link="flyer"),
        joined(5, day(0)),
        spoke(6, 60, day(80)),  # found in the chat, starts the bot later
    )
    await record(
        sessions,
        spoke(1, 1, day(29)),  # active on day 29 after joining: counted
        spoke(2, 2, day(31)),  # first active on day 31: not counted
        left(3, day(20)),
        spoke(4, 4, day(41)),
        Flagged(member(4), SOURCE, CAS_BANNED, "listed", day(41)),
        spoke(5, 5, day(1)),
        Reacted(CHAT, SOURCE, 1, member(5), "👍", "positive", day(2)),
    )
    await record(sessions, joined(3, day(30)), spoke(3, 3, day(35)))  # leave, then rejoin
    async with sessions() as session, session.begin():
        await upsert_started_supporter(
            session,
            telegram_user=User(6, "m6", "M6"),
            payload="expo-qr",
            now=day(85),
            main_currency="EUR",
        )
    await record(sessions, spoke(6, 61, day(90)), spoke(1, 7, day(95)))
    async with sessions() as session, session.begin():
        await add_donation(session, await supporter_of(sessions, 1), 2500, day(50))
        await add_donation(session, await supporter_of(sessions, 6), 700, day(91), currency="USD")
    await trust(sessions, who="4", by="staff", now=day(60))
    await forget_supporter(sessions, await supporter_of(sessions, 5), now=day(70))


async def count_from_history(session: AsyncSession, currency: str) -> dict[str, Any]:
    """Count what the report shows from the raw interactions, member by member, in Python."""
    history = (
        await session.execute(
            text("SELECT supporter_id, kind, detail, occurred_at, source FROM interaction")
        )
    ).all()
    people = {
        int(row.id): row
        for row in await session.execute(
            text(
                "SELECT id, source, created_at, chat_id IS NOT NULL AND consented_at IS NOT NULL"
                " AND opted_out_at IS NULL AND blocked_at IS NULL AND forgotten_at IS NULL"
                " AS reachable FROM supporter"
            )
        )
    }
    gifts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sid, code, amount in await session.execute(
        text("SELECT supporter_id, currency, amount_minor FROM donation")
    ):
        gifts[int(sid)][str(code)] += int(amount)
    flagged = {
        int(sid)
        for (sid,) in await session.execute(
            text("SELECT supporter_id FROM supporter_flag WHERE cleared_at IS NULL")
        )
    }

    def at(value: Any) -> datetime:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    chats: dict[str, set[int]] = defaultdict(set)
    last_engaged: dict[tuple[str, int], datetime] = {}
    engagement: dict[int, int] = {}
    ways: dict[tuple[str, str, int], datetime] = {}
    for sid, kind, detail, when, source in history:
        if kind in (*COMMUNITY, "poll_answer"):
            engagement[sid] = engagement.get(sid, 0) + (kind in ENGAGED)
            if source is not None:
                chats[source].add(sid)
                if kind in ENGAGED:
                    key = (source, sid)
                    last_engaged[key] = max(at(when), last_engaged.get(key, at(when)))
        way = {"joined": "invite link", "start": "deep link"}.get(kind)
        if way and detail:
            key3 = (way, detail, sid)
            ways[key3] = min(at(when), ways.get(key3, at(when)))
    for sid, person in people.items():
        if person.source and person.source != "telegram":
            ways[("source", person.source, sid)] = at(person.created_at)

    def left_after(sid: int, since: datetime) -> bool:
        return any(s == sid and k == "left" and at(w) >= since for s, k, _, w, _ in history)

    def active_within(sid: int, since: datetime, days: int) -> bool:
        return any(
            s == sid
            and k not in ("joined", "left", "start")
            and not (src or "").startswith("source:")
            and since <= at(w) <= since + timedelta(days=days)
            for s, k, _, w, src in history
        )

    sources: dict[tuple[str, str], dict[str, Any]] = {}
    for (kind, name, sid), since in ways.items():
        row = sources.setdefault(
            (kind, name),
            {"kind": kind, "name": name, "joined": 0, "still_member": 0},
        )
        row["joined"] += 1
        row["still_member"] += not left_after(sid, since)
        row["active_30_days_after"] = row.get("active_30_days_after", 0) + active_within(
            sid, since, 30
        )
        row["donors"] = row.get("donors", 0) + (sid in gifts)
        row["flagged"] = row.get("flagged", 0) + (sid in flagged)
        amounts = row.setdefault("amounts", {})
        for code, total in gifts.get(sid, {}).items():
            amounts[code] = amounts.get(code, 0) + total
    ids = sorted(engagement)
    return {
        "chats": {
            chat: {
                "seen": len(sids),
                "active_30": sum(
                    last_engaged.get((chat, s), day(-999)) >= NOW - timedelta(days=30)
                    for s in sids
                ),
                "active_90": sum(
                    last_engaged.get((chat, s), day(-999)) >= NOW - timedelta(days=90)
                    for s in sids
                ),
                "reachable": sum(bool(people[s].reachable) for s in sids),
                "donors": sum(s in gifts for s in sids),
            }
            for chat, sids in chats.items()
        },
        "sources": sources,
        "members": len(ids),
        "gini": gini([engagement[s] for s in ids]),
        "shares": top_shares(
            [engagement[s] for s in ids], [gifts.get(s, {}).get(currency, 0) for s in ids]
        ),
    }


async def test_the_report_from_roll_ups_equals_counts_over_the_raw_history(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await build_history(sessions)
    report = await build_community_report(sessions, now=NOW, currency="EUR")
    async with sessions() as session:
        expected = await count_from_history(session, "EUR")
    got_chats = {
        row["chat"]: {k: row[k] for k in ("seen", "active_30", "active_90", "reachable", "donors")}
        for row in report.chats
    }
    assert got_chats == expected["chats"]
    got_sources = {
        (row["kind"], row["name"]): {k: v for k, v in row.items() if k != "amount_per_member"}
        for row in report.sources
    }
    assert got_sources == expected["sources"]
    assert report.concentration["members"] == expected["members"]
    assert report.concentration["gini_of_engagement"] == round(expected["gini"], 4)
    share_e, share_g = expected["shares"]
    assert report.concentration["top_share_of_interactions"] == round(share_e, 4)
    assert report.concentration["top_share_of_gifts"] == round(share_g, 4)
    # The cases by name: the counts above are not vacuous.
    poster = got_sources[("invite link", "poster")]
    assert poster["joined"] == 3  # members 1, 2, 3; member 5 was forgotten
    assert poster["active_30_days_after"] == 2  # day 29 (member 1) and member 3; not day 31
    assert poster["still_member"] == 2  # member 3 left after joining (and came back)
    assert got_sources[("invite link", "flyer")]["flagged"] == 0  # trusted by staff
    assert got_sources[("deep link", "expo-qr")] == {
        "kind": "deep link",
        "name": "expo-qr",
        "joined": 1,
        "still_member": 1,
        "active_30_days_after": 1,
        "donors": 1,
        "flagged": 0,
        "amounts": {"USD": 700},
    }
    assert got_chats[SOURCE]["seen"] == 5


async def test_the_kept_roll_ups_equal_a_rebuild_from_scratch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await build_history(sessions)

    async def snapshot() -> list[list[tuple[Any, ...]]]:
        async with sessions() as session:
            return [
                sorted(tuple(row) for row in await session.execute(select(table)))
                for table in ROLLUP_TABLES
            ]

    kept = await snapshot()
    async with sessions() as session, session.begin():
        for table in ROLLUP_TABLES:
            await session.execute(delete(table))
        for statement in rebuild_statements():
            await session.execute(statement)
    assert await snapshot() == kept
    assert all(kept)


async def test_reachable_follows_start_opt_out_block_and_forget(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Reachable counts the members seen less the unreachable ones, as the supporters stand."""

    async def reachable() -> int:
        report = await build_community_report(sessions, now=NOW, currency="EUR")
        (chat,) = report.chats
        assert chat["seen"] == 3
        return int(chat["reachable"])

    await record(sessions, joined(1, day(0)), joined(2, day(0)), spoke(3, 1, day(1)))
    assert await reachable() == 0  # found in the chat, none started the bot: no consent
    for n in (1, 2, 3):
        async with sessions() as session, session.begin():
            await upsert_started_supporter(
                session,
                telegram_user=User(n, f"m{n}", f"M{n}"),
                payload="",
                now=day(2),
                main_currency="EUR",
            )
    assert await reachable() == 3
    assert await opt_out(sessions, telegram_user_id=1, now=day(3), via="button")
    assert await reachable() == 2
    assert await set_blocked(sessions, telegram_user_id=2, blocked=True, now=day(4))
    assert await reachable() == 1
    assert await opt_in(sessions, supporter_id=await supporter_of(sessions, 1), now=day(5))
    assert await set_blocked(sessions, telegram_user_id=2, blocked=False, now=day(5))
    assert await reachable() == 3
    await forget_supporter(sessions, await supporter_of(sessions, 3), now=day(6))
    report = await build_community_report(sessions, now=NOW, currency="EUR")
    assert [(c["seen"], c["reachable"]) for c in report.chats] == [(2, 2)]


async def test_the_stored_way_in_tests_move_with_activity_leaves_and_rejoins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """still_member and active_30_days_after as kept, at each step, equal a fresh derivation."""

    async def poster() -> tuple[int, int, int]:
        report = await build_community_report(sessions, now=NOW, currency="EUR")
        (row,) = [r for r in report.sources if r["name"] == "poster"]
        return row["joined"], row["still_member"], row["active_30_days_after"]

    await record(sessions, joined(1, day(0)), joined(2, day(0)))
    assert await poster() == (2, 2, 0)
    await record(sessions, spoke(1, 1, day(31)))  # too late to count
    assert await poster() == (2, 2, 0)
    await record(sessions, spoke(1, 2, day(30)))  # an earlier first activity, recorded late
    assert await poster() == (2, 2, 1)
    await record(sessions, left(2, day(5)))
    assert await poster() == (2, 1, 1)
    await record(sessions, Reacted(CHAT, SOURCE, 1, member(2), "👍", "positive", day(6)))
    assert await poster() == (2, 1, 2)
    async with sessions() as session:
        kept = sorted(tuple(r) for r in await session.execute(select(WAY_IN)))
    async with sessions() as session, session.begin():
        await session.execute(delete(WAY_IN))
        for statement in rebuild_statements():
            if statement.table is WAY_IN:  # type: ignore[attr-defined]
                await session.execute(statement)
    async with sessions() as session:
        assert sorted(tuple(r) for r in await session.execute(select(WAY_IN))) == kept


async def test_one_batch_of_every_case_keeps_what_a_rebuild_derives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The recorder's roll-ups over one batch (worked out by the database from the batch's
    rows) equal a rebuild: activity before and after a later way in, a join sent again, a
    join and a comment together, a reaction."""
    await record(sessions, spoke(1, 1, day(5)), joined(2, day(10)))  # 1: found in the chat
    await record(sessions, joined(1, day(20), link="flyer"))  # 1: a second, later way in
    await record(
        sessions,
        spoke(1, 2, day(15)),  # after the chat's way in, before the flyer's
        spoke(1, 3, day(25)),  # after both: the flyer's first activity
        Reacted(CHAT, SOURCE, 2, member(1), "👍", "positive", day(26)),
        joined(2, day(10)),  # the same join again: no new interaction
        spoke(2, 4, day(12)),
        joined(3, day(30)),  # a join and a comment in one batch
        spoke(3, 5, day(31)),
    )

    async def snapshot() -> list[list[tuple[Any, ...]]]:
        async with sessions() as session:
            return [
                sorted(tuple(row) for row in await session.execute(select(table)))
                for table in ROLLUP_TABLES
            ]

    kept = await snapshot()
    async with sessions() as session:
        ways = {
            (row.kind, row.name): row.first_active_at
            for row in await session.execute(
                select(WAY_IN).where(WAY_IN.c.supporter_id == await supporter_of(sessions, 1))
            )
        }
        counts = dict(
            (
                await session.execute(
                    text("SELECT telegram_user_id, interaction_count FROM supporter")
                )
            )
            .tuples()
            .all()
        )
    assert ways[("invite link", "flyer")].replace(tzinfo=UTC) == day(25)
    assert ways[("source", SOURCE)].replace(tzinfo=UTC) == day(5)
    assert counts == {1: 5, 2: 2, 3: 2}
    async with sessions() as session, session.begin():
        for table in ROLLUP_TABLES:
            await session.execute(delete(table))
        for statement in rebuild_statements():
            await session.execute(statement)
    assert await snapshot() == kept


async def test_bulk_starts_then_one_rebuild_equal_starts_one_by_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A bulk caller (the demo's setup) skips the per-start roll-up work and rebuilds once."""

    async def start(first: int, bulk: bool) -> list[int]:
        ids = []
        async with sessions() as session, session.begin():
            for n in (first, first + 1, first + 2):
                made = await upsert_started_supporter(
                    session,
                    telegram_user=User(n, f"m{n}", f"M{n}"),
                    payload="expo-qr",
                    now=day(2),
                    main_currency="EUR",
                    bulk=bulk,
                )
                assert made.id is not None
                ids.append(made.id)
            if bulk:
                await rebuild(session=session, supporter_ids=ids)
        return ids

    async def rows(ids: list[int]) -> list[list[tuple[Any, ...]]]:
        async with sessions() as session:
            return [
                sorted(
                    tuple(v for k, v in row._mapping.items() if k != "supporter_id")
                    for row in await session.execute(
                        select(table).where(table.c.supporter_id.in_(ids))
                    )
                )
                for table in ROLLUP_TABLES
            ]

    bulk = await start(11, bulk=True)  # three new supporters through the poster's link
    plain = await start(21, bulk=False)  # three more, one by one
    assert await rows(bulk) == await rows(plain)
    assert any(await rows(bulk))


async def test_only_community_chats_make_chat_members(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A member's CRM-imported comment and their answered question in the private chat carry a
    # `source` too, but name no chat: only the group's own messages make a chat member.
    await record(sessions, spoke(1, 7, day(1)))
    sid = await supporter_of(sessions, 1)
    async with sessions() as session, session.begin():
        await add_interaction(session, sid, "comment", day(2), source="museum-crm")
        await add_interaction(session, sid, "question_answered", day(3), source="telegram")
    report = await build_community_report(sessions, now=NOW, currency="EUR")
    assert [row["chat"] for row in report.chats] == [SOURCE]
    (chat_row,) = report.chats
    assert chat_row["seen"] == 1
    async with sessions() as session:
        kept = sorted(tuple(row) for row in await session.execute(select(COMMUNITY_CHAT_MEMBER)))
    async with sessions() as session, session.begin():
        for statement in chat_member_statements():
            await session.execute(statement)
    async with sessions() as session:
        rebuilt = sorted(
            tuple(row) for row in await session.execute(select(COMMUNITY_CHAT_MEMBER))
        )
    assert rebuilt == kept and [row[0] for row in kept] == [SOURCE]
