"""The report's data: funnel per arm and post, segments, comparisons, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain import stats
from bot.domain.cuped import CupedComparison
from bot.domain.response_times import ResponseTimes
from bot.domain.sequential import SequentialEstimate
from bot.storage.report_rows import GiftPoint

# 2: `significant` and `verdict` rest on the always-valid confidence sequence (`always_valid`);
# the fixed-horizon figures stay, with their own `fixed_horizon_significant`.
SCHEMA_VERSION = 2
ALPHA = 0.05
# Fewer recipients than this in an arm and no difference is called significant (see verdict).
MIN_PER_ARM = 30
RANDOMISED = "randomised"
OBSERVATIONAL = "observational"
HOLDOUT_KIND = "holdout"
METRIC_LABELS = {
    "donation": "donation conversion",
    "click": "click rate",
    "reply": "reply rate",
    "gave_in_period": "gave anything in the campaign period",
}


@dataclass(frozen=True)
class Rate:
    """A share count / base with its 95% Wilson interval; value is None when base is 0."""

    count: int
    base: int
    value: float | None
    low: float
    high: float

    @classmethod
    def of(cls, count: int, base: int) -> Rate:
        """Measure count out of base."""
        interval = stats.wilson_interval(count, base)
        return cls(count, base, stats.rate(count, base), interval.low, interval.high)


@dataclass(frozen=True)
class ArmReport:
    """The funnel of one experiment arm, counted per supporter (not per message)."""

    name: str
    kind: str  # specific | broadcast | holdout | unknown (in the database, not in the spec)
    weight: float | None  # intended share of supporters, from the spec
    assigned: int
    states: dict[str, int]  # first asks by state
    sent: int
    failed: int
    failed_by_reason: dict[str, int]
    unknown: int
    waiting: int  # pending or being sent
    follow_ups_sent: int
    recipients: int  # the base of the rates: sent, or assigned for a holdout
    replied: int
    positive_replies: int
    clicked: int
    clicks: int
    donors: int
    gifts: int
    amounts: dict[str, int]
    average_gift_minor: dict[str, float]
    revenue_per_recipient_minor: dict[str, float]
    opted_out: int
    median_seconds_to_first_gift: float | None
    donors_in_period: int
    donation_rate: Rate
    click_rate: Rate | None  # None for a holdout: it had nothing to click or answer
    reply_rate: Rate | None
    period_rate: Rate  # gave anything in the campaign period, among everyone assigned
    via: str = "private"  # private | group_reply (a public reply in the community chat)

    @property
    def is_holdout(self) -> bool:
        """Tell whether this arm was assigned but never sent anything."""
        return self.kind == HOLDOUT_KIND


@dataclass(frozen=True)
class PostReport:
    """A broadcast post: observational, since its audience chose to follow the channel."""

    id: int
    chat: str
    state: str
    sent_at: datetime | None
    reach: int | None
    clicks: int
    donors: int
    gifts: int
    amounts: dict[str, int]
    conversion: Rate | None  # donors / reach, when the reach is known
    design: str = OBSERVATIONAL


@dataclass(frozen=True)
class SegmentReport:
    """Counts and conversion of one arm within one segment (audience rule, language, source)."""

    dimension: str
    value: str | None
    arm: str
    assigned: int
    recipients: int
    donors: int
    conversion: Rate


@dataclass(frozen=True)
class AlwaysValid:
    """A difference's confidence sequence at this look, with its Holm-adjusted p-value."""

    estimate: SequentialEstimate
    p_adjusted: float


@dataclass(frozen=True)
class Comparison:
    """One metric compared between two randomised arms, with its Holm-adjusted p-value."""

    metric: str
    label: str
    arm_a: str
    arm_b: str
    design: str
    a: Rate
    b: Rate
    difference: stats.Estimate | None
    lift: stats.Estimate | None
    test: str
    p_value: float
    p_adjusted: float
    chance_a_beats_b: float
    significant: bool  # by the always-valid sequence: holds however often the report is read
    verdict: str
    always_valid: AlwaysValid | None = None
    fixed_horizon_significant: bool = False  # what one planned look would say


@dataclass(frozen=True)
class RevenueReport:
    """Revenue per recipient (minor units of one currency) compared between two arms."""

    arm_a: str
    arm_b: str
    currency: str
    recipients_a: int
    recipients_b: int
    per_recipient_a: float | None
    per_recipient_b: float | None
    difference: float | None
    interval: stats.Interval | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool  # by the always-valid sequence
    design: str = RANDOMISED
    always_valid: AlwaysValid | None = None  # on the CUPED-adjusted difference
    fixed_horizon_significant: bool = False
    # Plain and adjusted for each recipient's giving in the year before launch.
    cuped: CupedComparison | None = None


@dataclass(frozen=True)
class SrmReport:
    """Whether the arms' sizes match the weights they were meant to have."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class ArmResponse:
    """How fast staff answered the messages of one arm's supporters."""

    arm: str
    times: ResponseTimes


@dataclass(frozen=True)
class ReferralReport:
    """One referrer's peer-to-peer credit: people brought in, and what those people gave."""

    referrer_id: int
    name: str
    starts: int  # new supporters who came through their link
    re_engaged: int  # supporters the bot already knew
    donors: int  # referred supporters who gave after they came in
    amounts: dict[str, int]  # those gifts, per currency (never the referrer's own giving)


@dataclass(frozen=True)
class Report:
    """Everything known about one campaign's results at one moment."""

    name: str
    title: str
    state: str
    launched: bool
    generated_at: datetime
    launched_at: datetime | None = None
    ended_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    main_currency: str | None = None
    arms: tuple[ArmReport, ...] = ()
    posts: tuple[PostReport, ...] = ()
    segments: tuple[SegmentReport, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    revenue: tuple[RevenueReport, ...] = ()
    srm: SrmReport | None = None
    notes: tuple[str, ...] = ()
    response_times: tuple[ArmResponse, ...] = ()
    # The donation rate the always-valid sequences were tuned for, and where it came from.
    baseline_rate: float | None = None
    baseline_source: str | None = None
    referrals: tuple[ReferralReport, ...] = ()
    # Gifts in the main currency per arm name or "post:<id>", oldest first (the chart's input).
    timeline: tuple[GiftPoint, ...] = field(default=(), repr=False)
