"""Send windows and due times: days, hours, time zones, spread, daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.schedule import (
    SpreadPlans,
    first_window,
    is_open,
    launch_start,
    next_open,
    open_intervals,
    plan_spread,
)
from bot.domain.spec import SendWindow

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
WEEKDAYS_10_18 = SendWindow(days=["mon", "tue", "wed", "thu", "fri"], hours="10:00-18:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_saturday_start_waits_for_monday_morning_in_amsterdam() -> None:
    saturday = utc(2026, 1, 10, 12)
    # 10:00 in Amsterdam in winter (UTC+1) is 09:00 UTC.
    assert next_open(WEEKDAYS_10_18, AMS, saturday) == utc(2026, 1, 12, 9)
    assert not is_open(WEEKDAYS_10_18, AMS, saturday)
    assert is_open(WEEKDAYS_10_18, AMS, utc(2026, 1, 12, 9))
    assert not is_open(WEEKDAYS_10_18, AMS, utc(2026, 1, 12, 17))  # 18:00 local: closed


def test_the_same_window_opens_later_in_new_york() -> None:
    monday_morning = utc(2026, 1, 12, 6)
    assert next_open(WEEKDAYS_10_18, AMS, monday_morning) == utc(2026, 1, 12, 9)
    # 10:00 in New York in winter (UTC-5) is 15:00 UTC.
    assert next_open(WEEKDAYS_10_18, NYC, monday_morning) == utc(2026, 1, 12, 15)


def test_open_intervals_clip_to_the_asked_span() -> None:
    spans = open_intervals(WEEKDAYS_10_18, AMS, utc(2026, 1, 12, 12), utc(2026, 1, 13, 10))
    assert spans == [
        (utc(2026, 1, 12, 12), utc(2026, 1, 12, 17)),
        (utc(2026, 1, 13, 9), utc(2026, 1, 13, 10)),
    ]


def test_daylight_saving_moves_the_window_in_utc() -> None:
    # Amsterdam switches to summer time on Sunday 29 March 2026: 10:00 becomes 08:00 UTC.
    friday = first_window(WEEKDAYS_10_18, AMS, utc(2026, 3, 27, 0))
    monday = first_window(WEEKDAYS_10_18, AMS, utc(2026, 3, 28, 0))
    assert friday == (utc(2026, 3, 27, 9), utc(2026, 3, 27, 17))
    assert monday == (utc(2026, 3, 30, 8), utc(2026, 3, 30, 16))


def test_a_window_may_run_to_midnight() -> None:
    late = SendWindow(hours="20:00-24:00")
    assert open_intervals(late, AMS, utc(2026, 1, 12, 0), utc(2026, 1, 13, 0)) == [
        (utc(2026, 1, 12, 19), utc(2026, 1, 12, 23))
    ]


def test_asks_are_spread_evenly_over_the_open_time_only() -> None:
    monday = utc(2026, 1, 12, 9)  # 10:00 Amsterdam
    plan = plan_spread(WEEKDAYS_10_18, AMS, monday, timedelta(days=2))
    assert plan.total_seconds == 16 * 3600  # two 8-hour days, nights left out
    due = [plan.due_at(i, 4) for i in range(4)]
    assert due == [
        utc(2026, 1, 12, 9),
        utc(2026, 1, 12, 13),
        utc(2026, 1, 13, 9),
        utc(2026, 1, 13, 13),
    ]


def test_without_a_spread_asks_fill_the_rest_of_todays_window() -> None:
    plan = plan_spread(WEEKDAYS_10_18, AMS, utc(2026, 1, 12, 15), None)
    assert plan.intervals == ((utc(2026, 1, 12, 15), utc(2026, 1, 12, 17)),)
    assert plan.due_at(1, 2) == utc(2026, 1, 12, 16)


def test_a_spread_with_no_open_time_waits_for_the_next_window() -> None:
    saturday = utc(2026, 1, 10, 8)
    plan = plan_spread(WEEKDAYS_10_18, AMS, saturday, timedelta(hours=12))
    assert plan.intervals == ((utc(2026, 1, 12, 9), utc(2026, 1, 12, 17)),)


def test_each_supporter_gets_the_window_of_their_own_zone() -> None:
    plans = SpreadPlans(WEEKDAYS_10_18, utc(2026, 1, 12, 6), None, AMS)
    assert plans.due_at(None, 0, 10) == utc(2026, 1, 12, 9)
    assert plans.due_at("America/New_York", 0, 10) == utc(2026, 1, 12, 15)
    # An unknown zone name falls back to the organisation's zone rather than failing.
    assert plans.due_at("Mars/Olympus_Mons", 0, 10) == utc(2026, 1, 12, 9)


@pytest.mark.parametrize(
    ("start", "expected"),
    [(utc(2026, 2, 1), utc(2026, 2, 1)), (utc(2025, 12, 1), utc(2026, 1, 1))],
    ids=["future start is kept", "past start means now"],
)
def test_launch_start(start: datetime, expected: datetime) -> None:
    assert launch_start(utc(2026, 1, 1), start) == expected


@settings(max_examples=200, deadline=None)
@given(
    fraction=st.floats(min_value=0.0, max_value=1.0),
    start_hours=st.integers(min_value=0, max_value=24 * 30),
    zone=st.sampled_from(["Europe/Amsterdam", "America/New_York", "Asia/Kolkata"]),
)
def test_every_due_time_falls_inside_the_window(
    fraction: float, start_hours: int, zone: str
) -> None:
    start = utc(2026, 3, 1) + timedelta(hours=start_hours)
    plan = plan_spread(WEEKDAYS_10_18, ZoneInfo(zone), start, timedelta(days=3))
    moment = plan.at(fraction)
    assert moment >= start
    assert is_open(WEEKDAYS_10_18, ZoneInfo(zone), moment)
