"""The per-ask rules and the ask buttons' callback data, without a database or a sandbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import callbacks
from bot.domain.ask_rules import (
    ask_buttons,
    ask_context,
    capped_asks,
    frequency_caps,
    message_key,
    render_ask,
    skip_reason,
    supporter_zone,
    tracked_link,
)
from bot.domain.i18n import LANGUAGES, pick_language
from tests.factories import make_campaign

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T = NOW  # short, for the table below
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Person:
    id: int = 7
    chat_id: int | None = 7007
    first_name: str = "Anna"
    last_name: str = "de Vries"
    username: str | None = "anna"
    language: str = "nl"
    consented_at: datetime | None = NOW - DAY
    opted_out_at: datetime | None = None
    blocked_at: datetime | None = None
    forgotten_at: datetime | None = None


@dataclass(frozen=True)
class Ask:
    id: int
    campaign_id: int
    supporter_id: int | None
    arm: str = "specific"
    step: str = "ask"


@pytest.mark.parametrize(
    ("person", "capped", "said_not_now", "reason"),
    [
        (Person(), False, False, None),
        (None, False, False, "supporter deleted"),
        (Person(forgotten_at=T, opted_out_at=T), True, True, "supporter asked to be forgotten"),
        (Person(opted_out_at=NOW, blocked_at=NOW), False, False, "opted out"),
        (Person(blocked_at=NOW), True, False, "blocked the bot"),
        (Person(chat_id=None), False, False, "not reachable: has not started the bot"),
        (Person(consented_at=None), True, True, "not reachable: has not started the bot"),
        (Person(), True, True, "frequency cap: asked in another campaign recently"),
        (Person(), False, True, 'said "not now" to this campaign'),
    ],
)  # fmt: skip
def test_skip_reason_names_the_first_rule_that_stops_an_ask(
    person: Person | None, capped: bool, said_not_now: bool, reason: str | None
) -> None:
    assert skip_reason(person, capped=capped, said_not_now=said_not_now) == reason


def test_a_campaign_without_its_own_cap_takes_the_default() -> None:
    own = make_campaign(frequency_cap="3d")
    plain = make_campaign()
    assert frequency_caps({1: own, 2: plain}, 7 * DAY) == {1: 3 * DAY, 2: 7 * DAY}
    assert frequency_caps({2: plain}, None) == {2: None}


def test_a_recent_ask_from_another_campaign_caps_only_within_the_cap() -> None:
    caps = {1: 2 * DAY, 2: 2 * DAY}
    asks = [Ask(10, 1, supporter_id=7), Ask(11, 1, supporter_id=8), Ask(12, 1, supporter_id=9)]
    sends = [
        (7, 2, NOW - DAY),  # another campaign, yesterday: capped
        (8, 2, NOW - 3 * DAY),  # another campaign, before the cap: not capped
        (9, 1, NOW - DAY),  # this campaign itself: not capped
    ]
    assert capped_asks(asks, caps, sends, NOW) == {10}


def test_two_campaigns_due_for_one_person_in_a_batch_the_first_wins() -> None:
    asks = [Ask(10, 1, supporter_id=7), Ask(11, 2, supporter_id=7), Ask(12, 1, supporter_id=7)]
    assert capped_asks(asks, {1: DAY, 2: DAY}, [], NOW) == {11}


def test_no_cap_and_no_supporter_never_cap() -> None:
    asks = [Ask(10, 1, supporter_id=7), Ask(11, 2, supporter_id=None)]
    assert capped_asks(asks, {1: None, 2: DAY}, [(7, 2, NOW)], NOW) == set()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("America/New_York", "America/New_York"),
        ("Not/AZone", "Europe/Amsterdam"),  # the campaign's zone
        (None, "Europe/Amsterdam"),
    ],
)
def test_the_supporters_zone_when_valid_else_the_campaigns(
    name: str | None, expected: str
) -> None:
    assert supporter_zone(name, make_campaign(), "UTC").key == expected


def test_without_a_campaign_zone_the_fallback_is_used() -> None:
    assert supporter_zone(None, make_campaign(timezone=None), "Asia/Tokyo").key == "Asia/Tokyo"


def test_the_first_ask_sends_its_arms_message_and_a_follow_up_its_steps() -> None:
    spec = make_campaign(
        follow_ups=[{"name": "nudge", "after": "3d", "when": "no_click", "message": "generic"}]
    )
    assert message_key(spec, Ask(1, 1, 7, arm="specific")) == "personal"
    assert message_key(spec, Ask(1, 1, 7, arm="specific", step="nudge")) == "generic"
    with pytest.raises(KeyError, match="no follow-up step 'later'"):
        message_key(spec, Ask(1, 1, 7, step="later"))


def test_render_takes_texts_in_force_now_but_the_arm_frozen_at_launch() -> None:
    frozen = make_campaign()
    messages = {**frozen.messages, "personal": {"en": "Corrected, {{ name }}"}}
    current = make_campaign(messages=messages)
    context = ask_context(
        Person(language="en"),
        language="en",
        link="https://bot.example.org/r/tok",
        history=[],
        zone=ZoneInfo("Europe/Amsterdam"),
        now=NOW,
    )
    ask = Ask(1, 1, 7, arm="specific")
    assert render_ask(frozen, current, ask, context) == "Corrected, Anna"
    assert render_ask(frozen, None, ask, context).startswith("Dear Anna,")
    # A file that dropped the message: the launch copy's text is used.
    without = make_campaign(
        messages={"other": {"en": "x"}, "generic": frozen.messages["generic"]},
        arms={"a": {"kind": "broadcast", "weight": 1, "message": "other"}},
    )
    assert render_ask(frozen, without, ask, context).startswith("Dear Anna,")


def test_the_context_dates_history_in_the_supporters_zone() -> None:
    zone = ZoneInfo("Pacific/Auckland")
    visit = ("visited_exhibition", "Ships", NOW)
    context = ask_context(Person(), language="nl", link="L", history=[visit], zone=zone, now=NOW)
    assert context.today == NOW.astimezone(zone).date()
    assert context.interactions == [("visited_exhibition", "Ships", NOW.astimezone(zone))]
    assert (context.first_name, context.language, context.donate_link) == ("Anna", "nl", "L")


def test_tracked_link_ignores_a_trailing_slash() -> None:
    assert tracked_link("https://bot.example.org/", "tok") == "https://bot.example.org/r/tok"
    assert tracked_link("https://bot.example.org", "tok") == "https://bot.example.org/r/tok"


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("en", ["Donate", "Not now", "Stop messages"]),
        ("nl-BE", ["Doneer", "Nu niet", "Stop berichten"]),
        ("de", ["Spenden", "Jetzt nicht", "Keine Nachrichten mehr"]),
        ("fr", ["Faire un don", "Pas maintenant", "Arrêter les messages"]),
        ("es", ["Donar", "Ahora no", "No más mensajes"]),
        ("pt-br", ["Donate", "Not now", "Stop messages"]),
        (None, ["Donate", "Not now", "Stop messages"]),
    ],
)
def test_ask_buttons_speak_the_supporters_language(
    language: str | None, labels: list[str]
) -> None:
    rows = ask_buttons("tok", "https://l/r/tok", language)
    assert [b.text for row in rows for b in row] == labels
    assert rows[0][0].url == "https://l/r/tok"


def test_the_give_button_appears_only_with_telegram_payments() -> None:
    without = ask_buttons("tok", "L", "nl")
    with_payments = ask_buttons("tok", "L", "nl", telegram_payments=True)
    assert len(without[0]) == 1
    assert [(b.text, b.callback_data) for b in with_payments[0][1:]] == [
        ("Geef via Telegram", "give:tok")
    ]


def test_the_handlers_patterns_match_the_data_the_buttons_carry() -> None:
    rows = ask_buttons("Tok_123-x", "L", "en", telegram_payments=True)
    data = {b.callback_data for row in rows for b in row if b.callback_data}
    by_pattern = {
        pattern: {d for d in data if re.match(pattern, d)}
        for pattern in (callbacks.GIVE_PATTERN, callbacks.NOT_NOW_PATTERN, callbacks.STOP_PATTERN)
    }
    assert by_pattern == {
        callbacks.GIVE_PATTERN: {"give:Tok_123-x"},
        callbacks.NOT_NOW_PATTERN: {"notnow:Tok_123-x"},
        callbacks.STOP_PATTERN: {"stop:Tok_123-x"},
    }
    assert callbacks.token_of(callbacks.not_now("Tok_123-x"), callbacks.NOT_NOW) == "Tok_123-x"
    assert callbacks.token_of(callbacks.stop("Tok_123-x"), callbacks.STOP) == "Tok_123-x"


@pytest.mark.parametrize(
    ("data", "read"),
    [
        (callbacks.give("tok"), ("tok", None)),
        (callbacks.give("tok", 1000), ("tok", "1000")),
        ("give:tok:", ("tok", "")),
        (None, ("", None)),
    ],
)
def test_give_data_reads_back_as_token_and_amount(
    data: str | None, read: tuple[str, str | None]
) -> None:
    assert callbacks.read_give(data) == read


def test_button_only_languages_do_not_count_as_spoken() -> None:
    # German, French and Spanish have ask buttons only: their supporters get English texts.
    assert LANGUAGES == ("en", "nl")
    assert [pick_language(c) for c in ("de", "fr-CA", "nl-BE", "nl_BE")] == [
        "en",
        "en",
        "nl",
        "nl",
    ]
