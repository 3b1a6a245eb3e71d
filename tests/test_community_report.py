"""The community report's counts against independent SQL on a seeded community (both databases)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.domain.concentration import gini
from bot.services.community_report import (
    JSON_VERSION,
    build_community_report,
    community_health_line,
    report_json,
    report_lines,
)
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.flags import add_flags
from tests.factories import add_donation, add_interaction, add_supporter

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHATS = ("Harbour Museum chat", "Friends of the museum")
COMMUNITY = (
    "comment",
    "question",
    "question_answered",
    "reaction",
    "joined",
    "left",
    "poll_answer",
)


async def seed_community(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A community of 90: bought followers in a burst, exhibition visitors, quiet members."""
    pick = random.Random(14)
    # As the community recorder keys them: each interaction in a chat under its own event.
    keys = (f"seed:{n}" for n in itertools.count())
    async with sessions() as session, session.begin():
        for n in range(90):
            group = "bought" if n < 50 else "expo" if n < 62 else "plain"
            reachable = group != "bought" and pick.random() < 0.6
            person = await add_supporter(
                session,
                first_name=f"M{n}",
                reachable=reachable,
                source=CHATS[n % 2] if group != "expo" else "poster-import",
            )
            chat = CHATS[n % 2]
            joined_at = NOW - timedelta(days=pick.randint(1, 120), minutes=n)
            link = {"bought": "bought-followers", "expo": "expo-qr"}.get(group)
            await add_interaction(
                session, person, "joined", joined_at, detail=link, source=chat, event=next(keys)
            )
            if group == "bought":
                if n % 5 == 0:
                    await add_interaction(
                        session,
                        person,
                        "left",
                        joined_at + timedelta(hours=3),
                        source=chat,
                        event=next(keys),
                    )
                await add_flags(
                    session=session,
                    rows=[{"supporter_id": person.id, "reason": "burst_join", "flagged_at": NOW}],
                )
                continue
            for _ in range(pick.randint(0, 12 if group == "expo" else 3)):
                kind = pick.choice(("comment", "reaction", "question", "poll_answer"))
                at = joined_at + timedelta(days=pick.uniform(0, 60))
                if at < NOW:
                    await add_interaction(session, person, kind, at, source=chat, event=next(keys))
            if group == "expo" and pick.random() < 0.7:
                currency = pick.choice(("EUR", "EUR", "USD"))
                await add_donation(
                    session,
                    person,
                    pick.randint(5, 80) * 100,
                    NOW - timedelta(days=1),
                    currency=currency,
                )
            if group == "plain" and n % 9 == 0:
                await add_flags(
                    session=session,
                    rows=[{"supporter_id": person.id, "reason": "inactive", "flagged_at": NOW}],
                )


async def _scalar(session: AsyncSession, sql: str, **params: object) -> int:
    return int((await session.execute(text(sql), params)).scalar() or 0)


