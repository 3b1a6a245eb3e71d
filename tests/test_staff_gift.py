"""/donation's arguments become a gift in minor units, or one message saying what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services.donations import STAFF_PROVIDER, StaffGiftInvalid, staff_gift

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAMPAIGNS = {"spring-appeal"}


@pytest.mark.parametrize(
    ("args", "amount", "currency", "username", "user_id", "campaign"),
    [
        (["@ann", "25.50", "eur"], 2550, "EUR", "ann", None, None),
        (["4242", "1000", "JPY", "spring-appeal"], 1000, "JPY", None, 4242, "spring-appeal"),
        (["@bob", "25,5", "EUR"], 2550, "EUR", "bob", None, None),
    ],
)
def test_good_arguments_make_a_staff_gift(
    args: list[str],
    amount: int,
    currency: str,
    username: str | None,
    user_id: int | None,
    campaign: str | None,
) -> None:
    gift = staff_gift(args, now=NOW, campaigns=CAMPAIGNS)
    assert (gift.amount_minor, gift.currency, gift.username, gift.telegram_user_id) == (
        amount,
        currency,
        username,
        user_id,
    )
    assert gift.campaign_name == campaign
    assert gift.provider == STAFF_PROVIDER and gift.donated_at == NOW


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["@ann", "25"], "Usage: /donation"),
        (["@ann", "25", "EURO"], "'EURO' is not an ISO 4217 currency code such as EUR"),
        (["@ann", "25", "ABC"], "'ABC' is not an ISO 4217 currency code such as EUR"),
        (["@ann", "10000000000.01", "EUR"], "the amount must be at most €10,000,000,000.00"),
        (["@ann", "92233720368547758.07", "EUR"], "the amount must be at most"),
        (["@ann", "0", "EUR"], "the amount must be more than 0"),
        (["@ann", "25.505", "EUR"], "'25.505' has 3 decimals; EUR amounts have at most 2"),
        (["@ann", "25", "EUR", "autumn"], "no campaign called 'autumn'"),
        (["ann", "25", "EUR"], "Name the giver as @username or a user id."),
    ],
)
def test_bad_arguments_say_what_is_wrong_then_the_usage(args: list[str], first_line: str) -> None:
    with pytest.raises(StaffGiftInvalid) as info:
        staff_gift(args, now=NOW, campaigns=CAMPAIGNS)
    lines = str(info.value).split("\n")
    assert lines[0].startswith(first_line)
    assert lines[-1].startswith("Usage: /donation @username|user_id AMOUNT CURRENCY")


def test_every_staff_gift_is_its_own_event() -> None:
    first, second = (staff_gift(["@ann", "5", "EUR"], now=NOW, campaigns=()) for _ in range(2))
    assert first.provider_event_id != second.provider_event_id
