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
    open_time_after,
    plan_spread,
    send_outlook,
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


def test_without_a_spread_asks_are_due_now_while_the_window_is_open() -> None:
    now = utc(2026, 1, 12, 15)  # Monday 16:00 in Amsterdam
    plan = plan_spread(WEEKDAYS_10_18, AMS, now, None)
    # All at once: the send rate alone paces them.
    assert [plan.due_at(i, 6) for i in range(6)] == [now] * 6


def test_without_a_spread_asks_wait_for_the_window_to_open() -> None:
    saturday = utc(2026, 1, 10, 12)
    plan = plan_spread(WEEKDAYS_10_18, AMS, saturday, None)
    monday_opening = utc(2026, 1, 12, 9)
    assert [plan.due_at(i, 3) for i in range(3)] == [monday_opening] * 3


def test_open_time_after_skips_the_nights_and_the_weekend() -> None:
    friday = utc(2026, 1, 9, 16)  # 17:00 in Amsterdam: one open hour left this week
    assert open_time_after(WEEKDAYS_10_18, AMS, friday, timedelta(0)) == friday
    assert open_time_after(WEEKDAYS_10_18, AMS, friday, timedelta(hours=1)) == utc(2026, 1, 9, 17)
    assert open_time_after(WEEKDAYS_10_18, AMS, friday, timedelta(hours=3)) == utc(2026, 1, 12, 11)
    # Fifteen 8-hour days of open time from a Friday afternoon: three Fridays on.
    assert open_time_after(WEEKDAYS_10_18, AMS, friday, timedelta(hours=8 * 15)) == utc(
        2026, 1, 30, 16
    )
    assert open_time_after(WEEKDAYS_10_18, AMS, friday, timedelta(days=400)) is None


def test_the_outlook_without_a_spread_is_the_send_rate() -> None:
    now = utc(2026, 1, 12, 15)  # Monday 16:00 in Amsterdam, window open
    seen = send_outlook(WEEKDAYS_10_18, AMS, now, None, asks=9000, rate=25)
    assert (seen.starts, seen.waits, seen.sending) == (now, False, timedelta(minutes=6))
    assert seen.ends == now + timedelta(minutes=6)
    # Two hours of sending from 17:00 on a Friday: one tonight, one on Monday morning.
    friday = send_outlook(WEEKDAYS_10_18, AMS, utc(2026, 1, 9, 16), None, asks=7200, rate=1)
    assert friday.ends == utc(2026, 1, 12, 10)


def test_the_outlook_with_the_window_closed_starts_at_its_opening() -> None:
    saturday = utc(2026, 1, 10, 12)
    seen = send_outlook(WEEKDAYS_10_18, AMS, saturday, None, asks=30, rate=30)
    assert (seen.starts, seen.waits) == (utc(2026, 1, 12, 9), True)
    assert seen.ends == utc(2026, 1, 12, 9, 0, 1)


def test_the_outlook_with_a_spread_ends_with_the_spread_unless_the_rate_is_slower() -> None:
    monday = utc(2026, 1, 12, 9)
    spread = send_outlook(WEEKDAYS_10_18, AMS, monday, timedelta(days=2), asks=4, rate=25)
    # The last of four asks over two 8-hour days is due 12 open hours in: Tuesday 14:00 local.
    assert (spread.starts, spread.ends) == (monday, utc(2026, 1, 13, 13))
    slow = send_outlook(WEEKDAYS_10_18, AMS, monday, timedelta(hours=1), asks=7200, rate=1)
    assert slow.ends == utc(2026, 1, 12, 11)


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
    spread=st.sampled_from([timedelta(days=3), None]),
)
def test_every_due_time_falls_inside_the_window(
    fraction: float, start_hours: int, zone: str, spread: timedelta | None
) -> None:
    start = utc(2026, 3, 1) + timedelta(hours=start_hours)
    plan = plan_spread(WEEKDAYS_10_18, ZoneInfo(zone), start, spread)
    size = 1_000_000
    moment = plan.due_at(int(fraction * (size - 1)), size)
    assert moment >= start
    assert is_open(WEEKDAYS_10_18, ZoneInfo(zone), moment)
