"""Tests for the campaign report: counts checked by independent SQL, and honest statistics."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Table, bindparam, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from bot.domain.campaign import dump_campaign
from bot.domain.power import DEFAULT_BASELINE_RATE
from bot.domain.spec import Campaign
from bot.domain.stats import holm
from bot.services.baseline import DEFAULT, PAST_CAMPAIGNS, SETTING, Baseline, planned_baseline
from bot.services.report_format import format_text
from bot.services.report_model import Report
from bot.services.reporting import build_report, report_by_name
from bot.storage.reports import find_campaign
from tests.factories import add_campaign_row, add_donation
from tests.report_seed import BLOCKED, LAUNCH, NOT_FOUND, NOW, seed_spring, spring_spec

UTC_TYPE = SQLModel.metadata.tables["donation"].c.donated_at.type


async def _report(sessions: async_sessionmaker[AsyncSession]) -> tuple[Report, int]:
    seeded = await seed_spring(sessions)
    return await build_report(sessions, spring_spec(), now=NOW), seeded.campaign_id


async def _rows(
    sessions: async_sessionmaker[AsyncSession], sql: str, **params: Any
) -> dict[Any, Any]:
    """Run independent SQL; map the first column(s) to the last."""
    statement = text(sql)
    for name in ("start", "end"):
        if name in params:
            statement = statement.bindparams(bindparam(name, type_=UTC_TYPE))
    async with sessions() as session:
        rows = (await session.execute(statement, params)).all()
    return {tuple(r[:-1]) if len(r) > 2 else r[0]: r[-1] for r in rows}


async def test_funnel_matches_independent_queries(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report, cid = await _report(sessions)
    arms = {arm.name: arm for arm in report.arms}
    assert list(arms) == ["specific", "broadcast", "holdout"]

    states = await _rows(
        sessions,
        "SELECT arm, state, COUNT(*) FROM ask WHERE campaign_id = :c AND step = 'ask' "
        "GROUP BY arm, state",
        c=cid,
    )
    for (arm, state), count in states.items():
        assert arms[arm].states[state] == count
    assert {a: arms[a].assigned for a in arms} == {"specific": 12, "broadcast": 6, "holdout": 3}
    assert {a: arms[a].sent for a in arms} == {"specific": 6, "broadcast": 5, "holdout": 0}
    assert arms["specific"].failed_by_reason == {BLOCKED: 1, NOT_FOUND: 1}
    assert arms["broadcast"].failed_by_reason == {BLOCKED: 1}
    assert (arms["specific"].unknown, arms["specific"].waiting) == (1, 1)
    assert arms["specific"].follow_ups_sent == 1

    # Members (not messages) who replied, written as EXISTS per first ask.
    replied = await _rows(
        sessions,
        "SELECT a.arm, COUNT(*) FROM ask a WHERE a.campaign_id = :c AND a.step = 'ask' "
        "AND EXISTS (SELECT 1 FROM reply r JOIN ask x ON x.id = r.ask_id "
        "  WHERE x.supporter_id = a.supporter_id AND x.campaign_id = :c "
        "  AND r.direction = 'in') GROUP BY a.arm",
        c=cid,
    )
    assert {a: arms[a].replied for a in replied} == replied == {"specific": 3, "broadcast": 1}
    assert arms["specific"].positive_replies == 1
    # Members who clicked, and of them those whose first ask is known to have reached them:
    # only those count in the click rate.
    clicked = await _rows(
        sessions,
        "SELECT a.arm, COUNT(*), SUM(CASE WHEN a.state = 'sent' THEN 1 ELSE 0 END) FROM ask a "
        "WHERE a.campaign_id = :c AND a.step = 'ask' "
        "AND EXISTS (SELECT 1 FROM click k JOIN ask x ON x.id = k.ask_id "
        "  WHERE x.supporter_id = a.supporter_id AND x.campaign_id = :c) GROUP BY a.arm",
        c=cid,
    )
    assert clicked == {("specific", 3): 2, ("broadcast", 1): 1}
    for (arm, members), reached in clicked.items():
        rate = arms[arm].click_rate
        assert arms[arm].clicked == members
        assert rate is not None and (rate.count, rate.base) == (reached, arms[arm].sent)
    assert arms["specific"].clicks == 4

    # Donors credited to the campaign, among members whose first ask was sent.
    donors = await _rows(
        sessions,
        "SELECT a.arm, COUNT(*) FROM ask a WHERE a.campaign_id = :c AND a.step = 'ask' "
        "AND a.state = 'sent' AND EXISTS (SELECT 1 FROM donation d WHERE d.post_id IS NULL "
        "  AND d.campaign_id = :c AND (d.ask_id IN (SELECT id FROM ask x "
        "    WHERE x.campaign_id = :c AND x.supporter_id = a.supporter_id) "
        "  OR (d.ask_id IS NULL AND d.supporter_id = a.supporter_id))) GROUP BY a.arm",
        c=cid,
    )
    assert donors == {"specific": 3, "broadcast": 1}
    for arm in ("specific", "broadcast"):
        assert arms[arm].donors == arms[arm].donation_rate.count == donors[arm]
        assert arms[arm].donation_rate.base == arms[arm].sent
    amounts = await _rows(
        sessions,
        "SELECT a.arm, d.currency, SUM(d.amount_minor) FROM donation d "
        "JOIN ask a ON a.campaign_id = :c AND a.step = 'ask' AND a.supporter_id = d.supporter_id "
        "WHERE d.campaign_id = :c AND d.post_id IS NULL GROUP BY a.arm, d.currency",
        c=cid,
    )
    for (arm, currency), total in amounts.items():
        assert arms[arm].amounts[currency] == total
    assert arms["specific"].amounts == {"EUR": 4000, "USD": 1000}
    assert arms["specific"].gifts == 5
    # EUR 2500 + 300 + 200 + 1000 in four gifts.
    assert arms["specific"].average_gift_minor["EUR"] == pytest.approx(4000 / 4)
    assert arms["specific"].revenue_per_recipient_minor == {
        "EUR": pytest.approx(4000 / 6),
        "USD": pytest.approx(1000 / 6),
    }
    assert arms["specific"].opted_out == 1
    # s1 gave 1 h after its ask, s2 48 h after, s5 96 h after.
    assert arms["specific"].median_seconds_to_first_gift == 48 * 3600


@pytest.mark.parametrize(
    "stale",
    [
        # Rows written before replies and clicks carried copies of their ask's columns.
        "arm = NULL, reached = NULL",
        # Recorded while every ask was still `sending`: the asks have been sent since.
        "reached = FALSE",
    ],
)
async def test_event_counts_check_unsettled_copies_against_the_ask(
    sessions: async_sessionmaker[AsyncSession], stale: str
) -> None:
    report, _ = await _report(sessions)
    async with sessions() as session, session.begin():
        for table in ("reply", "click"):
            changed = await session.execute(text(f"UPDATE {table} SET {stale}"))
            assert changed.rowcount > 0  # type: ignore[attr-defined]
    again = await build_report(sessions, spring_spec(), now=NOW)

    def engagement(r: Report) -> list[tuple[Any, ...]]:
        return [
            (
                a.name,
                a.replied,
                a.positive_replies,
                a.reply_rate,
                a.clicked,
                a.clicks,
                a.click_rate,
            )
            for a in r.arms
        ]

    assert engagement(again) == engagement(report)
    assert [a.replied for a in again.arms] == [3, 1, 0]


async def test_holdout_is_measured_by_gifts_in_the_campaign_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report, cid = await _report(sessions)
    arms = {arm.name: arm for arm in report.arms}
    gave = await _rows(
        sessions,
        "SELECT a.arm, COUNT(*) FROM ask a WHERE a.campaign_id = :c AND a.step = 'ask' "
        "AND EXISTS (SELECT 1 FROM donation d WHERE d.supporter_id = a.supporter_id "
        "  AND d.donated_at >= :start AND d.donated_at <= :end) GROUP BY a.arm",
        c=cid,
        start=LAUNCH,
        end=NOW,
    )
    assert gave == {"specific": 4, "broadcast": 2, "holdout": 1}
    assert {a: arms[a].donors_in_period for a in arms} == gave
    holdout = arms["holdout"]
    assert (holdout.recipients, holdout.donors, holdout.amounts) == (3, 1, {"EUR": 2000})
    assert holdout.donation_rate.count == 1 and holdout.donation_rate.base == 3
    assert holdout.click_rate is None and holdout.reply_rate is None
    assert holdout.median_seconds_to_first_gift is None
    assert report.period_start == LAUNCH and report.period_end == NOW
    assert any("holdout" in note and "gave anything" in note for note in report.notes)
    holdout_comparisons = {
        (c.arm_a, c.arm_b): (c.a.count, c.a.base, c.b.count, c.b.base)
        for c in report.comparisons
        if c.metric == "gave_in_period"
    }
    assert holdout_comparisons == {
        ("specific", "holdout"): (4, 12, 1, 3),
        ("broadcast", "holdout"): (2, 6, 1, 3),
    }


async def test_the_period_includes_both_its_ends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_spring(sessions)
    h3 = seeded.asks["h3"].supporter_id
    async with sessions() as session, session.begin():
        for amount, moment in ((100, LAUNCH), (40, NOW), (7, NOW + timedelta(microseconds=1))):
            await add_donation(session, h3, amount, moment)
    report = await build_report(sessions, spring_spec(), now=NOW)
    holdout = next(arm for arm in report.arms if arm.name == "holdout")
    # h1's EUR 2000 and h3's two gifts on the edges; not the one a microsecond too late.
    assert (holdout.donors, holdout.gifts, holdout.amounts) == (2, 3, {"EUR": 2140})


async def test_post_is_reported_as_observational(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report, cid = await _report(sessions)
    (post,) = report.posts
    counts = await _rows(
        sessions,
        "SELECT p.reach, (SELECT COUNT(*) FROM click k WHERE k.post_id = p.id) "
        "FROM broadcast_post p WHERE p.campaign_id = :c",
        c=cid,
    )
    assert counts == {post.reach: post.clicks} == {500: 3}
    assert (post.donors, post.gifts, post.amounts) == (2, 2, {"EUR": 1500, "USD": 300})
    assert post.design == "observational"
    assert post.conversion is not None and (post.conversion.count, post.conversion.base) == (
        2,
        500,
    )
    # The post's gifts never leak into an arm's credited gifts.
    assert {a.name: a.amounts for a in report.arms}["broadcast"] == {"EUR": 1000}
    assert all(c.design == "randomised" for c in report.comparisons)


async def test_segments_match_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    report, cid = await _report(sessions)
    segments = {(s.dimension, s.value, s.arm): s for s in report.segments}
    for column in ("rule", "language", "source"):
        assigned = await _rows(
            sessions,
            f"SELECT {column}, arm, COUNT(*) FROM ask WHERE campaign_id = :c AND step = 'ask' "
            f"GROUP BY {column}, arm",
            c=cid,
        )
        assert {(v, arm): segments[(column, v, arm)].assigned for v, arm in assigned} == assigned
    rule_visited = segments[("rule", "visited", "specific")]
    assert (rule_visited.assigned, rule_visited.recipients, rule_visited.donors) == (11, 5, 3)
    assert segments[("language", "nl", "specific")].conversion.count == 0
    assert segments[("source", None, "holdout")].donors == 1
    assert segments[("source", "qr", "broadcast")].recipients == 1


async def test_statistics_are_adjusted_and_never_overclaimed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report, _ = await _report(sessions)
    assert [c.metric for c in report.comparisons] == [
        "donation",
        "click",
        "reply",
        "gave_in_period",
        "gave_in_period",
    ]
    raw = [c.p_value for c in report.comparisons] + [
        r.p_value for r in report.revenue if r.p_value is not None
    ]
    adjusted = [c.p_adjusted for c in report.comparisons] + [
        r.p_adjusted for r in report.revenue if r.p_adjusted is not None
    ]
    assert adjusted == pytest.approx(holm(raw))
    # The always-valid p-values are a Holm family of their own.
    sequences = [c.always_valid for c in report.comparisons] + [
        r.always_valid for r in report.revenue if r.always_valid is not None
    ]
    assert all(av is not None for av in sequences)
    assert [av.p_adjusted for av in sequences if av is not None] == pytest.approx(
        holm([av.estimate.p_value for av in sequences if av is not None])
    )
    # A handful of recipients: nothing can be significant, and the verdict says what is missing.
    assert not any(c.significant or c.fixed_horizon_significant for c in report.comparisons)
    donation = report.comparisons[0]
    assert donation.test == "fisher-exact"
    assert "more recipients per arm" in donation.verdict
    assert "did better" not in donation.verdict and "always-valid" in donation.verdict
    (revenue,) = report.revenue
    assert (revenue.currency, revenue.recipients_a, revenue.recipients_b) == ("EUR", 6, 5)
    assert revenue.per_recipient_a == pytest.approx(4000 / 6)
    assert report.srm is not None and not report.srm.flagged
    assert report.srm.observed == {"specific": 12, "broadcast": 6, "holdout": 3}


async def _bulk_campaign(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    per_arm: dict[str, tuple[int, int]],
) -> None:
    """Store a launched campaign: per arm (sent asks, of whom donors) with a EUR 10 gift each."""
    tables: dict[str, Table] = SQLModel.metadata.tables
    async with sessions() as session, session.begin():
        row = await add_campaign_row(session, name, now=LAUNCH)
        row.launched_at = LAUNCH
        await session.flush()
        next_id = 1 + int(
            (
                await session.execute(text("SELECT COALESCE(MAX(id), 0) FROM supporter"))
            ).scalar_one()
        )
        supporters, asks, gifts = [], [], []
        for arm, (sent, donors) in per_arm.items():
            for i in range(sent):
                sid = next_id
                next_id += 1
                supporters.append({"id": sid, "created_at": LAUNCH, "first_name": f"p{sid}"})
                asks.append(
                    {
                        "id": sid,
                        "campaign_id": row.id,
                        "supporter_id": sid,
                        "arm": arm,
                        "step": "ask",
                        "token": secrets.token_hex(8),
                        "state": "sent",
                        "due_at": LAUNCH,
                        "sent_at": LAUNCH,
                    }
                )
                if i < donors:
                    gifts.append(
                        {
                            "provider": "test",
                            "provider_event_id": f"{name}-{sid}",
                            "supporter_id": sid,
                            "amount_minor": 1000,
                            "currency": "EUR",
                            "donated_at": LAUNCH + timedelta(hours=1),
                            "recorded_at": LAUNCH,
                            "ask_id": sid,
                            "campaign_id": row.id,
                            "attribution": "token",
                        }
                    )
        await session.execute(insert(tables["supporter"]), supporters)
        await session.execute(insert(tables["ask"]), asks)
        if gifts:
            await session.execute(insert(tables["donation"]), gifts)


def _even_arms(name: str) -> Campaign:
    """The spring campaign under another name, with a specific and a broadcast arm, 1:1."""
    return spring_spec(
        name=name,
        arms={
            "specific": {"kind": "specific", "weight": 1, "message": "personal"},
            "broadcast": {"kind": "broadcast", "weight": 1, "message": "generic"},
        },
    )


async def test_a_clear_difference_is_called_significant(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _bulk_campaign(sqlite_sessions, "clear", {"specific": (400, 60), "broadcast": (400, 12)})
    spec = _even_arms("clear")
    report = await build_report(sqlite_sessions, spec, now=NOW)
    donation = next(c for c in report.comparisons if c.metric == "donation")
    assert donation.test == "z-test"
    assert donation.p_adjusted < 0.05 and donation.significant
    assert donation.fixed_horizon_significant
    assert (
        "significant even allowing for repeated looks" in donation.verdict
        and "specific did better" in donation.verdict
    )
    assert donation.lift is not None and donation.lift.interval.low > 0
    assert donation.chance_a_beats_b > 0.999
    (revenue,) = report.revenue
    assert revenue.significant and revenue.p_adjusted is not None and revenue.p_adjusted < 0.05
    # Nobody clicked or replied: those rates are equal and not significant.
    assert not any(c.significant for c in report.comparisons if c.metric != "donation")


async def test_sample_ratio_mismatch_is_flagged(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _bulk_campaign(
        sqlite_sessions, "lopsided", {"specific": (300, 3), "broadcast": (100, 1)}
    )
    spec = _even_arms("lopsided")
    report = await build_report(sqlite_sessions, spec, now=NOW)
    assert report.srm is not None and report.srm.flagged
    assert report.srm.expected == {"specific": 200.0, "broadcast": 200.0}


async def test_an_arm_the_spec_no_longer_names_is_still_reported(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _bulk_campaign(sqlite_sessions, "renamed", {"specific": (50, 5), "old-arm": (50, 2)})
    spec = _even_arms("renamed")
    report = await build_report(sqlite_sessions, spec, now=NOW)
    arms = {arm.name: arm for arm in report.arms}
    assert arms["old-arm"].kind == "unknown" and arms["old-arm"].donors == 2
    assert arms["broadcast"].assigned == 0
    # Supporters in an arm with no weight: the assignment no longer matches the spec.
    assert report.srm is not None and report.srm.flagged
    assert not [c for c in report.comparisons if c.metric == "donation"]


async def test_a_campaign_not_launched_says_so(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    spec = spring_spec()
    missing = await build_report(sessions, spec, now=NOW)
    assert not missing.launched and missing.arms == ()
    assert "not been launched" in missing.notes[0]
    async with sessions() as session, session.begin():
        await add_campaign_row(session, "spring-appeal", state="draft", now=LAUNCH)
    draft = await build_report(sessions, spec, now=NOW)
    assert (draft.launched, draft.state) == (False, "draft")


async def test_report_by_name_uses_the_spec_frozen_at_launch(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_spring(sqlite_sessions)
    launched = spring_spec()
    async with sqlite_sessions() as session, session.begin():
        await session.execute(
            text("UPDATE campaign SET spec_yaml = :y WHERE name = 'spring-appeal'"),
            {"y": dump_campaign(launched)},
        )
    # The file has since changed its weights; the report keeps the ones used at launch.
    edited = spring_spec(
        arms={
            "specific": {"kind": "specific", "weight": 0.8, "message": "personal"},
            "broadcast": {"kind": "broadcast", "weight": 0.1, "message": "generic"},
            "holdout": {"kind": "holdout", "weight": 0.1},
        }
    )
    report = await report_by_name(
        sqlite_sessions, "spring-appeal", now=NOW, specs={"spring-appeal": edited}
    )
    assert report is not None
    assert {arm.name: arm.weight for arm in report.arms} == pytest.approx(
        {"specific": 0.45, "broadcast": 0.45, "holdout": 0.10}
    )
    unknown = await report_by_name(sqlite_sessions, "nope", now=NOW, specs={})
    assert unknown is None
    # A frozen copy that no longer reads falls back to the file rather than failing.
    async with sqlite_sessions() as session, session.begin():
        await session.execute(text("UPDATE campaign SET spec_yaml = 'arms: [oops'"))
    fallback = await report_by_name(
        sqlite_sessions, "spring-appeal", now=NOW, specs={"spring-appeal": edited}
    )
    assert fallback is not None
    assert {arm.name: arm.weight for arm in fallback.arms}["specific"] == pytest.approx(0.8)


async def test_a_fixed_horizon_winner_is_not_yet_called_under_repeated_looks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # 8.0% against 5.0% of 1,000 each: z = 2.7, so one planned look (even after Holm across
    # the report's five tests) would call it; the always-valid sequence needs about 3.04.
    await _bulk_campaign(sessions, "peeked", {"specific": (1000, 80), "broadcast": (1000, 50)})
    report = await build_report(sessions, _even_arms("peeked"), now=NOW)
    donation = next(c for c in report.comparisons if c.metric == "donation")
    assert donation.fixed_horizon_significant and donation.p_adjusted < 0.05
    assert not donation.significant
    assert donation.always_valid is not None and not donation.always_valid.estimate.significant
    assert "not significant yet under repeated looks" in donation.verdict
    assert "A single fixed-horizon test would call it" in donation.verdict
    assert "keep the campaign running" in donation.verdict
    assert "did better" not in donation.verdict
    assert report.baseline_rate == 0.05 and report.baseline_source == "default"
    # With a clearer difference the sequence calls it too.
    await _bulk_campaign(sessions, "clearer", {"specific": (1000, 95), "broadcast": (1000, 50)})
    clearer = await build_report(sessions, _even_arms("clearer"), now=NOW)
    donation = next(c for c in clearer.comparisons if c.metric == "donation")
    assert donation.significant and "significant even allowing for repeated looks" in (
        donation.verdict
    )


async def test_the_baseline_comes_from_the_setting_past_campaigns_or_the_default(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _bulk_campaign(sessions, "past", {"specific": (150, 12), "broadcast": (50, 4)})
    after = LAUNCH + timedelta(days=1)
    past = await planned_baseline(sessions, configured=None, before=after)
    assert past == Baseline(16 / 200, PAST_CAMPAIGNS)
    # Only campaigns launched before the moment count, and never the campaign itself.
    assert (await planned_baseline(sessions, configured=None, before=LAUNCH)).source == DEFAULT
    async with sessions() as session:
        row = await find_campaign(session=session, name="past")
    assert row is not None
    alone = await planned_baseline(
        sessions, configured=None, before=after, exclude_campaign_id=row.id
    )
    assert alone == Baseline(DEFAULT_BASELINE_RATE, DEFAULT)
    setting = await planned_baseline(sessions, configured=0.03, before=after)
    assert setting == Baseline(0.03, SETTING)


async def test_revenue_is_also_adjusted_for_last_years_giving(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _bulk_campaign(sessions, "cuped", {"specific": (200, 30), "broadcast": (200, 20)})
    async with sessions() as session:
        members = (
            await session.execute(
                text(
                    "SELECT a.supporter_id, a.arm FROM ask a JOIN campaign c "
                    "ON c.id = a.campaign_id WHERE c.name = 'cuped' ORDER BY a.supporter_id"
                )
            )
        ).all()
    arms: dict[str, list[int]] = {"specific": [], "broadcast": []}
    for sid, arm in members:
        arms[arm].append(sid)
    # The first donors of each arm gave this year (EUR 10, see _bulk_campaign); most of them and
    # some others gave last year too, with amounts that vary by supporter.
    before: dict[int, int] = {}
    async with sessions() as session, session.begin():
        for ids, this_year in ((arms["specific"], 30), (arms["broadcast"], 20)):
            for rank, sid in enumerate(ids[:40]):
                amount = 500 + 37 * rank if rank < this_year else 200 + 11 * rank
                await add_donation(session, sid, amount, LAUNCH - timedelta(days=100 + rank))
                before[sid] = amount
            # Not counted: older than a year, another currency, after the launch.
            await add_donation(session, ids[50], 9999, LAUNCH - timedelta(days=400))
            await add_donation(session, ids[51], 9999, LAUNCH - timedelta(days=5), currency="USD")
    report = await build_report(sessions, _even_arms("cuped"), now=NOW)
    (revenue,) = report.revenue
    cuped = revenue.cuped
    assert cuped is not None
    # Reference by numpy from every recipient's (this year, last year) pair.
    y = {name: np.array([1000.0 if i < d else 0.0 for i in range(200)]) for name, d in
         (("specific", 30), ("broadcast", 20))}  # fmt: skip
    x = {name: np.array([float(before.get(sid, 0)) for sid in arms[name]]) for name in arms}
    all_y = np.concatenate([y["specific"], y["broadcast"]])
    all_x = np.concatenate([x["specific"], x["broadcast"]])
    theta = np.cov(all_y, all_x)[0, 1] / np.var(all_x, ddof=1)
    assert cuped.theta == pytest.approx(theta, rel=1e-9)
    expected = (y["specific"].mean() - y["broadcast"].mean()) - theta * (
        x["specific"].mean() - x["broadcast"].mean()
    )
    assert cuped.adjusted_difference == pytest.approx(expected, rel=1e-9)
    assert cuped.plain_difference == pytest.approx(revenue.difference)
    assert cuped.variance_reduction > 0.3
    # The always-valid sequence is taken on the adjusted difference.
    assert revenue.always_valid is not None
    assert revenue.always_valid.estimate.value == pytest.approx(expected, rel=1e-9)
    assert "adjusted for giving in the year before launch (CUPED)" in format_text(report)
