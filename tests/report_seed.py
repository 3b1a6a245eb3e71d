"""A small launched campaign with asks in every state, replies, clicks, gifts and a post.

Shared by the report, report format and weekly summary tests. The expected figures below are
worked out by hand from the rows; the tests also check them against independent SQL. What the
bot derives (link tokens, clicks, the opt-out) is stored through the bot's own functions; gifts
carry their credit as given, so the report is tested apart from the attribution rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.spec import Campaign
from bot.services.conversation import opt_out
from bot.storage.models import Ask, BroadcastPost, Supporter
from tests.factories import (
    add_ask,
    add_campaign_row,
    add_click,
    add_donation,
    add_post,
    add_reply,
    add_supporter,
    make_campaign,
)

LAUNCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = LAUNCH + timedelta(days=10)
TITLE = 'Spring <appeal> & "friends"'
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_FOUND = "Bad Request: <b>chat</b> not found"
CHAT = "@harbour<museum>"


def spring_spec(**overrides: Any) -> Campaign:
    """The spec: specific and broadcast-style arms of 45% each and a 10% holdout."""
    arms = {
        "specific": {"kind": "specific", "weight": 0.45, "message": "personal"},
        "broadcast": {"kind": "broadcast", "weight": 0.45, "message": "generic"},
        "holdout": {"kind": "holdout", "weight": 0.10},
    }
    values: dict[str, Any] = {"name": "spring-appeal", "title": TITLE, "arms": arms}
    values.update(overrides)
    return make_campaign(**values)


@dataclass
class Seeded:
    """What the seed stored, for tests that need ids."""

    campaign_id: int
    asks: dict[str, Ask] = field(default_factory=dict)
    post: BroadcastPost | None = None


def _at(hours: float) -> datetime:
    return LAUNCH + timedelta(hours=hours)


async def seed_spring(sessions: async_sessionmaker[AsyncSession]) -> Seeded:
    """Store the campaign. Per arm, counted by hand:

    specific: 12 assigned; sent s1 s2 s3 s4 s5 s12; failed s6 (blocked) s7 (not found);
      unknown s8; pending s9; skipped s10; cancelled s11. Replied s1 (positive, twice) s2 s4;
      clicked s1 (twice) s2 (on its follow-up) s8 (whose ask's outcome is unknown: a member
      who clicked, not one counted as reached). Credited donors s1 (EUR 2500, 1 h after
      its ask), s2 (EUR 300 at +2 d and 200 half an hour later,
      USD 1000 at +3 d on the follow-up; ask sent at +1 h),
      s5 (EUR 1000 at +4 d credited by supporter; ask sent at +2 h). s12 gave EUR 700 to
      another campaign in the period. s4 opted out after its ask.
    broadcast: 6 assigned; sent b1 b2 b3 b4 b6; failed b5 (blocked). Replied b1 (b6 only
      got a staff message). Clicked b1. Donor b2 (EUR 1000). b3 gave USD 300 through the post.
    holdout: 3 assigned; h1 gave EUR 2000 in the period, h2 EUR 900 before the launch.
    post @harbour<museum>: reach 500, 3 clicks, donors b3 and one anonymous (EUR 1500).
    """
    async with sessions() as session, session.begin():
        row = await add_campaign_row(session, "spring-appeal", now=LAUNCH - timedelta(days=1))
        row.title = TITLE
        row.launched_at = LAUNCH
        other = await add_campaign_row(session, "other-appeal", now=LAUNCH - timedelta(days=9))
        other.launched_at = LAUNCH - timedelta(days=8)
        await session.flush()
        assert row.id is not None
        seeded = Seeded(campaign_id=row.id)
        asks = seeded.asks

        async def member(
            key: str,
            arm: str,
            state: str,
            *,
            sent: float | None = None,
            rule: str = "visited",
            language: str = "en",
            source: str | None = "qr",
            reason: str | None = None,
        ) -> Ask:
            supporter = await add_supporter(
                session, first_name=key, language=language, source=source
            )
            ask = await add_ask(
                session,
                row,
                supporter,
                state=state,
                arm=arm,
                due_at=LAUNCH,
                sent_at=None if sent is None else _at(sent),
                rule=rule,
                language=language,
                source=source,
                failure_reason=reason,
            )
            asks[key] = ask
            return ask

        await member("s1", "specific", "sent", sent=0)
        await member("s2", "specific", "sent", sent=1)
        await member(
            "s3", "specific", "sent", sent=1, rule="commented", language="nl", source="import"
        )
        await member("s4", "specific", "sent", sent=1)
        await member("s5", "specific", "sent", sent=2)
        await member("s6", "specific", "failed", reason=BLOCKED)
        await member("s7", "specific", "failed", reason=NOT_FOUND)
        await member("s8", "specific", "unknown", reason="interrupted while sending")
        await member("s9", "specific", "pending")
        await member("s10", "specific", "skipped", reason="opted out")
        await member("s11", "specific", "cancelled")
        await member("s12", "specific", "sent", sent=2)
        for key, sent in (("b1", 0.0), ("b2", 0.5), ("b3", 0.5), ("b4", 1.0), ("b6", 1.0)):
            language, source = ("nl", "qr") if key == "b4" else ("en", None)
            await member(
                key,
                "broadcast",
                "sent",
                sent=sent,
                rule="commented",
                language=language,
                source=source,
            )
        await member("b5", "broadcast", "failed", rule="commented", source=None, reason=BLOCKED)
        for key in ("h1", "h2", "h3"):
            await member(key, "holdout", "holdout", source=None)

        s2 = asks["s2"]
        reminder = await add_ask(
            session,
            row,
            await session.get_one(Supporter, s2.supporter_id),
            state="sent",
            arm="specific",
            step="reminder",
            due_at=_at(72),
            sent_at=_at(72),
            rule="visited",
            source="qr",
        )
        asks["s2-reminder"] = reminder

        await add_reply(session, asks["s1"], _at(2), classification="positive")
        await add_reply(session, asks["s1"], _at(3), classification="other")
        await add_reply(session, asks["s2"], _at(4), classification="question", answered_at=_at(5))
        await add_reply(session, asks["s4"], _at(30), classification="opt_out")
        await add_reply(session, asks["b1"], _at(6), classification="negative")
        await add_reply(session, asks["b6"], _at(7), direction="out", text="staff note")

        await add_click(session, asks["s1"], _at(0.5))
        await add_click(session, asks["s1"], _at(0.9))
        await add_click(session, reminder, _at(73))
        await add_click(session, asks["s8"], _at(1.5))
        await add_click(session, asks["b1"], _at(1))

        s4 = await session.get_one(Supporter, asks["s4"].supporter_id)
        s4.telegram_user_id = 4004

        def sid(key: str) -> int:
            value = asks[key].supporter_id
            assert value is not None
            return value

        await add_donation(
            session,
            sid("s1"),
            2500,
            _at(1),
            ask_id=asks["s1"].id,
            campaign_id=row.id,
            attribution="token",
        )
        # Two gifts in one hour: reports must count s2 once, and the first one's delay.
        for amount, hours in ((300, 49), (200, 49.5)):
            await add_donation(
                session,
                sid("s2"),
                amount,
                _at(hours),
                ask_id=asks["s2"].id,
                campaign_id=row.id,
                attribution="token",
            )
        await add_donation(
            session,
            sid("s2"),
            1000,
            _at(73),
            currency="USD",
            ask_id=reminder.id,
            campaign_id=row.id,
            attribution="token",
        )
        await add_donation(
            session, sid("s5"), 1000, _at(98), campaign_id=row.id, attribution="window"
        )
        await add_donation(
            session, sid("s12"), 700, _at(24), campaign_id=other.id, attribution="window"
        )
        await add_donation(
            session,
            sid("b2"),
            1000,
            _at(120),
            ask_id=asks["b2"].id,
            campaign_id=row.id,
            attribution="token",
        )

        post = await add_post(
            session, row, chat=CHAT, state="sent", due_at=LAUNCH, sent_at=LAUNCH, reach=500
        )
        seeded.post = post
        for minutes in (10, 20, 30):
            await add_click(session, post, _at(minutes / 60))
        await add_donation(
            session,
            sid("b3"),
            300,
            _at(24),
            currency="USD",
            post_id=post.id,
            campaign_id=row.id,
            attribution="token",
        )
        await add_donation(
            session, None, 1500, _at(6), post_id=post.id, campaign_id=row.id, attribution="token"
        )

        await add_donation(session, sid("h1"), 2000, _at(72), attribution="unattributed")
        await add_donation(
            session, sid("h2"), 900, LAUNCH - timedelta(days=2), attribution="unattributed"
        )
        outsider = await add_supporter(session, first_name="outsider")
        await add_donation(session, outsider, 5000, _at(10), attribution="unattributed")
    # s4's reply said stop: opt them out the way the bot does.
    assert await opt_out(sessions, telegram_user_id=4004, now=_at(30), via="word")
    return seeded
