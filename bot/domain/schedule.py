"""Send-window and due-time maths: when each ask may go out, in the supporter's own time zone."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.spec import WEEKDAYS, SendWindow

Interval = tuple[datetime, datetime]
# A window opens at least once a week; look a little further to be safe around DST changes.
_LOOKAHEAD = timedelta(days=9)
# A spread longer than this is a typo, not a plan; it also bounds the work per zone.
MAX_SPREAD = timedelta(days=366)


def _local_moment(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Turn a local day and minutes after midnight (1440 = next midnight) into UTC."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def open_intervals(
    window: SendWindow, zone: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """List the UTC stretches of [start, end) in which the window is open in `zone`."""
    if end <= start:
        return []
    opens, closes = window.minutes
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found: list[Interval] = []
    while day <= last:
        if WEEKDAYS[day.weekday()] in window.days:
            low = max(_local_moment(day, opens, zone), start)
            high = min(_local_moment(day, closes, zone), end)
            if low < high:
                found.append((low, high))
        day += timedelta(days=1)
    return found


def is_open(window: SendWindow, zone: ZoneInfo, at: datetime) -> bool:
    """Tell whether `at` falls inside the window in `zone`."""
    return bool(open_intervals(window, zone, at, at + timedelta(microseconds=1)))


def next_open(window: SendWindow, zone: ZoneInfo, at: datetime) -> datetime:
    """Give the first moment at or after `at` inside the window in `zone`."""
    intervals = open_intervals(window, zone, at, at + _LOOKAHEAD)
    if not intervals:
        raise ValueError("the send window never opens")  # unreachable: a window has a day
    return intervals[0][0]


def first_window(window: SendWindow, zone: ZoneInfo, at: datetime) -> Interval:
    """Give the first open stretch at or after `at`: the rest of today's window or the next."""
    intervals = open_intervals(window, zone, at, at + _LOOKAHEAD)
    if not intervals:
        raise ValueError("the send window never opens")
    return intervals[0]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SpreadPlan:
    """The open time asks are laid over, so position i of n lands at i/n of the open time.

    Unpaced (no spread), every ask is due at the first open moment instead: the send rate
    alone paces them.
    Kept in whole microseconds, so due times are exact and cheap: a launch asks for one per
    supporter, a million times.
    """

    __slots__ = ("_ends", "_offsets", "_starts", "_total", "intervals", "paced")

    def __init__(self, intervals: list[Interval], *, paced: bool = True) -> None:
        self.intervals = tuple(intervals)
        self.paced = paced
        self._starts = [_micros(start) for start, _ in intervals]
        self._ends = [_micros(end) for _, end in intervals]
        self._offsets = []
        total = 0
        for start, end in zip(self._starts, self._ends, strict=True):
            self._offsets.append(total)
            total += end - start
        self._total = total

    @property
    def total_seconds(self) -> float:
        """Give the open time in the plan, in seconds."""
        return self._total / 1_000_000

    def _moment(self, wanted: int) -> datetime:
        if not self.intervals:
            raise ValueError("an empty plan has no moments")
        index = bisect.bisect_right(self._offsets, wanted) - 1
        if index < 0:
            index = 0
        micros = self._starts[index] + wanted - self._offsets[index]
        end = self._ends[index]
        if micros >= end:
            # The very end of the plan is the moment the window shuts; stay just inside it.
            micros = end - 1
        return _EPOCH + timedelta(microseconds=micros)

    def due_at(self, position: int, size: int) -> datetime:
        """Give the due time of the ask at `position` (0-based) of `size`.

        Paced: evenly spaced over the open time. Unpaced: the first open moment, for all.
        """
        if not self.paced:
            return self._moment(0)
        return self._moment(self._total * position // size if size > 0 else 0)


def plan_spread(
    window: SendWindow, zone: ZoneInfo, start: datetime, spread: timedelta | None
) -> SpreadPlan:
    """Plan when asks are due: spread over the window's open parts of [start, start+spread).

    Without a spread the asks are due at once: at `start` when the window is open then, else
    at its next opening; the send rate paces them. A spread that holds no open time at all
    (a weekend, a night) spreads them over the first open stretch at or after `start`.
    """
    if spread is None:
        return SpreadPlan([first_window(window, zone, start)], paced=False)
    intervals = open_intervals(window, zone, start, start + min(spread, MAX_SPREAD))
    if intervals:
        return SpreadPlan(intervals)
    return SpreadPlan([first_window(window, zone, start)])


def open_time_after(
    window: SendWindow, zone: ZoneInfo, start: datetime, open_time: timedelta
) -> datetime | None:
    """Give the moment `open_time` of open window (in `zone`) has passed since `start`.

    None when that is further away than MAX_SPREAD: too far to be worth a date.
    """
    left = open_time
    low = start
    while low < start + MAX_SPREAD:
        high = low + _LOOKAHEAD
        for opens, closes in open_intervals(window, zone, low, high):
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
        low = high
    return None


def launch_start(now: datetime, campaign_start: datetime | None) -> datetime:
    """Give when a launch starts sending: the campaign's start, or now if that has passed."""
    if campaign_start is None or campaign_start < now:
        return now
    return campaign_start.astimezone(UTC)


class SpreadPlans:
    """Spread plans per time zone for one launch, built once per zone that occurs."""

    def __init__(
        self,
        window: SendWindow,
        start: datetime,
        spread: timedelta | None,
        default_zone: ZoneInfo,
    ) -> None:
        self.window = window
        self.start = start
        self.spread = spread
        self.default_zone = default_zone
        self._plans: dict[str, SpreadPlan] = {}

    def zone_for(self, name: str | None) -> ZoneInfo:
        """Give a supporter's zone when it is a known IANA name, else the default zone."""
        if not name:
            return self.default_zone
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            return self.default_zone

    def plan(self, zone_name: str | None) -> SpreadPlan:
        """Give the plan for supporters in `zone_name` (None: the default zone)."""
        key = zone_name or ""
        found = self._plans.get(key)
        if found is None:
            found = plan_spread(self.window, self.zone_for(zone_name), self.start, self.spread)
            self._plans[key] = found
        return found

    def due_at(self, zone_name: str | None, position: int, size: int) -> datetime:
        """Give the due time of the ask at `position` of `size` for a supporter's zone."""
        return self.plan(zone_name).due_at(position, size)


@dataclass(frozen=True)
class SendOutlook:
    """When a launch's asks go out (in one zone): from when, for how long, done about when."""

    asks: int
    rate: float
    starts: datetime
    """The first ask's due time: the start, or the window's next opening."""
    waits: bool
    """The window is closed at the start, so sending waits for it to open."""
    sending: timedelta
    """How long sending every ask takes at `rate`, counted in open window time."""
    spread: timedelta | None
    ends: datetime | None
    """About when the last ask goes out; None when that is beyond MAX_SPREAD."""


def send_outlook(
    window: SendWindow,
    zone: ZoneInfo,
    start: datetime,
    spread: timedelta | None,
    *,
    asks: int,
    rate: float,
) -> SendOutlook:
    """Foresee how `asks` asks launched at `start` go out at `rate` a second in `zone`.

    The rate is the limit: without a spread that is the whole story; with one, the asks
    are due over the spread and go out as they fall due, unless the rate is slower still.
    """
    plan = plan_spread(window, zone, start, spread)
    first = plan.due_at(0, max(asks, 1))
    sending = timedelta(seconds=asks / rate) if rate > 0 else timedelta(0)
    ends = open_time_after(window, zone, first, sending)
    if spread is not None and asks > 0 and ends is not None:
        ends = max(ends, plan.due_at(asks - 1, asks))
    return SendOutlook(
        asks=asks,
        rate=rate,
        starts=first,
        waits=first > start,
        sending=sending,
        spread=spread,
        ends=ends,
    )
