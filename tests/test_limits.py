"""Our side of Telegram's flood limits: global pace, per chat, per group, 429 pauses."""

from __future__ import annotations

import itertools

import pytest

from bot.domain.limits import LimitSettings, SendLimiter, backoff_seconds, is_group


def book(limiter: SendLimiter, chat: int | str, now: float) -> float:
    """Book a slot, waiting (on paper) while the chat is busy; return the send time."""
    while True:
        reservation = limiter.reserve(chat, now)
        now += reservation.wait
        if reservation.booked:
            return now


def test_global_rate_is_paced_evenly() -> None:
    limiter = SendLimiter(LimitSettings(per_second=25))
    times = [book(limiter, chat, 0.0) for chat in range(100)]
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert gaps == {0.04}
    assert times[-1] == pytest.approx(99 / 25)


@pytest.mark.parametrize("rate", [30.0, 1000.0])
def test_no_one_second_window_holds_more_than_the_rate(rate: float) -> None:
    limiter = SendLimiter(LimitSettings(per_second=rate))
    times = [book(limiter, chat, 0.0) for chat in range(int(rate * 5))]
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u < t + 1.0 - 1e-9)
        assert in_window <= rate


def test_one_chat_gets_at_most_one_message_a_second_without_holding_up_others() -> None:
    limiter = SendLimiter(LimitSettings(per_second=100))
    first = book(limiter, 42, 0.0)
    busy = limiter.reserve(42, 0.5)
    other = book(limiter, 7, 0.5)
    second = book(limiter, 42, 0.5)
    assert not busy.booked and busy.wait == pytest.approx(0.5)
    assert other == pytest.approx(0.5)  # the busy chat did not take the global slot
    assert second - first == pytest.approx(1.0)


def test_a_group_gets_at_most_twenty_messages_a_minute() -> None:
    limiter = SendLimiter(LimitSettings(per_second=100))
    times = [book(limiter, -100123, 0.0) for _ in range(41)]
    assert times[19] < 1.0
    assert times[20] >= 60.0
    assert times[40] >= 120.0
    assert is_group("@museum_news") and is_group(-100123) and not is_group(42)


def test_a_429_pauses_every_send_for_retry_after() -> None:
    limiter = SendLimiter(LimitSettings(per_second=25))
    book(limiter, 1, 0.0)
    limiter.pause(0.5, 7)
    assert limiter.is_paused(3.0)
    assert book(limiter, 2, 1.0) == pytest.approx(7.5)
    assert book(limiter, 3, 1.0) == pytest.approx(7.54)


def test_a_burst_lets_sends_catch_up_after_a_stall() -> None:
    limiter = SendLimiter(LimitSettings(per_second=1000, burst=10))
    times = [book(limiter, chat, 5.0) for chat in range(12)]
    assert times[:10] == pytest.approx([5.0] * 10)
    assert times[10] > 5.0


@pytest.mark.parametrize(("attempt", "wait"), [(1, 2.0), (2, 4.0), (5, 32.0), (20, 300.0)])
def test_backoff_doubles_up_to_a_cap(attempt: int, wait: float) -> None:
    assert backoff_seconds(attempt) == wait


def test_the_window_guard_keeps_any_second_under_the_rate_however_sends_bunch() -> None:
    limiter = SendLimiter(LimitSettings(per_second=30, window_slack=0.03))
    starts = []
    now = 0.0
    for _ in range(90):
        # A stalled event loop: every send is ready at once, slots or not.
        now += limiter.window_wait(now)
        limiter.started(now)
        starts.append(now)
    assert starts[:30] == [0.0] * 30
    assert starts[30] == pytest.approx(1.03) and starts[60] == pytest.approx(2.06)
    for i, t in enumerate(starts):
        assert sum(1 for u in starts[i:] if u < t + 1.0) <= 30