def _aware(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_the_report_counts_what_independent_sql_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_community(sessions)
    report = await build_community_report(sessions, now=NOW, currency="EUR")
    kinds = ", ".join(f"'{k}'" for k in COMMUNITY)
    members = (
        f"SELECT DISTINCT supporter_id FROM interaction WHERE kind IN ({kinds}) AND source = :chat"
    )
    async with sessions() as session:
        history = (
            await session.execute(
                text(
                    "SELECT supporter_id, kind, source, occurred_at FROM interaction "
                    f"WHERE kind IN ({kinds})"
                )
            )
        ).all()
        by_chat = {row["chat"]: row for row in report.chats}
        assert set(by_chat) == set(CHATS)
        for chat in CHATS:
            row = by_chat[chat]
            assert row["seen"] == await _scalar(
                session, f"SELECT COUNT(*) FROM ({members}) m", chat=chat
            )
            for days in (30, 90):
                active = {
                    sid
                    for sid, kind, source, at in history
                    if source == chat
                    and kind not in ("joined", "left")
                    and _aware(at) >= NOW - timedelta(days=days)
                }
                assert row[f"active_{days}"] == len(active)
            assert row["reachable"] == await _scalar(
                session,
                f"SELECT COUNT(*) FROM supporter WHERE id IN ({members}) AND chat_id IS NOT NULL "
                "AND consented_at IS NOT NULL AND opted_out_at IS NULL AND blocked_at IS NULL "
                "AND forgotten_at IS NULL",
                chat=chat,
            )
            assert row["donors"] == await _scalar(
                session,
                "SELECT COUNT(DISTINCT supporter_id) FROM donation "
                f"WHERE supporter_id IN ({members})",
                chat=chat,
            )
            amounts = await session.execute(
                text(
                    "SELECT currency, SUM(amount_minor) FROM donation "
                    f"WHERE supporter_id IN ({members}) GROUP BY currency"
                ),
                {"chat": chat},
            )
            assert row["amounts"] == {str(c): int(t) for c, t in amounts}

        ways = {(row["kind"], row["name"]): row for row in report.sources}
        for link in ("bought-followers", "expo-qr"):
            row = ways[("invite link", link)]
            joined = await _scalar(
                session,
                "SELECT COUNT(DISTINCT supporter_id) FROM interaction "
                "WHERE kind = 'joined' AND detail = :link",
                link=link,
            )
            assert row["joined"] == joined
            assert row["flagged"] == await _scalar(
                session,
                "SELECT COUNT(DISTINCT f.supporter_id) FROM supporter_flag f JOIN interaction i "
                "ON i.supporter_id = f.supporter_id AND i.kind = 'joined' AND i.detail = :link "
                "WHERE f.cleared_at IS NULL",
                link=link,
            )
            assert row["donors"] == await _scalar(
                session,
                "SELECT COUNT(DISTINCT d.supporter_id) FROM donation d WHERE d.supporter_id IN "
                "(SELECT supporter_id FROM interaction WHERE kind = 'joined' AND detail = :link)",
                link=link,
            )
            left = await _scalar(
                session,
                "SELECT COUNT(DISTINCT supporter_id) FROM interaction WHERE kind = 'left' AND "
                "supporter_id IN (SELECT supporter_id FROM interaction "
                "WHERE kind = 'joined' AND detail = :link)",
                link=link,
            )
            assert row["still_member"] == joined - left
        bought, expo = ways[("invite link", "bought-followers")], ways[("invite link", "expo-qr")]
        assert (bought["joined"], bought["flagged"], bought["donors"]) == (50, 50, 0)
        assert bought["active_30_days_after"] == 0 and bought["amount_per_member"] == {}
        assert expo["joined"] == 12 and expo["donors"] > 0 and expo["flagged"] == 0
        assert expo["active_30_days_after"] > 0

        # Concentration, counted member by member in Python from the raw rows.
        engaged: dict[int, int] = defaultdict(int)
        for sid, kind, _, _ in history:
            engaged[sid] += 0 if kind in ("joined", "left") else 1
        assert report.concentration["members"] == len(engaged)
        assert report.concentration["gini_of_engagement"] == round(gini(list(engaged.values())), 4)
        flagged = await session.execute(
            text(
                "SELECT reason, COUNT(*) FROM supporter_flag "
                "WHERE cleared_at IS NULL GROUP BY reason"
            )
        )
        assert report.flagged == {str(r): int(n) for r, n in flagged}
    document = report_json(report)
    assert document["version"] == JSON_VERSION
    json.dumps(document)
    assert any("bought-followers" in line for line in report_lines(report))


async def test_the_weekly_line_counts_new_members_by_way_in(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        week = NOW - timedelta(days=3)
        for n in range(4):
            person = await add_supporter(session, first_name=f"B{n}", source=None)
            await add_interaction(session, person, "joined", week, detail="bought", source="C")
            await add_flags(
                session=session,
                rows=[{"supporter_id": person.id, "reason": "burst_join", "flagged_at": NOW}],
            )
        fan = await add_supporter(session, first_name="Fan", source=None)
        await add_interaction(session, fan, "joined", week, detail="expo-qr", source="C")
        await add_interaction(session, fan, "comment", week + timedelta(hours=2), source="C")
        old = await add_supporter(session, first_name="Old", source=None)
        await add_interaction(
            session, old, "joined", NOW - timedelta(days=30), detail="x", source="C"
        )
    line = await community_health_line(sessions, start=NOW - timedelta(days=7), end=NOW)
    assert line == (
        "Community: 5 new members by way in (bought 4, expo-qr 1); 1 became active, 4 flagged."
    )
    assert await community_health_line(sessions, start=NOW, end=NOW + timedelta(days=7)) is None


async def _seed_file(url: str) -> None:
    engine = make_engine(url)
    try:
        await create_all(engine)
        await seed_community(session_maker(engine))
    finally:
        await engine.dispose()


def test_the_cli_writes_the_json_report_and_its_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    asyncio.run(_seed_file(url))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", url)
    out, chart = tmp_path / "community.json", tmp_path / "community.png"
    result = CliRunner().invoke(
        app,
        ["community", "report", "--format", "json", "--out", str(out), "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["version"] == JSON_VERSION
    names = {row["name"] for row in document["sources"]}
    assert {"bought-followers", "expo-qr"} <= names
    assert chart.read_bytes().startswith(b"\x89PNG")
    text_result = CliRunner().invoke(app, ["community", "report"])
    assert text_result.exit_code == 0 and "invite link bought-followers: 50" in text_result.output
