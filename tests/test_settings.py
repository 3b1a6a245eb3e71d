"""Settings come from a mapping or the environment, and bad values give one clear line each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import RunMode, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_staff_ids_are_parsed_from_a_comma_list() -> None:
    settings = load_settings({"staff_user_ids": "11, 22,33"}, env_file=None)
    assert settings.staff_user_ids == frozenset({11, 22, 33})


def test_plain_database_urls_get_their_async_driver() -> None:
    assert load_settings({"database_url": "sqlite:///x.db"}, env_file=None).database_url == (
        "sqlite+aiosqlite:///x.db"
    )
    pg = load_settings({"database_url": "postgresql://u@h/db"}, env_file=None)
    assert pg.database_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"staff_user_ids": "12,abc"}, "STAFF_USER_IDS"),
        ({"timezone": "Mars/Olympus"}, "TIMEZONE: Value error, unknown time zone"),
        ({"send_rate_per_second": "0"}, "SEND_RATE_PER_SECOND"),
        ({"main_currency": "ABC"}, "MAIN_CURRENCY: Value error, must be an ISO 4217 currency"),
        ({"database_url": "mysql://u:pw@h/db"}, "DATABASE_URL: Value error, must be sqlite:///"),
        ({"database_url": "campaign-bot.db"}, "DATABASE_URL: Value error, must be sqlite:///"),
        ({"database_url": "postgres://u@h:0x/db"}, "DATABASE_URL: Value error, has a port"),
    ],
)
def test_bad_settings_name_the_setting(overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides, env_file=None)
    assert any(line.startswith(expected) for line in info.value.lines), info.value.lines


def test_running_a_bot_needs_token_and_staff() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({}, env_file=None, mode=RunMode.POLLING)
    assert [line.split(":")[0] for line in info.value.lines] == [
        "TELEGRAM_BOT_TOKEN",
        "STAFF_USER_IDS",
        "STAFF_CHAT_ID",
        "LINK_HASH_SECRET",
    ]


def test_a_worker_needs_only_the_token_and_tools_need_nothing() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({}, env_file=None, mode=RunMode.WORKER)
    assert [line.split(":")[0] for line in info.value.lines] == ["TELEGRAM_BOT_TOKEN"]
    assert load_settings({"telegram_bot_token": "1:a"}, env_file=None, mode=RunMode.WORKER)
    assert load_settings({}, env_file=None).run_mode is RunMode.TOOLS


def test_env_example_lists_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert {name.upper() for name in Settings.model_fields} <= documented
