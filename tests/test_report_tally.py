"""The report's tally: rows handed in by hand, counted into the funnel without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.report_model import Rate
from bot.services.report_tally import tally_report
from bot.storage.report_rows import AskCount, Engagement, GiftPoint, MemberGifts
from tests.factories import make_campaign

CAMPAIGN = make_campaign(
    arms={
        "specific": {"kind": "specific", "weight": 2, "message": "personal"},
        "broadcast": {"kind": "broadcast", "weight": 1, "message": "generic"},
        "holdout": {"kind": "holdout", "weight": 1},
    }
)
SEGMENT = ("rule-a", "en", "web")


def _gift(
    arm: str,
    donor: int,
    state: str,
    currency: str,
    hour: str,
    credited: int,
    delay: float | None,
    period: int,
) -> MemberGifts:
    """One gift's row: credited to the campaign, and/or made in its period."""
    return MemberGifts(
        arm, donor, state, *SEGMENT, currency, hour,
        credited, int(credited > 0), delay, period, int(period > 0),
    )  # fmt: skip


def test_rows_count_into_each_arms_funnel_segments_and_timeline() -> None:
    groups = [
        AskCount("ask", "specific", "sent", *SEGMENT, None, 3),
        AskCount("ask", "specific", "failed", "rule-a", "nl", None, "blocked", 1),
        AskCount("reminder", "specific", "sent", *SEGMENT, None, 2),
        AskCount("ask", "broadcast", "sent", *SEGMENT, None, 2),
        AskCount("ask", "holdout", "holdout", *SEGMENT, None, 2),
        AskCount("ask", "retired", "sent", *SEGMENT, None, 1),
    ]
    gifts = [
        _gift("specific", 10, "sent", "EUR", "2026-12-07 10", 500, 3600.4, 500),
        _gift("specific", 10, "sent", "EUR", "2026-12-07 11", 700, 7200.0, 700),
        _gift("specific", 11, "failed", "EUR", "2026-12-07 10", 300, None, 300),
        _gift("holdout", 20, "holdout", "EUR", "2026-12-07 12", 0, None, 900),
        _gift("broadcast", 30, "sent", "USD", "2026-12-07 10", 1000, 60.0, 1000),
    ]
    funnel = tally_report(
        CAMPAIGN,
        groups=groups,
        opt_outs={"specific": 1},
        gifts=gifts,
        replies=[Engagement("specific", 2, 2, 1, 3)],
        clicks=[Engagement("broadcast", 1, 1, 0, 4)],
        posts=[],
        post_hours={},
    )
    arms = {arm.name: arm for arm in funnel.arms}
    assert list(arms) == ["specific", "broadcast", "holdout", "retired"]
    specific, broadcast, holdout, retired = arms.values()
    assert (specific.assigned, specific.sent, specific.failed, specific.recipients) == (4, 3, 1, 3)
    assert specific.failed_by_reason == {"blocked": 1}
    assert (specific.follow_ups_sent, specific.opted_out) == (2, 1)
    assert (specific.replied, specific.positive_replies, specific.clicked) == (2, 1, 0)
    # Donor 11's first ask failed: a donor, but outside the base of the donation rate.
    assert (specific.donors, specific.gifts, specific.amounts) == (2, 3, {"EUR": 1500})
    assert specific.donation_rate == Rate.of(1, 3)
    assert specific.revenue_per_recipient_minor == {"EUR": 1200 / 3}
    assert specific.median_seconds_to_first_gift == 3600.0
    assert (broadcast.clicked, broadcast.clicks, broadcast.amounts) == (1, 4, {"USD": 1000})
    # The holdout is measured by what it gave in the period, out of everyone assigned.
    assert (holdout.recipients, holdout.donors, holdout.amounts) == (2, 1, {"EUR": 900})
    assert holdout.donation_rate == Rate.of(1, 2) and holdout.click_rate is None
    assert (retired.kind, retired.sent, retired.weight) == ("unknown", 1, None)
    assert funnel.main_currency == "EUR"
    assert funnel.donor_totals == {"specific": [1200], "holdout": [900], "broadcast": []}

    def at(hour: int) -> datetime:
        return datetime(2026, 12, 7, hour, tzinfo=UTC)

    assert funnel.timeline == (
        GiftPoint("specific", at(10), 800, 2),
        GiftPoint("specific", at(11), 700, 1),
        GiftPoint("holdout", at(12), 900, 1),
    )
    rule_a = {s.arm: s for s in funnel.segments if (s.dimension, s.value) == ("rule", "rule-a")}
    assert (rule_a["specific"].assigned, rule_a["specific"].recipients) == (4, 3)
    assert rule_a["specific"].donors == 1
    assert rule_a["holdout"].conversion == Rate.of(1, 2)
