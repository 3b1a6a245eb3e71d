"""The desk's service on both databases: claims decided in the database, settling, timings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_settings
from bot.domain.response_times import response_times
from bot.services import conversation, desk
from bot.services.report_chat import format_telegram_html
from bot.services.report_format import format_text
from bot.services.report_json import to_json
from bot.services.report_page import format_html_page
from bot.services.reporting import build_report
from bot.services.weekly import weekly_summary
from bot.storage.models import DeskClaim, Reply, Supporter
from tests.factories import add_supporter
from tests.report_seed import NOW as SEED_NOW
from tests.report_seed import seed_spring, spring_spec

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


async def _message(
    sessions: async_sessionmaker[AsyncSession], user_id: int, text: str, at: datetime
) -> int:
    async with sessions() as session, session.begin():
        await add_supporter(session, telegram_user_id=user_id, first_name=f"S{user_id}")
    recorded = await conversation.record_reply(
        sessions, telegram_user_id=user_id, chat_id=user_id, text=text, message_id=1,
        reply_to_message_id=None, now=at,
    )  # fmt: skip
    assert recorded is not None
    return recorded.reply_id


async def test_of_many_simultaneous_claims_exactly_one_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reply_id = await _message(sessions, 501, "Are you open?", NOW)
    results = await asyncio.gather(
        *(
            desk.claim(
                sessions, reply_id=reply_id, staff_user_id=staff, staff_name=f"N{staff}", now=NOW
            )
            for staff in range(1, 7)
        )
    )
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    holder = winners[0].holder
    assert holder is not None
    assert all(r.holder == holder for r in results)
    async with sessions() as session:
        claim = await session.get(DeskClaim, winners[0].item.row.supporter_id)  # type: ignore[union-attr]
    assert claim is not None and claim.staff_user_id == holder.staff_user_id


@pytest.mark.parametrize(
    ("later", "taken_over"),
    [(timedelta(minutes=14, seconds=59), False), (timedelta(minutes=15), True)],
)
async def test_a_claim_lapses_after_fifteen_minutes(
    sessions: async_sessionmaker[AsyncSession], later: timedelta, taken_over: bool
) -> None:
    reply_id = await _message(sessions, 502, "Hello?", NOW)
    first = await desk.claim(sessions, reply_id=reply_id, staff_user_id=1, staff_name="A", now=NOW)
    assert first.won
    second = await desk.claim(
        sessions, reply_id=reply_id, staff_user_id=2, staff_name="B", now=NOW + later
    )
    assert second.won is taken_over
    assert second.holder is not None
    assert second.holder.staff_name == ("B" if taken_over else "A")
    # The holder pressing again renews their own claim.
    again = await desk.claim(
        sessions, reply_id=reply_id, staff_user_id=second.holder.staff_user_id,
        staff_name=second.holder.staff_name, now=NOW + later,
    )  # fmt: skip
    assert again.won


async def test_an_answer_settles_earlier_messages_and_ends_the_claim(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await _message(sessions, 503, "Hi", NOW)
    await conversation.record_reply(
        sessions, telegram_user_id=503, chat_id=503, text="Are you there?", message_id=2,
        reply_to_message_id=None, now=NOW + timedelta(minutes=1),
    )  # fmt: skip
    inbox = await desk.inbox(sessions, now=NOW + timedelta(minutes=2))
    assert [i.row.text for i in inbox.items] == ["Hi", "Are you there?"] and inbox.total == 2
    second = inbox.items[1].reply_id
    await desk.claim(sessions, reply_id=second, staff_user_id=9, staff_name="Sam", now=NOW)
    later = NOW + timedelta(minutes=5)
    await conversation.record_staff_answer(
        sessions, reply_id=second, staff_user_id=9, text="Yes!", telegram_message_id=3, now=later
    )
    assert (await desk.inbox(sessions, now=later)).total == 0
    async with sessions() as session:
        answered = [await session.get(Reply, i) for i in (first, second)]
        assert [r.answered_at for r in answered if r] == [later, later]
        assert await session.get(DeskClaim, answered[0].supporter_id) is None  # type: ignore[union-attr]


async def test_stop_opts_out_and_closes_everything_the_supporter_wrote(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await _message(sessions, 504, "Hi", NOW)
    closed = await desk.close(sessions, reply_id=first, how=desk.STOP, staff_user_id=9, now=NOW)
    assert closed is not None and closed.opted_out_now and closed.closed == 1
    again = await desk.close(sessions, reply_id=first, how=desk.DONE, staff_user_id=9, now=NOW)
    assert again is not None and again.closed == 0
    async with sessions() as session:
        reply = await session.get(Reply, first)
        assert reply is not None and (reply.closed_as, reply.closed_by) == ("stop", 9)
        supporter = await session.get(Supporter, reply.supporter_id)
        assert supporter is not None and supporter.opted_out_at == NOW


async def test_the_report_gives_response_times_per_arm(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_spring(sessions)
    report = await build_report(sessions, spring_spec(), now=SEED_NOW)
    times = {r.arm: r.times for r in report.response_times}
    # Seeded: specific s1 wrote twice (unanswered), s2 asked and was answered an hour later;
    # broadcast b1 wrote once, unanswered; s4's opt-out needs no answer.
    specific, broadcast = times["specific"], times["broadcast"]
    assert (specific.messages, specific.answered, specific.median_seconds) == (3, 1, 3600.0)
    assert (specific.waited_over_day, specific.still_waiting) == (2, 2)
    assert (broadcast.messages, broadcast.answered, broadcast.median_seconds) == (1, 0, None)
    assert "holdout" not in times
    text = format_text(report)
    assert "RESPONSE TIMES" in text
    assert "specific: 1 of 3 messages answered, median 1h 0m, 90th percentile 1h 0m" in text
    assert "⏱ broadcast: 0 of 1 messages answered" in format_telegram_html(report)
    page = format_html_page(report, None)
    assert "<h2>Response times</h2>" in page and "1 of 3 messages answered" in page
    assert to_json(report)["response_times"][1] == {
        "arm": "broadcast", "messages": 1, "answered": 0, "median_seconds": None,
        "p90_seconds": None, "waited_over_day": 1, "still_waiting": 1,
    }  # fmt: skip


async def test_the_weekly_summary_gives_the_weeks_response_times_per_arm(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_spring(sessions)
    settings = load_settings(
        {"timezone": "Europe/Amsterdam", "weekly_summary_cron": "mon 09:00"}, env_file=None
    )
    # Monday 9 March 2026, 09:00 in Amsterdam: the week of the seeded launch.
    text = await weekly_summary(
        sessions, now=datetime(2026, 3, 9, 8, 0, tzinfo=UTC), settings=settings,
        specs={"spring-appeal": spring_spec()},
    )  # fmt: skip
    assert (
        "Answer times this week: specific median 1h 0m, 90th percentile 1h 0m, 2 of 3 waited "
        "over 24 hours; broadcast median —, 90th percentile —, 1 of 1 waited over 24 hours"
    ) in text


def test_response_times_measure_to_the_first_answer_and_count_long_waits() -> None:
    hour = timedelta(hours=1)
    messages = [
        (NOW, NOW + hour, None),  # answered in an hour
        (NOW, NOW + 2 * hour, None),
        (NOW, NOW + 30 * hour, None),  # answered late
        (NOW, None, NOW + 25 * hour),  # closed late, never answered
        (NOW, None, NOW + hour),  # closed in time
        (NOW, None, None),  # still open at now: 48 hours
    ]
    times = response_times(messages, now=NOW + 48 * hour)
    assert (times.messages, times.answered, times.still_waiting) == (6, 3, 1)
    assert times.median_seconds == 2 * 3600
    assert times.p90_seconds == pytest.approx((2 + 0.8 * 28) * 3600)
    assert times.waited_over_day == 3
    empty = response_times([], now=NOW)
    assert (empty.median_seconds, empty.p90_seconds, empty.waited_over_day) == (None, None, 0)
