"""Settings from the environment and `.env`: the only module that reads os.environ."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.money import currency_problem

TELEGRAM_API = "https://api.telegram.org/bot"

# The databases and async drivers the bot runs on.
_DATABASES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
# Telegram accepts 1-256 of these characters as a webhook secret token.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _id_set(value: Any, kind: str) -> Any:
    """Read "1, 2; 3" as a set of Telegram ids; anything but text is left to pydantic."""
    if not isinstance(value, str):
        return value
    parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
    try:
        return frozenset(int(p) for p in parts)
    except ValueError as exc:
        raise ValueError(f"must be comma-separated Telegram {kind} ids (numbers)") from exc


class RunMode(StrEnum):
    """What the settings are loaded for: each mode refuses to start without what it needs."""

    TOOLS = "tools"  # reports, imports, previews, the database: no Telegram needed
    POLLING = "polling"  # `run`: a token, staff and the staff chat
    WEBHOOK = "webhook"  # `run --webhook`: as polling, plus a well-formed WEBHOOK_SECRET
    WORKER = "worker"  # `worker`: only the token


class SettingsError(Exception):
    """Raised with one plain line per bad or missing setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """Everything the operator configures, read from the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")
    # Chosen by the command, never by the environment: load_settings picks the subclass.
    run_mode: ClassVar[RunMode] = RunMode.TOOLS

    telegram_bot_token: str = ""
    telegram_base_url: str = TELEGRAM_API
    database_url: str = "sqlite+aiosqlite:///campaign-bot.db"
    staff_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    staff_chat_id: int | None = None
    community_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    public_base_url: str = "http://127.0.0.1:8080"
    timezone: str = "Europe/Amsterdam"
    campaigns_dir: Path = Path("campaigns")
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    webhook_secret: str = ""
    stripe_webhook_secret: str = ""
    donation_webhook_secret: str = ""
    payment_provider_token: str = ""
    send_rate_per_second: float = Field(default=25.0, gt=0)
    paid_broadcast: bool = False
    paid_rate_per_second: float = Field(default=900.0, gt=0)
    # Telegram's limit to one group; only a local Bot API server (the demo's) allows more.
    group_sends_per_minute: int = Field(default=20, ge=1)
    frequency_cap_days: int = Field(default=14, ge=0)
    group_reply_recent_days: int = Field(default=90, ge=1)
    max_send_attempts: int = Field(default=5, ge=1)
    weekly_summary_cron: str = "mon 09:00"
    click_dedup_seconds: int = Field(default=30, ge=0)
    baseline_donation_rate: float | None = Field(default=None, gt=0, lt=1)
    link_hash_secret: str = ""
    # Low-value and fake followers (bot/domain/flags.py): a burst is at least
    # FLAG_BURST_JOINS joins through one link within FLAG_BURST_SECONDS.
    flag_burst_joins: int = Field(default=20, ge=2)
    flag_burst_seconds: int = Field(default=60, ge=1)
    cas_check: bool = False
    cas_api_url: str = "https://api.cas.chat/check"
    cas_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # Worker processes that read community members' messages (bot/services/reading.py);
    # 0 reads them in the bot's own process.
    community_reader_processes: int = Field(default=1, ge=0, le=16)
    main_currency: str = Field(default="EUR", pattern=r"^[A-Za-z]{3}$")
    log_level: str = "INFO"

    @field_validator("staff_user_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        return _id_set(value, "user")

    @field_validator("community_chat_ids", mode="before")
    @classmethod
    def _parse_chats(cls, value: Any) -> Any:
        return _id_set(value, "chat")

    @field_validator("staff_chat_id", "baseline_donation_rate", mode="before")
    @classmethod
    def _empty_chat(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain sqlite:/postgresql: URLs and give them their async driver."""
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                value = "postgresql+asyncpg://" + value.removeprefix(prefix)
        if not value.startswith(_DATABASES):
            # Only the scheme is quoted: the rest of the URL may hold a password.
            scheme = value.split("://", 1)[0] if "://" in value else ""
            got = f"got {scheme!r}" if scheme else "not a URL"
            raise ValueError(
                "must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE "
                f"(SQLite with aiosqlite or PostgreSQL with asyncpg; {got})"
            )
        try:
            urlsplit(value).port  # noqa: B018 - reading the port is the check
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        return value

    @field_validator("main_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if (problem := currency_problem(value)) is not None:
            raise ValueError(problem)
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        """Return the organisation's time zone."""
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _run_mode_needs(self) -> Self:
        """Refuse settings the run mode cannot start without, one line per problem."""
        lines = []
        if self.staff_chat_id is not None and self.staff_chat_id in self.community_chat_ids:
            lines.append(
                "COMMUNITY_CHAT_IDS: must not include the staff chat (STAFF_CHAT_ID); "
                "the bot listens to supporters there, not to staff"
            )
        if self.run_mode is not RunMode.TOOLS and not self.telegram_bot_token:
            lines.append("TELEGRAM_BOT_TOKEN: missing (get one from @BotFather)")
        if self.run_mode in (RunMode.POLLING, RunMode.WEBHOOK):
            if not self.staff_user_ids:
                lines.append(
                    "STAFF_USER_IDS: missing (comma-separated Telegram user ids of staff)"
                )
            if self.staff_chat_id is None:
                lines.append("STAFF_CHAT_ID: missing (the chat where replies and reports go)")
            if not self.link_hash_secret:
                lines.append(
                    "LINK_HASH_SECRET: missing (a long random string, e.g. "
                    "`openssl rand -hex 32`; it keys the hash of who tapped a link)"
                )
        elif not self.link_hash_secret:
            # Tools, tests and the demo serve no lasting links: a fresh key each run will do.
            self.link_hash_secret = secrets.token_hex(32)
        if self.run_mode is RunMode.WEBHOOK:
            if not self.webhook_secret:
                lines.append(
                    "WEBHOOK_SECRET: missing (webhook mode needs it; "
                    "1-256 characters A-Z a-z 0-9 _ -)"
                )
            elif not _SECRET.match(self.webhook_secret):
                lines.append("WEBHOOK_SECRET: use only A-Z a-z 0-9 _ - (at most 256 characters)")
            if not self.public_base_url.startswith(("http://", "https://")):
                lines.append("PUBLIC_BASE_URL: must start with https:// (Telegram calls it)")
        if lines:
            # Not a ValueError: pydantic passes it through whole, so each line names its setting.
            raise SettingsError(lines)
        return self


class _PollingSettings(Settings):
    run_mode = RunMode.POLLING


class _WebhookSettings(Settings):
    run_mode = RunMode.WEBHOOK


class _WorkerSettings(Settings):
    run_mode = RunMode.WORKER


_FOR_MODE: dict[RunMode, type[Settings]] = {
    RunMode.TOOLS: Settings,
    RunMode.POLLING: _PollingSettings,
    RunMode.WEBHOOK: _WebhookSettings,
    RunMode.WORKER: _WorkerSettings,
}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env_file: str | None = ".env",
    mode: RunMode = RunMode.TOOLS,
) -> Settings:
    """Read settings for a run mode, turning validation errors into one clear line each."""
    try:
        return _FOR_MODE[mode](_env_file=env_file, **dict(overrides or {}))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]).upper() or "SETTINGS"
            lines.append(f"{field}: {err['msg']}")
        raise SettingsError(lines) from None


def use_timedelta_durations() -> None:
    """Have python-telegram-bot give durations (RetryAfter.retry_after) as timedeltas."""
    # PTB reads PTB_TIMEDELTA whenever it builds such a value; without it every 429 raises a
    # deprecation warning. Called by whatever builds a Bot, never on import.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
